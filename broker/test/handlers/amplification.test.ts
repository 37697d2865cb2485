import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  encodeRequest,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  type FetchRequestFetchTopic,
  type MessageCodec,
} from "../../src/protocol/index.ts";
import { makeBatch, splitBatches } from "../log/batches.ts";
import { TestClient } from "../network/helpers.ts";
import { startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";
import { createTopicWire, groupCoordinatorReadyWire, produceBatch, wireCall } from "../support/wire-call.ts";

// Small requests that name the same thing many times must not get answers many times larger, nor cost many times
// the work: the real broker process, through raw frames, since no client sends such requests.

const TOPIC = "amplified";
const GROUP = "amplified-group";
const BATCHES = 20;
const FETCH_MAX_BYTES = 150_000;

let broker: BrokerProcess;
let client: TestClient;
let topicId: string;

function call<Req, Res>(version: number, request: MessageCodec<Req>, response: MessageCodec<Res>, body: Partial<Req>) {
  return wireCall(client, version, request, response, body, "amplification");
}

/** Size of the last response frame, to compare with the request that caused it. */
function lastResponseBytes(): number {
  return client.responses[client.responses.length - 1]?.length ?? 0;
}

function requestBytes<Req>(version: number, request: MessageCodec<Req>, body: Partial<Req>): number {
  const header = { apiKey: request.apiKey, apiVersion: version, correlationId: 1, clientId: "amplification" };
  return encodeRequest(header, request, { ...request.create(), ...body }).length;
}

beforeAll(async () => {
  broker = await startBrokerProcess({ overrides: { "fetch.max.bytes": String(FETCH_MAX_BYTES) } });
  client = await TestClient.connect(broker.port);
  await groupCoordinatorReadyWire(client);
  expect((await createTopicWire(client, TOPIC, 2))?.errorCode).toBe(ErrorCode.NONE);
  // About 10 KB per batch, 200 KB per partition.
  for (let i = 0; i < BATCHES; i++) {
    for (const partition of [0, 1]) {
      const produced = await produceBatch(
        client,
        TOPIC,
        partition,
        makeBatch({ records: 10, valueSize: 1000, seed: i }),
      );
      expect(produced?.errorCode).toBe(ErrorCode.NONE);
    }
  }
  const metadata = await call(12, MetadataRequest, MetadataResponse, { topics: [{ name: TOPIC }] });
  topicId = metadata.topics[0]?.topicId ?? "";
  const committed = await call(8, OffsetCommitRequest, OffsetCommitResponse, {
    groupId: GROUP,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    topics: [
      { name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 5n, committedMetadata: "m".repeat(4000) }] },
    ],
  });
  expect(committed.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
});

afterAll(async () => {
  client?.destroy();
  await broker?.destroy();
});

function fetchPartition(partition: number, fetchOffset: bigint, partitionMaxBytes: number) {
  return {
    partition,
    fetchOffset,
    partitionMaxBytes,
    logStartOffset: -1n,
    currentLeaderEpoch: -1,
    lastFetchedEpoch: -1,
  };
}

async function fetch(version: number, topics: FetchRequestFetchTopic[]) {
  const res = await call(version, FetchRequest, FetchResponse, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 0x7fffffff,
    topics,
  });
  const partitions = res.responses.flatMap((t) => t.partitions.map((p) => ({ topic: t, partition: p })));
  const recordBytes = partitions.reduce((sum, p) => sum + (p.partition.records?.length ?? 0), 0);
  return { res, partitions, recordBytes };
}

describe("Fetch", () => {
  it("answers a partition listed 100 times once, at the position of its last mention", async () => {
    const mentions = Array.from({ length: 99 }, () => fetchPartition(0, 0n, 50_000));
    mentions.push(fetchPartition(0, 30n, 50_000));
    const { res, partitions, recordBytes } = await fetch(12, [{ topic: TOPIC, partitions: mentions }]);
    expect(res.responses).toHaveLength(1);
    expect(partitions).toHaveLength(1);
    // One copy of at most partitionMaxBytes; 100 copies would be 5 MB (or fetch.max.bytes, 150 KB, with the cap).
    expect(recordBytes).toBeLessThanOrEqual(50_000);
    const [first] = splitBatches(partitions[0]?.partition.records ?? Buffer.alloc(0));
    expect(first?.baseOffset).toBe(30n);
  });

  it("merges repeated topic entries, by name and by id", async () => {
    const byName = await fetch(12, [
      { topic: TOPIC, partitions: [fetchPartition(1, 0n, 20_000)] },
      { topic: TOPIC, partitions: [fetchPartition(1, 0n, 20_000), fetchPartition(0, 0n, 20_000)] },
      { topic: TOPIC, partitions: [fetchPartition(1, 0n, 20_000)] },
    ]);
    expect(byName.partitions.map((p) => [p.topic.topic, p.partition.partitionIndex])).toEqual([
      [TOPIC, 1],
      [TOPIC, 0],
    ]);
    const byId = await fetch(13, [
      { topicId, partitions: [fetchPartition(0, 0n, 20_000)] },
      { topicId, partitions: [fetchPartition(0, 0n, 20_000)] },
    ]);
    expect(byId.partitions.map((p) => [p.topic.topicId, p.partition.partitionIndex])).toEqual([[topicId, 0]]);
    expect(byId.recordBytes).toBeLessThanOrEqual(20_000);
  });

  it("never answers more than fetch.max.bytes, whatever max_bytes asks for", async () => {
    const { partitions, recordBytes } = await fetch(12, [
      { topic: TOPIC, partitions: [fetchPartition(0, 0n, 1 << 20), fetchPartition(1, 0n, 1 << 20)] },
    ]);
    expect(partitions).toHaveLength(2);
    expect(recordBytes).toBeGreaterThan(0);
    // 400 KB are there; the cap keeps the answer to 150 KB.
    expect(recordBytes).toBeLessThanOrEqual(FETCH_MAX_BYTES);
  });
});

