import { describe, expect, it } from "vitest";
import { ErrorCode, type ElectLeadersResponse } from "../../src/protocol/index.ts";
import type { ControllerConfig } from "../../src/controller/index.ts";
import { decideBalance } from "../../src/controller/replication-commands.ts";
import {
  alter,
  fenceBroker,
  harness,
  heartbeat,
  partitionError,
  liveBrokers,
  logger,
  partitionsOf,
  topic,
  type Harness,
} from "../support/controller-harness.ts";

// The controller's replication commands: AlterPartition validation and commits, elections (clean and unclean).

/**
 * Three live brokers and a topic "t" of one partition on all three, led by 1; created with ISR [1, 2, 3], then shrunk
 * by its leader to [1] (partition epoch 1), as if its followers had fallen behind.
 */
function threeBrokers(): { h: Harness; epochs: Map<number, bigint> } {
  const h = harness();
  const epochs = liveBrokers(h, [null, null, null]);
  h.propose(
    h.controller.createTopics([topic("t", -1, -1, { assignments: new Map([[0, [1, 2, 3]]]), validateOnly: false })]),
  );
  expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 1, isr: [1, 2, 3], partitionEpoch: 0 });
  alter(h, epochs, "t", [1]);
  return { h, epochs };
}

/** Sets the topic's unclean.leader.election.enable to true. */
function allowUnclean(h: Harness, name: string): void {
  const changes = [{ name: "unclean.leader.election.enable", operation: 0, value: "true" }];
  const res = h.propose(
    h.controller.alterConfigs([{ resourceType: 2, resourceName: name, changes }], "incremental", false),
  );
  expect(res[0]?.errorCode).toBe(ErrorCode.NONE);
}

