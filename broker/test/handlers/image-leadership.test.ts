import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ConfigRecord,
  DeleteRecordsRequest,
  DeleteRecordsResponse,
  DescribeClusterRequest,
  DescribeClusterResponse,
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  PartitionChangeRecord,
  PartitionRecord,
  ProduceRequest,
  ProduceResponse,
  RegisterBrokerRecord,
  TopicRecord,
} from "../../src/protocol/index.ts";
import { makeBatch } from "../log/batches.ts";
import { ImageHarness, rec, type RecordSpec } from "../support/image-harness.ts";

// The handlers answer from a metadata image of a 3-broker cluster (plus a fenced fourth broker), built from the
// records a controller commits, on broker 1. Broker 1 leads t-0 (leader epoch 5), follows t-1 (led by 2), holds no
// replica of t-2 (led by 3), and t-3 has no leader. Brokers 1 and 2 also listen on EXTERNAL.

const T = "00000000-0000-0000-0000-0000000000a1";
const UNKNOWN_ID = "00000000-0000-0000-0000-0000000000ff";
const TOPIC = 2;
const BROKER = 4;

const broker = (id: number, fenced = false, external = false): RecordSpec =>
  rec(RegisterBrokerRecord, {
    brokerId: id,
    brokerEpoch: BigInt(id * 10),
    incarnationId: `00000000-0000-0000-0000-00000000000${id}`,
    endPoints: [
      { name: "PLAINTEXT", host: `b${id}.plain`, port: 9000 + id, securityProtocol: 0 },
      ...(external ? [{ name: "EXTERNAL", host: `b${id}.ext`, port: 19000 + id, securityProtocol: 0 }] : []),
    ],
    rack: id === 2 ? "rack-b" : null,
    fenced,
  });

const partition = (partitionId: number, replicas: number[], leader: number, leaderEpoch: number): RecordSpec =>
  rec(PartitionRecord, { topicId: T, partitionId, replicas, isr: replicas, leader, leaderEpoch, partitionEpoch: 0 });

const CLUSTER: RecordSpec[] = [
  broker(1, false, true),
  broker(2, false, true),
  broker(3),
  broker(4, true),
  rec(TopicRecord, { name: "t", topicId: T }),
  partition(0, [1, 2], 1, 5),
  partition(1, [2, 1], 2, 3),
  partition(2, [3], 3, 0),
  partition(3, [4], -1, 2),
  rec(ConfigRecord, { resourceType: TOPIC, resourceName: "t", name: "retention.ms", value: "1234" }),
  rec(ConfigRecord, { resourceType: BROKER, resourceName: "1", name: "log.retention.bytes", value: "777" }),
];

let h: ImageHarness;

beforeEach(async () => {
  h = await ImageHarness.start(1);
  await h.publish(CLUSTER);
});

afterEach(async () => {
  await h.close();
});

function produce(version: number, partitions: number[]) {
  return h.call(version, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [
      { name: "t", partitionData: partitions.map((index) => ({ index, records: makeBatch({ records: 2 }) })) },
    ],
  });
}

