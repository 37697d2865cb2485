import { describe, expect, it } from "vitest";
import {
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  MetadataRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  encodeResponseChunks,
  FetchResponse,
  parseRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from "../../src/protocol/index.ts";

describe("frame headers", () => {
  it("derives header versions from body flexibility", () => {
    expect(requestHeaderVersion(ApiKey.Metadata, 8)).toBe(1);
    expect(requestHeaderVersion(ApiKey.Metadata, 9)).toBe(2);
    expect(responseHeaderVersion(ApiKey.Metadata, 9)).toBe(1);
    expect(responseHeaderVersion(ApiKey.Metadata, 8)).toBe(0);
  });

  it("always answers ApiVersions with response header v0", () => {
    expect(responseHeaderVersion(ApiKey.ApiVersions, 3)).toBe(0);
    const body = { ...ApiVersionsResponse.create(), apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }] };
    const frame = encodeResponse(ApiKey.ApiVersions, 3, 77, ApiVersionsResponse, body);
    // Header v0 is the correlation id alone; a flexible header would add a tag byte before the body.
    expect(frame.readInt32BE(0)).toBe(77);
    expect(frame.readInt16BE(4)).toBe(0); // error code starts right after
    expect(decodeResponse(frame, ApiKey.ApiVersions, 3, ApiVersionsResponse).body.apiKeys).toHaveLength(1);
  });

  it("writes the request header's client id as a classic string even in header v2", () => {
    const frame = encodeRequest(
      { apiKey: ApiKey.Metadata, apiVersion: 12, correlationId: 5, clientId: "abc" },
      MetadataRequest,
      { ...MetadataRequest.create(), topics: null },
    );
    // api key, version, correlation id, then int16 length 3 (not a compact varint 4), "abc", then an empty tag section.
    expect(frame.subarray(8, 13)).toEqual(Buffer.from([0, 3, 0x61, 0x62, 0x63]));
    expect(frame[13]).toBe(0);
    const parsed = parseRequestHeader(frame);
    expect(parsed.headerVersion).toBe(2);
    expect(parsed.header.clientId).toBe("abc");
    expect(parsed.header.correlationId).toBe(5);
    expect(MetadataRequest.read(parsed.body, 12).topics).toBeNull();
  });

  it("parses the header of an ApiVersions request newer than we know", () => {
    const frame = encodeRequest(
      { apiKey: ApiKey.ApiVersions, apiVersion: 4, correlationId: 9, clientId: "x" },
      ApiVersionsRequest,
      { clientSoftwareName: "n", clientSoftwareVersion: "1" },
    );
    frame.writeInt16BE(99, 2);
    const parsed = parseRequestHeader(frame);
    expect(parsed.header.requestApiVersion).toBe(99);
    expect(parsed.header.correlationId).toBe(9);
  });
});

describe("controller listener frames", () => {
  it("use the flexible headers for Vote, whose every version is flexible", () => {
    expect(requestHeaderVersion(ApiKey.Vote, 0)).toBe(2);
    expect(responseHeaderVersion(ApiKey.Vote, 2)).toBe(1);
    expect(requestHeaderVersion(ApiKey.BeginQuorumEpoch, 0)).toBe(1);
    expect(requestHeaderVersion(ApiKey.BeginQuorumEpoch, 1)).toBe(2);
  });
});

describe("encodeResponseChunks", () => {
  const records = (n: number, fill: number) => Buffer.alloc(n, fill);
  const fetchBody = (a: Buffer, b: Buffer): FetchResponse => ({
    ...FetchResponse.create(),
    responses: [
      {
        topic: "t",
        topicId: "00000000-0000-0000-0000-000000000000",
        partitions: [a, b].map((r, i) => ({
          partitionIndex: i,
          errorCode: 0,
          highWatermark: 10n,
          lastStableOffset: 10n,
          logStartOffset: 0n,
          abortedTransactions: null,
          preferredReadReplica: -1,
          records: r,
        })),
      },
    ],
  });

  it("gives the same bytes as encodeResponse, with the values sent by reference as chunks of their own", () => {
    for (const version of [4, 12, 16]) {
      const a = records(3000, 1);
      const b = records(70_000, 2);
      const body = fetchBody(a, b);
      const chunks = encodeResponseChunks(ApiKey.Fetch, version, 9, FetchResponse, body, new Set([a, b]));
      expect(Buffer.concat(chunks)).toEqual(encodeResponse(ApiKey.Fetch, version, 9, FetchResponse, body));
      // By reference: the very buffers, not copies.
      expect(chunks.filter((c) => c === a || c === b)).toHaveLength(2);
      expect(chunks.reduce((n, c) => n + c.length, 0) - a.length - b.length).toBeLessThan(200);
    }
  });

  it("falls back to one buffer when a value given is not written once", () => {
    const a = records(500, 1);
    const body = fetchBody(a, a);
    const whole = encodeResponse(ApiKey.Fetch, 12, 9, FetchResponse, body);
    // Written twice but counted once.
    const twice = encodeResponseChunks(ApiKey.Fetch, 12, 9, FetchResponse, body, new Set([a]));
    expect(twice).toHaveLength(1);
    expect(twice[0]).toEqual(whole);
    // Not in the message at all.
    const stranger = encodeResponseChunks(ApiKey.Fetch, 12, 9, FetchResponse, body, new Set([records(100, 3)]));
    expect(stranger).toHaveLength(1);
    expect(stranger[0]).toEqual(whole);
  });
});