describe("AlterPartition", () => {
  it("commits an ISR expansion and answers with the committed partition state", () => {
    const { h, epochs } = threeBrokers();
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 1, isr: [1], partitionEpoch: 1 });
    const res = alter(h, epochs, "t", [1, 2, 3]);
    expect(res.errorCode).toBe(ErrorCode.NONE);
    expect(res.topics[0]?.partitions[0]).toMatchObject({
      partitionIndex: 0,
      errorCode: ErrorCode.NONE,
      leaderId: 1,
      leaderEpoch: 0,
      isr: [1, 2, 3],
      partitionEpoch: 2,
      leaderRecoveryState: 0,
    });
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 1, isr: [1, 2, 3], partitionEpoch: 2 });
    // A shrink, in version 2 (no broker epochs).
    const shrunk = alter(h, epochs, "t", [1, 3], { version: 2 });
    expect(shrunk.topics[0]?.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      isr: [1, 3],
      partitionEpoch: 3,
    });
    // The same ISR again writes nothing and answers the current state.
    const before = h.log.length;
    expect(alter(h, epochs, "t", [1, 3]).topics[0]?.partitions[0]).toMatchObject({ isr: [1, 3], partitionEpoch: 3 });
    expect(h.log.length).toBe(before);
  });

  it("refuses stale and future epochs as Kafka does", () => {
    const { h, epochs } = threeBrokers();
    alter(h, epochs, "t", [1, 2]);
    const before = h.log.length;
    expect(partitionError(alter(h, epochs, "t", [1, 2, 3], { leaderEpoch: 1 }))).toBe(ErrorCode.NOT_CONTROLLER);
    expect(partitionError(alter(h, epochs, "t", [1, 2, 3], { partitionEpoch: 5 }))).toBe(ErrorCode.NOT_CONTROLLER);
    expect(partitionError(alter(h, epochs, "t", [1, 2, 3], { leaderEpoch: -1 }))).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(partitionError(alter(h, epochs, "t", [1, 2, 3], { partitionEpoch: 0 }))).toBe(
      ErrorCode.INVALID_UPDATE_VERSION,
    );
    const stale = alter(h, epochs, "t", [1, 2, 3], { brokerEpoch: 1n });
    expect(stale.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect(stale.topics).toEqual([]);
    expect(h.log.length).toBe(before);
  });

  it("refuses an invalid ISR and a request that does not come from the leader", () => {
    const { h, epochs } = threeBrokers();
    const invalid = [
      [1, 1],
      [1, 4],
      [2, 3],
      [1, -1],
    ];
    for (const isr of invalid) expect(partitionError(alter(h, epochs, "t", isr))).toBe(ErrorCode.INVALID_REQUEST);
    expect(partitionError(alter(h, epochs, "t", [1, 2], { from: 2 }))).toBe(ErrorCode.INVALID_REQUEST);
    // RECOVERING with more than one member, and from RECOVERED back to RECOVERING.
    expect(partitionError(alter(h, epochs, "t", [1, 2], { leaderRecoveryState: 1 }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(partitionError(alter(h, epochs, "t", [1], { leaderRecoveryState: 1 }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(partitionError(alter(h, epochs, "t", [1, 2], { partition: 7 }))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const unknown = alter(h, epochs, "t", [1, 2], { topicId: "44444444-4444-4444-8444-444444444444" });
    expect(partitionError(unknown)).toBe(ErrorCode.UNKNOWN_TOPIC_ID);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ isr: [1], partitionEpoch: 1 });
  });

  it("refuses ineligible members: fenced, shutting down, or of another broker epoch (KIP-903)", () => {
    const { h, epochs } = threeBrokers();
    const wrongEpoch = new Map(epochs);
    wrongEpoch.set(2, 999n);
    expect(partitionError(alter(h, epochs, "t", [1, 2], { memberEpochs: wrongEpoch }))).toBe(
      ErrorCode.INELIGIBLE_REPLICA,
    );
    // Broker 3 asks to shut down: it leads nothing, so it is fenced at once.
    h.propose(h.controller.heartbeat(heartbeat(3, epochs.get(3) ?? 0n, h.log.length, { wantShutDown: true })));
    expect(h.committed().brokers.get(3)?.fenced).toBe(true);
    expect(partitionError(alter(h, epochs, "t", [1, 3]))).toBe(ErrorCode.INELIGIBLE_REPLICA);
    // -1 skips the epoch check (version 2 senders).
    expect(partitionError(alter(h, epochs, "t", [1, 2], { memberEpochs: new Map() }))).toBe(ErrorCode.NONE);
  });
});

describe("elections", () => {
  it("elects the first live ISR member in replica order when the leader is fenced, and the old leader stays out", () => {
    const { h, epochs } = threeBrokers();
    alter(h, epochs, "t", [1, 3, 2]);
    fenceBroker(h, epochs);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 2, isr: [3, 2], leaderEpoch: 1 });
    // Broker 1 returns: not in the ISR, so it does not lead again (it must catch up and be added by the leader).
    h.propose(h.controller.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, h.log.length)));
    expect(h.committed().brokers.get(1)?.fenced).toBe(false);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 2, isr: [3, 2] });
  });

  it("leaves a partition leaderless with its last ISR member, and gives it back to that member alone", () => {
    const { h, epochs } = threeBrokers();
    fenceBroker(h, epochs);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: -1, isr: [1], leaderRecoveryState: 0 });
    h.propose(h.controller.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, h.log.length)));
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 1, isr: [1] });
  });

  it("elects a live replica outside the ISR where unclean.leader.election.enable, ISR the new leader, RECOVERING", () => {
    const { h, epochs } = threeBrokers();
    const configs = new Map([["unclean.leader.election.enable", "true"]]);
    h.propose(h.controller.createTopics([topic("u", -1, -1, { assignments: new Map([[0, [1, 2, 3]]]), configs })]));
    alter(h, epochs, "u", [1]);
    fenceBroker(h, epochs);
    expect(partitionsOf(h.committed(), "u")[0]).toMatchObject({ leader: 2, isr: [2], leaderRecoveryState: 1 });
    // The clean topic waits for its ISR.
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: -1, isr: [1] });
    // The recovered leader says so with AlterPartition; the state goes back to RECOVERED.
    const done = alter(h, epochs, "u", [2]);
    expect(done.topics[0]?.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, leaderRecoveryState: 0 });
  });

  it("takes unclean.leader.election.enable from the dynamic broker default too", () => {
    const { h, epochs } = threeBrokers();
    h.propose(
      h.controller.alterConfigs(
        [
          {
            resourceType: 4,
            resourceName: "",
            changes: [{ name: "unclean.leader.election.enable", operation: 0, value: "true" }],
          },
        ],
        "replace",
        false,
      ),
    );
    fenceBroker(h, epochs);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 2, isr: [2], leaderRecoveryState: 1 });
  });
});