function fetch(version: number, partition: number, currentLeaderEpoch: number) {
  return h.call(version, FetchRequest, FetchResponse, {
    maxWaitMs: 0,
    minBytes: 0,
    topics: [
      {
        topic: "t",
        topicId: T,
        partitions: [
          {
            partition,
            currentLeaderEpoch,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
  });
}

describe("Metadata and DescribeCluster from the image", () => {
  it("lists the live brokers with the request listener's endpoints and each partition's leader", async () => {
    const res = await h.call(12, MetadataRequest, MetadataResponse, { topics: null });
    expect(res.brokers).toEqual([
      { nodeId: 1, host: "b1.plain", port: 9001, rack: null },
      { nodeId: 2, host: "b2.plain", port: 9002, rack: "rack-b" },
      { nodeId: 3, host: "b3.plain", port: 9003, rack: null },
    ]);
    expect(res.controllerId).toBe(1);
    const t = res.topics.find((x) => x.name === "t");
    expect(t?.topicId).toBe(T);
    expect(
      t?.partitions.map((p) => [
        p.partitionIndex,
        p.errorCode,
        p.leaderId,
        p.leaderEpoch,
        p.replicaNodes,
        p.isrNodes,
        p.offlineReplicas,
      ]),
    ).toEqual([
      [0, ErrorCode.NONE, 1, 5, [1, 2], [1, 2], []],
      [1, ErrorCode.NONE, 2, 3, [2, 1], [2, 1], []],
      [2, ErrorCode.NONE, 3, 0, [3], [3], []],
      // Leaderless; its only replica is on the fenced broker.
      [3, ErrorCode.LEADER_NOT_AVAILABLE, -1, 2, [4], [4], [4]],
    ]);
  });

  it("answers on another listener with that listener's endpoints, leaving out brokers without it", async () => {
    const res = await h.call(
      12,
      MetadataRequest,
      MetadataResponse,
      { topics: [{ name: "t", topicId: T }] },
      "EXTERNAL",
    );
    expect(res.brokers.map((b) => [b.nodeId, b.host, b.port])).toEqual([
      [1, "b1.ext", 19001],
      [2, "b2.ext", 19002],
    ]);
    const p2 = res.topics[0]?.partitions.find((p) => p.partitionIndex === 2);
    expect(p2).toMatchObject({ errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1, offlineReplicas: [3] });
  });

  it("finds topics by id and refuses unknown ones", async () => {
    const res = await h.call(12, MetadataRequest, MetadataResponse, {
      topics: [
        { name: null, topicId: T },
        { name: null, topicId: UNKNOWN_ID },
        { name: "nope", topicId: "00000000-0000-0000-0000-000000000000" },
      ],
      allowAutoTopicCreation: false,
    });
    expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["t", ErrorCode.NONE],
      [null, ErrorCode.UNKNOWN_TOPIC_ID],
      ["nope", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
  });

  it("DescribeCluster lists the same three brokers", async () => {
    const res = await h.call(1, DescribeClusterRequest, DescribeClusterResponse, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    });
    expect(res.controllerId).toBe(1);
    expect(res.brokers.map((b) => [b.brokerId, b.host, b.port, b.rack])).toEqual([
      [1, "b1.plain", 9001, null],
      [2, "b2.plain", 9002, "rack-b"],
      [3, "b3.plain", 9003, null],
    ]);
  });
});

/** Partition 0's follower (broker 2) never fetches here: with the ISR the leader alone, its appends are committed. */
const leaderAloneInIsr = () => h.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, isr: [1] })]);

