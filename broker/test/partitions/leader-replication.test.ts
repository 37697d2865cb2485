import { afterEach, describe, expect, it } from "vitest";
import {
  ConfigRecord,
  ErrorCode,
  FenceBrokerRecord,
  FetchRequest,
  FetchResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  PartitionChangeRecord,
  PartitionRecord,
  ProduceRequest,
  ProduceResponse,
  TopicRecord,
  type FetchResponsePartitionData,
} from "../../src/protocol/index.ts";
import { GroupStoreError } from "../../src/coordinator/index.ts";
import { LogGroupStore } from "../../src/partitions/offsets-store.ts";
import type { IsrChange, IsrChangeAnswered } from "../../src/replication/alter-partition-manager.ts";
import { makeBatch } from "../log/batches.ts";
import { ImageHarness, rec, registeredBroker, topicConfig, type RecordSpec } from "../support/image-harness.ts";

// The leader side of replication (ADR 24) on broker 1, which leads r-0 (replicas 1, 2, 3; leader epoch 3): followers'
// fetches read to the log end and move the high watermark, consumers read below it, the ISR grows when a follower
// catches up and shrinks when one lags, through a stub AlterPartition sender; the image's ISR is what counts.

const T = "00000000-0000-0000-0000-0000000000c1";
const LAG = 1_000;

const broker = (id: number, fenced = false): RecordSpec => registeredBroker(id, BigInt(id * 10), fenced);

const isrChange = (isr: number[]) => rec(PartitionChangeRecord, { topicId: T, partitionId: 0, isr });

let h: ImageHarness | undefined;
let now = 1_000_000;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(
  isr: number[],
  options: { fenced?: number[]; minIsr?: number; leaderRecoveryState?: number } = {},
): Promise<ImageHarness> {
  now = 1_000_000;
  h = await ImageHarness.start(1, { clock: () => now, replicaLagTimeMaxMs: LAG });
  await h.publish([
    ...[1, 2, 3].map((id) => broker(id, options.fenced?.includes(id) ?? false)),
    rec(TopicRecord, { name: "r", topicId: T }),
    rec(PartitionRecord, {
      topicId: T,
      partitionId: 0,
      replicas: [1, 2, 3],
      isr,
      leader: 1,
      leaderEpoch: 3,
      partitionEpoch: 0,
      leaderRecoveryState: options.leaderRecoveryState ?? 0,
    }),
    ...(options.minIsr === undefined ? [] : [topicConfig("r", "min.insync.replicas", String(options.minIsr))]),
  ]);
  return h;
}

/** A stub AlterPartition sender that records what the leader asks for. */
function wireIsrChanges(harness: ImageHarness): { changes: IsrChange[]; answers: IsrChangeAnswered[] } {
  const changes: IsrChange[] = [];
  const answers: IsrChangeAnswered[] = [];
  harness.partitions.startReplication({
    isrChanges: {
      submit: (change, answered) => {
        changes.push(change);
        answers.push(answered);
        return true;
      },
    },
    brokerEpoch: () => 10n,
  });
  return { changes, answers };
}

async function produce(harness: ImageHarness, records: number): Promise<void> {
  const answer = await produceWith(harness, records, { acks: 1 });
  expect(answer.errorCode).toBe(ErrorCode.NONE);
}

async function produceWith(harness: ImageHarness, records: number, options: { acks: number; timeoutMs?: number }) {
  const res = await harness.call(11, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: options.acks,
    timeoutMs: options.timeoutMs ?? 5000,
    topicData: [{ name: "r", partitionData: [{ index: 0, records: makeBatch({ records }) }] }],
  });
  const answer = res.responses[0]?.partitionResponses[0];
  if (!answer) throw new Error("no partition in the produce response");
  return answer;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const logEnd = (harness: ImageHarness) => harness.partitions.log("r", 0)?.logEndOffset;

