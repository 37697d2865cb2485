import { afterEach, describe, expect, it } from "vitest";
import {
  ErrorCode,
  FetchRequest,
  FetchResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  PartitionChangeRecord,
  PartitionRecord,
  ProduceRequest,
  ProduceResponse,
  RegisterBrokerRecord,
  TopicRecord,
  type FetchResponsePartitionData,
} from "../../src/protocol/index.ts";
import { makeBatch, patched } from "../log/batches.ts";
import { ImageHarness, rec, type RecordSpec } from "../support/image-harness.ts";

// Fetch from follower (KIP-392) on broker 1 of three brokers in racks r1, r2, r3. Broker 1 leads p-0 (replicas 1, 2,
// 3; leader epoch 3) and follows p-1 (led by 2; leader epoch 4). As leader with RackAwareReplicaSelector it points a
// consumer from r2 to follower 2 while 2 is in the ISR and holds the fetch offset; as follower it serves consumers
// below the high watermark its leader sent, after Kafka's leader-epoch checks.

const T = "00000000-0000-0000-0000-0000000000d1";
const RACK_AWARE = "replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector";

const broker = (id: number, fenced = false): RecordSpec =>
  rec(RegisterBrokerRecord, {
    brokerId: id,
    brokerEpoch: BigInt(id * 10),
    endPoints: [{ name: "PLAINTEXT", host: `b${id}`, port: 9000 + id, securityProtocol: 0 }],
    rack: `r${id}`,
    fenced,
  });

const partition = (partitionId: number, replicas: [number, ...number[]], leaderEpoch: number): RecordSpec =>
  rec(PartitionRecord, { topicId: T, partitionId, replicas, isr: replicas, leader: replicas[0], leaderEpoch });

let h: ImageHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(config: string[] = [RACK_AWARE]): Promise<ImageHarness> {
  h = await ImageHarness.start(1, {}, undefined, config);
  await h.publish([
    ...[1, 2, 3].map((id) => broker(id)),
    rec(TopicRecord, { name: "p", topicId: T }),
    partition(0, [1, 2, 3], 3),
    partition(1, [2, 1, 3], 4),
  ]);
  return h;
}

interface FetchOptions {
  partition?: number;
  replicaId?: number;
  offset?: bigint;
  currentLeaderEpoch?: number;
  rackId?: string;
  version?: number;
  maxWaitMs?: number;
  minBytes?: number;
  logStartOffset?: bigint;
}

