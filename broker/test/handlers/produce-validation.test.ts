import { Kafka, logLevel, type Producer } from "kafkajs";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BATCH_HEADER_SIZE,
  CompressionCodec,
  CreateTopicsRequest,
  CreateTopicsResponse,
  ErrorCode,
  ListOffsetsRequest,
  ListOffsetsResponse,
  ProduceRequest,
  ProduceResponse,
  decodeResponse,
  encodeRecordBatch,
  type RecordInput,
} from "../../src/protocol/index.ts";
import { TestClient, waitFor } from "../network/helpers.ts";
import { startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";
import { groupCoordinatorReadyWire, wireCall } from "../support/wire-call.ts";
import { forgeBatch } from "../protocol/records/forged-batch.ts";

// Corrupt record batches against the real broker process (issue 10): each is refused per partition with Kafka's error
// code, the good batches of the same request are stored, and nothing of the corrupt ones reaches a consumer.

let broker: BrokerProcess;
let client: TestClient;
let producer: Producer;

beforeAll(async () => {
  broker = await startBrokerProcess();
  client = await TestClient.connect(broker.port);
  await groupCoordinatorReadyWire(client);
  producer = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer({ retry: { retries: 0 } });
  await producer.connect();
  for (const [name, numPartitions, configs] of [
    ["t", 1, {}],
    ["mixed", 6, {}],
    ["compacted", 1, { "cleanup.policy": "compact" }],
  ] as const) {
    const created = await wireCall(client, 5, CreateTopicsRequest, CreateTopicsResponse, {
      topics: [
        {
          name,
          numPartitions,
          replicationFactor: -1,
          assignments: [],
          configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })),
        },
      ],
      timeoutMs: 5000,
    });
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
  }
});

afterAll(async () => {
  client.destroy();
  await producer.disconnect().catch(() => undefined);
  await broker.destroy();
});

function values(prefix: string, n: number, key: (i: number) => string | null = (i) => `k${i}`): RecordInput[] {
  return Array.from({ length: n }, (_, i) => {
    const k = key(i);
    return { key: k === null ? null : Buffer.from(k), value: Buffer.from(`${prefix}-${i}`) };
  });
}

/** kafkajs wraps the broker's error (KafkaJSProtocolError) in its retrier's errors; find its type. */
function protocolErrorType(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    const type = (e as Error & { type?: string }).type;
    if (type !== undefined) return type;
  }
  return undefined;
}

const recordsOf = (batch: Buffer): Buffer => batch.subarray(BATCH_HEADER_SIZE);

async function endOffsets(topic: string, partitions: number): Promise<bigint[]> {
  const answer = await wireCall(client, 5, ListOffsetsRequest, ListOffsetsResponse, {
    replicaId: -1,
    topics: [
      {
        name: topic,
        partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp: -1n })),
      },
    ],
  });
  return (answer.topics[0]?.partitions ?? []).map((p) => p.offset ?? -2n);
}