describe("ElectLeaders", () => {
  function elect(h: Harness, type: number, partitions: { topic: string; partitions: number[] }[] | null, version = 2) {
    return h.propose(
      h.controller.electLeaders({ electionType: type, topicPartitions: partitions, timeoutMs: 1000 }, version),
    );
  }
  const results = (res: ElectLeadersResponse) =>
    res.replicaElectionResults.flatMap((t) =>
      t.partitionResult.map((p) => [`${t.topic}-${p.partitionId}`, p.errorCode] as const),
    );

  it("PREFERRED: elects the first replica once it is back in the ISR, with Kafka's per-partition errors", () => {
    const { h, epochs } = threeBrokers();
    alter(h, epochs, "t", [1, 2, 3]);
    fenceBroker(h, epochs);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 2, isr: [2, 3] });
    // The preferred replica is fenced: nothing to do.
    const unavailable = elect(h, 0, [
      { topic: "t", partitions: [0, 9] },
      { topic: "nope", partitions: [0] },
    ]);
    expect(results(unavailable)).toEqual([
      ["t-0", ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE],
      ["t-9", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ["nope-0", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
    // Back and unfenced, but not in the ISR: still not available.
    h.propose(h.controller.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, h.log.length)));
    expect(results(elect(h, 0, [{ topic: "t", partitions: [0] }]))).toEqual([
      ["t-0", ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE],
    ]);
    // The leader adds it to the ISR; now the election moves the leadership to it.
    alter(h, epochs, "t", [2, 3, 1]);
    const done = elect(h, 0, [{ topic: "t", partitions: [0] }], 0);
    expect(results(done)).toEqual([["t-0", ErrorCode.NONE]]);
    expect(done.replicaElectionResults[0]?.partitionResult[0]?.errorMessage).toBeNull();
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 1, isr: [2, 3, 1], leaderEpoch: 2 });
    const again = elect(h, 0, [{ topic: "t", partitions: [0] }]);
    expect(again.replicaElectionResults[0]?.partitionResult[0]).toMatchObject({
      errorCode: ErrorCode.ELECTION_NOT_NEEDED,
      errorMessage: "Leader election not needed for topic partition.",
    });
    // Every partition (null): those that need no election are left out.
    expect(elect(h, 0, null).replicaElectionResults).toEqual([{ topic: "t", partitionResult: [] }]);
  });

  it("UNCLEAN: elects a live replica outside the ISR only where there is no leader", () => {
    const { h, epochs } = threeBrokers();
    expect(results(elect(h, 1, [{ topic: "t", partitions: [0] }]))).toEqual([["t-0", ErrorCode.ELECTION_NOT_NEEDED]]);
    fenceBroker(h, epochs);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: -1, isr: [1] });
    // PREFERRED keeps to the ISR.
    expect(results(elect(h, 0, [{ topic: "t", partitions: [0] }]))).toEqual([
      ["t-0", ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE],
    ]);
    expect(results(elect(h, 1, [{ topic: "t", partitions: [0, 0] }]))).toEqual([
      ["t-0", ErrorCode.NONE],
      ["t-0", ErrorCode.NONE],
    ]);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({
      leader: 2,
      isr: [2],
      leaderRecoveryState: 1,
      leaderEpoch: 2,
    });
    // With every replica fenced there is nobody to elect.
    const h2 = threeBrokers();
    h2.h.clock.now += 9001;
    for (let f = h2.h.controller.fenceStaleBroker(); f !== null; f = h2.h.controller.fenceStaleBroker())
      h2.h.propose(f);
    expect(results(elect(h2.h, 1, [{ topic: "t", partitions: [0] }]))).toEqual([
      ["t-0", ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE],
    ]);
  });

  it("refuses an unknown election type", () => {
    const { h } = threeBrokers();
    const res = elect(h, 5, [{ topic: "t", partitions: [0] }]);
    expect(res.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(results(res)).toEqual([["t-0", ErrorCode.INVALID_REQUEST]]);
  });
});

