import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../../src/protocol/primitives/index.ts";
import {
  BATCH_OFFSET,
  CompressionCodec,
  RecordErrorCode,
  encodeRecordBatch,
  splitBatches,
  validateBatch,
  validateProduceRecords,
  writeBatchCrc,
  type BatchInput,
  type BatchVerdict,
} from "../../../src/protocol/records/index.ts";

function batchOf(input: Partial<BatchInput> = {}, count = 3): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`value-${i}`) }));
  return encodeRecordBatch({ records, ...input });
}

/** Applies a header change and re-seals the CRC, so the check under test is the one that fails. */
function tampered(batch: Buffer, change: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(batch);
  change(copy);
  writeBatchCrc(copy);
  return copy;
}

function errorOf(verdict: BatchVerdict): number | null {
  return verdict.ok ? null : verdict.errorCode;
}

describe("validateBatch", () => {
  it("accepts a well-formed batch and returns its header", () => {
    const verdict = validateBatch(batchOf({ compression: CompressionCodec.Gzip }), { maxMessageBytes: 1 << 20 });
    expect(verdict.ok).toBe(true);
    expect(verdict.ok && verdict.header.recordsCount).toBe(3);
  });

  it("answers CORRUPT_MESSAGE for a bad CRC", () => {
    const batch = batchOf();
    batch.writeUInt8((batch.readUInt8(batch.length - 3) ^ 0x01) & 0xff, batch.length - 3);
    expect(errorOf(validateBatch(batch))).toBe(RecordErrorCode.CORRUPT_MESSAGE);
    expect(validateBatch(batch, { verifyCrc: false }).ok).toBe(true);
  });

  it("answers INVALID_RECORD when lastOffsetDelta + 1 differs from the record count", () => {
    const wrong = tampered(batchOf(), (b) => b.writeInt32BE(5, BATCH_OFFSET.lastOffsetDelta));
    const verdict = validateBatch(wrong);
    expect(errorOf(verdict)).toBe(RecordErrorCode.INVALID_RECORD);
    expect(!verdict.ok && verdict.message).toMatch(/lastOffsetDelta/);
  });

  it("answers INVALID_RECORD for an empty or negative record count", () => {
    const empty = tampered(batchOf({}, 1), (b) => {
      b.writeInt32BE(-1, BATCH_OFFSET.lastOffsetDelta);
      b.writeInt32BE(0, BATCH_OFFSET.recordsCount);
    });
    expect(errorOf(validateBatch(empty))).toBe(RecordErrorCode.INVALID_RECORD);
    const negative = tampered(batchOf(), (b) => b.writeInt32BE(-3, BATCH_OFFSET.recordsCount));
    expect(errorOf(validateBatch(negative))).toBe(RecordErrorCode.INVALID_RECORD);
  });

  it("answers MESSAGE_TOO_LARGE above max.message.bytes, and accepts exactly the limit", () => {
    const batch = batchOf();
    expect(errorOf(validateBatch(batch, { maxMessageBytes: batch.length - 1 }))).toBe(
      RecordErrorCode.MESSAGE_TOO_LARGE,
    );
    expect(validateBatch(batch, { maxMessageBytes: batch.length }).ok).toBe(true);
  });

  it("checks the size before the CRC, as Kafka does", () => {
    const batch = batchOf();
    batch.writeUInt8((batch.readUInt8(batch.length - 1) ^ 0x01) & 0xff, batch.length - 1);
    expect(errorOf(validateBatch(batch, { maxMessageBytes: 10 }))).toBe(RecordErrorCode.MESSAGE_TOO_LARGE);
  });

  it("answers for magic: INVALID_RECORD for retired formats, CORRUPT_MESSAGE for garbage", () => {
    expect(errorOf(validateBatch(tampered(batchOf(), (b) => b.writeInt8(1, BATCH_OFFSET.magic))))).toBe(
      RecordErrorCode.INVALID_RECORD,
    );
    expect(errorOf(validateBatch(tampered(batchOf(), (b) => b.writeInt8(9, BATCH_OFFSET.magic))))).toBe(
      RecordErrorCode.CORRUPT_MESSAGE,
    );
  });

  it("answers CORRUPT_MESSAGE for inconsistent batchLength, short input and unknown codecs", () => {
    const batch = batchOf();
    expect(errorOf(validateBatch(batch.subarray(0, batch.length - 1)))).toBe(RecordErrorCode.CORRUPT_MESSAGE);
    expect(errorOf(validateBatch(batch.subarray(0, 30)))).toBe(RecordErrorCode.CORRUPT_MESSAGE);
    expect(errorOf(validateBatch(tampered(batch, (b) => b.writeInt16BE(6, BATCH_OFFSET.attributes))))).toBe(
      RecordErrorCode.CORRUPT_MESSAGE,
    );
  });

  it("applies the client-only rules when asked", () => {
    const control = batchOf({ control: true }, 1);
    expect(validateBatch(control).ok).toBe(true);
    expect(errorOf(validateBatch(control, { fromClient: true }))).toBe(RecordErrorCode.INVALID_RECORD);
    const noSequence = batchOf({ producerId: 7n, producerEpoch: 0, baseSequence: -1 });
    expect(errorOf(validateBatch(noSequence, { fromClient: true }))).toBe(RecordErrorCode.INVALID_RECORD);
    expect(validateBatch(batchOf({ producerId: 7n, baseSequence: 0 }), { fromClient: true }).ok).toBe(true);
  });

  it("never throws, whatever the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(), (bytes, max) => {
        const verdict = validateBatch(Buffer.from(bytes), { maxMessageBytes: max });
        expect(typeof verdict.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("validateProduceRecords", () => {
  it("accepts exactly one batch and hands back its view", async () => {
    const records = batchOf();
    const verdict = await validateProduceRecords(records);
    expect(verdict.ok && verdict.batch.buffer).toBe(records.buffer);
  });

  it("rejects two batches, a partial batch and nothing at all", async () => {
    const one = batchOf();
    expect(errorOf(await validateProduceRecords(Buffer.concat([one, one])))).toBe(RecordErrorCode.INVALID_RECORD);
    expect(errorOf(await validateProduceRecords(one.subarray(0, one.length - 4)))).toBe(
      RecordErrorCode.CORRUPT_MESSAGE,
    );
    expect(errorOf(await validateProduceRecords(Buffer.alloc(0)))).toBe(RecordErrorCode.INVALID_RECORD);
    const tiny = Buffer.alloc(20);
    tiny.writeInt32BE(1, BATCH_OFFSET.batchLength);
    expect(errorOf(await validateProduceRecords(tiny))).toBe(RecordErrorCode.CORRUPT_MESSAGE);
  });

  describe("timestamp bounds (KIP-937)", () => {
    const now = 1_700_000_000_000;
    // One hour back, one hour ahead.
    const timestamps = { min: now - 3_600_000, max: now + 3_600_000 };
    const stamped = (ts: readonly bigint[], compression = CompressionCodec.None) =>
      encodeRecordBatch({
        records: ts.map((timestamp, i) => ({ value: Buffer.from(`v${i}`), timestamp })),
        compression,
      });
    const at = (offsetMs: number) => BigInt(now + offsetMs);

    it("accepts records inside the window, its edges included, and records without a timestamp", async () => {
      const batch = stamped([at(-3_600_000), at(0), at(3_600_000), -1n]);
      expect((await validateProduceRecords(batch, { timestamps })).ok).toBe(true);
    });

    it("refuses each record too far in the past or the future with INVALID_TIMESTAMP, naming it", async () => {
      for (const compression of [CompressionCodec.None, CompressionCodec.Gzip]) {
        const batch = stamped([at(0), at(-3_600_001), at(1), at(3_600_001), at(-10)], compression);
        const verdict = await validateProduceRecords(batch, { timestamps });
        expect(verdict.ok).toBe(false);
        if (verdict.ok) continue;
        expect(verdict.errorCode).toBe(RecordErrorCode.INVALID_TIMESTAMP);
        expect(verdict.recordErrors?.map((e) => e.batchIndex)).toEqual([1, 3]);
        expect(verdict.recordErrors?.[1]?.message).toContain(`${now + 3_600_001}`);
      }
    });

    it("is INVALID_TIMESTAMP when timestamps and missing keys are both refused, and checks nothing without bounds", async () => {
      const batch = stamped([at(-3_600_001), at(0)]);
      const both = await validateProduceRecords(batch, { timestamps, requireKeys: true });
      expect(errorOf(both)).toBe(RecordErrorCode.INVALID_TIMESTAMP);
      expect(both.ok ? [] : both.recordErrors?.map((e) => e.batchIndex)).toEqual([0, 0, 1]);
      expect((await validateProduceRecords(batch)).ok).toBe(true);
      // A timestamp far beyond 2^53 ms (a producer sending nanoseconds times a thousand) is still refused.
      expect(errorOf(await validateProduceRecords(stamped([9_000_000_000_000_000_000n]), { timestamps }))).toBe(
        RecordErrorCode.INVALID_TIMESTAMP,
      );
    });
  });
});

describe("splitBatches", () => {
  it("cuts concatenated batches into views", () => {
    const batches = [batchOf({ baseOffset: 0n }), batchOf({ baseOffset: 3n }, 5), batchOf({ baseOffset: 8n }, 1)];
    const records = Buffer.concat(batches);
    const split = splitBatches(records);
    expect(split.partial).toBeNull();
    expect(split.batches.map((b) => b.length)).toEqual(batches.map((b) => b.length));
    expect(split.batches.every((b, i) => b.equals(batches[i] ?? Buffer.alloc(0)))).toBe(true);
    expect(split.batches[1]?.buffer).toBe(records.buffer);
  });

  it("reports a trailing partial batch, whether cut in the header or in the body", () => {
    const a = batchOf();
    const b = batchOf({}, 2);
    const cutBody = splitBatches(Buffer.concat([a, b.subarray(0, 40)]));
    expect(cutBody.batches).toHaveLength(1);
    expect(cutBody.partial).toEqual({ offset: a.length, length: 40, expectedLength: b.length });
    const cutLength = splitBatches(Buffer.concat([a, b.subarray(0, 10)]));
    expect(cutLength.partial).toEqual({ offset: a.length, length: 10, expectedLength: null });
  });

  it("returns nothing for empty input", () => {
    expect(splitBatches(Buffer.alloc(0))).toEqual({ batches: [], partial: null });
  });

  it("raises DecodeError for a length no message format allows", () => {
    const bad = Buffer.alloc(30);
    bad.writeInt32BE(-5, BATCH_OFFSET.batchLength);
    expect(() => splitBatches(bad)).toThrow(DecodeError);
  });

  it("only ever raises DecodeError, and covers the input exactly", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const input = Buffer.from(bytes);
        try {
          const { batches, partial } = splitBatches(input);
          const covered = batches.reduce((n, b) => n + b.length, 0) + (partial?.length ?? 0);
          expect(covered).toBe(input.length);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
