import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiVersionsHandler } from "../../src/handlers/18-api-versions.ts";
import { defineHandler, type AnyHandler } from "../../src/handlers/handler.ts";
import { LogManager, PartitionLog } from "../../src/log/index.ts";
import type { BrokerRegistration } from "../../src/metadata/image/index.ts";
import type { NetworkServer } from "../../src/network/server.ts";
import { PartitionManager } from "../../src/partitions/partition-manager.ts";
import {
  ErrorCode,
  FetchRequest,
  FetchResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  type FetchResponsePartitionData,
} from "../../src/protocol/index.ts";
import { BATCH_OFFSET, writeBatchCrc } from "../../src/protocol/records/index.ts";
import { ReplicaFetcherManager } from "../../src/replication/fetcher/fetcher-manager.ts";
import type { FollowerThrottle } from "../../src/replication/fetcher/replica-fetcher.ts";
import { makeBatch, readAll } from "../log/batches.ts";
import { waitFor } from "../network/helpers.ts";
import { serveHandlers } from "../support/scripted-server.ts";

// The replica fetcher against a scripted leader on a real socket: the leader's log is a real PartitionLog, and its
// Fetch answers replica fetches by Kafka's rules (fenced and unknown epochs, diverging epoch from the last fetched
// epoch, out of range, records up to the log end). The follower is a real PartitionManager; nothing is mocked
// between them but the leader's request handling.

const logger = pino({ level: "silent" });
const TOPIC_ID = "00000000-0000-0000-0000-0000000000f1";
const LEADER = 2;
const SELF = 1;
const FETCH_CONFIG = {
  maxBytes: 1 << 20,
  responseMaxBytes: 10 << 20,
  minBytes: 1,
  waitMaxMs: 200,
  backoffMs: 50,
  socketTimeoutMs: 5_000,
};

class ScriptedLeader {
  leaderEpoch = 5;
  readonly fetches: { version: number; request: FetchRequest }[] = [];
  private wake: (() => void) | undefined;

  constructor(readonly log: PartitionLog) {}

  async append(records: number, epoch = this.leaderEpoch, seed = 0): Promise<void> {
    await this.log.append(makeBatch({ records, seed }), { leaderEpoch: epoch });
    // A leader whose ISR is itself alone.
    this.log.updateHighWatermark(this.log.logEndOffset);
    this.wake?.();
  }

  handlers(): AnyHandler[] {
    const handlers: AnyHandler[] = [
      apiVersionsHandler(() => handlers),
      defineHandler({
        apiKey: 1,
        minVersion: 12,
        maxVersion: 17,
        request: FetchRequest,
        response: FetchResponse,
        handle: async (request, context) => {
          this.fetches.push({ version: context.apiVersion, request });
          let partitions = await this.answer(request);
          if (partitions.every((p) => (p.records?.length ?? 0) === 0 && p.errorCode === ErrorCode.NONE)) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, request.maxWaitMs);
              this.wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            partitions = await this.answer(request);
          }
          return { ...FetchResponse.create(), responses: [{ topic: "t", topicId: TOPIC_ID, partitions }] };
        },
      }),
      defineHandler({
        apiKey: 2,
        minVersion: 1,
        maxVersion: 9,
        request: ListOffsetsRequest,
        response: ListOffsetsResponse,
        handle: (request) => {
          const p = request.topics[0]?.partitions[0];
          const offset = p?.timestamp === -2n ? this.log.logStartOffset : this.log.logEndOffset;
          return Promise.resolve({
            ...ListOffsetsResponse.create(),
            topics: [{ name: "t", partitions: [{ partitionIndex: 0, errorCode: 0, offset, timestamp: -1n }] }],
          });
        },
      }),
    ];
    return handlers;
  }

  private async answer(request: FetchRequest): Promise<FetchResponsePartitionData[]> {
    const out: FetchResponsePartitionData[] = [];
    for (const p of request.topics[0]?.partitions ?? []) {
      const base = { partitionIndex: p.partition, highWatermark: -1n, records: Buffer.alloc(0) };
      const epoch = p.currentLeaderEpoch ?? -1;
      const last = p.lastFetchedEpoch ?? -1;
      const end = this.log.endOffsetForEpoch(last);
      if (epoch < this.leaderEpoch) out.push({ ...base, errorCode: ErrorCode.FENCED_LEADER_EPOCH });
      else if (epoch > this.leaderEpoch) out.push({ ...base, errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH });
      else if (last >= 0 && (end.epoch < last || end.endOffset < p.fetchOffset))
        out.push({
          ...base,
          errorCode: ErrorCode.NONE,
          highWatermark: this.log.highWatermark,
          divergingEpoch: { epoch: end.epoch, endOffset: end.endOffset },
        });
      else if (p.fetchOffset < this.log.logStartOffset || p.fetchOffset > this.log.logEndOffset)
        out.push({ ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
      else {
        const read = await this.log.read(p.fetchOffset, p.partitionMaxBytes);
        out.push({
          ...base,
          errorCode: ErrorCode.NONE,
          highWatermark: read.highWatermark,
          logStartOffset: read.logStartOffset,
          records: Buffer.from(read.records),
        });
        read.release();
      }
    }
    return out;
  }
}

let dir: string;
let leader: ScriptedLeader;
let server: NetworkServer;
let port: number;
let logs: LogManager;
let partitions: PartitionManager;
let fetchers: ReplicaFetcherManager;

function registration(id: number, brokerPort: number): BrokerRegistration {
  return {
    id,
    epoch: 1n,
    incarnationId: "i",
    endpoints: [{ listener: "REPLICATION", host: "127.0.0.1", port: brokerPort, securityProtocol: 0 }],
    rack: null,
    fenced: false,
    inControlledShutdown: false,
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "replica-fetcher-"));
  leader = new ScriptedLeader(await PartitionLog.open({ dir: join(dir, "leader"), logger }));
  ({ server, port } = await serveHandlers(leader.handlers()));
  logs = await LogManager.open({ logDirs: [join(dir, "follower")], logger, retentionCheckIntervalMs: 0 });
  partitions = new PartitionManager(logs, logger);
  fetchers = newFetchers();
  await partitions.createPartition("t", 0, {});
});