describe("automatic preferred-leader elections", () => {
  /** Topic "b": two partitions preferring broker 1, ISR all three; broker 1 fenced, so broker 2 leads both. */
  function imbalanced(overrides: Partial<ControllerConfig> = {}) {
    const h = harness(overrides);
    const epochs = liveBrokers(h, [null, null, null]);
    const assignments = new Map([
      [0, [1, 2, 3]],
      [1, [1, 2, 3]],
    ]);
    h.propose(h.controller.createTopics([topic("b", -1, -1, { assignments })]));
    alter(h, epochs, "b", [1, 2, 3], { partition: 0 });
    alter(h, epochs, "b", [1, 2, 3], { partition: 1 });
    fenceBroker(h, epochs);
    h.propose(h.controller.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, h.log.length)));
    expect(partitionsOf(h.committed(), "b").map((p) => [p.leader, p.isr])).toEqual([
      [2, [2, 3]],
      [2, [2, 3]],
    ]);
    return { h, epochs };
  }

  it("moves leadership back to the preferred replica only once it is in the ISR", () => {
    const { h, epochs } = imbalanced();
    const skipped = h.controller.balancePartitionLeaders();
    expect(skipped?.records).toEqual([]);
    alter(h, epochs, "b", [2, 3, 1], { partition: 0 });
    const pass = h.controller.balancePartitionLeaders();
    expect(pass?.response).toBe(false);
    if (pass) h.propose(pass);
    expect(partitionsOf(h.committed(), "b").map((p) => p.leader)).toEqual([1, 2]);
    alter(h, epochs, "b", [2, 3, 1], { partition: 1 });
    const second = h.controller.balancePartitionLeaders();
    if (second) h.propose(second);
    expect(partitionsOf(h.committed(), "b").map((p) => p.leader)).toEqual([1, 1]);
  });

  it("elects only for brokers above leader.imbalance.per.broker.percentage, and not at all when disabled", () => {
    const { h, epochs } = imbalanced({ leaderImbalancePerBrokerPercentage: 50 });
    alter(h, epochs, "b", [2, 3, 1], { partition: 0 });
    // Broker 1 leads none of its two partitions (100%): partition 0, whose ISR holds it, moves.
    const pass = h.controller.balancePartitionLeaders();
    if (pass) h.propose(pass);
    expect(partitionsOf(h.committed(), "b").map((p) => p.leader)).toEqual([1, 2]);
    // Now one of two is elsewhere: 50%, not above the threshold, so partition 1 stays with broker 2.
    alter(h, epochs, "b", [2, 3, 1], { partition: 1 });
    expect(h.controller.balancePartitionLeaders()?.records).toEqual([]);
    const off = imbalanced({ autoLeaderRebalanceEnable: false });
    alter(off.h, off.epochs, "b", [2, 3, 1], { partition: 0 });
    expect(off.h.controller.balancePartitionLeaders()).toBeNull();
  });

  it("writes at most the pass's limit and says more is due", () => {
    const { h, epochs } = imbalanced();
    alter(h, epochs, "b", [2, 3, 1], { partition: 0 });
    alter(h, epochs, "b", [2, 3, 1], { partition: 1 });
    const view = h.committed();
    const ctx = {
      view,
      usable: (id: number) => view.brokers.get(id)?.fenced === false,
      policyOf: () => ({ election: "ONLINE" as const }),
      logger,
    };
    expect(decideBalance(ctx, 10, 1)).toMatchObject({ response: true, records: [expect.anything()] });
    expect(decideBalance(ctx, 10, 2)).toMatchObject({ response: true });
    expect(decideBalance(ctx, 10, 3)).toMatchObject({ response: false });
  });
});

