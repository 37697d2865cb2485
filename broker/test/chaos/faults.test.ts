import { describe, expect, it } from "vitest";
import { FAULT_KINDS, parseWeights, partitionLinks, schedule, type PlannedFault } from "./faults.ts";

const take = (seed: number, n: number, weights = parseWeights("")): PlannedFault[] => {
  const s = schedule(seed, weights);
  return Array.from({ length: n }, () => s.next().value);
};

describe("chaos fault schedule", () => {
  it("is the same for the same seed and differs for another", () => {
    expect(take(42, 50)).toEqual(take(42, 50));
    expect(take(42, 50)).not.toEqual(take(43, 50));
  });

  it("injects every kind once first, then draws by weight, never a kind weighted 0", () => {
    const first = take(7, FAULT_KINDS.length).map((f) => f.kind);
    expect([...first].sort()).toEqual([...FAULT_KINDS].sort());
    const noRoll = take(7, 500, parseWeights("roll=0,disk-full=0"));
    expect(noRoll.some((f) => f.kind === "roll" || f.kind === "disk-full")).toBe(false);
    const counts = new Map<string, number>();
    for (const f of take(9, 3000)) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
    // partition (weight 5) is drawn about five times as often as roll (weight 1).
    expect((counts.get("partition") ?? 0) / (counts.get("roll") ?? 1)).toBeGreaterThan(3);
  });

  it("rejects unknown kinds and bad weights", () => {
    expect(() => parseWeights("explode=1")).toThrow('unknown fault kind "explode"');
    expect(() => parseWeights("pause=-1")).toThrow("weight of pause must be a number >= 0");
  });

  it("cuts the links a partition shape describes", () => {
    const f = (shape: PlannedFault["shape"], pick: number, pick2: number): PlannedFault => ({
      kind: "partition",
      pick,
      pick2,
      holdMs: 0,
      shape,
    });
    expect(partitionLinks([1, 2, 3], f("isolate", 1, 0))).toEqual([
      [2, 1],
      [2, 3],
    ]);
    expect(partitionLinks([1, 2, 3, 4, 5], f("bridge", 0, 2))).toEqual([[1, 4]]);
    // split: node 1 plus the nodes whose bit is set in pick2 (bits 3 and 4: nodes 4 and 5) against the rest.
    expect(partitionLinks([1, 2, 3, 4, 5], f("split", 0, 0b11000))).toEqual([
      [1, 2],
      [1, 3],
      [4, 2],
      [4, 3],
      [5, 2],
      [5, 3],
    ]);
  });
});