async function fetch(
  harness: ImageHarness,
  options: {
    replicaId?: number;
    offset?: bigint;
    lastFetchedEpoch?: number;
    currentLeaderEpoch?: number;
    version?: number;
    brokerEpoch?: bigint;
    maxWaitMs?: number;
    minBytes?: number;
  } = {},
): Promise<FetchResponsePartitionData> {
  const version = options.version ?? 17;
  const replicaId = options.replicaId ?? -1;
  const res = await harness.call(version, FetchRequest, FetchResponse, {
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 0,
    ...(version >= 15
      ? {
          replicaState: {
            replicaId,
            replicaEpoch: options.brokerEpoch ?? (replicaId >= 0 ? BigInt(replicaId * 10) : -1n),
          },
        }
      : { replicaId }),
    topics: [
      {
        topic: "r",
        topicId: T,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: options.currentLeaderEpoch ?? 3,
            fetchOffset: options.offset ?? 0n,
            lastFetchedEpoch: options.lastFetchedEpoch ?? -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
  });
  const partition = res.responses[0]?.partitions[0];
  if (!partition) throw new Error("no partition in the fetch response");
  return partition;
}

describe("leader: the replication throttle (KIP-73)", () => {
  const throttle = (rate: string, replicas: string): RecordSpec[] => [
    rec(ConfigRecord, { resourceType: 4, resourceName: "1", name: "leader.replication.throttled.rate", value: rate }),
    rec(ConfigRecord, {
      resourceType: 2,
      resourceName: "r",
      name: "leader.replication.throttled.replicas",
      value: replicas,
    }),
  ];

  it("sends no records to a throttled follower outside the ISR while over the rate; the ISR is never slowed", async () => {
    const harness = await start([1, 2]);
    await harness.publish(throttle("100", "0:1"));
    await produce(harness, 20);
    // Under the rate: broker 3 (not in the ISR) gets the records, which now count against the throttle.
    const first = await fetch(harness, { replicaId: 3 });
    expect(first.records?.length ?? 0).toBeGreaterThan(100);
    const held = await fetch(harness, { replicaId: 3 });
    expect(held).toMatchObject({ errorCode: ErrorCode.NONE, logStartOffset: 0n });
    expect(held.records?.length ?? 0).toBe(0);
    // Broker 2 is in the ISR, and consumers are no replicas: both read as before.
    expect((await fetch(harness, { replicaId: 2 })).records?.length ?? 0).toBeGreaterThan(100);
    expect((await fetch(harness, { replicaId: 2, offset: 20n, lastFetchedEpoch: 3 })).highWatermark).toBe(20n);
    expect((await fetch(harness)).records?.length ?? 0).toBeGreaterThan(100);
    // Once the measured windows age out (11 × 1 s by default), broker 3 gets records again.
    now += 11_000;
    expect((await fetch(harness, { replicaId: 3 })).records?.length ?? 0).toBeGreaterThan(100);
  });

  it("throttles only the partitions listed for this broker", async () => {
    const harness = await start([1, 2]);
    await harness.publish(throttle("100", "0:2,1:1"));
    await produce(harness, 20);
    expect((await fetch(harness, { replicaId: 3 })).records?.length ?? 0).toBeGreaterThan(100);
    expect((await fetch(harness, { replicaId: 3 })).records?.length ?? 0).toBeGreaterThan(100);
  });
});

describe("leader: follower and consumer reads", () => {
  it("serves followers up to the log end and consumers below the HW, which the ISR's fetches move", async () => {
    const harness = await start([1, 2, 3]);
    await produce(harness, 3);
    const consumer = await fetch(harness);
    expect(consumer).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 0n });
    expect(consumer.records?.length ?? 0).toBe(0);

    const follower = await fetch(harness, { replicaId: 2 });
    expect(follower.errorCode).toBe(ErrorCode.NONE);
    expect(follower.records?.length ?? 0).toBeGreaterThan(0);
    expect(follower.highWatermark).toBe(0n);

    expect((await fetch(harness, { replicaId: 2, offset: 3n, lastFetchedEpoch: 3 })).highWatermark).toBe(0n);
    // The last ISR member to reach offset 3 moves the HW there; its own response already carries it.
    expect((await fetch(harness, { replicaId: 3, offset: 3n, version: 11 })).highWatermark).toBe(3n);
    const after = await fetch(harness);
    expect(after.highWatermark).toBe(3n);
    expect(after.records?.length ?? 0).toBeGreaterThan(0);
    expect(harness.partitions.log("r", 0)?.highWatermark).toBe(3n);
  });

  it("refuses fetches from brokers that are not assigned replicas, as Kafka does", async () => {
    const harness = await start([1, 2, 3]);
    expect((await fetch(harness, { replicaId: 4 })).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    expect((await fetch(harness, { replicaId: 4, currentLeaderEpoch: -1 })).errorCode).toBe(
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
    );
    // A fetch from an older incarnation of broker 2.
    expect((await fetch(harness, { replicaId: 2, brokerEpoch: 5n })).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it("answers a diverging epoch when the follower's last fetched epoch ends before its fetch offset (KIP-320)", async () => {
    const harness = await start([1, 2, 3]);
    await produce(harness, 3);
    // Epoch 2 is older than anything in the leader's log, which starts with epoch 3 at offset 0.
    const diverged = await fetch(harness, { replicaId: 2, offset: 5n, lastFetchedEpoch: 2 });
    expect(diverged).toMatchObject({ errorCode: ErrorCode.NONE, divergingEpoch: { epoch: 2, endOffset: 0n } });
    expect(diverged.records?.length ?? 0).toBe(0);
    // Epoch 3 is the leader's own: it ends at the log end, 3.
    expect((await fetch(harness, { replicaId: 2, offset: 4n, lastFetchedEpoch: 3 })).divergingEpoch).toEqual({
      epoch: 3,
      endOffset: 3n,
    });
    // A diverging follower's position is not taken.
    expect(harness.partitions.leaderState("r", 0)?.follower(2)?.logEndOffset).toBe(-1n);
    const fine = await fetch(harness, { replicaId: 2, offset: 3n, lastFetchedEpoch: 3 });
    expect(fine.divergingEpoch?.epoch ?? -1).toBe(-1);
    expect(harness.partitions.leaderState("r", 0)?.follower(2)?.logEndOffset).toBe(3n);
  });
  it("answers a consumer's ListOffsets OFFSET_NOT_AVAILABLE while a new leader's HW lags its epoch start (KIP-207)", async () => {
    // A client's kafkajs test on 3 nodes with replication factor 3 read a high watermark one below what had been
    // acknowledged, right after the leader's kill -9: the new leader's HW lagged until its followers fetched again.
    const harness = await start([1, 2, 3]);
    await produce(harness, 3); // acks=1: the log ends at 3, the HW stays 0 until the followers fetch
    await harness.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 1 })]); // leader epoch 4
    const listOffsets = async (timestamp: bigint, replicaId = -1) => {
      const res = await harness.call(9, ListOffsetsRequest, ListOffsetsResponse, {
        replicaId,
        topics: [
          { name: "r", partitions: [{ partitionIndex: 0, currentLeaderEpoch: 4, timestamp, maxNumOffsets: 1 }] },
        ],
      });
      const p = res.topics[0]?.partitions[0];
      return [p?.errorCode, p?.offset];
    };
    const lagging = [ErrorCode.OFFSET_NOT_AVAILABLE, -1n];
    expect(await listOffsets(-1n)).toEqual(lagging); // latest
    expect(await listOffsets(0n)).toEqual(lagging); // the first record's timestamp is at or above 0
    expect(await listOffsets(-2n)).toEqual([ErrorCode.NONE, 0n]); // earliest
    expect(await listOffsets(-1n, 2)).toEqual([ErrorCode.NONE, 3n]); // a replica gets the log end

    for (const replicaId of [2, 3]) {
      await fetch(harness, { replicaId, offset: 3n, lastFetchedEpoch: 3, currentLeaderEpoch: 4 });
    }
    expect(harness.partitions.log("r", 0)?.highWatermark).toBe(3n);
    expect(await listOffsets(-1n)).toEqual([ErrorCode.NONE, 3n]);
    expect(await listOffsets(0n)).toEqual([ErrorCode.NONE, 0n]);
  });
});

