import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, EncodeError } from "../../../src/protocol/primitives/index.ts";
import {
  BATCH_HEADER_SIZE,
  BATCH_OFFSET,
  CompressionCodec,
  DecompressedSizeError,
  decodeRecordBatch,
  decodeRecordBatchAsync,
  encodeRecordBatch,
  encodeRecordBatchAsync,
  readBatchHeader,
  setBaseOffset,
  setLogAppendTime,
  setMaxTimestamp,
  setPartitionLeaderEpoch,
  verifyBatchCrc,
  type BatchInput,
  type RecordBatch,
} from "../../../src/protocol/records/index.ts";

const CODECS = [
  CompressionCodec.None,
  CompressionCodec.Gzip,
  CompressionCodec.Snappy,
  CompressionCodec.Lz4,
  CompressionCodec.Zstd,
] as const;

const T0 = 1_700_000_000_000n;

function sampleInput(compression: CompressionCodec): BatchInput {
  return {
    compression,
    baseOffset: 42n,
    partitionLeaderEpoch: 7,
    producerId: 1234n,
    producerEpoch: 3,
    baseSequence: 99,
    transactional: true,
    records: [
      { key: Buffer.from("k1"), value: Buffer.from("v1"), timestamp: T0 },
      { key: null, value: Buffer.from("v2".repeat(500)), timestamp: T0 + 5n, headers: [{ key: "h", value: null }] },
      {
        value: null,
        timestamp: T0 - 3n,
        headers: [
          { key: "trace-id", value: Buffer.from([1, 2, 3]) },
          { key: "ünïcode", value: Buffer.alloc(0) },
        ],
      },
    ],
  };
}

function text(value: Buffer | null): string | null {
  return value === null ? null : value.toString();
}

