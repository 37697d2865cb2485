import fc from "fast-check";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { Writer, sizeOfVarint } from "../../../src/protocol/primitives/index.ts";
import {
  BATCH_HEADER_SIZE,
  CompressionCodec,
  RecordErrorCode,
  RecordWalker,
  compress,
  decodeRecordBatch,
  encodeRecordBatch,
  readBatchHeader,
  validateProduceRecords,
  walkBatchRecords,
  type RecordsVerdict,
} from "../../../src/protocol/records/index.ts";
import { forgeBatch } from "./forged-batch.ts";

// The record walker against hand-built records that lie about their structure, as an attacker or a broken client
// would send them: each test builds a batch whose CRC is right, so only the walk can refuse it.

const CODECS = Object.values(CompressionCodec).filter((c): c is CompressionCodec => typeof c === "number");

interface RawRecord {
  offsetDelta: number;
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: Array<{ key: Buffer; value: Buffer | null }>;
  /** Lies, written instead of the true values. */
  lengthDelta?: number;
  keyLength?: number;
  valueLength?: number;
  headerCount?: number;
  headerKeyLength?: number;
}

function bytesField(w: Writer, value: Buffer | null | undefined, lie: number | undefined): void {
  w.varint(lie ?? (value == null ? -1 : value.length));
  if (value != null) w.raw(value);
}

/** One record as Kafka writes it, except for whichever length or count the caller makes lie. */
function rawRecord(r: RawRecord): Buffer {
  const key = r.key === undefined ? Buffer.from(`k${r.offsetDelta}`) : r.key;
  const value = r.value === undefined ? Buffer.from(`v${r.offsetDelta}`) : r.value;
  const headers = r.headers ?? [];
  const room = headers.reduce((n, h) => n + h.key.length + (h.value?.length ?? 0), 64);
  const body = Writer.alloc(room + (key?.length ?? 0) + (value?.length ?? 0) + 10 * headers.length);
  body.int8(0);
  body.varlong(0n);
  body.varint(r.offsetDelta);
  bytesField(body, key, r.keyLength);
  bytesField(body, value, r.valueLength);
  body.varint(r.headerCount ?? headers.length);
  headers.forEach((h, i) => {
    bytesField(body, h.key, i === 0 ? r.headerKeyLength : undefined);
    bytesField(body, h.value, undefined);
  });
  const length = body.offset + (r.lengthDelta ?? 0);
  const out = Writer.alloc(sizeOfVarint(length) + body.offset);
  out.varint(length);
  out.raw(body.buf.subarray(0, body.offset));
  return out.buf;
}

function records(n: number, change: (r: RawRecord) => RawRecord = (r) => r): Buffer {
  return Buffer.concat(Array.from({ length: n }, (_, i) => rawRecord(change({ offsetDelta: i }))));
}

/** A batch around `section`, compressed with `codec` unless `payload` gives the section's bytes as sent. */
function batchAround(
  section: Buffer,
  count: number,
  options: { codec?: CompressionCodec; lastOffsetDelta?: number; payload?: Buffer } = {},
): Buffer {
  const codec = options.codec ?? CompressionCodec.None;
  const payload = options.payload ?? (codec === CompressionCodec.None ? section : compress(codec, section));
  return forgeBatch(payload, count, { codec, lastOffsetDelta: options.lastOffsetDelta });
}

function walk(batch: Buffer, requireKeys = false, maxDecompressedBytes = 64 << 20): Promise<RecordsVerdict> {
  return walkBatchRecords(batch, readBatchHeader(batch), { requireKeys, maxDecompressedBytes });
}

function walkSection(section: Buffer, count: number, requireKeys = false): RecordsVerdict {
  const walker = new RecordWalker(count, requireKeys);
  walker.push(section);
  return walker.finish();
}

function refusal(verdict: RecordsVerdict): { code: number; message: string } | null {
  return verdict.ok ? null : { code: verdict.errorCode, message: verdict.message };
}

