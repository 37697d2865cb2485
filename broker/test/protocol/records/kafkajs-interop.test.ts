import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import {
  CompressionCodec,
  decodeRecordBatch,
  encodeRecordBatch,
  validateBatch,
} from "../../../src/protocol/records/index.ts";

// kafkajs is a dependency of the e2e workspace (for golden-frame capture); npm hoists it, so its own record batch
// encoder and decoder serve as an independent implementation. Skipped if it is ever not installed.
const require = createRequire(import.meta.url);
function resolvable(id: string): boolean {
  try {
    require.resolve(id);
    return true;
  } catch {
    return false;
  }
}
const available = resolvable("kafkajs/src/protocol/recordBatch/v0/index.js") && resolvable("kafkajs-snappy");

interface KafkajsEncoder {
  readonly buffer: Buffer;
}
interface KafkajsLong {
  fromValue(value: string | number): unknown;
}
interface KafkajsRecord {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | null>>;
}
interface KafkajsBatch {
  readonly firstOffset: string;
  readonly producerId: string;
  readonly inTransaction: boolean;
  readonly records: readonly KafkajsRecord[];
}
interface KafkajsCodec {
  compress(encoder: KafkajsEncoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

function load(): {
  Long: KafkajsLong;
  RecordBatch: (options: object) => Promise<KafkajsEncoder>;
  Record: (options: object) => KafkajsEncoder;
  decodeBatch: (buffer: Buffer) => Promise<KafkajsBatch>;
} {
  const base = "kafkajs/src/protocol/";
  const Decoder = require(`${base}decoder.js`) as new (buffer: Buffer) => unknown;
  const decoder = require(`${base}recordBatch/v0/decoder.js`) as (d: unknown) => Promise<KafkajsBatch>;
  // kafkajs leaves snappy to a plugin; kafkajs-snappy writes raw snappy and reads both raw and xerial.
  const compression = require(`${base}message/compression/index.js`) as { Codecs: Record<number, () => KafkajsCodec> };
  compression.Codecs[CompressionCodec.Snappy] = require("kafkajs-snappy") as () => KafkajsCodec;
  return {
    Long: require("kafkajs/src/utils/long.js") as KafkajsLong,
    RecordBatch: (require(`${base}recordBatch/v0/index.js`) as { RecordBatch: (o: object) => Promise<KafkajsEncoder> })
      .RecordBatch,
    Record: require(`${base}recordBatch/record/v0/index.js`) as (o: object) => KafkajsEncoder,
    decodeBatch: (buffer) => decoder(new Decoder(buffer)),
  };
}

const T0 = 1_700_000_000_000;

describe.skipIf(!available)("interop with kafkajs' record batch codec", () => {
  it.each([CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy])(
    "decodes a batch kafkajs encoded with codec %i",
    async (codec) => {
      const kafkajs = load();
      const records = [
        kafkajs.Record({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from("k0"), value: Buffer.from("v0") }),
        kafkajs.Record({
          offsetDelta: 1,
          timestampDelta: 12,
          key: null,
          value: Buffer.from("v1".repeat(100)),
          headers: { trace: Buffer.from("abc") },
        }),
      ];
      const encoded = await kafkajs.RecordBatch({
        compression: codec,
        firstOffset: kafkajs.Long.fromValue(0),
        firstTimestamp: T0,
        maxTimestamp: T0 + 12,
        lastOffsetDelta: 1,
        producerId: kafkajs.Long.fromValue(5),
        producerEpoch: 1,
        firstSequence: 10,
        records,
      });
      const batch = encoded.buffer;
      expect(validateBatch(batch, { fromClient: true }).ok).toBe(true);
      const decoded = decodeRecordBatch(batch);
      expect(decoded.compression).toBe(codec);
      expect(decoded.header.producerId).toBe(5n);
      expect(decoded.header.baseSequence).toBe(10);
      expect(
        decoded.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString()]),
      ).toEqual([
        [0n, BigInt(T0), "k0", "v0"],
        [1n, BigInt(T0 + 12), null, "v1".repeat(100)],
      ]);
      expect(decoded.records[1]?.headers.map((h) => [h.key, h.value?.toString()])).toEqual([["trace", "abc"]]);
    },
  );

  it.each([CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy])(
    "kafkajs decodes a batch we encoded with codec %i",
    async (codec) => {
      const kafkajs = load();
      const batch = encodeRecordBatch({
        compression: codec,
        baseOffset: 100n,
        producerId: 9n,
        transactional: true,
        records: [
          { key: Buffer.from("a"), value: Buffer.from("1"), timestamp: BigInt(T0) },
          { key: null, value: Buffer.from("2"), timestamp: BigInt(T0 + 1), headers: [{ key: "h", value: null }] },
        ],
      });
      const decoded = await kafkajs.decodeBatch(batch);
      expect(decoded.firstOffset).toBe("100");
      expect(decoded.producerId).toBe("9");
      expect(decoded.inTransaction).toBe(true);
      expect(
        decoded.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString()]),
      ).toEqual([
        ["100", String(T0), "a", "1"],
        ["101", String(T0 + 1), null, "2"],
      ]);
      expect(decoded.records[1]?.headers).toEqual({ h: null });
    },
  );
});
