// Chooses the interesting exchanges of a capture and turns them into fixtures. This is deliberately independent of the
// broker's protocol library (which the fixtures exist to test): it reads only the request/response headers and finds
// record batches by scanning for a magic-2 header whose CRC32C checks out.
import type { GoldenFixture } from "../../broker/test/fixtures/golden/fixture.ts";
import type { Exchange } from "./proxy.ts";

export const API_NAMES: Readonly<Record<number, string>> = {
  0: "Produce",
  1: "Fetch",
  3: "Metadata",
  8: "OffsetCommit",
  9: "OffsetFetch",
  10: "FindCoordinator",
  11: "JoinGroup",
  14: "SyncGroup",
  18: "ApiVersions",
  19: "CreateTopics",
  22: "InitProducerId",
};

/** First flexible version per API (Kafka's message JSON `flexibleVersions`), for the response header length. */
const FIRST_FLEXIBLE: Readonly<Record<number, number>> = {
  0: 9,
  1: 12,
  3: 9,
  8: 8,
  9: 6,
  10: 3,
  11: 6,
  14: 4,
  19: 5,
  22: 2,
};

export const CODEC_NAMES = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Codecs of the v2 record batches found in a frame: a batch is recognised by magic 2 and a matching CRC32C. */
export function scanBatchCodecs(frame: Buffer): string[] {
  const codecs: string[] = [];
  let i = 0;
  while (i + 61 <= frame.length) {
    const batchLength = frame.readInt32BE(i + 8);
    const end = i + 12 + batchLength;
    if (frame[i + 16] === 2 && batchLength >= 49 && end <= frame.length) {
      if (frame.readUInt32BE(i + 17) === crc32c(frame.subarray(i + 21, end))) {
        codecs.push(CODEC_NAMES[frame.readInt16BE(i + 21) & 7] ?? "unknown");
        i = end;
        continue;
      }
    }
    i++;
  }
  return codecs;
}

/** The response's top-level error code, for APIs where it sits at a fixed offset (ApiVersions; JoinGroup v2+ and
 * InitProducerId after the throttle time). */
function leadingErrorCode(exchange: Exchange, response: Buffer): number | undefined {
  if (exchange.apiKey === 18) return response.readInt16BE(4);
  if ((exchange.apiKey === 11 && exchange.apiVersion >= 2) || exchange.apiKey === 22) {
    const header = exchange.apiVersion >= (FIRST_FLEXIBLE[exchange.apiKey] ?? 99) ? 5 : 4;
    return response.readInt16BE(header + 4);
  }
  return undefined;
}

const ERROR_SUFFIX: Readonly<Record<number, string>> = {
  14: "coordinator-load-in-progress",
  16: "not-coordinator",
  35: "unsupported-version",
  79: "member-id-required",
};

/**
 * One fixture per (API, version, codecs, error variant): Produce keyed by request codecs, Fetch only with records and
 * keyed by response codecs, Metadata the largest response per version, everything else the first exchange.
 */
export function selectFixtures(client: string, exchanges: readonly Exchange[]): Map<string, GoldenFixture> {
  const chosen = new Map<string, GoldenFixture>();
  for (const exchange of exchanges) {
    const apiName = API_NAMES[exchange.apiKey];
    const response = exchange.response;
    if (apiName === undefined || response === null) continue;
    const parts = [apiName.toLowerCase(), `v${exchange.apiVersion}`];
    let batchCodecs: string[] | undefined;
    if (exchange.apiKey === 0) batchCodecs = scanBatchCodecs(exchange.request);
    if (exchange.apiKey === 1) batchCodecs = scanBatchCodecs(response);
    if (batchCodecs !== undefined) {
      if (batchCodecs.length === 0) continue;
      parts.push(...new Set(batchCodecs));
    }
    const errorCode = leadingErrorCode(exchange, response);
    if (errorCode !== undefined && errorCode !== 0) parts.push(ERROR_SUFFIX[errorCode] ?? `error-${errorCode}`);
    const name = parts.join("-");
    const previous = chosen.get(name);
    if (previous !== undefined && !(exchange.apiKey === 3 && response.length * 2 > previous.response.length)) continue;
    chosen.set(name, {
      client,
      clientId: exchange.clientId,
      apiKey: exchange.apiKey,
      apiName,
      apiVersion: exchange.apiVersion,
      correlationId: exchange.correlationId,
      ...(batchCodecs === undefined ? {} : { batchCodecs }),
      ...(errorCode === undefined ? {} : { errorCode }),
      ...(exchange.rewritten === undefined ? {} : { rewritten: exchange.rewritten }),
      request: exchange.request.toString("hex"),
      response: response.toString("hex"),
    });
  }
  return chosen;
}