describe("Metadata", () => {
  it("answers a topic named 10,000 times once, by name and by id", async () => {
    const byName = await call(12, MetadataRequest, MetadataResponse, {
      topics: Array.from({ length: 10_000 }, () => ({ name: TOPIC })),
      allowAutoTopicCreation: false,
    });
    expect(byName.topics.map((t) => t.name)).toEqual([TOPIC]);
    const byId = await call(12, MetadataRequest, MetadataResponse, {
      topics: Array.from({ length: 1000 }, () => ({ name: null, topicId })),
    });
    expect(byId.topics.map((t) => t.topicId)).toEqual([topicId]);
  });
});

describe("ListOffsets", () => {
  it("refuses a partition named more than once with INVALID_REQUEST, once, as Kafka does", async () => {
    const latest = { timestamp: -1n, currentLeaderEpoch: -1 };
    const res = await call(7, ListOffsetsRequest, ListOffsetsResponse, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: TOPIC,
          partitions: [
            ...Array.from({ length: 1000 }, () => ({ partitionIndex: 0, ...latest })),
            { partitionIndex: 1, ...latest },
          ],
        },
        { name: TOPIC, partitions: [{ partitionIndex: 0, ...latest }] },
      ],
    });
    const answers = res.topics.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.errorCode, p.offset]));
    expect(answers).toEqual([
      [0, ErrorCode.INVALID_REQUEST, -1n],
      [1, ErrorCode.NONE, BigInt(BATCHES * 10)],
    ]);
  });
});

describe("DescribeConfigs", () => {
  it("describes a resource named 1,000 times once, with the union of the keys asked for", async () => {
    const res = await call(4, DescribeConfigsRequest, DescribeConfigsResponse, {
      resources: [
        ...Array.from({ length: 1000 }, () => ({ resourceType: 2, resourceName: TOPIC, configurationKeys: null })),
        { resourceType: 2, resourceName: "other-topic", configurationKeys: ["retention.ms"] },
      ],
      includeSynonyms: true,
      includeDocumentation: true,
    });
    expect(res.results.map((r) => r.resourceName)).toEqual([TOPIC, "other-topic"]);
    expect(res.results[0]?.configs.length).toBeGreaterThanOrEqual(10);

    const merged = await call(4, DescribeConfigsRequest, DescribeConfigsResponse, {
      resources: [
        { resourceType: 2, resourceName: TOPIC, configurationKeys: ["retention.ms"] },
        { resourceType: 2, resourceName: TOPIC, configurationKeys: ["cleanup.policy", "retention.ms"] },
      ],
    });
    expect(merged.results).toHaveLength(1);
    expect(merged.results[0]?.configs.map((c) => c.name).sort()).toEqual(["cleanup.policy", "retention.ms"]);
  });
});

describe("OffsetFetch and DescribeGroups", () => {
  it("answers a group, topic or partition named many times once", async () => {
    const v8 = await call(8, OffsetFetchRequest, OffsetFetchResponse, {
      groups: Array.from({ length: 100 }, () => ({ groupId: GROUP, topics: null })),
      requireStable: false,
    });
    expect(v8.groups?.map((g) => g.groupId)).toEqual([GROUP]);
    expect(v8.groups?.[0]?.topics?.flatMap((t) => (t.partitions ?? []).map((p) => p.committedOffset))).toEqual([5n]);

    const v7 = await call(7, OffsetFetchRequest, OffsetFetchResponse, {
      groupId: GROUP,
      topics: [
        { name: TOPIC, partitionIndexes: Array.from({ length: 1000 }, () => 0) },
        { name: TOPIC, partitionIndexes: [0, 1] },
      ],
      requireStable: false,
    });
    const answered = v7.topics?.flatMap((t) =>
      (t.partitions ?? []).map((p) => [t.name, p.partitionIndex, p.committedOffset]),
    );
    expect(answered).toEqual([
      [TOPIC, 0, 5n],
      [TOPIC, 1, -1n],
    ]);
    // The 4 KB of metadata comes back once, not 1,000 times.
    expect(lastResponseBytes()).toBeLessThan(5000);

    const groups = await call(5, DescribeGroupsRequest, DescribeGroupsResponse, {
      groups: Array.from({ length: 1000 }, () => GROUP),
      includeAuthorizedOperations: false,
    });
    expect(groups.groups.map((g) => g.groupId)).toEqual([GROUP]);
  });
});

describe("OffsetForLeaderEpoch", () => {
  it("answers every mention, as Kafka does, with an answer no larger than the question", async () => {
    const body = {
      topics: [
        {
          topic: TOPIC,
          partitions: Array.from({ length: 10_000 }, () => ({ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 })),
        },
      ],
    };
    const res = await call(4, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, body);
    expect(res.topics[0]?.partitions).toHaveLength(10_000);
    expect(res.topics[0]?.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, endOffset: BigInt(BATCHES * 10) });
    // Each answer is a fixed 18 bytes against a question of 12: no amplification worth refusing.
    expect(lastResponseBytes()).toBeLessThan(2 * requestBytes(4, OffsetForLeaderEpochRequest, body));
  });
});
