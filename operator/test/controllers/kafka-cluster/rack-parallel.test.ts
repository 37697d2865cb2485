// The same-rack parallel restart planner: which stale brokers of the chosen pod's rack may restart with it, by the
// partitions' ISRs and min.insync.replicas.
import { describe, expect, it } from "vitest";
import { parallelSameRack, type ParallelInput } from "../../../src/controllers/kafka-cluster/rack-parallel.ts";
import type { QueuedPod } from "../../../src/controllers/kafka-cluster/roll.ts";
import type { BrokerAnswer, PartitionFact } from "../../../src/controllers/kafka-cluster/roll-gates.ts";

/** Six brokers over three racks: a holds 0 and 3, b 1 and 4, c 2 and 5. */
const RACKS: Record<number, string> = { 0: "a", 1: "b", 2: "c", 3: "a", 4: "b", 5: "c" };

const pod = (nodeId: number, extra: Partial<QueuedPod> = {}): QueuedPod => ({
  name: `c-broker-${nodeId}`,
  uid: `u${nodeId}`,
  why: "config hash old -> new",
  controller: false,
  nodeId,
  ready: true,
  held: false,
  ...extra,
});

/** Rack-aware placement: each partition has one replica in each rack. */
const spread = (minIsr: number): PartitionFact[] => [
  { topic: "t", partition: 0, replicas: [0, 1, 2], isr: [0, 1, 2], minIsr },
  { topic: "t", partition: 1, replicas: [3, 4, 5], isr: [3, 4, 5], minIsr },
  { topic: "t", partition: 2, replicas: [1, 3, 5], isr: [1, 3, 5], minIsr },
];

const plan = (over: Partial<ParallelInput> = {}): string[] => {
  const queue = [5, 4, 3, 2, 1, 0].map((i) => pod(i));
  return parallelSameRack({
    first: pod(3),
    queue,
    rackOf: (id) => RACKS[id],
    partitions: spread(2),
    max: 2,
    ...over,
  }).with.map((q) => q.name);
};

describe("parallelSameRack", () => {
  it("adds the other stale broker of the rack when every partition keeps min.insync.replicas", () => {
    expect(plan()).toEqual(["c-broker-0"]);
    const result = parallelSameRack({
      first: pod(3),
      queue: [pod(0)],
      rackOf: (id) => RACKS[id],
      partitions: spread(2),
      max: 2,
    });
    expect(result.rack).toBe("a");
  });

  it("restarts one at a time at the default of 1, and never more than max", () => {
    expect(plan({ max: 1 })).toEqual([]);
    const rackA = (id: number): string => (id < 3 ? "a" : "b");
    const partitions: PartitionFact[] = [{ topic: "t", partition: 0, replicas: [0, 3], isr: [0, 3], minIsr: 1 }];
    expect(plan({ first: pod(0), rackOf: rackA, partitions, max: 2 })).toEqual(["c-broker-2"]);
    expect(plan({ first: pod(0), rackOf: rackA, partitions, max: 3 })).toEqual(["c-broker-2", "c-broker-1"]);
  });

  it("leaves out a broker whose restart with the others would take a partition below min.insync.replicas", () => {
    // Placed without regard to racks: 0 and 3 (both rack a) share partition 3.
    const partitions = [...spread(2), { topic: "u", partition: 0, replicas: [0, 3, 1], isr: [0, 3, 1], minIsr: 2 }];
    expect(plan({ partitions })).toEqual([]);
    // With min.insync.replicas=1 one in-sync replica is enough.
    expect(plan({ partitions: partitions.map((p) => ({ ...p, minIsr: 1 })) })).toEqual(["c-broker-0"]);
  });

  it("keeps at most one replica down of a partition whose replication factor is at most its minimum", () => {
    const partitions: PartitionFact[] = [{ topic: "rf2", partition: 0, replicas: [0, 3], isr: [0, 3], minIsr: 2 }];
    expect(plan({ partitions })).toEqual([]);
    const elsewhere: PartitionFact[] = [{ topic: "rf2", partition: 0, replicas: [0, 1], isr: [0, 1], minIsr: 2 }];
    expect(plan({ partitions: elsewhere })).toEqual(["c-broker-0"]);
  });

  it("adds nothing to a partition that already lacks a replica in its ISR", () => {
    const partitions: PartitionFact[] = [
      ...spread(1),
      { topic: "lag", partition: 0, replicas: [0, 1, 2], isr: [1, 2], minIsr: 1 },
    ];
    expect(plan({ partitions })).toEqual([]);
  });

  it("takes only Ready, unheld, broker-only pods of the same rack that answer they can stop", () => {
    expect(plan({ queue: [pod(0, { held: true })] })).toEqual([]);
    expect(plan({ queue: [pod(0, { ready: false })] })).toEqual([]);
    expect(plan({ queue: [pod(0, { controller: true })] })).toEqual([]);
    expect(plan({ queue: [pod(4), pod(1)] })).toEqual([]);
    const answer = (nodeId: number, canStop: boolean): BrokerAnswer => ({
      nodeId,
      pod: `c-broker-${nodeId}`,
      answer: {
        brokerId: nodeId,
        canStop,
        canStopReasons: [],
        blockingPartitions: [],
        caughtUp: true,
        caughtUpReasons: [],
      },
    });
    expect(plan({ brokers: [answer(3, true), answer(0, false)] })).toEqual([]);
    expect(plan({ brokers: [answer(3, true), answer(0, true)] })).toEqual(["c-broker-0"]);
    expect(plan({ brokers: [answer(3, true), { nodeId: 0, pod: "c-broker-0", error: "timeout" }] })).toEqual([]);
  });

  it("adds nothing to a controller, a pod that is not Ready, or a broker without a rack", () => {
    expect(plan({ first: pod(3, { controller: true }) })).toEqual([]);
    expect(plan({ first: pod(3, { ready: false }) })).toEqual([]);
    expect(plan({ rackOf: (id) => (id === 3 ? undefined : RACKS[id]) })).toEqual([]);
    expect(plan({ rackOf: (id) => (id === 0 ? undefined : RACKS[id]) })).toEqual([]);
  });
});