function newFetchers(throttle?: () => FollowerThrottle): ReplicaFetcherManager {
  const manager = new ReplicaFetcherManager({
    nodeId: SELF,
    listenerName: "REPLICATION",
    partitions,
    config: FETCH_CONFIG,
    logger,
    ...(throttle !== undefined && { throttle }),
  });
  manager.setBrokers(new Map([[LEADER, registration(LEADER, port)]]));
  return manager;
}

afterEach(async () => {
  await fetchers.close();
  await server.close();
  await logs.close();
  await leader.log.close();
  await rm(dir, { recursive: true, force: true });
});

async function follow(leaderEpoch = leader.leaderEpoch): Promise<void> {
  partitions.becomeFollower("t", 0, leaderEpoch);
  await fetchers.follow({ topicId: TOPIC_ID, topic: "t", partition: 0, leaderId: LEADER, leaderEpoch });
}

const followerLog = () => logs.get("t", 0)!;

async function caughtUp(): Promise<void> {
  await waitFor(() => followerLog().logEndOffset === leader.log.logEndOffset, "the follower to catch up");
  expect(await readAll(followerLog(), followerLog().logStartOffset)).toEqual(
    await readAll(leader.log, followerLog().logStartOffset),
  );
  expect(followerLog().epochEntries()).toEqual(leader.log.epochEntries());
}

