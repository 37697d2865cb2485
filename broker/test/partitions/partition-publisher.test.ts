import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BrokerRegistration } from "../../src/metadata/image/index.ts";
import type { FollowerFetchers } from "../../src/partitions/partition-publisher.ts";
import {
  ConfigRecord,
  ErrorCode,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  PartitionChangeRecord,
  PartitionRecord,
  ProduceRequest,
  ProduceResponse,
  RemoveTopicRecord,
  TopicRecord,
} from "../../src/protocol/index.ts";
import type { FollowerTarget } from "../../src/replication/fetcher/fetcher-manager.ts";
import { makeBatch } from "../log/batches.ts";
import { ImageHarness, rec, registeredBroker, type RecordSpec } from "../support/image-harness.ts";

// The partition publisher on broker 1 of a 3-broker cluster: each image's local changes open, create and delete logs,
// set this replica's role and leader epoch (a new leader epoch starts in the log's epoch cache), tell the replica
// fetchers what to follow, and push topic configs to the logs.

const T = "00000000-0000-0000-0000-0000000000b1";
const TOPIC = 2;

const broker = (id: number): RecordSpec => registeredBroker(id, BigInt(id));

const partition = (partitionId: number, replicas: number[], leader: number, leaderEpoch: number): RecordSpec =>
  rec(PartitionRecord, { topicId: T, partitionId, replicas, isr: replicas, leader, leaderEpoch, partitionEpoch: 0 });

const change = (fields: { partitionId: number; leader?: number; replicas?: number[]; isr?: number[] }) =>
  rec(PartitionChangeRecord, { topicId: T, ...fields });

class RecordingFetchers implements FollowerFetchers {
  readonly calls: string[] = [];
  brokers: ReadonlyMap<number, BrokerRegistration> = new Map();
  /** What the publisher's partition manager said about the role when the fetchers were told. */
  roleAtFollow: (target: FollowerTarget) => boolean | undefined = () => undefined;

  setBrokers(brokers: ReadonlyMap<number, BrokerRegistration>): void {
    this.brokers = brokers;
  }

  follow(target: FollowerTarget): Promise<void> {
    this.calls.push(`follow ${target.topic}-${target.partition} from ${target.leaderId} in ${target.leaderEpoch}`);
    expect(this.roleAtFollow(target)).toBe(false);
    return Promise.resolve();
  }

  remove(topic: string, partition: number): Promise<void> {
    this.calls.push(`remove ${topic}-${partition}`);
    return Promise.resolve();
  }
}

let h: ImageHarness;
let fetchers: RecordingFetchers;

beforeEach(async () => {
  fetchers = new RecordingFetchers();
  h = await ImageHarness.start(1, {}, fetchers);
  fetchers.roleAtFollow = (t) => h.partitions.role(t.topic, t.partition)?.leader;
});

afterEach(async () => {
  await h.close();
});

function produce(partition: number) {
  return h.call(11, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ name: "p", partitionData: [{ index: partition, records: makeBatch({ records: 3 }) }] }],
  });
}

async function endOffsetFor(partition: number, leaderEpoch: number) {
  const res = await h.call(4, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, {
    replicaId: -1,
    topics: [{ topic: "p", partitions: [{ partition, currentLeaderEpoch: -1, leaderEpoch }] }],
  });
  const p = res.topics[0]?.partitions[0];
  return [p?.errorCode, p?.leaderEpoch, p?.endOffset];
}