describe("Produce validation against the broker process", () => {
  it("answers the issue's reproduction (Produce v3, 2 records declared, 3 present) with INVALID_RECORD", async () => {
    // Client id robust-fuzz, acks -1, topic "t" partition 0: one batch whose count and lastOffsetDelta say 2 records.
    const frame = Buffer.from(
      "000000880000000300000002000b726f627573742d66757a7affffffff00001388000000010001740000000100000000000000580000" +
        "0000000000000000004cffffffff029b15309b0000000000010000018bcfe568000000018bcfe56800ffffffffffffffffffffffff" +
        "ffff00000002100000000261023100100000020262023200100000040263023300",
      "hex",
    );
    const before = client.responses.length;
    client.socket.write(frame);
    const response = await waitFor(() => client.responses[before], "the Produce response");
    const decoded = decodeResponse(response, ProduceRequest.apiKey, 3, ProduceResponse);
    const partition = decoded.body.responses[0]?.partitionResponses[0];
    expect(partition?.errorCode).toBe(ErrorCode.INVALID_RECORD);
    expect(await endOffsets("t", 1)).toEqual([0n]);
  });

  it("refuses each corrupt batch of a request, stores the good ones, and a consumer reads only those", async () => {
    const good = encodeRecordBatch({ records: values("good", 3) });
    const goodGzip = encodeRecordBatch({ records: values("gzip", 2), compression: CompressionCodec.Gzip });
    const three = recordsOf(encodeRecordBatch({ records: values("lie", 3) }));
    const gzipped = gzipSync(three);
    const keyless = encodeRecordBatch({ records: values("nokey", 4, (i) => (i % 2 === 0 ? null : `k${i}`)) });
    const consumerOffsetsBefore = await endOffsets("__consumer_offsets", 1);

    const answer = await wireCall(client, 9, ProduceRequest, ProduceResponse, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: "mixed",
          partitionData: [
            { index: 0, records: good },
            { index: 1, records: forgeBatch(three, 2) },
            {
              index: 2,
              records: forgeBatch(gzipped.subarray(0, gzipped.length - 10), 3, { codec: CompressionCodec.Gzip }),
            },
            {
              index: 3,
              records: forgeBatch(Buffer.from("garbage, not gzip at all"), 3, { codec: CompressionCodec.Gzip }),
            },
            { index: 4, records: forgeBatch(gzipSync(Buffer.alloc(64 << 20)), 3, { codec: CompressionCodec.Gzip }) },
            { index: 5, records: goodGzip },
          ],
        },
        { name: "compacted", partitionData: [{ index: 0, records: keyless }] },
        { name: "__consumer_offsets", partitionData: [{ index: 0, records: good }] },
      ],
    });
    const byPartition = new Map<string, (typeof answer.responses)[number]["partitionResponses"][number]>(
      answer.responses.flatMap((t) => t.partitionResponses.map((p) => [`${t.name}-${p.index}`, p] as const)),
    );
    const code = (key: string) => byPartition.get(key)?.errorCode;
    expect(code("mixed-0")).toBe(ErrorCode.NONE);
    expect(code("mixed-5")).toBe(ErrorCode.NONE);
    for (const bad of ["mixed-1", "mixed-2", "mixed-3", "mixed-4"]) {
      expect(code(bad), bad).toBe(ErrorCode.INVALID_RECORD);
      expect(byPartition.get(bad)?.errorMessage, bad).toBeTruthy();
    }
    expect(byPartition.get("mixed-1")?.errorMessage).toBe(
      "the batch declares 2 records but holds more bytes after them",
    );
    expect(byPartition.get("mixed-4")?.errorMessage).toBe("record 0: invalid length 0");
    expect(byPartition.get("compacted-0")).toMatchObject({
      errorCode: ErrorCode.INVALID_RECORD,
      recordErrors: [
        { batchIndex: 0, batchIndexErrorMessage: "a compacted topic needs a key on every record" },
        { batchIndex: 2, batchIndexErrorMessage: "a compacted topic needs a key on every record" },
      ],
    });
    expect(code("__consumer_offsets-0")).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);

    expect(await endOffsets("mixed", 6)).toEqual([3n, 0n, 0n, 0n, 0n, 2n]);
    expect(await endOffsets("compacted", 1)).toEqual([0n]);
    expect(await endOffsets("__consumer_offsets", 1)).toEqual(consumerOffsetsBefore);

    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: "produce-validation" });
    const seen: string[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: "mixed", fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          seen.push(message.value?.toString() ?? "");
          return Promise.resolve();
        },
      });
      await waitFor(() => seen.length >= 5 || undefined, "the five good records", 60_000);
    } finally {
      await consumer.disconnect();
    }
    expect(seen.sort()).toEqual(["good-0", "good-1", "good-2", "gzip-0", "gzip-1"]);
  });

  it("fails a real client's keyless send to a compacted topic with INVALID_RECORD, and accepts keyed records", async () => {
    const error: unknown = await producer.send({ topic: "compacted", messages: [{ value: "no key" }] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(protocolErrorType(error)).toBe("INVALID_RECORD");
    await producer.send({ topic: "compacted", messages: [{ key: "k", value: "keyed" }] });
    expect(await endOffsets("compacted", 1)).toEqual([1n]);
  });
});
