// The scaling planner: drain moves, balance moves, blockers and the one-ordinal-per-pass shrink.
import { describe, expect, it } from "vitest";
import {
  derivedMaxUnavailable,
  emptyBrokers,
  planMoves,
  planScaleDown,
  scaleDownBlockers,
  type BrokerInfo,
  type Move,
  type PartitionReplicas,
} from "../../../src/controllers/kafka-cluster/scaling.ts";

const brokers = (n: number, rack?: (id: number) => string): BrokerInfo[] =>
  Array.from({ length: n }, (_, id) => ({ id, rack: rack === undefined ? null : rack(id) }));

/** `count` partitions of topic t with RF `rf`, laid out round-robin over `n` brokers. */
function roundRobin(count: number, rf: number, n: number, topic = "t"): PartitionReplicas[] {
  return Array.from({ length: count }, (_, p) => ({
    topic,
    partition: p,
    replicas: Array.from({ length: rf }, (_, r) => (p + r) % n),
  }));
}

function apply(parts: readonly PartitionReplicas[], moves: readonly Move[]): PartitionReplicas[] {
  const by = new Map(moves.map((m) => [`${m.topic}/${m.partition}`, m.to]));
  return parts.map((p) => ({ ...p, replicas: by.get(`${p.topic}/${p.partition}`) ?? p.replicas }));
}

function loads(parts: readonly PartitionReplicas[], ids: readonly number[]): number[] {
  return ids.map((id) => parts.filter((p) => p.replicas.includes(id)).length);
}

const changedReplicas = (moves: readonly Move[]): number =>
  moves.reduce((n, m) => n + m.to.filter((id, i) => id !== m.from[i]).length, 0);

describe("planMoves: drain", () => {
  it("moves every replica off the removed brokers, keeping positions and distinct brokers", () => {
    const parts = roundRobin(10, 3, 5);
    const moves = planMoves(parts, brokers(5), { removing: [3, 4] });
    const after = apply(parts, moves);
    for (const p of after) {
      expect(p.replicas.some((id) => id >= 3)).toBe(false);
      expect(new Set(p.replicas).size).toBe(3);
    }
    // Only the replicas on 3 and 4 changed, each in its own position.
    for (const m of moves)
      m.from.forEach((id, i) => {
        if (id < 3) expect(m.to[i]).toBe(id);
      });
    // 30 replicas over 3 brokers: 10 each.
    expect(loads(after, [0, 1, 2])).toEqual([10, 10, 10]);
  });

  it("keeps a partition's racks distinct when choosing a new home", () => {
    // Brokers 0,1 in a; 2,3 in b; 4 in c (removed). A partition on [4, 0] must get a b broker, not 1.
    const rack = (id: number): string => (id <= 1 ? "a" : id <= 3 ? "b" : "c");
    const parts: PartitionReplicas[] = [{ topic: "t", partition: 0, replicas: [4, 0] }];
    const [move] = planMoves(parts, brokers(5, rack), { removing: [4] });
    expect(move?.to[1]).toBe(0);
    expect(rack(move?.to[0] ?? -1)).toBe("b");
  });

  it("leaves a replica that has no possible home (more replicas than brokers remain)", () => {
    const parts: PartitionReplicas[] = [{ topic: "t", partition: 0, replicas: [0, 1, 2] }];
    expect(planMoves(parts, brokers(3), { removing: [2] })).toEqual([]);
  });

  it("answers nothing when there is nothing to do", () => {
    expect(planMoves(roundRobin(6, 2, 3), brokers(3), { balance: true })).toEqual([]);
  });
});

describe("planMoves: balance after a scale-up", () => {
  it("fills new brokers with the fewest single-replica moves, followers first", () => {
    const parts = roundRobin(12, 3, 3); // 36 replicas on 3 brokers
    const moves = planMoves(parts, brokers(6), { balance: true });
    const after = apply(parts, moves);
    expect(loads(after, [0, 1, 2, 3, 4, 5])).toEqual([6, 6, 6, 6, 6, 6]);
    // 18 replicas must move; not one more.
    expect(changedReplicas(moves)).toBe(18);
    // Followers move before leaders: every leader stays where it was.
    for (const m of moves) expect(m.to[0]).toBe(m.from[0]);
    for (const p of after) expect(new Set(p.replicas).size).toBe(3);
  });

  it("stops at a difference of one", () => {
    const parts = roundRobin(4, 1, 2); // 4 replicas on 0,1
    const after = apply(parts, planMoves(parts, brokers(3), { balance: true }));
    const l = loads(after, [0, 1, 2]);
    expect(Math.max(...l) - Math.min(...l)).toBeLessThanOrEqual(1);
    expect(l.reduce((a, b) => a + b)).toBe(4);
  });

  it("never reduces a partition's rack spread", () => {
    // Two racks, each partition on one broker of each; the new broker 2 is in rack a: it may only take a replica
    // from the a broker (0), never from the b broker (1) of a partition that also has 0.
    const rack = (id: number): string => (id === 1 ? "b" : "a");
    const parts = Array.from({ length: 6 }, (_, p) => ({ topic: "t", partition: p, replicas: [0, 1] }));
    const moves = planMoves(parts, brokers(3, rack), { balance: true });
    expect(moves.length).toBeGreaterThan(0);
    for (const m of moves) expect(m.to).toContain(1);
  });
});