describe("record batch v2 encode/decode", () => {
  it.each(CODECS)("round-trips header fields and records with codec %i", async (codec) => {
    const input = sampleInput(codec);
    const batch = encodeRecordBatch(input);
    expect(verifyBatchCrc(batch)).toBe(true);
    for (const decoded of [decodeRecordBatch(batch), await decodeRecordBatchAsync(batch)]) {
      const h = decoded.header;
      expect(h.baseOffset).toBe(42n);
      expect(h.batchLength).toBe(batch.length - 12);
      expect(h.partitionLeaderEpoch).toBe(7);
      expect(h.magic).toBe(2);
      expect(h.lastOffsetDelta).toBe(2);
      expect(h.baseTimestamp).toBe(T0);
      expect(h.maxTimestamp).toBe(T0 + 5n);
      expect(h.producerId).toBe(1234n);
      expect(h.producerEpoch).toBe(3);
      expect(h.baseSequence).toBe(99);
      expect(h.recordsCount).toBe(3);
      expect(decoded.compression).toBe(codec);
      expect(decoded.transactional).toBe(true);
      expect(decoded.control).toBe(false);
      expect(decoded.timestampType).toBe("create");
      expect(decoded.records.map((r) => [r.offset, r.offsetDelta, r.timestamp, r.timestampDelta])).toEqual([
        [42n, 0, T0, 0n],
        [43n, 1, T0 + 5n, 5n],
        [44n, 2, T0 - 3n, -3n],
      ]);
      expect(decoded.records.map((r) => [text(r.key), text(r.value)])).toEqual([
        ["k1", "v1"],
        [null, "v2".repeat(500)],
        [null, null],
      ]);
      expect(decoded.records[1]?.headers.map((x) => [x.key, x.value])).toEqual([["h", null]]);
      expect(decoded.records[2]?.headers.map((x) => [x.key, [...(x.value ?? [])]])).toEqual([
        ["trace-id", [1, 2, 3]],
        ["ünïcode", []],
      ]);
    }
    const viaAsync = await encodeRecordBatchAsync(input);
    expect(decodeRecordBatch(viaAsync).records.map((r) => text(r.value))).toEqual(["v1", "v2".repeat(500), null]);
  });

  it("writes the documented header layout and defaults", () => {
    const batch = encodeRecordBatch({ records: [{ value: Buffer.from("x") }] });
    expect(batch.readBigInt64BE(BATCH_OFFSET.baseOffset)).toBe(0n);
    expect(batch.readInt32BE(BATCH_OFFSET.batchLength)).toBe(batch.length - 12);
    expect(batch.readInt32BE(BATCH_OFFSET.partitionLeaderEpoch)).toBe(-1);
    expect(batch.readInt8(BATCH_OFFSET.magic)).toBe(2);
    expect(batch.readInt16BE(BATCH_OFFSET.attributes)).toBe(0);
    expect(batch.readBigInt64BE(BATCH_OFFSET.producerId)).toBe(-1n);
    expect(batch.readInt16BE(BATCH_OFFSET.producerEpoch)).toBe(-1);
    expect(batch.readInt32BE(BATCH_OFFSET.baseSequence)).toBe(-1);
    // One record: length 7, attributes 0, timestampDelta 0, offsetDelta 0, key null, value "x", no headers.
    expect([...batch.subarray(BATCH_HEADER_SIZE)]).toEqual([0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, 0x78, 0x00]);
  });

  it("sets the attribute bits for codec, timestamp type, transactional and control", () => {
    const attributes = (input: Omit<BatchInput, "records">): number =>
      readBatchHeader(encodeRecordBatch({ ...input, records: [{ value: null }] })).attributes;
    expect(attributes({ compression: CompressionCodec.Zstd })).toBe(4);
    expect(attributes({ timestampType: "log-append" })).toBe(0x08);
    expect(attributes({ transactional: true })).toBe(0x10);
    expect(attributes({ control: true })).toBe(0x20);
    expect(attributes({ compression: CompressionCodec.Lz4, transactional: true, control: true })).toBe(0x33);
  });

  it("honours explicit deltas, record attributes and timestamps", () => {
    const batch = encodeRecordBatch({
      baseTimestamp: 1000n,
      maxTimestamp: 5000n,
      records: [
        { offsetDelta: 0, timestampDelta: 10n, attributes: 0 },
        { offsetDelta: 4, timestampDelta: 2000n },
      ],
    });
    const decoded = decodeRecordBatch(batch);
    expect(decoded.header.lastOffsetDelta).toBe(4);
    expect(decoded.header.maxTimestamp).toBe(5000n);
    expect(decoded.records.map((r) => [r.offsetDelta, r.timestamp])).toEqual([
      [0, 1010n],
      [4, 3000n],
    ]);
  });

  it("refuses to encode an empty batch", () => {
    expect(() => encodeRecordBatch({ records: [] })).toThrow(EncodeError);
  });

  it("returns keys and values of an uncompressed batch as views, without copying", () => {
    const batch = encodeRecordBatch({ records: [{ key: Buffer.from("key"), value: Buffer.from("value") }] });
    const record = decodeRecordBatch(batch).records[0];
    expect(record?.value?.buffer).toBe(batch.buffer);
    expect(record?.key?.buffer).toBe(batch.buffer);
    batch[batch.length - 2] = "X".charCodeAt(0);
    expect(text(record?.value ?? null)).toBe("valuX");
  });

  it("gives every record maxTimestamp under LogAppendTime", () => {
    const batch = encodeRecordBatch({
      timestampType: "log-append",
      maxTimestamp: 777n,
      records: [{ timestamp: 1n }, { timestamp: 2n }],
    });
    const decoded = decodeRecordBatch(batch);
    expect(decoded.timestampType).toBe("log-append");
    expect(decoded.records.map((r) => r.timestamp)).toEqual([777n, 777n]);
  });

  it("bounds decompression with maxDecompressedBytes", () => {
    const batch = encodeRecordBatch({
      compression: CompressionCodec.Zstd,
      records: [{ value: Buffer.alloc(2 * 1024 * 1024) }],
    });
    expect(() => decodeRecordBatch(batch, { maxDecompressedBytes: 1024 * 1024 })).toThrow(DecompressedSizeError);
    expect(decodeRecordBatch(batch).records[0]?.value?.length).toBe(2 * 1024 * 1024);
  });

  it("rejects a bad CRC unless asked not to check", () => {
    const batch = encodeRecordBatch(sampleInput(CompressionCodec.None));
    batch.writeUInt8((batch.readUInt8(BATCH_HEADER_SIZE + 100) ^ 0xff) & 0xff, BATCH_HEADER_SIZE + 100); // inside the second record's value
    expect(() => decodeRecordBatch(batch)).toThrow(/CRC/);
    expect(decodeRecordBatch(batch, { verifyCrc: false }).records).toHaveLength(3);
  });

  it("rejects inconsistent framing, magic and counts", () => {
    const good = encodeRecordBatch(sampleInput(CompressionCodec.None));
    expect(() => decodeRecordBatch(good.subarray(0, good.length - 1))).toThrow(DecodeError);
    expect(() => decodeRecordBatch(Buffer.concat([good, Buffer.alloc(1)]))).toThrow(DecodeError);
    const magic = Buffer.from(good);
    magic.writeInt8(1, BATCH_OFFSET.magic);
    expect(() => decodeRecordBatch(magic, { verifyCrc: false })).toThrow(/magic/);
    const tooMany = Buffer.from(good);
    tooMany.writeInt32BE(4, BATCH_OFFSET.recordsCount);
    expect(() => decodeRecordBatch(tooMany, { verifyCrc: false })).toThrow(DecodeError);
    const tooFew = Buffer.from(good);
    tooFew.writeInt32BE(2, BATCH_OFFSET.recordsCount);
    expect(() => decodeRecordBatch(tooFew, { verifyCrc: false })).toThrow(/trailing/);
  });
});

