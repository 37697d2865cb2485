import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { resolve } from "node:path";
import {
  AlterConfigsRequest,
  AlterConfigsResponse,
  ApiVersionsRequest,
  ApiVersionsResponse,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteRecordsRequest,
  DeleteRecordsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  DescribeClusterRequest,
  DescribeClusterResponse,
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
  DescribeTopicPartitionsRequest,
  DescribeTopicPartitionsResponse,
  ErrorCode,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  ZERO_UUID,
  type MessageCodec,
} from "../../src/protocol/index.ts";
import { TestClient } from "../network/helpers.ts";
import { groupCoordinatorReadyWire, wireCall } from "../support/wire-call.ts";
import { startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";

// The admin APIs at the versions and edges kafkajs does not reach (it stops at CreateTopics v3, DeleteTopics v1,
// DescribeConfigs v2 and never sends IncrementalAlterConfigs, OffsetForLeaderEpoch, DescribeCluster or
// DescribeLogDirs), through raw frames to the real broker process, including the error messages clients show.

const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;
const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;

let broker: BrokerProcess;
let client: TestClient;
let producer: Producer;

beforeAll(async () => {
  broker = await startBrokerProcess({ overrides: { "message.max.bytes": "2000000" } });
  client = await TestClient.connect(broker.port);
  await groupCoordinatorReadyWire(client);
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  producer = kafka.producer();
  await producer.connect();
});

afterAll(async () => {
  client.destroy();
  await producer.disconnect().catch(() => undefined);
  await broker.destroy();
});

function call<Req, Res>(
  version: number,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  body: Partial<Req>,
): Promise<Res> {
  return wireCall(client, version, request, response, body, "admin-wire");
}

function createTopic(name: string, extra: { numPartitions?: number; configs?: Record<string, string> } = {}) {
  return call(7, CreateTopicsRequest, CreateTopicsResponse, {
    topics: [
      {
        name,
        numPartitions: extra.numPartitions ?? 1,
        replicationFactor: -1,
        assignments: [],
        configs: Object.entries(extra.configs ?? {}).map(([k, value]) => ({ name: k, value })),
      },
    ],
    timeoutMs: 5000,
  });
}

async function topicConfigs(name: string, keys: string[] | null = null) {
  const res = await call(4, DescribeConfigsRequest, DescribeConfigsResponse, {
    resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: keys }],
  });
  const [result] = res.results;
  expect(result?.errorCode).toBe(ErrorCode.NONE);
  return new Map(result?.configs.map((c) => [c.name, c]));
}

async function incremental(
  resourceType: number,
  resourceName: string,
  configs: { name: string; configOperation: number; value: string | null }[],
  validateOnly = false,
) {
  const res = await call(1, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, {
    resources: [{ resourceType, resourceName, configs }],
    validateOnly,
  });
  return res.responses[0];
}

describe("advertised versions", () => {
  it("advertises exactly the admin ranges", async () => {
    const res = await call(3, ApiVersionsRequest, ApiVersionsResponse, {
      clientSoftwareName: "admin-wire",
      clientSoftwareVersion: "1",
    });
    const ranges = new Map(res.apiKeys.map((k) => [k.apiKey, `${k.minVersion}-${k.maxVersion}`]));
    expect(Object.fromEntries([19, 20, 21, 23, 32, 33, 35, 37, 44, 60, 64, 75].map((k) => [k, ranges.get(k)]))).toEqual(
      {
        19: "2-7",
        20: "1-6",
        21: "0-2",
        23: "2-4",
        32: "1-4",
        33: "0-2",
        35: "1-4",
        37: "0-3",
        44: "0-1",
        60: "0-1",
        64: "0-0",
        75: "0-0",
      },
    );
  });
});