describe("periodic unclean elections", () => {
  it("elects a leaderless partition's live replica once its topic allows unclean elections", () => {
    const { h, epochs } = threeBrokers();
    fenceBroker(h, epochs);
    expect(h.controller.electUncleanLeaders().records).toEqual([]);
    allowUnclean(h, "t");
    const pass = h.controller.electUncleanLeaders();
    expect(pass.response).toBe(false);
    h.propose(pass);
    expect(partitionsOf(h.committed(), "t")[0]).toMatchObject({ leader: 2, isr: [2], leaderRecoveryState: 1 });
  });
});

describe("partition reassignment", () => {
  function fourBrokers() {
    const h = harness();
    const epochs = liveBrokers(h, [null, null, null, null]);
    h.propose(h.controller.createTopics([topic("r", -1, -1, { assignments: new Map([[0, [1, 2, 3]]]) })]));
    alter(h, epochs, "r", [1, 2, 3]);
    return { h, epochs };
  }
  function reassign(h: Harness, replicas: number[] | null, name = "r", partitionIndex = 0) {
    const res = h.propose(
      h.controller.alterPartitionReassignments({
        timeoutMs: 1000,
        topics: [{ name, partitions: [{ partitionIndex, replicas }] }],
      }),
    );
    return res.responses[0]?.partitions[0];
  }
  const listed = (h: Harness) =>
    h.propose(h.controller.listPartitionReassignments({ timeoutMs: 1000, topics: null })).topics;

  it("adds the target replicas, completes when the ISR holds them all, then drops the removed leader", () => {
    const { h, epochs } = fourBrokers();
    expect(reassign(h, [2, 3, 4])).toMatchObject({ errorCode: ErrorCode.NONE, errorMessage: null });
    expect(partitionsOf(h.committed(), "r")[0]).toMatchObject({
      replicas: [2, 3, 4, 1],
      addingReplicas: [4],
      removingReplicas: [1],
      leader: 1,
      isr: [1, 2, 3],
      leaderEpoch: 0,
    });
    expect(listed(h)).toEqual([
      {
        name: "r",
        partitions: [{ partitionIndex: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] }],
      },
    ]);
    // The ISR catches up with 4: the reassignment completes; 1 leaves, so 2 leads and the sender is told.
    const done = alter(h, epochs, "r", [1, 2, 3, 4]);
    expect(done.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NEW_LEADER_ELECTED);
    expect(partitionsOf(h.committed(), "r")[0]).toMatchObject({
      replicas: [2, 3, 4],
      addingReplicas: [],
      removingReplicas: [],
      leader: 2,
      isr: [2, 3, 4],
      leaderEpoch: 1,
    });
    expect(listed(h)).toEqual([]);
  });

  it("completes at once when only the order changes, and bumps the leader epoch when a follower is removed", () => {
    const { h, epochs } = fourBrokers();
    reassign(h, [3, 2, 1]);
    expect(partitionsOf(h.committed(), "r")[0]).toMatchObject({ replicas: [3, 2, 1], leader: 1, leaderEpoch: 0 });
    reassign(h, [3, 1]);
    expect(partitionsOf(h.committed(), "r")[0]).toMatchObject({ replicas: [3, 1], isr: [1, 3], leaderEpoch: 1 });
    expect(alter(h, epochs, "r", [1, 3]).topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it("cancels back to the original replicas, and refuses bad targets", () => {
    const { h, epochs } = fourBrokers();
    reassign(h, [1, 2, 4]);
    alter(h, epochs, "r", [1, 2, 3]);
    expect(partitionsOf(h.committed(), "r")[0]).toMatchObject({ replicas: [1, 2, 4, 3], addingReplicas: [4] });
    expect(reassign(h, null)).toMatchObject({ errorCode: ErrorCode.NONE });
    expect(partitionsOf(h.committed(), "r")[0]).toMatchObject({
      replicas: [1, 2, 3],
      addingReplicas: [],
      removingReplicas: [],
      isr: [1, 2, 3],
      leader: 1,
    });
    expect(reassign(h, null)).toMatchObject({ errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS });
    expect(reassign(h, [])).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT });
    expect(reassign(h, [1, 1])).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: "The manual partition assignment includes the broker 1 more than once.",
    });
    expect(reassign(h, [1, 9])?.errorMessage).toMatch(/broker 9, but no such broker is registered/);
    expect(reassign(h, [1, 2], "nope")).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    expect(reassign(h, [1, 2], "r", 3)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    expect(listed(h)).toEqual([]);
  });

  it("refuses a cancel that would need an unclean election, unless the topic allows one", () => {
    const { h, epochs } = fourBrokers();
    reassign(h, [1, 2, 3, 4]);
    // The ISR ends up holding only the replica being added: cancelling would leave it with no member.
    alter(h, epochs, "r", [1, 4]);
    fenceBroker(h, epochs);
    expect(partitionsOf(h.committed(), "r")[0]).toMatchObject({ leader: 4, isr: [4], addingReplicas: [4] });
    expect(reassign(h, null)).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage:
        "Unable to revert partition assignment for r:0 because it would require an unclean leader election.",
    });
    allowUnclean(h, "r");
    expect(reassign(h, null)).toMatchObject({ errorCode: ErrorCode.NONE });
    // Broker 1 (first of the original replicas) is fenced, so the unclean election takes broker 2.
    expect(partitionsOf(h.committed(), "r")[0]).toMatchObject({
      replicas: [1, 2, 3],
      addingReplicas: [],
      leader: 2,
      isr: [2],
      leaderRecoveryState: 1,
    });
  });
});