describe("in-place patching", () => {
  it("sets baseOffset and partitionLeaderEpoch without touching the CRC", () => {
    const batch = encodeRecordBatch(sampleInput(CompressionCodec.Lz4));
    const crc = batch.readUInt32BE(BATCH_OFFSET.crc);
    const tail = Buffer.from(batch.subarray(BATCH_OFFSET.magic));
    setBaseOffset(batch, 1_000_000_000_000n);
    setPartitionLeaderEpoch(batch, 12);
    expect(batch.readUInt32BE(BATCH_OFFSET.crc)).toBe(crc);
    expect(batch.subarray(BATCH_OFFSET.magic).equals(tail)).toBe(true);
    expect(verifyBatchCrc(batch)).toBe(true);
    const decoded = decodeRecordBatch(batch);
    expect(decoded.header.partitionLeaderEpoch).toBe(12);
    expect(decoded.records.map((r) => r.offset)).toEqual([1_000_000_000_000n, 1_000_000_000_001n, 1_000_000_000_002n]);
  });

  it("patches a batch in place inside a larger buffer", () => {
    const batch = encodeRecordBatch(sampleInput(CompressionCodec.None));
    const log = Buffer.concat([Buffer.alloc(5), batch, Buffer.alloc(5)]);
    setBaseOffset(log.subarray(5, 5 + batch.length), 9n);
    expect(log.readBigInt64BE(5)).toBe(9n);
  });

  it("sets LogAppendTime and maxTimestamp, keeping the CRC valid", () => {
    const batch = encodeRecordBatch(sampleInput(CompressionCodec.Snappy));
    const before = batch.readUInt32BE(BATCH_OFFSET.crc);
    setLogAppendTime(batch, 1_800_000_000_000n);
    expect(batch.readUInt32BE(BATCH_OFFSET.crc)).not.toBe(before);
    expect(verifyBatchCrc(batch)).toBe(true);
    const decoded = decodeRecordBatch(batch);
    expect(decoded.timestampType).toBe("log-append");
    expect(decoded.transactional).toBe(true);
    expect(decoded.compression).toBe(CompressionCodec.Snappy);
    expect(decoded.header.maxTimestamp).toBe(1_800_000_000_000n);
    expect(decoded.records.every((r) => r.timestamp === 1_800_000_000_000n)).toBe(true);

    setMaxTimestamp(batch, 5n);
    expect(verifyBatchCrc(batch)).toBe(true);
    expect(decodeRecordBatch(batch).header.maxTimestamp).toBe(5n);
  });

  it("refuses to patch something shorter than a header", () => {
    expect(() => setBaseOffset(Buffer.alloc(10), 1n)).toThrow(DecodeError);
  });
});

