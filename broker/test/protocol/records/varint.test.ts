import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, Reader, Writer, sizeOfVarint, sizeOfVarlong } from "../../../src/protocol/primitives/index.ts";

// Record batches are the only place Kafka uses zig-zag varints and varlongs, so their round trips are tested here.
describe("zig-zag varint and varlong", () => {
  it("round-trip every int32 in exactly sizeOfVarint bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
        const w = Writer.alloc(sizeOfVarint(value));
        w.varint(value);
        expect(w.offset).toBe(sizeOfVarint(value));
        const r = new Reader(w.buf);
        expect(r.varint()).toBe(value);
        expect(r.remaining).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trip every int64 in exactly sizeOfVarlong bytes", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
        const w = Writer.alloc(sizeOfVarlong(value));
        w.varlong(value);
        expect(w.offset).toBe(sizeOfVarlong(value));
        const r = new Reader(w.buf);
        expect(r.varlong()).toBe(value);
        expect(r.remaining).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("encode small magnitudes compactly, as Kafka does", () => {
    const bytes = (value: number): number[] => {
      const w = Writer.alloc(5);
      w.varint(value);
      return [...w.buf.subarray(0, w.offset)];
    };
    expect(bytes(0)).toEqual([0x00]);
    expect(bytes(-1)).toEqual([0x01]);
    expect(bytes(1)).toEqual([0x02]);
    expect(bytes(63)).toEqual([0x7e]);
    expect(bytes(-64)).toEqual([0x7f]);
    expect(bytes(64)).toEqual([0x80, 0x01]);
  });

  it("reject truncated and overlong input with DecodeError only", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        const buf = Buffer.from(bytes);
        for (const read of [(r: Reader) => r.varint(), (r: Reader) => r.varlong()]) {
          try {
            read(new Reader(buf));
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        }
      }),
      { numRuns: 2000 },
    );
    expect(() => new Reader(Buffer.from([0x80, 0x80])).varint()).toThrow(DecodeError);
    expect(() => new Reader(Buffer.alloc(11, 0xff)).varlong()).toThrow(DecodeError);
  });
});
