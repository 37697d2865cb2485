// Decodes the golden frames that real clients (kafkajs, librdkafka, Java kafka-clients) exchanged with Apache Kafka
// (broker/test/fixtures/golden, captured by e2e/golden-capture) and re-encodes them byte for byte; the produce path's
// validation accepts every batch they produced.
import { readdirSync, readFileSync } from "node:fs";
import { crc32c } from "@node-rs/crc32";
import { describe, expect, it } from "vitest";
import {
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  COMPRESSION_MASK,
  CRC_START,
  CompressionCodec,
  MAGIC_V2,
  codecsFor,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  parseRequestHeader,
  readBatchHeader,
  validateProduceRecords,
  type ApiVersionsRequest,
  type ApiVersionsResponse,
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  type FetchRequest,
  type FetchResponse,
  type FindCoordinatorRequest,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type MessageCodec,
  type MetadataResponse,
  type OffsetCommitRequest,
  type OffsetFetchRequest,
  ProduceRequest,
  type ProduceResponse,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from "../../src/protocol/index.ts";
import type { GoldenFixture } from "../fixtures/golden/fixture.ts";

interface Loaded {
  /** Directory under fixtures/golden: kafkajs, librdkafka or java. */
  family: string;
  file: string;
  fixture: GoldenFixture;
}

const goldenDir = new URL("../fixtures/golden/", import.meta.url);
const families = readdirSync(goldenDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const fixtures: Loaded[] = families.flatMap((family) =>
  readdirSync(new URL(`${family}/`, goldenDir))
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => ({
      family,
      file,
      fixture: JSON.parse(readFileSync(new URL(`${family}/${file}`, goldenDir), "utf8")) as GoldenFixture,
    })),
);

/** What ApiVersions v3+ requests carry as ClientSoftwareName (KIP-511). */
const SOFTWARE_NAME: Readonly<Record<string, string>> = {
  librdkafka: "confluent-kafka-python",
  java: "apache-kafka-java",
};

interface BatchSummary {
  codecs: string[];
  records: number;
}

/** Walks the v2 record batches of a records field, checking magic and CRC32C; a partial trailing batch is skipped. */
function summariseBatches(records: Buffer | null): BatchSummary {
  const summary: BatchSummary = { codecs: [], records: 0 };
  if (records === null) return summary;
  let offset = 0;
  while (records.length - offset >= BATCH_HEADER_SIZE) {
    const header = readBatchHeader(records, offset);
    const end = offset + BATCH_LOG_OVERHEAD + header.batchLength;
    if (end > records.length) break;
    expect(header.magic).toBe(MAGIC_V2);
    expect(crc32c(records.subarray(offset + CRC_START, end))).toBe(header.crc);
    expect(header.lastOffsetDelta).toBe(header.recordsCount - 1);
    const codec = CompressionCodec[header.attributes & COMPRESSION_MASK];
    summary.codecs.push(codec === undefined ? "unknown" : codec.toLowerCase());
    summary.records += header.recordsCount;
    offset = end;
  }
  return summary;
}

/** Checks the fields that say what the client meant: names, ids, codecs, error codes. */
function checkMeaning(family: string, f: GoldenFixture, request: unknown, response: unknown): void {
  const topic = `golden-${family}`;
  const group = `golden-${family}-group`;
  switch (f.apiKey) {
    case 0: {
      const req = request as ProduceRequest;
      const res = response as ProduceResponse;
      expect(req.topicData.map((t) => t.name)).toEqual([topic]);
      const partitions = req.topicData.flatMap((t) => t.partitionData);
      const batches = partitions.map((p) => summariseBatches(p.records));
      expect(batches.flatMap((b) => b.codecs)).toEqual(f.batchCodecs);
      // The drivers send 3 records per codec; a producer may split them over requests.
      const records = batches.reduce((n, b) => n + b.records, 0);
      expect(records >= 1 && records <= 3).toBe(true);
      expect(res.responses.flatMap((t) => t.partitionResponses.map((p) => p.errorCode))).toEqual([0]);
      break;
    }
    case 1: {
      const req = request as FetchRequest;
      const res = response as FetchResponse;
      if (f.apiVersion < 13) expect(req.topics.map((t) => t.topic)).toContain(topic);
      else expect(req.topics.every((t) => t.topicId !== undefined && /^[0-9a-f-]{36}$/i.test(t.topicId))).toBe(true);
      const partitions = res.responses.flatMap((t) => t.partitions);
      expect(partitions.every((p) => p.errorCode === 0)).toBe(true);
      const batches = partitions.map((p) => summariseBatches(p.records ?? null));
      expect(batches.flatMap((b) => b.codecs)).toEqual(f.batchCodecs);
      expect(batches.reduce((n, b) => n + b.records, 0)).toBeGreaterThan(0);
      break;
    }
    case 3: {
      const res = response as MetadataResponse;
      expect(res.brokers.map((b) => b.host)).toEqual(["127.0.0.1"]);
      expect(res.topics.map((t) => t.name)).toContain(topic);
      break;
    }
    case 8:
      expect((request as OffsetCommitRequest).groupId).toBe(group);
      expect((request as OffsetCommitRequest).topics.map((t) => t.name)).toEqual([topic]);
      break;
    case 9: {
      const req = request as OffsetFetchRequest;
      expect(f.apiVersion >= 8 ? req.groups?.map((g) => g.groupId) : [req.groupId]).toEqual([group]);
      break;
    }
    case 10: {
      const req = request as FindCoordinatorRequest;
      expect(f.apiVersion >= 4 ? req.coordinatorKeys : [req.key]).toEqual([group]);
      break;
    }
    case 11: {
      const req = request as JoinGroupRequest;
      const res = response as JoinGroupResponse;
      expect(req.groupId).toBe(group);
      expect(req.protocolType).toBe("consumer");
      expect(req.protocols.length).toBeGreaterThan(0);
      expect(res.errorCode).toBe(f.errorCode);
      if (res.errorCode === 0)
        expect(res.protocolName).toBe(req.protocols.find((p) => p.name === res.protocolName)?.name);
      break;
    }
    case 14: {
      const req = request as SyncGroupRequest;
      expect(req.groupId).toBe(group);
      expect((response as SyncGroupResponse).errorCode).toBe(0);
      break;
    }
    case 18: {
      const req = request as ApiVersionsRequest;
      const res = response as ApiVersionsResponse;
      const softwareName = SOFTWARE_NAME[family];
      if (f.apiVersion >= 3 && softwareName !== undefined) expect(req.clientSoftwareName).toBe(softwareName);
      expect(res.errorCode).toBe(f.errorCode);
      const produce = res.apiKeys.find((k) => k.apiKey === 0);
      expect(produce?.maxVersion).toBe(11);
      expect(res.apiKeys.some((k) => k.apiKey === 18)).toBe(true);
      break;
    }
    case 19: {
      const req = request as CreateTopicsRequest;
      expect(req.topics.map((t) => [t.name, t.numPartitions])).toEqual([[topic, 1]]);
      expect((response as CreateTopicsResponse).topics.map((t) => [t.name, t.errorCode])).toEqual([[topic, 0]]);
      break;
    }
    case 22: {
      const res = response as InitProducerIdResponse;
      expect((request as InitProducerIdRequest).transactionalId).toBeNull();
      expect(res.errorCode).toBe(f.errorCode);
      if (res.errorCode === 0) expect(res.producerId).toBeGreaterThanOrEqual(0n);
      break;
    }
    default:
      throw new Error(`no checks for API ${f.apiKey} (${f.apiName})`);
  }
}

describe("golden frames from real clients", () => {
  it("has fixtures from the three client families", () => {
    expect(families).toEqual(["java", "kafkajs", "librdkafka"]);
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
  });

  it.each(fixtures.map((l) => [`${l.family}/${l.file}`, l] as const))("%s", (_name, { family, fixture: f }) => {
    const codecs = codecsFor(f.apiKey);
    if (codecs === undefined) throw new Error(`no codecs for API ${f.apiKey}`);
    expect(codecs.name).toBe(f.apiName);

    const requestFrame = Buffer.from(f.request, "hex");
    const { header, body } = parseRequestHeader(requestFrame);
    expect(header.requestApiKey).toBe(f.apiKey);
    expect(header.requestApiVersion).toBe(f.apiVersion);
    expect(header.correlationId).toBe(f.correlationId);
    expect(header.clientId).toBe(f.clientId);
    expect(header.clientId).toMatch(new RegExp(`^golden-${family}`));
    expect(header.unknownTaggedFields).toBeUndefined();
    // Each fixture picks its codec at run time, so the test works with them untyped.
    const requestCodec = codecs.request as unknown as MessageCodec<unknown>;
    const responseCodec = codecs.response as unknown as MessageCodec<unknown>;
    const request = requestCodec.read(body, f.apiVersion);
    body.expectEnd(requestCodec.name);

    const responseFrame = Buffer.from(f.response, "hex");
    const response = decodeResponse(responseFrame, f.apiKey, f.apiVersion, responseCodec);
    expect(response.correlationId).toBe(f.correlationId);

    checkMeaning(family, f, request, response.body);

    // Real clients and Kafka write canonical encodings (shortest varints, tags in order), so re-encoding is exact.
    const requestHeader = { apiKey: f.apiKey, apiVersion: f.apiVersion, correlationId: f.correlationId };
    const encodedRequest = encodeRequest({ ...requestHeader, clientId: f.clientId }, requestCodec, request);
    expect(encodedRequest.toString("hex")).toBe(f.request);
    const encodedResponse = encodeResponse(f.apiKey, f.apiVersion, f.correlationId, responseCodec, response.body);
    expect(encodedResponse.toString("hex")).toBe(f.response);
  });

  it("passes every produced batch through the produce path's validation (every codec, every record walked)", async () => {
    const produces = fixtures.filter((l) => l.fixture.apiKey === ProduceRequest.apiKey);
    expect(produces.length).toBeGreaterThanOrEqual(13);
    for (const { family, file, fixture: f } of produces) {
      const { body } = parseRequestHeader(Buffer.from(f.request, "hex"));
      const request = ProduceRequest.read(body, f.apiVersion);
      for (const partition of request.topicData.flatMap((t) => t.partitionData)) {
        if (partition.records === null) continue;
        const verdict = await validateProduceRecords(partition.records, { requireKeys: false });
        expect(verdict.ok ? "ok" : verdict.message, `${family}/${file}`).toBe("ok");
      }
    }
  });
});