describe("ReplicaFetcher", () => {
  it("copies the leader's batches with their offsets and epochs, naming itself in ReplicaState", async () => {
    await leader.append(3, 4, 1);
    await leader.append(2, 5, 2);
    await follow();
    fetchers.start(() => 42n);
    await caughtUp();
    await waitFor(() => followerLog().highWatermark === 5n, "the follower to take the leader's high watermark");
    // New data while the follower long-polls arrives too.
    await leader.append(4, 5, 3);
    await caughtUp();

    const { version, request } = leader.fetches[0]!;
    expect(version).toBe(17);
    expect(request.replicaState).toMatchObject({ replicaId: SELF, replicaEpoch: 42n });
    expect(request.maxWaitMs).toBe(FETCH_CONFIG.waitMaxMs);
    expect(request.topics[0]).toMatchObject({
      topicId: TOPIC_ID,
      partitions: [{ partition: 0, currentLeaderEpoch: 5, fetchOffset: 0n, lastFetchedEpoch: -1 }],
    });
    const later = leader.fetches.find((f) => f.request.topics[0]?.partitions[0]?.fetchOffset === 5n);
    expect(later?.request.topics[0]?.partitions[0]?.lastFetchedEpoch).toBe(5);
  });

  it("truncates a divergent tail to where the leader's epoch ends, iterating over epochs it does not share", async () => {
    // Both have epoch 1 at 0-3. The follower then led in epoch 3 (4-9), which the leader never saw; the leader had
    // epoch 2 at 4-5, and epoch 4 from 6.
    const own = followerLog();
    await own.append(makeBatch({ records: 4, seed: 1 }), { leaderEpoch: 1 });
    await leader.log.append(makeBatch({ records: 4, seed: 1 }), { leaderEpoch: 1 });
    for (let i = 0; i < 3; i++) await own.append(makeBatch({ records: 2, seed: 9 + i }), { leaderEpoch: 3 });
    await leader.append(2, 2, 2);
    await leader.append(3, 4, 3);
    await follow();
    fetchers.start(() => 1n);
    await caughtUp();
    expect(own.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 4n },
      { epoch: 4, startOffset: 6n },
    ]);
    // Asked about epoch 3, the leader named its epoch 2 (ending at 6), unknown here: the follower cut at the end of
    // its epoch 1 (4) and asked again about epoch 1, which the leader shares up to 4.
    const named = leader.fetches.map((f) => f.request.topics[0]?.partitions[0]?.lastFetchedEpoch);
    expect(named.slice(0, 3)).toEqual([3, 1, 4]);
  });

  it("starts over at the leader's log start when it fell behind it", async () => {
    await leader.log.truncateFullyAndStartAt(100n);
    await leader.append(2, 5, 1);
    await followerLog().append(makeBatch({ records: 3 }), { leaderEpoch: 0 });
    await follow();
    fetchers.start(() => 1n);
    await caughtUp();
    expect(followerLog().logStartOffset).toBe(100n);
  });

  it("waits out a fenced epoch until the image names the leader's epoch, then fetches", async () => {
    await leader.append(2);
    await follow(4);
    fetchers.start(() => 1n);
    await waitFor(
      () => leader.fetches.some((f) => f.request.topics[0]?.partitions[0]?.currentLeaderEpoch === 4),
      "a fetch in the old epoch",
    );
    expect(followerLog().logEndOffset).toBe(0n);
    const fenced = leader.fetches.length;
    await follow(5);
    await caughtUp();
    // Fenced, the partition was not fetched again until its epoch moved.
    expect(
      leader.fetches.slice(fenced).every((f) => f.request.topics[0]?.partitions[0]?.currentLeaderEpoch === 5),
    ).toBe(true);
  });

  it("retries a leader it cannot reach yet after the backoff, and fetches once the image says where it listens", async () => {
    await leader.append(3);
    fetchers.setBrokers(new Map());
    await follow();
    // The fetcher's first round finds nowhere to connect and backs off; it gets there on a later round.
    fetchers.start(() => 1n);
    fetchers.setBrokers(new Map([[LEADER, registration(LEADER, port)]]));
    await caughtUp();
  });

  it("stops appending once the partition is removed, and records idempotent producers for a later leadership", async () => {
    const idempotent = makeBatch({ records: 2 });
    idempotent.writeBigInt64BE(77n, BATCH_OFFSET.producerId);
    idempotent.writeInt16BE(0, BATCH_OFFSET.producerEpoch);
    idempotent.writeInt32BE(0, BATCH_OFFSET.baseSequence);
    writeBatchCrc(idempotent);
    await leader.log.append(Buffer.from(idempotent), { leaderEpoch: 5 });
    await follow();
    fetchers.start(() => 1n);
    await caughtUp();

    await fetchers.remove("t", 0);
    await partitions.becomeLeader("t", 0, {
      replicas: [SELF, LEADER],
      isr: [SELF],
      removingReplicas: [],
      addingReplicas: [],
      leader: SELF,
      leaderRecoveryState: 0,
      leaderEpoch: 6,
      partitionEpoch: 7,
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
    });
    await leader.append(1);
    // The former follower now leads: the producer's retry of its batch is a duplicate, answered with offset 0.
    const retried = await partitions.produce("t", 0, Buffer.from(idempotent), {
      maxMessageBytes: 1 << 20,
      logAppendTime: false,
      compacted: false,
    });
    expect(retried).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
    // Nothing the leader wrote after the removal reached this log.
    expect(followerLog().logEndOffset).toBe(2n);
  });

  it("leaves throttled partitions out of its fetches while over the follower throttle, unless caught up", async () => {
    await fetchers.close();
    const throttle = { exceeded: true, held: 0, bytes: 0 };
    fetchers = newFetchers(() => ({
      isThrottled: (topic, partition) => topic === "t" && partition === 0,
      shouldThrottle: (topic, partition, inSync) => !inSync && topic === "t" && partition === 0 && throttle.exceeded,
      record: (bytes) => (throttle.bytes += bytes),
      heldBack: (n) => (throttle.held += n),
    }));
    await leader.append(3);
    await follow();
    fetchers.start(() => 1n);
    await waitFor(() => throttle.held >= 3, "the fetcher to hold the partition back a few times");
    expect(leader.fetches).toEqual([]);
    expect(followerLog().logEndOffset).toBe(0n);

    throttle.exceeded = false;
    await caughtUp();
    expect(throttle.bytes).toBe(followerLog().sizeBytes());
    // Caught up to the leader's high watermark, the replica is in sync: the throttle no longer holds it back.
    throttle.exceeded = true;
    const held = throttle.held;
    await leader.append(2);
    await caughtUp();
    expect(throttle.held).toBe(held);
  });
});