describe("leader-only requests check the image's leadership and leader epochs", () => {
  beforeEach(leaderAloneInIsr);

  it("Produce appends where this broker leads, in its leader epoch, and sends the rest to their leaders", async () => {
    const res = await produce(11, [0, 1, 2]);
    const answers = res.responses[0]?.partitionResponses ?? [];
    expect(answers.map((p) => [p.index, p.errorCode, p.currentLeader])).toEqual([
      [0, ErrorCode.NONE, undefined],
      [1, ErrorCode.NOT_LEADER_OR_FOLLOWER, { leaderId: 2, leaderEpoch: 3 }],
      [2, ErrorCode.NOT_LEADER_OR_FOLLOWER, { leaderId: 3, leaderEpoch: 0 }],
    ]);
    expect(res.nodeEndpoints).toEqual([
      { nodeId: 2, host: "b2.plain", port: 9002, rack: "rack-b" },
      { nodeId: 3, host: "b3.plain", port: 9003, rack: null },
    ]);
    expect(h.partitions.log("t", 0)?.epochEntries()).toEqual([{ epoch: 5, startOffset: 0n }]);
    // Before KIP-951 (v10) the hint has no place in the response.
    const old = await produce(9, [1]);
    expect(old.responses[0]?.partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    expect(old.responses[0]?.partitionResponses[0]?.currentLeader).toBeUndefined();
  });

  it("Fetch fences an older leader epoch, accepts the current one and refuses a newer one", async () => {
    await produce(11, [0]);
    const fenced = (await fetch(16, 0, 4)).responses[0]?.partitions[0];
    expect(fenced).toMatchObject({
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
      currentLeader: { leaderId: 1, leaderEpoch: 5 },
    });
    const current = (await fetch(16, 0, 5)).responses[0]?.partitions[0];
    expect(current?.errorCode).toBe(ErrorCode.NONE);
    expect(current?.highWatermark).toBe(2n);
    expect(current?.records?.length).toBeGreaterThan(0);
    expect((await fetch(16, 0, 6)).responses[0]?.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    const elsewhere = await fetch(16, 2, -1);
    expect(elsewhere.responses[0]?.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      currentLeader: { leaderId: 3, leaderEpoch: 0 },
    });
    expect(elsewhere.nodeEndpoints).toEqual([{ nodeId: 3, host: "b3.plain", port: 9003, rack: null }]);
    // A follower's replica is served to consumers from v11 only (KIP-392; fetch-from-follower.test.ts).
    expect((await fetch(10, 1, 3)).responses[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect((await fetch(16, 1, 3)).responses[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it.each([
    // Before v11 only the leader serves consumers.
    [10, ErrorCode.NOT_LEADER_OR_FOLLOWER],
    // From v11 this node, now a follower, could serve it, but the leader epoch the consumer named is gone (KIP-392).
    [16, ErrorCode.FENCED_LEADER_EPOCH],
  ])("a Fetch v%i waiting for data answers %i as soon as leadership moves away", async (version, errorCode) => {
    const started = Date.now();
    const waiting = h.call(version, FetchRequest, FetchResponse, {
      maxWaitMs: 20_000,
      minBytes: 1,
      topics: [
        {
          topic: "t",
          topicId: T,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: 5,
              fetchOffset: 0n,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: 1 << 20,
            },
          ],
        },
      ],
    });
    await h.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 2 })]);
    const res = await waiting;
    expect(res.responses[0]?.partitions[0]?.errorCode).toBe(errorCode);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("ListOffsets and OffsetForLeaderEpoch answer with the image's leader epoch", async () => {
    await produce(11, [0]);
    const list = (partitionIndex: number, currentLeaderEpoch: number) =>
      h.call(9, ListOffsetsRequest, ListOffsetsResponse, {
        replicaId: -1,
        topics: [{ name: "t", partitions: [{ partitionIndex, currentLeaderEpoch, timestamp: -1n, maxNumOffsets: 1 }] }],
      });
    expect((await list(0, 4)).topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect((await list(0, 5)).topics[0]?.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      offset: 2n,
      leaderEpoch: 5,
    });
    expect((await list(1, -1)).topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect((await list(9, -1)).topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

    const res = await h.call(4, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, {
      replicaId: -1,
      topics: [
        {
          topic: "t",
          partitions: [
            { partition: 0, currentLeaderEpoch: 5, leaderEpoch: 5 },
            { partition: 0, currentLeaderEpoch: 4, leaderEpoch: 5 },
            { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 2 },
            { partition: 1, currentLeaderEpoch: -1, leaderEpoch: 3 },
            { partition: 9, currentLeaderEpoch: -1, leaderEpoch: 0 },
          ],
        },
      ],
    });
    expect(res.topics[0]?.partitions.map((p) => [p.partition, p.errorCode, p.leaderEpoch, p.endOffset])).toEqual([
      [0, ErrorCode.NONE, 5, 2n],
      [0, ErrorCode.FENCED_LEADER_EPOCH, -1, -1n],
      // Older than every epoch this log saw: it ends where the first known epoch (5) starts, as in Kafka.
      [0, ErrorCode.NONE, 2, 0n],
      [1, ErrorCode.NOT_LEADER_OR_FOLLOWER, -1, -1n],
      [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1n],
    ]);
  });
});

describe("DeleteRecords and DescribeLogDirs from the image", () => {
  beforeEach(leaderAloneInIsr);

  it("deletes records only where this broker leads and lists the replicas it holds", async () => {
    await produce(11, [0]);
    const del = await h.call(2, DeleteRecordsRequest, DeleteRecordsResponse, {
      timeoutMs: 5000,
      topics: [
        {
          name: "t",
          partitions: [
            { partitionIndex: 0, offset: 1n },
            { partitionIndex: 1, offset: 0n },
            { partitionIndex: 2, offset: 0n },
          ],
        },
      ],
    });
    expect(del.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.lowWatermark])).toEqual([
      [0, ErrorCode.NONE, 1n],
      [1, ErrorCode.NOT_LEADER_OR_FOLLOWER, -1n],
      [2, ErrorCode.NOT_LEADER_OR_FOLLOWER, -1n],
    ]);
    const dirs = await h.call(4, DescribeLogDirsRequest, DescribeLogDirsResponse, { topics: null });
    const held = dirs.results.flatMap((d) =>
      d.topics.flatMap((t) => t.partitions.map((p) => `${t.name}-${p.partitionIndex}`)),
    );
    expect(held.sort()).toEqual(["t-0", "t-1"]);
  });
});

describe("DescribeConfigs from the image's configs", () => {
  it("reports topic overrides and this broker's dynamic configs with their sources", async () => {
    const res = await h.call(4, DescribeConfigsRequest, DescribeConfigsResponse, {
      resources: [
        { resourceType: TOPIC, resourceName: "t", configurationKeys: ["retention.ms", "retention.bytes"] },
        { resourceType: BROKER, resourceName: "1", configurationKeys: ["log.retention.bytes"] },
        { resourceType: TOPIC, resourceName: "missing", configurationKeys: null },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const [topic, brokerConfigs, missing] = res.results;
    expect(topic?.configs.map((c) => [c.name, c.value, c.configSource])).toEqual([
      ["retention.ms", "1234", 1],
      ["retention.bytes", "777", 2],
    ]);
    expect(brokerConfigs?.configs.map((c) => [c.name, c.value, c.configSource])).toEqual([
      ["log.retention.bytes", "777", 2],
    ]);
    expect(missing?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

describe("two brokers applying the same records", () => {
  it("moves a partition's leadership from one to the other, with the epoch and the client's hint following", async () => {
    const other = await ImageHarness.start(2);
    try {
      await leaderAloneInIsr();
      await other.publish(CLUSTER);
      // Broker 1 leads t-0 in epoch 5; broker 2 holds a follower replica and sends producers to 1.
      const onTwo = await other.call(11, ProduceRequest, ProduceResponse, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 5000,
        topicData: [{ name: "t", partitionData: [{ index: 0, records: makeBatch({ records: 2 }) }] }],
      });
      expect(onTwo.responses[0]?.partitionResponses[0]).toMatchObject({
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        currentLeader: { leaderId: 1, leaderEpoch: 5 },
      });
      expect((await produce(11, [0])).responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.NONE);

      // The controller moves the leader to 2: both apply the same change record.
      const move = [rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 2 })];
      await h.publish(move);
      await other.publish(move);
      const stale = (await produce(11, [0])).responses[0]?.partitionResponses[0];
      expect(stale).toMatchObject({
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        currentLeader: { leaderId: 2, leaderEpoch: 6 },
      });
      expect(other.partitions.role("t", 0)).toEqual({ leader: true, leaderEpoch: 6 });
      expect(other.logs.get("t", 0)?.epochEntries()).toEqual([{ epoch: 6, startOffset: 0n }]);
      const meta = await other.call(12, MetadataRequest, MetadataResponse, { topics: [{ name: "t", topicId: T }] });
      expect(meta.topics[0]?.partitions[0]).toMatchObject({ leaderId: 2, leaderEpoch: 6 });
    } finally {
      await other.close();
    }
  });
});