describe("leader: recovery after an unclean election (KIP-704)", () => {
  it("reports a RECOVERING partition RECOVERED as soon as it can send, the ISR unchanged", async () => {
    const harness = await start([1], { leaderRecoveryState: 1 });
    expect(harness.partitions.leaderState("r", 0)?.recovering).toBe(true);
    const { changes } = wireIsrChanges(harness);
    expect(changes).toEqual([
      {
        topicId: T,
        partition: 0,
        proposal: { kind: "recover", leaderEpoch: 3, partitionEpoch: 0, newIsr: [{ brokerId: 1, brokerEpoch: 10n }] },
      },
    ]);
    await harness.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leaderRecoveryState: 0 })]);
    expect(harness.partitions.leaderState("r", 0)).toMatchObject({ recovering: false, pending: undefined });
    harness.partitions.shrinkIsrs();
    expect(changes).toHaveLength(1);
  });
});

describe("leader: ISR changes", () => {
  it("proposes adding a follower that caught up, and applies it once the image commits it", async () => {
    const harness = await start([1, 2]);
    const { changes } = wireIsrChanges(harness);
    await produce(harness, 2);
    await fetch(harness, { replicaId: 2, offset: 2n });
    expect(harness.partitions.log("r", 0)?.highWatermark).toBe(2n);
    await fetch(harness, { replicaId: 3, offset: 1n });
    expect(changes).toEqual([]); // below the HW
    await fetch(harness, { replicaId: 3, offset: 2n });
    expect(changes).toEqual([
      {
        topicId: T,
        partition: 0,
        proposal: {
          kind: "expand",
          leaderEpoch: 3,
          partitionEpoch: 0,
          newIsr: [
            { brokerId: 1, brokerEpoch: 10n },
            { brokerId: 2, brokerEpoch: 20n },
            { brokerId: 3, brokerEpoch: 30n },
          ],
        },
      },
    ]);
    const state = harness.partitions.leaderState("r", 0);
    expect(state?.maximalIsr()).toEqual([1, 2, 3]);
    await harness.publish([isrChange([1, 2, 3])]);
    expect(state?.committedIsr).toEqual([1, 2, 3]);
    expect(state?.pending).toBeUndefined();
  });

  it("does not propose a fenced follower", async () => {
    const harness = await start([1, 2], { fenced: [3] });
    const { changes } = wireIsrChanges(harness);
    await fetch(harness, { replicaId: 3, offset: 0n });
    expect(changes).toEqual([]);
  });

  it("shrinks the ISR by followers that lag for longer than replica.lag.time.max.ms; the HW follows the image", async () => {
    const harness = await start([1, 2, 3]);
    const { changes, answers } = wireIsrChanges(harness);
    await produce(harness, 4);
    await fetch(harness, { replicaId: 2, offset: 4n });
    await fetch(harness, { replicaId: 3, offset: 1n });
    harness.partitions.shrinkIsrs();
    expect(changes).toEqual([]); // caught up when broker 1 became leader, less than LAG ago
    now += LAG + 1;
    await fetch(harness, { replicaId: 2, offset: 4n });
    harness.partitions.shrinkIsrs();
    expect(changes.map((c) => c.proposal.newIsr.map((m) => m.brokerId))).toEqual([[1, 2]]);
    const log = harness.partitions.log("r", 0);
    // Pending, the shrink does not count for the HW yet: broker 3 holds it at 1.
    expect(log?.highWatermark).toBe(1n);
    expect(answers[0]?.(ErrorCode.NONE)).toBe("done");
    expect(log?.highWatermark).toBe(1n);
    expect(harness.partitions.replicationHealth("r", 0)).toEqual({ underReplicated: false, underMinIsr: false });
    await harness.publish([isrChange([1, 2])]);
    expect(log?.highWatermark).toBe(4n);
    expect(harness.partitions.replicationHealth("r", 0)).toEqual({ underReplicated: true, underMinIsr: false });
  });

  it("drops the leader state when it becomes a follower", async () => {
    const harness = await start([1, 2, 3]);
    expect(harness.partitions.leaderState("r", 0)).toBeDefined();
    await harness.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 2 })]);
    expect(harness.partitions.leaderState("r", 0)).toBeUndefined();
    expect((await fetch(harness, { replicaId: 3, currentLeaderEpoch: 4 })).errorCode).toBe(
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
    );
  });
});

