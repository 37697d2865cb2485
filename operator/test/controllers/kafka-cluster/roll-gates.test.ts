// The restart gates: the broker's own answer, the Admin-API ISR cross-check and the quorum's caught-up majority.
import { describe, expect, it } from "vitest";
import {
  restartBlockers,
  type BrokerAnswer,
  type Candidate,
  type PartitionFact,
  type RestartSafetyAnswer,
} from "../../../src/controllers/kafka-cluster/roll-gates.ts";

const fine = (brokerId: number): RestartSafetyAnswer => ({
  brokerId,
  canStop: true,
  canStopReasons: [],
  blockingPartitions: [],
  caughtUp: true,
  caughtUpReasons: [],
});
const starting = (brokerId: number): RestartSafetyAnswer => ({
  brokerId,
  canStop: false,
  canStopReasons: ["the broker is starting"],
  blockingPartitions: [],
  caughtUp: false,
  caughtUpReasons: ["the broker is starting"],
});
const answers = (...a: RestartSafetyAnswer[]): BrokerAnswer[] =>
  a.map((answer) => ({ nodeId: answer.brokerId, pod: `c-broker-${answer.brokerId}`, answer }));
const broker = (nodeId: number, over: Partial<Candidate> = {}): Candidate => ({
  pod: `c-broker-${nodeId}`,
  nodeId,
  broker: true,
  controller: false,
  ready: true,
  ...over,
});
/** RF 3, min.insync.replicas 2, all in sync. */
const healthy: PartitionFact[] = [{ topic: "orders", partition: 0, replicas: [0, 1, 2], isr: [0, 1, 2], minIsr: 2 }];