describe("replication throttle configs", () => {
  it("accepts the throttled-replicas topic configs and the throttled rates as dynamic broker configs", () => {
    const { h } = threeBrokers();
    const alterTopic = (name: string, value: string | null, operation = 0) =>
      h.propose(
        h.controller.alterConfigs(
          [{ resourceType: 2, resourceName: "t", changes: [{ name, operation, value }] }],
          "incremental",
          false,
        ),
      )[0];
    const alterBroker = (resourceName: string, name: string, value: string | null, operation = 0) =>
      h.propose(
        h.controller.alterConfigs(
          [{ resourceType: 4, resourceName, changes: [{ name, operation, value }] }],
          "incremental",
          false,
        ),
      )[0];
    expect(alterTopic("leader.replication.throttled.replicas", "0:1,0:2")?.errorCode).toBe(ErrorCode.NONE);
    expect(alterTopic("follower.replication.throttled.replicas", "*")?.errorCode).toBe(ErrorCode.NONE);
    expect(alterTopic("leader.replication.throttled.replicas", "0:3", 2)?.errorCode).toBe(ErrorCode.NONE);
    const topicConfigs = h.committed().configs.get("2/t");
    expect(topicConfigs?.get("leader.replication.throttled.replicas")).toBe("0:1,0:2,0:3");
    expect(alterTopic("leader.replication.throttled.replicas", "0-1")).toMatchObject({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: expect.stringMatching(/must be the literal '\*' or a list of replicas/) as unknown,
    });
    expect(alterBroker("1", "leader.replication.throttled.rate", "1048576")?.errorCode).toBe(ErrorCode.NONE);
    expect(alterBroker("", "follower.replication.throttled.rate", "2048")?.errorCode).toBe(ErrorCode.NONE);
    expect(alterBroker("2", "follower.replication.throttled.rate", "-1")?.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(h.committed().configs.get("4/1")?.get("leader.replication.throttled.rate")).toBe("1048576");
    // kafka-reassign-partitions --verify deletes them all, the log-dir one included.
    expect(alterBroker("1", "leader.replication.throttled.rate", null, 1)?.errorCode).toBe(ErrorCode.NONE);
    expect(alterBroker("1", "replica.alter.log.dirs.io.max.bytes.per.second", null, 1)?.errorCode).toBe(ErrorCode.NONE);
    expect(alterTopic("follower.replication.throttled.replicas", null, 1)?.errorCode).toBe(ErrorCode.NONE);
    expect(h.committed().configs.get("4/1")?.get("leader.replication.throttled.rate")).toBeUndefined();
    expect(h.committed().configs.get("2/t")?.get("follower.replication.throttled.replicas")).toBeUndefined();
  });
});