async function fetch(harness: ImageHarness, o: FetchOptions = {}): Promise<FetchResponsePartitionData> {
  const version = o.version ?? 17;
  const replicaId = o.replicaId ?? -1;
  const partition = o.partition ?? 0;
  const res = await harness.call(version, FetchRequest, FetchResponse, {
    maxWaitMs: o.maxWaitMs ?? 0,
    minBytes: o.minBytes ?? 0,
    rackId: o.rackId ?? "",
    ...(version >= 15
      ? { replicaState: { replicaId, replicaEpoch: replicaId >= 0 ? BigInt(replicaId * 10) : -1n } }
      : { replicaId }),
    topics: [
      {
        topic: "p",
        topicId: T,
        partitions: [
          {
            partition,
            currentLeaderEpoch: o.currentLeaderEpoch ?? (partition === 0 ? 3 : 4),
            fetchOffset: o.offset ?? 0n,
            lastFetchedEpoch: -1,
            logStartOffset: o.logStartOffset ?? -1n,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
  });
  const answer = res.responses[0]?.partitions[0];
  if (!answer) throw new Error("no partition in the fetch response");
  return answer;
}

/** Writes 3 records to p-0 and lets followers 2 and 3 fetch all of them, so the HW reaches 3. */
async function replicated(harness: ImageHarness): Promise<void> {
  const res = await harness.call(11, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ name: "p", partitionData: [{ index: 0, records: makeBatch({ records: 3 }) }] }],
  });
  expect(res.responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.NONE);
  for (const replicaId of [2, 3]) {
    await fetch(harness, { replicaId, offset: 0n, logStartOffset: 0n });
    await fetch(harness, { replicaId, offset: 3n, logStartOffset: 0n });
  }
  expect(harness.partitions.log("p", 0)?.highWatermark).toBe(3n);
}

/**
 * Appends the leader's batches of records 0-1 and 2-4 (leader epoch 4) to the follower's p-1, with the high watermark
 * its leader sent at `hw`.
 */
async function followed(harness: ImageHarness, hw: bigint): Promise<void> {
  const first = patched(makeBatch({ records: 2 }), 0n, 4);
  await harness.partitions.appendAsFollower("p", 1, Buffer.concat([first, patched(makeBatch({ records: 3 }), 2n, 4)]));
  harness.partitions.setFollowerHighWatermark("p", 1, hw);
}

const recordsOf = (p: FetchResponsePartitionData) => p.records?.length ?? 0;

describe("leader: the preferred read replica (RackAwareReplicaSelector)", () => {
  it("points a consumer in a follower's rack to that follower, with no records and the leader's offsets", async () => {
    const harness = await start();
    await replicated(harness);
    const answer = await fetch(harness, { rackId: "r2" });
    expect(answer).toMatchObject({
      errorCode: ErrorCode.NONE,
      preferredReadReplica: 2,
      highWatermark: 3n,
      lastStableOffset: 3n,
      logStartOffset: 0n,
    });
    expect(recordsOf(answer)).toBe(0);
    expect((await fetch(harness, { rackId: "r3" })).preferredReadReplica).toBe(3);
    expect(harness.fetchCounts).toMatchObject({ preferred: 2, leader: 0 });
  });

  it("answers at once rather than waiting out max_wait_ms for data", async () => {
    const harness = await start();
    await replicated(harness);
    const began = Date.now();
    const answer = await fetch(harness, { rackId: "r2", offset: 3n, maxWaitMs: 10_000, minBytes: 1 });
    expect(answer.preferredReadReplica).toBe(2);
    expect(Date.now() - began).toBeLessThan(5_000);
  });

  it("serves the records itself to consumers in its own rack, with no rack, in an unknown rack, or before v11", async () => {
    const harness = await start();
    await replicated(harness);
    for (const o of [{ rackId: "r1" }, { rackId: "" }, { rackId: "r9" }, { rackId: "r2", version: 10 }]) {
      const answer = await fetch(harness, o);
      expect(answer.preferredReadReplica, JSON.stringify(o)).toBe(-1);
      expect(recordsOf(answer), JSON.stringify(o)).toBeGreaterThan(0);
    }
    expect(harness.fetchCounts.preferred).toBe(0);
    expect(harness.fetchCounts.leader).toBeGreaterThan(0);
  });

  it("keeps every consumer on the leader when replica.selector.class is unset (Kafka's default)", async () => {
    const harness = await start([]);
    await replicated(harness);
    const answer = await fetch(harness, { rackId: "r2" });
    expect(answer.preferredReadReplica).toBe(-1);
    expect(recordsOf(answer)).toBeGreaterThan(0);
  });

  it("does not point to a follower out of the ISR, fenced, or without the fetch offset", async () => {
    const harness = await start();
    await replicated(harness);
    // Follower 3 is behind the offset the consumer asks for.
    await harness.call(11, ProduceRequest, ProduceResponse, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 5000,
      topicData: [{ name: "p", partitionData: [{ index: 0, records: makeBatch({ records: 2 }) }] }],
    });
    await fetch(harness, { replicaId: 2, offset: 5n, logStartOffset: 0n });
    expect((await fetch(harness, { rackId: "r2", offset: 4n })).preferredReadReplica).toBe(2);
    expect((await fetch(harness, { rackId: "r3", offset: 4n })).preferredReadReplica).toBe(-1);
    // Its log start after the offset asked for.
    await fetch(harness, { replicaId: 3, offset: 5n, logStartOffset: 2n });
    expect((await fetch(harness, { rackId: "r3", offset: 1n })).preferredReadReplica).toBe(-1);
    expect((await fetch(harness, { rackId: "r3", offset: 2n })).preferredReadReplica).toBe(3);
    // Follower 2 leaves the ISR.
    await harness.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, isr: [1, 3] })]);
    expect((await fetch(harness, { rackId: "r2", offset: 4n })).preferredReadReplica).toBe(-1);
    // Follower 3 is fenced.
    await harness.publish([broker(3, true)]);
    expect((await fetch(harness, { rackId: "r3", offset: 4n })).preferredReadReplica).toBe(-1);
  });

  it("checks the consumer's leader epoch before pointing it anywhere", async () => {
    const harness = await start();
    await replicated(harness);
    expect(await fetch(harness, { rackId: "r2", currentLeaderEpoch: 2 })).toMatchObject({
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
      preferredReadReplica: -1,
    });
    expect((await fetch(harness, { rackId: "r2", currentLeaderEpoch: 9 })).errorCode).toBe(
      ErrorCode.UNKNOWN_LEADER_EPOCH,
    );
  });
});