describe("restartBlockers", () => {
  it("lets a broker go when it can stop, the others have caught up and no ISR would fall short", () => {
    expect(restartBlockers(broker(2), { brokers: answers(fine(0), fine(1), fine(2)), partitions: healthy })).toEqual(
      [],
    );
  });

  it("waits while the broker itself says it cannot stop", () => {
    const no = { ...fine(2), canStop: false, canStopReasons: ["orders-0: ISR [1, 2] ..."], blockingPartitions: [{}] };
    const blockers = restartBlockers(broker(2), { brokers: answers(fine(0), fine(1), no), partitions: healthy });
    expect(blockers).toEqual([{ reason: "WaitingForIsr", message: expect.stringContaining("orders-0") as string }]);
  });

  it("waits until the broker restarted before is back in every ISR (its own answer and the Admin API)", () => {
    const behind = { ...fine(1), caughtUp: false, caughtUpReasons: ["not in the ISR of orders-0"] };
    const partitions = [{ ...healthy[0], isr: [0, 2] } as PartitionFact];
    const blockers = restartBlockers(broker(2), { brokers: answers(fine(0), behind, fine(2)), partitions });
    expect(blockers.map((b) => b.reason)).toEqual(["BrokerNotCaughtUp", "WaitingForIsr", "WaitingForIsr"]);
    expect(blockers[0]?.message).toBe("c-broker-1 has not caught up: not in the ISR of orders-0");
    expect(blockers[1]?.message).toContain("below min.insync.replicas");
    expect(blockers[2]?.message).toContain("orders-0 (ISR [0, 2] lacks 1)");
  });

  it("cross-checks min.insync.replicas through the Admin API even when the broker says yes", () => {
    const partitions: PartitionFact[] = [{ topic: "t", partition: 3, replicas: [0, 1, 2], isr: [0, 2], minIsr: 2 }];
    const blockers = restartBlockers(broker(2), { brokers: answers(fine(0), fine(1), fine(2)), partitions });
    expect(blockers[0]).toEqual({
      reason: "WaitingForIsr",
      message: "restarting c-broker-2 would take t-3 (ISR [0, 2], min.insync.replicas=2) below min.insync.replicas",
    });
    // The same ISR does not block a broker outside it... but the lagging replica still does.
    expect(restartBlockers(broker(1), { partitions }).map((b) => b.message)).toEqual([
      "replicas are out of the ISR: t-3 (ISR [0, 2] lacks 1)",
    ]);
  });

  it("does not let partitions that can never stay at min.insync.replicas (RF <= min) block", () => {
    const partitions: PartitionFact[] = [
      { topic: "solo", partition: 0, replicas: [2], isr: [2], minIsr: 1 },
      { topic: "pair", partition: 0, replicas: [1, 2], isr: [1, 2], minIsr: 3 },
    ];
    expect(restartBlockers(broker(2), { partitions })).toEqual([]);
  });

  it("never restarts a broker still starting (log recovery), Ready or not", () => {
    for (const ready of [true, false]) {
      const blockers = restartBlockers(broker(2, { ready }), {
        brokers: answers(fine(0), fine(1), starting(2)),
        partitions: healthy,
      });
      expect(blockers[0]?.reason).toBe("BrokerStarting");
    }
  });

  it("restarts a pod that is not Ready and does not answer (it serves nothing), without the other checks", () => {
    const down: BrokerAnswer = { nodeId: 2, pod: "c-broker-2", error: "connect ECONNREFUSED" };
    const facts = { brokers: [...answers(fine(0), fine(1)), down], partitions: { error: "timeout" } };
    expect(restartBlockers(broker(2, { ready: false }), facts)).toEqual([]);
    // Ready but silent: nothing can be verified, so it waits.
    expect(restartBlockers(broker(2), facts).map((b) => b.reason)).toEqual(["SafetyUnknown", "SafetyUnknown"]);
  });

  it("a broker that does not answer blocks the restart of another", () => {
    const silent: BrokerAnswer = { nodeId: 0, pod: "c-broker-0", error: "HTTP 503" };
    const blockers = restartBlockers(broker(2), {
      brokers: [silent, ...answers(fine(1), fine(2))],
      partitions: healthy,
    });
    expect(blockers).toEqual([
      { reason: "SafetyUnknown", message: "c-broker-0 did not answer /v1/restart-safety: HTTP 503" },
    ]);
  });

  describe("KRaft voters", () => {
    const controller = (nodeId: number): Candidate => ({
      pod: `c-controller-${nodeId - 1000}`,
      nodeId,
      broker: false,
      controller: true,
      ready: true,
    });
    const quorum = (leaderId: number, caughtUp: Record<number, number>) => ({
      leaderId,
      voters: Object.entries(caughtUp).map(([id, t]) => ({ replicaId: Number(id), lastCaughtUpTimestamp: t })),
    });

    it("restarts a voter while the others keep a caught-up majority", () => {
      expect(
        restartBlockers(controller(1002), {
          partitions: [],
          quorum: quorum(1000, { 1000: 10_000, 1001: 9_500, 1002: 1 }),
        }),
      ).toEqual([]);
    });

    it("waits while too few of the other voters are caught up", () => {
      const blockers = restartBlockers(controller(1002), {
        partitions: [],
        quorum: quorum(1000, { 1000: 10_000, 1001: 7_000, 1002: 10_000 }),
      });
      expect(blockers).toEqual([
        {
          reason: "QuorumNotCaughtUp",
          message: "without c-controller-2 only 1 of 3 voters are caught up (1000); a majority needs 2",
        },
      ]);
    });

    it("waits without a leader or without an answer", () => {
      expect(restartBlockers(controller(1000), { partitions: [], quorum: quorum(-1, {}) })[0]?.reason).toBe(
        "QuorumNotCaughtUp",
      );
      expect(restartBlockers(controller(1000), { partitions: [], quorum: { error: "no controller" } })[0]).toEqual({
        reason: "SafetyUnknown",
        message: "DescribeQuorum failed: no controller",
      });
    });

    it("a combined node passes both the broker and the quorum checks", () => {
      const combined = broker(1, { controller: true });
      const facts = {
        brokers: answers(fine(0), fine(1), fine(2)),
        partitions: healthy,
        quorum: quorum(0, { 0: 10_000, 1: 10_000, 2: 0 }),
      };
      expect(restartBlockers(combined, facts).map((b) => b.reason)).toEqual(["QuorumNotCaughtUp"]);
    });

    it("two voters: the other must be caught up", () => {
      expect(restartBlockers(controller(1001), { partitions: [], quorum: quorum(1000, { 1000: 5, 1001: 5 }) })).toEqual(
        [],
      );
      expect(
        restartBlockers(controller(1000), { partitions: [], quorum: quorum(1000, { 1000: 9_000, 1001: 1 }) })[0]
          ?.reason,
      ).toBe("QuorumNotCaughtUp");
    });
  });
});
