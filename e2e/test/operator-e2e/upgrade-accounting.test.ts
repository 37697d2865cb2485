// The upgrade e2e's bookkeeping, without a cluster: leaderless stretches from metadata samples, the consume loop's
// key runs and which acked records they miss.
import type { TopicLookup } from "@tributary/broker/admin";
import { describe, expect, it } from "vitest";
import { runsOf } from "../../src/client/kafka-client.ts";
import { LeaderlessTracker } from "../../src/operator-e2e/leaderless.ts";
import { missingFrom } from "../../src/operator-e2e/workloads.ts";

function topic(name: string, leaders: number[]): [string, TopicLookup] {
  const partitions = leaders.map((leader, partition) => ({
    partition,
    leader,
    leaderEpoch: 0,
    replicas: [0, 1, 2],
    isr: [0, 1, 2],
    offline: [],
  }));
  return [name, { topic: { name, topicId: "", internal: false, partitions } }];
}

describe("LeaderlessTracker", () => {
  it("measures each partition's longest stretch from the first leaderless sample to the first led one", () => {
    const t = new LeaderlessTracker();
    t.sample(0, new Map([topic("t", [0, 1])]));
    t.sample(250, new Map([topic("t", [-1, 1])]));
    t.sample(500, new Map([topic("t", [-1, 1])]));
    t.sample(900, new Map([topic("t", [2, -1])]));
    t.sample(1000, new Map([topic("t", [2, 1])]));
    t.sample(1200, new Map([topic("t", [-1, 1])]));
    t.sample(1300, new Map([topic("t", [2, 1])]));
    const r = t.report(2000);
    expect([...r.longestMs]).toEqual([
      ["t-0", 650],
      ["t-1", 100],
    ]);
    expect(r.stretches).toBe(3);
    expect(r.samples).toBe(7);
    expect(r.longestSampleGapMs).toBe(400);
  });

  it("counts a partition still leaderless at the report up to then, and one never leaderless as 0", () => {
    const t = new LeaderlessTracker();
    t.sample(0, new Map([topic("t", [-1, 0])]));
    expect([...t.report(300).longestMs]).toEqual([
      ["t-0", 300],
      ["t-1", 0],
    ]);
  });
});

describe("consume loop key runs", () => {
  it("runs of distinct indices, and the acked indices they miss", () => {
    const runs = runsOf([5, 0, 1, 2, 2, 7, 6, 9]);
    expect(runs).toEqual([
      [0, 2],
      [5, 7],
      [9, 9],
    ]);
    expect(missingFrom(runs, 11)).toEqual([3, 4, 8, 10]);
    expect(missingFrom(runs, 3)).toEqual([]);
  });
});