const bytesArb = fc.option(
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  { nil: null },
);
const inputArb: fc.Arbitrary<BatchInput> = fc.record({
  compression: fc.constantFrom(...CODECS),
  baseOffset: fc.bigInt({ min: 0n, max: 2n ** 62n }),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  producerId: fc.bigInt({ min: -1n, max: 2n ** 62n }),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  transactional: fc.boolean(),
  timestampType: fc.constantFrom("create" as const, "log-append" as const),
  baseTimestamp: fc.bigInt({ min: 0n, max: 2n ** 50n }),
  records: fc.array(
    fc.record({
      key: bytesArb,
      value: bytesArb,
      timestampDelta: fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
      headers: fc.array(fc.record({ key: fc.string({ maxLength: 10 }), value: bytesArb }), { maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

function plain(batch: RecordBatch): unknown {
  return batch.records.map((r) => ({
    offsetDelta: r.offsetDelta,
    timestampDelta: r.timestampDelta,
    key: r.key && [...r.key],
    value: r.value && [...r.value],
    headers: r.headers.map((h) => ({ key: h.key, value: h.value && [...h.value] })),
  }));
}

describe("record batch properties", () => {
  it("decode(encode(x)) gives back x", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const batch = encodeRecordBatch(input);
        const decoded = decodeRecordBatch(batch);
        expect(decoded.header.recordsCount).toBe(input.records.length);
        expect(decoded.header.lastOffsetDelta).toBe(input.records.length - 1);
        expect(decoded.header.baseOffset).toBe(input.baseOffset);
        expect(decoded.header.producerId).toBe(input.producerId);
        expect(decoded.compression).toBe(input.compression);
        expect(decoded.timestampType).toBe(input.timestampType);
        expect(plain(decoded)).toEqual(
          input.records.map((r, i) => ({
            offsetDelta: i,
            timestampDelta: r.timestampDelta,
            key: r.key && [...r.key],
            value: r.value && [...r.value],
            headers: (r.headers ?? []).map((h) => ({ key: h.key, value: h.value && [...h.value] })),
          })),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("decoding random, truncated or mutated bytes raises only DecodeError", async () => {
    const seeds = CODECS.map((codec) => encodeRecordBatch(sampleInput(codec)));
    const mutate = fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1 }),
      )
      .map(([seed, flips]) => {
        const copy = Buffer.from(seed);
        for (const [at, xor] of flips) copy[at % copy.length] = (copy[at % copy.length] ?? 0) ^ xor;
        return copy;
      });
    const truncate = fc
      .tuple(fc.constantFrom(...seeds), fc.nat())
      .map(([seed, n]) => seed.subarray(0, n % seed.length));
    const random = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutate, truncate, random), fc.boolean(), async (bytes, verifyCrc) => {
        for (const run of [
          () => decodeRecordBatch(bytes, { verifyCrc, maxDecompressedBytes: 1 << 20 }),
          () => decodeRecordBatchAsync(bytes, { verifyCrc, maxDecompressedBytes: 1 << 20 }),
        ]) {
          try {
            await run();
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});