describe("leader: acks=all", () => {
  it("answers once every ISR member has the batch", async () => {
    const harness = await start([1, 2, 3]);
    let answered = false;
    const produced = produceWith(harness, 3, { acks: -1 }).finally(() => (answered = true));
    await until(() => logEnd(harness) === 3n, "the append");
    await fetch(harness, { replicaId: 2, offset: 3n });
    expect(answered).toBe(false);
    await fetch(harness, { replicaId: 3, offset: 3n });
    expect(await produced).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
  });

  it("answers once a caught-up follower outside the ISR, which the HW waited for, is fenced", async () => {
    const harness = await start([1, 2]);
    // Broker 3 is at the log end and eligible: the HW waits for it as for a follower about to join the ISR.
    await fetch(harness, { replicaId: 3, offset: 0n });
    let answered = false;
    const produced = produceWith(harness, 2, { acks: -1, timeoutMs: 3000 }).finally(() => (answered = true));
    await until(() => logEnd(harness) === 2n, "the append");
    await fetch(harness, { replicaId: 2, offset: 2n });
    expect(answered).toBe(false);
    expect(harness.partitions.log("r", 0)?.highWatermark).toBe(0n);
    // Nothing more is appended and broker 2 has it all: only broker 3's fencing can let the HW move, and it does at once.
    await harness.publish([rec(FenceBrokerRecord, { id: 3, epoch: 30n })]);
    expect(harness.partitions.log("r", 0)?.highWatermark).toBe(2n);
    expect(await produced).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
  });

  it("times out with REQUEST_TIMED_OUT, the batch written", async () => {
    const harness = await start([1, 2]);
    expect(await produceWith(harness, 2, { acks: -1, timeoutMs: 30 })).toMatchObject({
      errorCode: ErrorCode.REQUEST_TIMED_OUT,
    });
    expect(logEnd(harness)).toBe(2n);
  });

  it("refuses with NOT_ENOUGH_REPLICAS, writing nothing, while the ISR is below min.insync.replicas", async () => {
    const harness = await start([1], { minIsr: 2 });
    expect(await produceWith(harness, 2, { acks: -1 })).toMatchObject({ errorCode: ErrorCode.NOT_ENOUGH_REPLICAS });
    expect(logEnd(harness)).toBe(0n);
    expect(harness.partitions.replicationHealth("r", 0)).toEqual({ underReplicated: true, underMinIsr: true });
    // acks=1 does not care.
    expect((await produceWith(harness, 2, { acks: 1 })).errorCode).toBe(ErrorCode.NONE);
  });

  it("answers NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR falls below min.insync.replicas while it waits", async () => {
    const harness = await start([1, 2], { minIsr: 2 });
    const produced = produceWith(harness, 2, { acks: -1 });
    await until(() => logEnd(harness) === 2n, "the append");
    await harness.publish([isrChange([1])]);
    expect(await produced).toMatchObject({ errorCode: ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND });
    // The HW stays frozen below min ISR (KAFKA-15583).
    expect(harness.partitions.log("r", 0)?.highWatermark).toBe(0n);
  });

  it("answers NOT_LEADER_OR_FOLLOWER with the new leader when leadership moves while it waits", async () => {
    const harness = await start([1, 2]);
    const produced = produceWith(harness, 2, { acks: -1 });
    await until(() => logEnd(harness) === 2n, "the append");
    await harness.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 2 })]);
    expect(await produced).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      currentLeader: { leaderId: 2, leaderEpoch: 4 },
    });
  });

  it("with min.insync.replicas above the replication factor, counts the replication factor (Kafka's effectiveMinIsr)", async () => {
    const harness = await start([1, 2, 3], { minIsr: 5 });
    const produced = produceWith(harness, 1, { acks: -1 });
    await until(() => logEnd(harness) === 1n, "the append");
    await fetch(harness, { replicaId: 2, offset: 1n });
    await fetch(harness, { replicaId: 3, offset: 1n });
    expect((await produced).errorCode).toBe(ErrorCode.NONE);
  });
});