describe("PartitionPublisher", () => {
  it("opens the logs of this node's replicas, with their roles and leader epochs, and removes strays", async () => {
    // A log on disk that the first image does not place on this node (a crash mid-delete) is removed.
    await h.partitions.createPartition("stray", 0, {});
    await h.publish([
      broker(1),
      broker(2),
      broker(3),
      rec(TopicRecord, { name: "p", topicId: T }),
      partition(0, [1, 2], 1, 7),
      partition(1, [2, 1], 2, 3),
      partition(2, [3, 2], 3, 0),
      rec(ConfigRecord, { resourceType: TOPIC, resourceName: "p", name: "retention.ms", value: "4321" }),
    ]);
    expect(h.logs.get("stray", 0)).toBeUndefined();
    expect(h.partitions.role("p", 0)).toEqual({ leader: true, leaderEpoch: 7 });
    expect(h.partitions.role("p", 1)).toEqual({ leader: false, leaderEpoch: 3 });
    expect(h.logs.get("p", 2)).toBeUndefined();
    expect(h.logs.get("p", 0)?.config.retentionMs).toBe(4321);
    expect(h.logs.get("p", 1)?.config.retentionMs).toBe(4321);
    // Leading in epoch 7 started that epoch at the (empty) log's end; following adds no epoch.
    expect(h.logs.get("p", 0)?.epochEntries()).toEqual([{ epoch: 7, startOffset: 0n }]);
    expect(h.logs.get("p", 1)?.epochEntries()).toEqual([]);
  });

  it("follows leadership changes: a new leader epoch starts at the log end, OffsetForLeaderEpoch answers from it", async () => {
    await h.publish([broker(1), broker(2), rec(TopicRecord, { name: "p", topicId: T }), partition(0, [1, 2], 1, 0)]);
    expect((await produce(0)).responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.NONE);

    // Leadership moves to broker 2 (epoch 1) and back to this node (epoch 2).
    await h.publish([change({ partitionId: 0, leader: 2 })]);
    expect(h.partitions.role("p", 0)).toEqual({ leader: false, leaderEpoch: 1 });
    expect((await produce(0)).responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    await h.publish([change({ partitionId: 0, leader: 1 })]);
    expect(h.partitions.role("p", 0)).toEqual({ leader: true, leaderEpoch: 2 });
    expect(h.logs.get("p", 0)?.epochEntries()).toEqual([
      { epoch: 0, startOffset: 0n },
      { epoch: 2, startOffset: 3n },
    ]);
    expect((await produce(0)).responses[0]?.partitionResponses[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 3n,
    });
    expect(await endOffsetFor(0, 0)).toEqual([ErrorCode.NONE, 0, 3n]);
    // Epoch 1 was never led here: it ends where epoch 2 starts, under the largest epoch at or below it.
    expect(await endOffsetFor(0, 1)).toEqual([ErrorCode.NONE, 0, 3n]);
    expect(await endOffsetFor(0, 2)).toEqual([ErrorCode.NONE, 2, 6n]);
  });

  it("deletes logs reassigned away or of deleted topics, and pushes config changes to open logs", async () => {
    await h.publish([
      broker(1),
      broker(2),
      broker(3),
      rec(TopicRecord, { name: "p", topicId: T }),
      partition(0, [1, 2], 1, 0),
      partition(1, [1, 3], 1, 0),
    ]);
    expect(h.logs.get("p", 1)).toBeDefined();
    await h.publish([change({ partitionId: 1, replicas: [2, 3], isr: [2, 3], leader: 2 })]);
    expect(h.logs.get("p", 1)).toBeUndefined();
    expect(h.partitions.role("p", 1)).toBeUndefined();
    expect(h.logs.get("p", 0)).toBeDefined();

    await h.publish([rec(ConfigRecord, { resourceType: TOPIC, resourceName: "p", name: "retention.ms", value: "99" })]);
    expect(h.logs.get("p", 0)?.config.retentionMs).toBe(99);
    await h.publish([rec(ConfigRecord, { resourceType: TOPIC, resourceName: "p", name: "retention.ms", value: null })]);
    expect(h.logs.get("p", 0)?.config.retentionMs).toBe(7 * 24 * 3600 * 1000);

    await h.publish([rec(RemoveTopicRecord, { topicId: T })]);
    expect(h.logs.get("p", 0)).toBeUndefined();
    expect(h.logs.partitions()).toEqual([]);
  });

  it("follows, re-targets, stops following on leadership and deletion", async () => {
    await h.publish([
      broker(1),
      broker(2),
      broker(3),
      rec(TopicRecord, { name: "p", topicId: T }),
      partition(0, [1, 2], 2, 4),
      partition(1, [1, 3], 1, 0),
    ]);
    expect(fetchers.calls).toEqual(["remove p-1", "follow p-0 from 2 in 4"]);
    expect([...fetchers.brokers.keys()]).toEqual([1, 2, 3]);

    // A new leader (epoch 5) re-targets; then this node leads (epoch 6): the partition leaves the fetchers.
    fetchers.calls.length = 0;
    await h.publish([
      rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 3, isr: [1, 2, 3], replicas: [1, 2, 3] }),
    ]);
    await h.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 1 })]);
    expect(fetchers.calls).toEqual(["follow p-0 from 3 in 5", "remove p-0"]);
    expect(h.partitions.role("p", 0)).toEqual({ leader: true, leaderEpoch: 6 });

    fetchers.calls.length = 0;
    await h.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 1, leader: 3 })]);
    await h.publish([rec(RemoveTopicRecord, { topicId: T })]);
    expect(fetchers.calls).toEqual(["follow p-1 from 3 in 1", "remove p-0", "remove p-1"]);
  });

  it("does not fetch from a leader elected uncleanly until it is RECOVERED (KIP-704)", async () => {
    await h.publish([broker(1), broker(2), rec(TopicRecord, { name: "p", topicId: T }), partition(0, [1, 2], 2, 4)]);
    fetchers.calls.length = 0;
    await h.publish([
      rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 2, isr: [2], leaderRecoveryState: 1 }),
    ]);
    expect(fetchers.calls).toEqual(["remove p-0"]);
    expect(h.partitions.role("p", 0)).toEqual({ leader: false, leaderEpoch: 5 });
    await h.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leaderRecoveryState: 0 })]);
    expect(fetchers.calls).toEqual(["remove p-0", "follow p-0 from 2 in 5"]);
  });
});