describe("DescribeTopicPartitions v0", () => {
  const describePartitions = (body: Partial<DescribeTopicPartitionsRequest>) =>
    call(0, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, {
      topics: [],
      responsePartitionLimit: 2000,
      cursor: null,
      ...body,
    });

  it("answers named topics in name order with ELR fields, pages by the partition limit, and refuses a bad cursor", async () => {
    expect((await createTopic("dtp-b", { numPartitions: 2 })).topics[0]?.errorCode).toBe(ErrorCode.NONE);
    expect((await createTopic("dtp-a", { numPartitions: 3 })).topics[0]?.errorCode).toBe(ErrorCode.NONE);
    const named = [{ name: "dtp-b" }, { name: "dtp-a" }, { name: "dtp-missing" }, { name: "bad/name" }];
    const first = await describePartitions({ topics: named, responsePartitionLimit: 4 });
    expect(first.topics.map((t) => [t.name, t.errorCode, t.partitions.map((p) => p.partitionIndex)])).toEqual([
      ["bad/name", ErrorCode.INVALID_TOPIC_EXCEPTION, []],
      ["dtp-a", ErrorCode.NONE, [0, 1, 2]],
      ["dtp-b", ErrorCode.NONE, [0]],
    ]);
    expect(first.topics[1]?.partitions[0]).toMatchObject({
      leaderId: 1,
      replicaNodes: [1],
      isrNodes: [1],
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
      offlineReplicas: [],
    });
    expect(first.nextCursor).toEqual({ topicName: "dtp-b", partitionIndex: 1 });
    const second = await describePartitions({ topics: named, responsePartitionLimit: 4, cursor: first.nextCursor });
    expect(second.topics.map((t) => [t.name, t.errorCode, t.partitions.map((p) => p.partitionIndex)])).toEqual([
      ["dtp-b", ErrorCode.NONE, [1]],
      ["dtp-missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, []],
    ]);
    expect(second.nextCursor).toBeNull();
    // Every topic when none is named; a cursor whose topic is not named is an invalid request.
    const all = await describePartitions({});
    expect(all.topics.map((t) => t.name)).toEqual(expect.arrayContaining(["dtp-a", "dtp-b"]));
    const bad = await describePartitions({
      topics: [{ name: "dtp-a" }],
      cursor: { topicName: "dtp-b", partitionIndex: 0 },
    });
    expect(bad.topics).toMatchObject([{ name: "dtp-a", errorCode: ErrorCode.INVALID_REQUEST }]);
  });
});

describe("CreateTopics v7", () => {
  it("answers the created topic's id, partitions, replication factor and configs with sources", async () => {
    const res = await createTopic("v7-topic", { numPartitions: 3, configs: { "retention.ms": "123456" } });
    const [topic] = res.topics;
    expect(topic).toMatchObject({ name: "v7-topic", errorCode: 0, numPartitions: 3, replicationFactor: 1 });
    expect(topic?.topicId).not.toBe(ZERO_UUID);
    const configs = new Map(topic?.configs?.map((c) => [c.name, c]));
    expect(configs.get("retention.ms")).toMatchObject({ value: "123456", configSource: 1, readOnly: false });
    expect(configs.get("cleanup.policy")).toMatchObject({ value: "delete", configSource: 5 });

    const meta = await call(12, MetadataRequest, MetadataResponse, {
      topics: [{ name: "v7-topic", topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
    });
    expect(meta.topics[0]?.topicId).toBe(topic?.topicId);
  });

  it("validates only: the settled values come back, no id, nothing created", async () => {
    const res = await call(7, CreateTopicsRequest, CreateTopicsResponse, {
      topics: [{ name: "v7-dry", numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: true,
    });
    expect(res.topics[0]).toMatchObject({ errorCode: 0, topicId: ZERO_UUID, numPartitions: 1, replicationFactor: 1 });
    expect(res.topics[0]?.configs?.length).toBeGreaterThan(0);
    const meta = await call(12, MetadataRequest, MetadataResponse, {
      topics: [{ name: "v7-dry", topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
    });
    expect(meta.topics[0]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it("refuses a name given twice, and explains every per-topic error", async () => {
    const topic = (name: string, over: object = {}) => ({
      name,
      numPartitions: 1,
      replicationFactor: -1,
      assignments: [],
      configs: [],
      ...over,
    });
    const res = await call(7, CreateTopicsRequest, CreateTopicsResponse, {
      topics: [
        topic("twice"),
        topic("twice"),
        topic("v7-topic"),
        topic("rf3", { replicationFactor: 3 }),
        topic("bad-config", { configs: [{ name: "segment.bytes", value: "-5" }] }),
        topic("unknown-config", { configs: [{ name: "compression.level", value: "5" }] }),
        topic("zero", { numPartitions: 0 }),
        topic("elsewhere", { numPartitions: -1, assignments: [{ partitionIndex: 0, brokerIds: [2] }] }),
        topic("ok-too"),
      ],
      timeoutMs: 5000,
    });
    const byName = res.topics.map((t) => [t.name, t.errorCode, t.errorMessage]);
    expect(byName).toEqual([
      ["twice", ErrorCode.INVALID_REQUEST, "Found multiple entries for this topic."],
      ["v7-topic", ErrorCode.TOPIC_ALREADY_EXISTS, "Topic 'v7-topic' already exists."],
      ["rf3", ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor: 3 larger than available brokers: 1."],
      ["bad-config", ErrorCode.INVALID_CONFIG, expect.stringMatching(/segment\.bytes.*at least 14/)],
      [
        "unknown-config",
        ErrorCode.INVALID_CONFIG,
        expect.stringMatching(/Unknown topic config name: compression\.level/),
      ],
      ["zero", ErrorCode.INVALID_PARTITIONS, expect.stringMatching(/between 1 and/)],
      [
        "elsewhere",
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        "The manual partition assignment includes broker 2, but no such broker is registered.",
      ],
      ["ok-too", ErrorCode.NONE, null],
    ]);
    const meta = await call(12, MetadataRequest, MetadataResponse, { topics: null, allowAutoTopicCreation: false });
    const names = meta.topics.map((t) => t.name);
    expect(names).toContain("ok-too");
    expect(names).not.toContain("twice");
  });
});

describe("DeleteTopics v6", () => {
  it("deletes by id and by name, and refuses ambiguous, repeated or unknown entries", async () => {
    const created = await createTopic("by-id");
    const id = created.topics[0]?.topicId ?? ZERO_UUID;
    await createTopic("by-name");
    const unknownId = "00000000-0000-4000-8000-000000000001";
    const res = await call(6, DeleteTopicsRequest, DeleteTopicsResponse, {
      topics: [
        { name: null, topicId: id },
        { name: "by-name", topicId: ZERO_UUID },
        { name: "by-name", topicId: ZERO_UUID },
        { name: null, topicId: unknownId },
        { name: "never-was", topicId: ZERO_UUID },
        { name: "v7-topic", topicId: id },
      ],
      timeoutMs: 5000,
    });
    expect(res.responses.map((r) => [r.name, r.topicId, r.errorCode])).toEqual([
      ["by-id", id, ErrorCode.NONE],
      ["by-name", expect.not.stringMatching(ZERO_UUID), ErrorCode.NONE],
      ["by-name", ZERO_UUID, ErrorCode.INVALID_REQUEST],
      [null, unknownId, ErrorCode.UNKNOWN_TOPIC_ID],
      ["never-was", ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ["v7-topic", id, ErrorCode.INVALID_REQUEST],
    ]);
    const meta = await call(12, MetadataRequest, MetadataResponse, { topics: null, allowAutoTopicCreation: false });
    const names = meta.topics.map((t) => t.name);
    expect(names).not.toContain("by-id");
    expect(names).not.toContain("by-name");
    expect(names).toContain("v7-topic");
  });
});

describe("CreatePartitions v3", () => {
  it("accepts assignments to this node only, one per new partition", async () => {
    await createTopic("assigned");
    const grow = (count: number, assignments: number[][] | null, validateOnly = false) =>
      call(3, CreatePartitionsRequest, CreatePartitionsResponse, {
        topics: [{ name: "assigned", count, assignments: assignments?.map((brokerIds) => ({ brokerIds })) ?? null }],
        timeoutMs: 5000,
        validateOnly,
      });
    expect((await grow(3, [[2], [1]])).results[0]).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT });
    const tooFew = (await grow(3, [[1]])).results[0];
    expect(tooFew?.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    expect(tooFew?.errorMessage).toMatch(/add 2 additional partition/);
    expect((await grow(3, [[1], [1, 1]])).results[0]?.errorMessage).toMatch(/Duplicate brokers/);
    expect((await grow(3, [[1], [1]], true)).results[0]).toMatchObject({ errorCode: 0, errorMessage: null });
    expect(await topicPartitions("assigned")).toBe(1);
    expect((await grow(3, [[1], [1]])).results[0]).toMatchObject({ errorCode: 0 });
    expect(await topicPartitions("assigned")).toBe(3);
  });
});

async function topicPartitions(name: string): Promise<number | undefined> {
  const meta = await call(12, MetadataRequest, MetadataResponse, {
    topics: [{ name, topicId: ZERO_UUID }],
    allowAutoTopicCreation: false,
  });
  return meta.topics[0]?.partitions.length;
}

describe("DescribeConfigs v4", () => {
  it("filters keys, adds documentation and types when asked, and explains failures", async () => {
    await createTopic("described", { configs: { "cleanup.policy": "compact" } });
    const res = await call(4, DescribeConfigsRequest, DescribeConfigsResponse, {
      resources: [
        { resourceType: TOPIC, resourceName: "described", configurationKeys: ["cleanup.policy", "no.such.key"] },
        { resourceType: TOPIC, resourceName: "missing", configurationKeys: null },
        { resourceType: BROKER, resourceName: "7", configurationKeys: null },
        { resourceType: BROKER_LOGGER, resourceName: "1", configurationKeys: null },
        { resourceType: 3, resourceName: "group", configurationKeys: null },
      ],
      includeSynonyms: true,
      includeDocumentation: true,
    });
    const [described, missing, otherBroker, logger, group] = res.results;
    expect(described?.configs).toEqual([
      expect.objectContaining({
        name: "cleanup.policy",
        value: "compact",
        configSource: 1,
        configType: 7,
        synonyms: [
          { name: "cleanup.policy", value: "compact", source: 1 },
          { name: "log.cleanup.policy", value: "delete", source: 5 },
        ],
      }),
    ]);
    expect(described?.configs[0]?.documentation).toMatch(/\w/);
    // A key set in server.properties is STATIC_BROKER_CONFIG (4), with Kafka's own default beneath it.
    expect((await topicConfigs("described", ["max.message.bytes"])).get("max.message.bytes")).toMatchObject({
      value: "2000000",
      configSource: 4,
      isDefault: false,
    });
    const staticKey = await call(4, DescribeConfigsRequest, DescribeConfigsResponse, {
      resources: [{ resourceType: TOPIC, resourceName: "described", configurationKeys: ["max.message.bytes"] }],
      includeSynonyms: true,
    });
    expect(staticKey.results[0]?.configs[0]?.synonyms).toEqual([
      { name: "message.max.bytes", value: "2000000", source: 4 },
      { name: "message.max.bytes", value: "1048588", source: 5 },
    ]);
    expect(missing).toMatchObject({
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      errorMessage: "Topic 'missing' does not exist.",
      configs: [],
    });
    expect(otherBroker).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST });
    expect(otherBroker?.errorMessage).toMatch(/expected 1 or empty string/);
    expect(logger).toMatchObject({ errorCode: 0, configs: [] });
    expect(group).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST });

    const plain = await call(4, DescribeConfigsRequest, DescribeConfigsResponse, {
      resources: [{ resourceType: TOPIC, resourceName: "described", configurationKeys: ["cleanup.policy"] }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    expect(plain.results[0]?.configs[0]).toMatchObject({ synonyms: [], documentation: null });
  });
});

describe("IncrementalAlterConfigs v1", () => {
  it("sets, deletes, appends to and subtracts from topic configs", async () => {
    await createTopic("incremental", { configs: { "retention.ms": "1000000" } });
    expect(
      await incremental(TOPIC, "incremental", [
        { name: "retention.bytes", configOperation: SET, value: "2097152" },
        { name: "cleanup.policy", configOperation: APPEND, value: "compact" },
      ]),
    ).toMatchObject({ errorCode: 0, errorMessage: null, resourceType: TOPIC, resourceName: "incremental" });
    let configs = await topicConfigs("incremental");
    // SET leaves other overrides alone, unlike AlterConfigs.
    expect(configs.get("retention.ms")).toMatchObject({ value: "1000000", configSource: 1 });
    expect(configs.get("retention.bytes")).toMatchObject({ value: "2097152", configSource: 1 });
    expect(configs.get("cleanup.policy")).toMatchObject({ value: "delete,compact", configSource: 1 });

    await incremental(TOPIC, "incremental", [
      { name: "retention.ms", configOperation: DELETE, value: null },
      { name: "cleanup.policy", configOperation: SUBTRACT, value: "delete" },
    ]);
    configs = await topicConfigs("incremental");
    expect(configs.get("retention.ms")).toMatchObject({ value: "604800000", configSource: 5 });
    expect(configs.get("cleanup.policy")).toMatchObject({ value: "compact", configSource: 1 });

    expect(
      await incremental(TOPIC, "incremental", [{ name: "retention.bytes", configOperation: SET, value: "7" }], true),
    ).toMatchObject({ errorCode: 0 });
    expect((await topicConfigs("incremental")).get("retention.bytes")?.value).toBe("2097152");
  });

  it("refuses bad operations with clear messages and changes nothing", async () => {
    await createTopic("refusing");
    const cases: [Parameters<typeof incremental>[2], number, RegExp][] = [
      [
        [{ name: "retention.ms", configOperation: APPEND, value: "5" }],
        ErrorCode.INVALID_CONFIG,
        /append is not allowed for config key: retention\.ms/,
      ],
      [
        [
          { name: "retention.ms", configOperation: SET, value: "5" },
          { name: "retention.ms", configOperation: DELETE, value: null },
        ],
        ErrorCode.INVALID_REQUEST,
        /duplicate config keys/,
      ],
      [[{ name: "retention.ms", configOperation: SET, value: null }], ErrorCode.INVALID_REQUEST, /Null value/],
      [
        [{ name: "retention.ms", configOperation: 9, value: "5" }],
        ErrorCode.INVALID_REQUEST,
        /Unknown config operation/,
      ],
      [
        [
          { name: "retention.bytes", configOperation: SET, value: "100" },
          { name: "retention.ms", configOperation: SET, value: "-2" },
        ],
        ErrorCode.INVALID_CONFIG,
        /Invalid value -2 for configuration retention\.ms: must be at least -1/,
      ],
      [
        [{ name: "cleanup.policy", configOperation: APPEND, value: "shred" }],
        ErrorCode.INVALID_CONFIG,
        /cleanup\.policy/,
      ],
    ];
    for (const [changes, errorCode, message] of cases) {
      const result = await incremental(TOPIC, "refusing", changes);
      expect(result?.errorCode).toBe(errorCode);
      expect(result?.errorMessage).toMatch(message);
    }
    const configs = await topicConfigs("refusing");
    expect([...configs.values()].filter((c) => c.configSource === 1)).toEqual([]);
    expect((await incremental(TOPIC, "nowhere", []))?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await incremental(BROKER_LOGGER, "1", []))?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });

  it("sets the cluster-wide broker default, which topics follow until they override it", async () => {
    await createTopic("follower");
    await createTopic("overrider", { configs: { "segment.bytes": "2000000" } });
    expect(
      await incremental(BROKER, "", [{ name: "log.segment.bytes", configOperation: SET, value: "3000000" }]),
    ).toMatchObject({
      errorCode: 0,
    });
    expect((await topicConfigs("follower")).get("segment.bytes")).toMatchObject({ value: "3000000", configSource: 3 });
    expect((await topicConfigs("overrider")).get("segment.bytes")).toMatchObject({ value: "2000000", configSource: 1 });

    const cluster = await call(4, DescribeConfigsRequest, DescribeConfigsResponse, {
      resources: [{ resourceType: BROKER, resourceName: "", configurationKeys: null }],
    });
    // min.insync.replicas too: a new cluster starts with eligible leader replicas on, which pins it cluster-wide.
    expect(cluster.results[0]?.configs.map((c) => [c.name, c.value, c.configSource])).toEqual([
      ["log.segment.bytes", "3000000", 3],
      ["min.insync.replicas", "1", 3],
    ]);

    const refused = await incremental(BROKER, "1", [{ name: "log.dirs", configOperation: SET, value: "/tmp/x" }]);
    expect(refused).toMatchObject({ errorCode: ErrorCode.INVALID_CONFIG });
    expect(refused?.errorMessage).toMatch(/Cannot update broker config log\.dirs dynamically/);
    // Another broker's configs are the controller's to keep too (Kafka's KRaft controller accepts any broker id).
    expect((await incremental(BROKER, "2", []))?.errorCode).toBe(ErrorCode.NONE);

    // Deleting it from broker "1" leaves the cluster-wide default ("") in force, as in Kafka; deleting it there ends it.
    await incremental(BROKER, "1", [{ name: "log.segment.bytes", configOperation: DELETE, value: null }]);
    expect((await topicConfigs("follower")).get("segment.bytes")).toMatchObject({ value: "3000000", configSource: 3 });
    await incremental(BROKER, "", [{ name: "log.segment.bytes", configOperation: DELETE, value: null }]);
    expect((await topicConfigs("follower")).get("segment.bytes")).toMatchObject({
      value: "1073741824",
      configSource: 5,
    });
  });
});

describe("AlterConfigs v2", () => {
  it("replaces the whole set, refuses repeated resources and explains invalid values", async () => {
    await createTopic("replaced", { configs: { "retention.ms": "1000000", "retention.bytes": "1000000" } });
    const res = await call(2, AlterConfigsRequest, AlterConfigsResponse, {
      resources: [
        { resourceType: TOPIC, resourceName: "replaced", configs: [{ name: "retention.ms", value: "2000000" }] },
        { resourceType: TOPIC, resourceName: "twice", configs: [] },
        { resourceType: TOPIC, resourceName: "twice", configs: [] },
        { resourceType: TOPIC, resourceName: "v7-topic", configs: [{ name: "min.insync.replicas", value: "0" }] },
      ],
      validateOnly: false,
    });
    expect(res.responses.map((r) => [r.resourceName, r.errorCode])).toEqual([
      ["replaced", 0],
      ["twice", ErrorCode.INVALID_REQUEST],
      ["twice", ErrorCode.INVALID_REQUEST],
      ["v7-topic", ErrorCode.INVALID_CONFIG],
    ]);
    expect(res.responses[3]?.errorMessage).toMatch(/min\.insync\.replicas: must be at least 1/);
    const configs = await topicConfigs("replaced");
    expect(configs.get("retention.ms")).toMatchObject({ value: "2000000", configSource: 1 });
    expect(configs.get("retention.bytes")).toMatchObject({ value: "-1", configSource: 5 });
  });
});

describe("records and epochs", () => {
  it("DeleteRecords v2 answers the low watermark, -1 meaning the high watermark", async () => {
    await createTopic("records", { numPartitions: 2 });
    for (let i = 0; i < 4; i++) await producer.send({ topic: "records", messages: [{ value: `v${i}`, partition: 0 }] });
    const del = (partitions: { partitionIndex: number; offset: bigint }[], name = "records") =>
      call(2, DeleteRecordsRequest, DeleteRecordsResponse, { topics: [{ name, partitions }], timeoutMs: 5000 });
    expect((await del([{ partitionIndex: 0, offset: 2n }])).topics[0]?.partitions).toEqual([
      expect.objectContaining({ partitionIndex: 0, lowWatermark: 2n, errorCode: 0 }),
    ]);
    // Never backwards: an offset below the low watermark leaves it where it is.
    expect((await del([{ partitionIndex: 0, offset: 1n }])).topics[0]?.partitions[0]?.lowWatermark).toBe(2n);
    const mixed = await del([
      { partitionIndex: 0, offset: 5n },
      { partitionIndex: 0, offset: -2n },
      { partitionIndex: 1, offset: -1n },
      { partitionIndex: 9, offset: 0n },
    ]);
    expect(mixed.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.lowWatermark])).toEqual([
      [0, ErrorCode.OFFSET_OUT_OF_RANGE, -1n],
      [0, ErrorCode.OFFSET_OUT_OF_RANGE, -1n],
      [1, 0, 0n],
      [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n],
    ]);
    expect((await del([{ partitionIndex: 0, offset: -1n }])).topics[0]?.partitions[0]?.lowWatermark).toBe(4n);
    expect(
      (await del([{ partitionIndex: 0, offset: 0n }], "__consumer_offsets")).topics[0]?.partitions[0],
    ).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION });
  });

  it("OffsetForLeaderEpoch v2-4 answers epoch 0 ending at the log end, and checks the current leader epoch", async () => {
    await createTopic("epochs", { numPartitions: 2 });
    await producer.send({
      topic: "epochs",
      messages: [
        { value: "a", partition: 0 },
        { value: "b", partition: 0 },
      ],
    });
    const ask = (
      version: number,
      partitions: { partition: number; currentLeaderEpoch: number; leaderEpoch: number }[],
    ) =>
      call(version, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, {
        replicaId: -1,
        topics: [{ topic: "epochs", partitions }],
      });
    for (const version of [2, 3, 4]) {
      const res = await ask(version, [
        { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 },
        { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 5 },
        { partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0 },
        { partition: 1, currentLeaderEpoch: -1, leaderEpoch: 0 },
        { partition: 7, currentLeaderEpoch: -1, leaderEpoch: 0 },
      ]);
      expect(res.topics[0]?.partitions.map((p) => [p.partition, p.errorCode, p.leaderEpoch, p.endOffset])).toEqual([
        [0, 0, 0, 2n],
        // An epoch above every epoch the log has seen is unknown, as in Kafka's epoch cache.
        [0, 0, -1, -1n],
        [0, ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1n],
        // Becoming leader in epoch 0 started that epoch at the empty log's end (Kafka's assignEpochStartOffset).
        [1, 0, 0, 0n],
        [7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1n],
      ]);
    }
  });
});

describe("DescribeCluster and DescribeLogDirs", () => {
  it("DescribeCluster: this node at the listener's address, refusing the controller endpoint type", async () => {
    for (const version of [0, 1]) {
      const res = await call(version, DescribeClusterRequest, DescribeClusterResponse, {
        includeClusterAuthorizedOperations: false,
        endpointType: 1,
      });
      expect(res).toMatchObject({ errorCode: 0, controllerId: 1 });
      expect(res.clusterId).toMatch(/\S/);
      expect(res.brokers).toEqual([expect.objectContaining({ brokerId: 1, host: "127.0.0.1", port: broker.port })]);
    }
    const controllers = await call(1, DescribeClusterRequest, DescribeClusterResponse, {
      includeClusterAuthorizedOperations: false,
      endpointType: 2,
    });
    expect(controllers).toMatchObject({ errorCode: 114, brokers: [] });
  });

  it("DescribeLogDirs v4: the log dir with partition sizes and disk space", async () => {
    await createTopic("sized", { numPartitions: 2 });
    await producer.send({ topic: "sized", messages: [{ value: "x".repeat(1000), partition: 1 }] });
    const res = await call(4, DescribeLogDirsRequest, DescribeLogDirsResponse, {
      topics: [
        { topic: "sized", partitions: [0, 1, 5, 1] },
        { topic: "sized", partitions: [1] },
      ],
    });
    expect(res.errorCode).toBe(0);
    expect(res.results).toHaveLength(1);
    const [dir] = res.results;
    expect(dir?.logDir).toBe(resolve(broker.dataDir, "logs"));
    expect(dir?.totalBytes).toBeGreaterThan(0n);
    expect(dir?.usableBytes).toBeGreaterThan(0n);
    expect(dir?.topics.map((t) => t.name)).toEqual(["sized"]);
    expect(dir?.topics[0]?.partitions).toHaveLength(2);
    const sizes = new Map(dir?.topics[0]?.partitions.map((p) => [p.partitionIndex, p]));
    expect([...sizes.keys()].sort()).toEqual([0, 1]);
    expect(sizes.get(0)?.partitionSize).toBe(0n);
    expect(sizes.get(1)?.partitionSize).toBeGreaterThan(1000n);
    expect(sizes.get(1)).toMatchObject({ offsetLag: 0n, isFutureKey: false });

    const all = await call(1, DescribeLogDirsRequest, DescribeLogDirsResponse, { topics: null });
    const names = all.results[0]?.topics.map((t) => t.name) ?? [];
    expect(names).toEqual(expect.arrayContaining(["sized", "__consumer_offsets", "records"]));
  });
});