describe("leader: the group coordinator's writes", () => {
  const record = [{ key: Buffer.from("k"), value: Buffer.from("v") }];
  const store = (harness: ImageHarness, timeoutMs = 5_000) => {
    const log = harness.partitions.log("r", 0);
    if (!log) throw new Error("no log");
    return new LogGroupStore(log, harness.partitions.leaderWrites("r", 0, 3, timeoutMs), () => now);
  };

  it("are acknowledged once the ISR has them", async () => {
    const harness = await start([1, 2]);
    let done = false;
    const written = store(harness)
      .append(record)
      .then(() => (done = true));
    await until(() => logEnd(harness) === 1n, "the append");
    expect(done).toBe(false);
    await fetch(harness, { replicaId: 2, offset: 1n });
    await written;
    expect(harness.partitions.log("r", 0)?.highWatermark).toBe(1n);
  });

  it("are refused below min.insync.replicas and fail on timeout, as Kafka's coordinator answers", async () => {
    const small = await start([1], { minIsr: 2 });
    await expect(store(small).append(record)).rejects.toMatchObject({
      errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
    });
    expect(logEnd(small)).toBe(0n);
    await small.close();
    h = undefined;
    const slow = await start([1, 2]);
    await expect(store(slow, 20).append(record)).rejects.toBeInstanceOf(GroupStoreError);
  });

  it("wake the followers' parked fetches at once, as a client's append does", async () => {
    // A follower's fetch at the log end waits (here up to 60 s) until data arrives; a commit that did not wake it
    // waited out the follower's fetch wait (replica.fetch.wait.max.ms, 500 ms by default) for every commit.
    const harness = await start([1, 2]);
    const parked = fetch(harness, { replicaId: 2, offset: 0n, maxWaitMs: 60_000, minBytes: 1 });
    const next = await store(harness).write(record);
    const answer = await parked;
    expect(answer.errorCode).toBe(ErrorCode.NONE);
    expect(answer.records?.length ?? 0).toBeGreaterThan(0);
    expect(next).toBe(1n);
  }, 20_000);

  it("tell the coordinator when the HW passes a write that timed out, and stop telling once leadership moves", async () => {
    const harness = await start([1, 2]);
    const s = store(harness, 20);
    const next = await s.write(record);
    await expect(s.replicated(next)).rejects.toBeInstanceOf(GroupStoreError);
    expect(s.highWatermark()).toBe(0n);
    const committed = s.untilCommitted(next, new AbortController().signal);
    await fetch(harness, { replicaId: 2, offset: 1n });
    expect(await committed).toBe(true);
    expect(s.highWatermark()).toBe(1n);

    const later = await s.write(record);
    const waiting = s.untilCommitted(later, new AbortController().signal);
    await harness.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 2 })]);
    expect(await waiting).toBe(false);
  });
});