describe("RecordWalker", () => {
  it("accepts well-formed records of every shape: null and empty keys, values and header values", () => {
    const section = Buffer.concat([
      rawRecord({ offsetDelta: 0 }),
      rawRecord({ offsetDelta: 1, key: null, value: null }),
      rawRecord({ offsetDelta: 2, key: Buffer.alloc(0), value: Buffer.alloc(0) }),
      rawRecord({
        offsetDelta: 3,
        headers: [
          { key: Buffer.from("h1"), value: Buffer.from("x") },
          { key: Buffer.alloc(0), value: null },
        ],
      }),
      rawRecord({ offsetDelta: 4, value: Buffer.alloc(100_000, 7) }),
    ]);
    expect(walkSection(section, 5)).toEqual({ ok: true });
  });

  it("accepts what the encoder writes, for every codec", async () => {
    for (const compression of CODECS) {
      const batch = encodeRecordBatch({
        compression,
        records: Array.from({ length: 50 }, (_, i) => ({
          key: i % 3 === 0 ? null : Buffer.from(`key-${i}`),
          value: Buffer.alloc(i * 40, i),
          headers: i % 2 === 0 ? [{ key: "trace", value: Buffer.from(String(i)) }] : [],
          timestamp: 1_700_000_000_000n + BigInt(i * 1000),
        })),
      });
      expect(await walk(batch), CompressionCodec[compression]).toEqual({ ok: true });
    }
  });

  it("refuses a count and lastOffsetDelta that lie together (2 declared, 3 present)", async () => {
    const verdict = await walk(batchAround(records(3), 2));
    expect(refusal(verdict)).toEqual({
      code: RecordErrorCode.INVALID_RECORD,
      message: "the batch declares 2 records but holds more bytes after them",
    });
    expect(!verdict.ok && verdict.recordErrors).toEqual([]);
  });

  it("refuses a count that is larger than the records present", async () => {
    expect(refusal(await walk(batchAround(records(2), 3)))?.message).toBe("the batch declares 3 records but holds 2");
  });

  it("refuses a record length that is too long or too short", () => {
    const tooLong = Buffer.concat([records(1, (r) => ({ ...r, lengthDelta: 3 })), records(1)]);
    expect(refusal(walkSection(tooLong, 2))?.message).toMatch(/^record 0: its length says \d+ bytes but its fields/);
    const tooShort = records(2, (r) => ({ ...r, lengthDelta: -2 }));
    expect(refusal(walkSection(tooShort, 2))?.message).toMatch(/^record 0: .* runs past the record's length/);
    expect(refusal(walkSection(Buffer.from([0x01]), 1))?.message).toBe("record 0: invalid length -1");
    const lastTooLong = records(1, (r) => ({ ...r, lengthDelta: 5 }));
    expect(refusal(walkSection(lastTooLong, 1))?.message).toBe(
      "record 0: its length says 15 bytes but its fields take 10",
    );
  });

  it("refuses key and value lengths that lie", () => {
    const cases: Array<[string, Partial<RawRecord>, RegExp]> = [
      ["key too long", { keyLength: 50 }, /^record 0: key of 50 bytes runs past/],
      ["key too short", { keyLength: 1 }, /^record 0: /],
      ["key below -1", { keyLength: -2 }, /^record 0: invalid key length -2$/],
      ["value too long", { valueLength: 1000 }, /^record 0: value of 1000 bytes runs past/],
      ["value below -1", { valueLength: -7 }, /^record 0: invalid value length -7$/],
    ];
    for (const [name, lie, message] of cases) {
      const verdict = walkSection(
        records(2, (r) => (r.offsetDelta === 0 ? { ...r, ...lie } : r)),
        2,
      );
      expect(refusal(verdict)?.code, name).toBe(RecordErrorCode.INVALID_RECORD);
      expect(refusal(verdict)?.message, name).toMatch(message);
    }
  });

  it("refuses header counts and header lengths that lie", () => {
    const header = [{ key: Buffer.from("hk"), value: Buffer.from("hv") }];
    const cases: Array<[string, Partial<RawRecord>, RegExp]> = [
      ["count too high", { headers: header, headerCount: 2 }, /^record 0: header key runs past/],
      ["count huge", { headers: header, headerCount: 0x3fffffff }, /^record 0: header key runs past/],
      ["count too low", { headers: header, headerCount: 0 }, /^record 0: its length says/],
      ["count negative", { headers: header, headerCount: -1 }, /^record 0: invalid header count -1$/],
      ["key length too long", { headers: header, headerKeyLength: 30 }, /^record 0: header key of 30 bytes runs/],
      ["key length null", { headers: header, headerKeyLength: -1 }, /^record 0: invalid header key length -1$/],
    ];
    for (const [name, lie, message] of cases) {
      // A second record follows, so a field read past the first one's length finds bytes to read.
      const verdict = walkSection(
        records(2, (r) => (r.offsetDelta === 0 ? { ...r, ...lie } : r)),
        2,
      );
      expect(refusal(verdict)?.message, name).toMatch(message);
    }
  });

  it("refuses offset deltas that are not 0..n-1 in order", () => {
    const swapped = Buffer.concat([rawRecord({ offsetDelta: 1 }), rawRecord({ offsetDelta: 0 })]);
    expect(refusal(walkSection(swapped, 2))?.message).toBe("record 0: offsetDelta 1, expected 0");
    const gap = Buffer.concat([rawRecord({ offsetDelta: 0 }), rawRecord({ offsetDelta: 2 })]);
    expect(refusal(walkSection(gap, 2))?.message).toBe("record 1: offsetDelta 2, expected 1");
  });

  it("refuses overlong varints", () => {
    const overlong = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(refusal(walkSection(overlong, 1))?.message).toBe("record 0: length is longer than 32 bits");
    const timestamp = Buffer.concat([Buffer.from([0x40, 0x00]), Buffer.alloc(11, 0xff)]);
    expect(refusal(walkSection(timestamp, 1))?.message).toBe("record 0: timestampDelta is longer than 64 bits");
  });

  it("gives the same verdict however the section is cut into chunks", () => {
    const sections = [
      records(4, (r) => ({ ...r, headers: [{ key: Buffer.from("a"), value: Buffer.from("bcd") }] })),
      records(3, (r) => (r.offsetDelta === 1 ? { ...r, keyLength: 40 } : r)),
      records(3, (r) => (r.offsetDelta === 2 ? { ...r, key: null } : r)),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...sections), fc.array(fc.nat(), { maxLength: 8 }), (section, cuts) => {
        const whole = walkSection(section, section === sections[0] ? 4 : 3, true);
        const walker = new RecordWalker(section === sections[0] ? 4 : 3, true);
        const points = [...new Set(cuts.map((c) => c % (section.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const at of [...points, section.length]) {
          walker.push(section.subarray(from, at));
          from = at;
        }
        expect(walker.finish()).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it("agrees with the full decoder on corrupted sections, and never throws", () => {
    const batch = encodeRecordBatch({
      records: Array.from({ length: 4 }, (_, i) => ({
        key: i === 1 ? null : Buffer.from(`k${i}`),
        value: Buffer.from(`value-${i}`),
        headers: i === 2 ? [{ key: "h", value: Buffer.from("v") }] : [],
      })),
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -2, max: 2 }),
        (edits, trim) => {
          const section = Buffer.from(batch.subarray(BATCH_HEADER_SIZE));
          for (const [at, byte] of edits) section[at % section.length] = byte;
          const cut = trim < 0 ? section.subarray(0, section.length + trim) : section;
          const mutated = batchAround(cut, 4);
          let decodable: boolean;
          try {
            const decoded = decodeRecordBatch(mutated);
            decodable = decoded.records.every((r, i) => r.offsetDelta === i);
          } catch {
            decodable = false;
          }
          expect(walkSection(cut, 4).ok).toBe(decodable);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("walkBatchRecords on compressed batches", () => {
  it("refuses a compression flag over garbage, for every codec", async () => {
    const garbage = Buffer.from("this is not compressed data at all, just bytes".repeat(3));
    for (const codec of CODECS.filter((c) => c !== CompressionCodec.None)) {
      const verdict = await walk(batchAround(Buffer.alloc(0), 1, { codec, payload: garbage }));
      expect(refusal(verdict)?.code, CompressionCodec[codec]).toBe(RecordErrorCode.INVALID_RECORD);
      expect(refusal(verdict)?.message, CompressionCodec[codec]).toMatch(/records do not decompress/);
    }
  });

  it("refuses truncated gzip", async () => {
    const full = gzipSync(records(20));
    for (const keep of [full.length - 1, full.length - 8, Math.floor(full.length / 2), 5]) {
      const verdict = await walk(
        batchAround(Buffer.alloc(0), 20, { codec: CompressionCodec.Gzip, payload: full.subarray(0, keep) }),
      );
      expect(refusal(verdict), `${keep} of ${full.length} bytes`).toMatchObject({
        code: RecordErrorCode.INVALID_RECORD,
      });
    }
  });

  it("refuses a gzip bomb of 64 MiB of zeros at its first record, without inflating it all", async () => {
    const bomb = gzipSync(Buffer.alloc(64 << 20));
    const verdict = await walk(batchAround(Buffer.alloc(0), 1000, { codec: CompressionCodec.Gzip, payload: bomb }));
    // Zeros read as a record of length 0: the walk stops there, on the first inflated chunk.
    expect(refusal(verdict)).toEqual({ code: RecordErrorCode.INVALID_RECORD, message: "record 0: invalid length 0" });
  });

  it("refuses well-formed records that inflate past the limit as MESSAGE_TOO_LARGE, for every codec", async () => {
    const section = records(1, (r) => ({ ...r, value: Buffer.alloc(4 << 20) }));
    for (const codec of CODECS.filter((c) => c !== CompressionCodec.None)) {
      const verdict = await walk(batchAround(section, 1, { codec }), false, 1 << 20);
      expect(refusal(verdict)?.code, CompressionCodec[codec]).toBe(RecordErrorCode.MESSAGE_TOO_LARGE);
      expect(await walk(batchAround(section, 1, { codec }), false, 8 << 20), CompressionCodec[codec]).toEqual({
        ok: true,
      });
    }
  });

  it("answers every one of many concurrent batches inflated whole, good or bad (the slots are always released)", async () => {
    const good = (codec: CompressionCodec) =>
      encodeRecordBatch({ records: [{ value: Buffer.from("x") }], compression: codec });
    const zeros = (codec: CompressionCodec) =>
      batchAround(Buffer.alloc(0), 3, { codec, payload: compress(codec, Buffer.alloc(1 << 20)) });
    const garbage = (codec: CompressionCodec) =>
      batchAround(Buffer.alloc(0), 3, { codec, payload: Buffer.from("nonsense") });
    const cases = [CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd].flatMap((codec) =>
      Array.from({ length: 4 }, () => [
        { batch: good(codec), ok: true },
        { batch: zeros(codec), ok: false },
        { batch: garbage(codec), ok: false },
      ]).flat(),
    );
    const verdicts = await Promise.all(cases.map((c) => walk(c.batch)));
    expect(verdicts.map((v) => v.ok)).toEqual(cases.map((c) => c.ok));
  });

  it("walks the records inside compressed batches: lies are refused whatever the codec", async () => {
    for (const codec of CODECS) {
      const verdict = await walk(batchAround(records(3), 2, { codec }));
      expect(refusal(verdict)?.message, CompressionCodec[codec]).toBe(
        "the batch declares 2 records but holds more bytes after them",
      );
    }
  });
});

describe("keys on compacted topics", () => {
  it("lists every keyless record as a record error, and accepts keyed ones", async () => {
    const section = records(5, (r) => (r.offsetDelta % 2 === 0 ? { ...r, key: null } : r));
    for (const codec of CODECS) {
      const verdict = await walk(batchAround(section, 5, { codec }), true);
      expect(verdict, CompressionCodec[codec]).toEqual({
        ok: false,
        errorCode: RecordErrorCode.INVALID_RECORD,
        message: "3 of 5 records refused; the first, record 0: a compacted topic needs a key on every record",
        recordErrors: [0, 2, 4].map((batchIndex) => ({
          batchIndex,
          message: "a compacted topic needs a key on every record",
        })),
      });
      expect(await walk(batchAround(section, 5, { codec }), false)).toEqual({ ok: true });
    }
    expect(await walk(batchAround(records(3), 3), true)).toEqual({ ok: true });
  });
});

describe("validateProduceRecords", () => {
  it("refuses the issue's reproduction: a batch that says 2 records and holds 3", async () => {
    // The records field of the Produce v3 frame in issue 10 (client id robust-fuzz, topic "t", partition 0).
    const records = Buffer.from(
      "0000000000000000000000" +
        "4cffffffff029b15309b0000000000010000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff" +
        "00000002100000000261023100100000020262023200100000040263023300",
      "hex",
    );
    const verdict = await validateProduceRecords(records);
    expect(verdict).toMatchObject({ ok: false, errorCode: RecordErrorCode.INVALID_RECORD });
  });

  it("passes the record errors through", async () => {
    const verdict = await validateProduceRecords(
      batchAround(
        records(2, (r) => ({ ...r, key: null })),
        2,
      ),
      {
        requireKeys: true,
      },
    );
    expect(!verdict.ok && verdict.recordErrors?.map((e) => e.batchIndex)).toEqual([0, 1]);
  });
});