describe("follower: consumer reads (KIP-392)", () => {
  it("serves a consumer from v11 below the high watermark its leader sent", async () => {
    const harness = await start();
    await followed(harness, 2n);
    const answer = await fetch(harness, { partition: 1, rackId: "r1" });
    expect(answer).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 2n, preferredReadReplica: -1 });
    // The first batch only: the second lies above the high watermark.
    const firstBatch = makeBatch({ records: 2 }).length;
    expect(recordsOf(answer)).toBe(firstBatch);
    expect(harness.fetchCounts.follower).toBe(firstBatch);
    harness.partitions.setFollowerHighWatermark("p", 1, 5n);
    const all = await fetch(harness, { partition: 1 });
    expect(all.highWatermark).toBe(5n);
    expect(recordsOf(all)).toBe(firstBatch + makeBatch({ records: 3 }).length);
    // At the high watermark (and at the log end) the answer is empty, not an error.
    expect(await fetch(harness, { partition: 1, offset: 5n })).toMatchObject({ errorCode: ErrorCode.NONE });
  });

  it("wakes a consumer's long-poll when its leader moves the high watermark", async () => {
    const harness = await start();
    await followed(harness, 0n);
    const began = Date.now();
    const pending = fetch(harness, { partition: 1, maxWaitMs: 10_000, minBytes: 1 });
    setTimeout(() => harness.partitions.setFollowerHighWatermark("p", 1, 5n), 50);
    const answer = await pending;
    expect(recordsOf(answer)).toBeGreaterThan(0);
    expect(Date.now() - began).toBeLessThan(5_000);
  });

  it("answers NOT_LEADER_OR_FOLLOWER to consumers before v11, which may read only from the leader", async () => {
    const harness = await start();
    await followed(harness, 5n);
    expect((await fetch(harness, { partition: 1, version: 10 })).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it("answers FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH to a stale / newer leader epoch", async () => {
    const harness = await start();
    await followed(harness, 5n);
    expect(await fetch(harness, { partition: 1, currentLeaderEpoch: 3 })).toMatchObject({
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
      currentLeader: { leaderId: 2, leaderEpoch: 4 },
    });
    expect((await fetch(harness, { partition: 1, currentLeaderEpoch: 5 })).errorCode).toBe(
      ErrorCode.UNKNOWN_LEADER_EPOCH,
    );
  });

  it("answers OFFSET_OUT_OF_RANGE past its own log end, as Kafka's follower does", async () => {
    const harness = await start();
    await followed(harness, 5n);
    expect(await fetch(harness, { partition: 1, offset: 6n })).toMatchObject({
      errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
      highWatermark: 5n,
    });
  });

  it("keeps ListOffsets leader-only", async () => {
    const harness = await start();
    await followed(harness, 5n);
    const res = await harness.call(7, ListOffsetsRequest, ListOffsetsResponse, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: "p", partitions: [{ partitionIndex: 1, currentLeaderEpoch: 4, timestamp: -1n }] }],
    });
    expect(res.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it("is not asked to point anyone elsewhere: a follower never answers a preferred read replica", async () => {
    const harness = await start();
    await followed(harness, 5n);
    expect((await fetch(harness, { partition: 1, rackId: "r3" })).preferredReadReplica).toBe(-1);
  });
});
