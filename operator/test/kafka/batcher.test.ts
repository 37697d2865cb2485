import { describe, expect, it } from "vitest";
import { Batcher } from "../../src/kafka/batcher.ts";

describe("Batcher", () => {
  it("sends items added together as one batch and answers each in order", async () => {
    const batches: number[][] = [];
    const b = new Batcher<number, string>({
      lingerMs: 5,
      run: (items) => {
        batches.push(items);
        return Promise.resolve(items.map((i) => `r${i}`));
      },
    });
    const answers = await Promise.all([1, 2, 3].map((i) => b.add(i)));
    expect(answers).toEqual(["r1", "r2", "r3"]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("splits at maxBatch and fails every item of a failed batch", async () => {
    const batches: number[][] = [];
    const b = new Batcher<number, number>({
      maxBatch: 2,
      lingerMs: 1,
      run: (items) => {
        batches.push(items);
        return items.includes(3) ? Promise.reject(new Error("boom")) : Promise.resolve(items);
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => b.add(i)));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "rejected", "fulfilled"]);
  });

  it("rejects items a batch did not answer", async () => {
    const b = new Batcher<number, number>({ run: () => Promise.resolve([1]) });
    const results = await Promise.allSettled([b.add(1), b.add(2)]);
    expect(results[1]).toMatchObject({ status: "rejected" });
  });
});