describe("emptyBrokers", () => {
  it("names brokers without replicas only when the cluster has some", () => {
    expect(emptyBrokers(roundRobin(3, 1, 3), [0, 1, 2, 3])).toEqual([3]);
    expect(emptyBrokers([], [0, 1])).toEqual([]);
  });
});

describe("scaleDownBlockers", () => {
  it("refuses when a topic's replication factor exceeds the remaining brokers, naming the topic", () => {
    const parts = roundRobin(2, 3, 3, "orders");
    const b = scaleDownBlockers(parts, [0, 1], [], undefined);
    expect(b?.reason).toBe("ReplicationFactorTooHigh");
    expect(b?.message).toContain("orders (replication factor 3)");
  });

  it("refuses when the projected data exceeds a remaining disk's fill limit", () => {
    const parts = roundRobin(4, 1, 2);
    const moves = planMoves(parts, brokers(2), { removing: [1] });
    const sizes = {
      partitionBytes: new Map(parts.map((p) => [`t/${p.partition}`, 300])),
      capacityBytes: new Map([[0, 1000]]),
    };
    expect(scaleDownBlockers(parts, [0], moves, sizes)?.reason).toBe("InsufficientStorage");
    const roomy = { ...sizes, capacityBytes: new Map([[0, 10_000]]) };
    expect(scaleDownBlockers(parts, [0], moves, roomy)).toBeUndefined();
  });
});

describe("planScaleDown", () => {
  const base = {
    desired: 3,
    current: 5,
    nodeId: (i: number) => i,
    brokers: brokers(5),
    ongoing: 0,
    leftoverPods: 0,
    sizes: undefined,
  };

  it("does nothing unless the spec asks for fewer brokers", () => {
    expect(planScaleDown({ ...base, desired: 5, partitions: [] })).toEqual({ kind: "none" });
    expect(planScaleDown({ ...base, desired: 6, partitions: [] })).toEqual({ kind: "none" });
  });

  it("drains first, holding the StatefulSet at its size", () => {
    const d = planScaleDown({ ...base, partitions: roundRobin(5, 2, 5) });
    expect(d.kind).toBe("hold");
    if (d.kind !== "hold") return;
    expect(d.replicas).toBe(5);
    expect(d.blocked).toBe(false);
    expect(d.reason).toBe("DrainingBrokers");
    expect(d.moves.length).toBeGreaterThan(0);
  });

  it("waits for reassignments in progress without issuing more", () => {
    const d = planScaleDown({ ...base, partitions: roundRobin(5, 2, 5), ongoing: 2 });
    expect(d).toMatchObject({ kind: "hold", reason: "DrainingBrokers", moves: [] });
  });

  it("blocks with nothing moved when the replication factor would exceed the brokers left", () => {
    const d = planScaleDown({ ...base, partitions: roundRobin(5, 4, 5) });
    expect(d).toMatchObject({ kind: "hold", reason: "ReplicationFactorTooHigh", blocked: true, replicas: 5 });
  });

  it("shrinks one ordinal, the highest, once the removed brokers hold nothing", () => {
    const d = planScaleDown({ ...base, partitions: roundRobin(6, 2, 3) });
    expect(d).toMatchObject({ kind: "shrink", replicas: 4 });
  });

  it("waits for the removed pod to be gone before the next ordinal", () => {
    const d = planScaleDown({ ...base, current: 4, partitions: roundRobin(6, 2, 3), leftoverPods: 1 });
    expect(d).toMatchObject({ kind: "hold", reason: "WaitingForPodRemoval" });
  });
});

describe("derivedMaxUnavailable", () => {
  it("is the smallest RF - min.insync.replicas, never negative", () => {
    expect(
      derivedMaxUnavailable([
        { replicationFactor: 3, minInsync: 1 },
        { replicationFactor: 3, minInsync: 2 },
      ]),
    ).toBe(1);
    expect(derivedMaxUnavailable([{ replicationFactor: 1, minInsync: 2 }])).toBe(0);
    expect(derivedMaxUnavailable([])).toBe(0);
  });
});
