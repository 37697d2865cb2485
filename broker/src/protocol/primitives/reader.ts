import { DecodeError } from "./decode-error.ts";
import { uuidFromBytes } from "./uuid.ts";
import { unZigZag32, unZigZag64 } from "./varint.ts";

/** A field in a flexible struct's tagged section whose tag this version does not know; kept so it can be re-sent. */
export interface TaggedField {
  readonly tag: number;
  readonly data: Buffer;
}

const MAX_INT16_STRING = 0x7fff;

/**
 * Bounds-checked big-endian reader over one frame. Every length read from the wire is checked against the bytes that
 * remain before anything is allocated, so a forged length of 2^31 is a DecodeError, never an out-of-memory.
 * Byte fields and records are returned as views into the input (no copy).
 */
export class Reader {
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string): never {
    throw new DecodeError(message, this.pos);
  }

  private need(n: number, what: string): number {
    const at = this.pos;
    if (n < 0 || at + n > this.end)
      throw new DecodeError(`truncated ${what}: need ${n} bytes, have ${this.end - at}`, at);
    this.pos = at + n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1, "int8"));
  }

  uint8(): number {
    return this.buf[this.need(1, "uint8")] ?? 0;
  }

  bool(): boolean {
    return this.uint8() !== 0;
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2, "int16"));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.need(2, "uint16"));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4, "int32"));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.need(4, "uint32"));
  }

  int64(): bigint {
    return this.buf.readBigInt64BE(this.need(8, "int64"));
  }

  float64(): number {
    return this.buf.readDoubleBE(this.need(8, "float64"));
  }

  uuid(): string {
    return uuidFromBytes(this.buf, this.need(16, "uuid"));
  }

  unsignedVarint(): number {
    let result = 0;
    let shift = 0;
    const start = this.pos;
    for (;;) {
      if (this.pos >= this.end) throw new DecodeError("truncated varint", start);
      const byte = this.buf[this.pos++] ?? 0;
      if (shift === 28) {
        if (byte > 0x0f) throw new DecodeError("varint longer than 32 bits", start);
        return (result | (byte << 28)) >>> 0;
      }
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  }

  varint(): number {
    return unZigZag32(this.unsignedVarint());
  }

  varlong(): bigint {
    let result = 0n;
    let shift = 0n;
    const start = this.pos;
    for (;;) {
      if (this.pos >= this.end) throw new DecodeError("truncated varlong", start);
      const byte = this.buf[this.pos++] ?? 0;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return unZigZag64(result);
      shift += 7n;
      if (shift > 63n) throw new DecodeError("varlong longer than 64 bits", start);
    }
  }

  private utf8(length: number): string {
    const at = this.need(length, "string");
    return this.buf.toString("utf8", at, at + length);
  }

  private view(length: number, what: string): Buffer {
    const at = this.need(length, what);
    return this.buf.subarray(at, at + length);
  }

  string(): string {
    const length = this.int16();
    if (length < 0) this.fail("null where a non-nullable string is required");
    return this.utf8(length);
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) {
      if (length !== -1) this.fail(`invalid string length ${length}`);
      return null;
    }
    return this.utf8(length);
  }

  compactString(): string {
    const length = this.unsignedVarint() - 1;
    if (length < 0) this.fail("null where a non-nullable compact string is required");
    if (length > MAX_INT16_STRING) this.fail(`compact string of ${length} bytes is longer than 32767`);
    return this.utf8(length);
  }

  compactNullableString(): string | null {
    const length = this.unsignedVarint() - 1;
    if (length < 0) return null;
    if (length > MAX_INT16_STRING) this.fail(`compact string of ${length} bytes is longer than 32767`);
    return this.utf8(length);
  }

  bytes(): Buffer {
    const length = this.int32();
    if (length < 0) this.fail("null where non-nullable bytes are required");
    return this.view(length, "bytes");
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) {
      if (length !== -1) this.fail(`invalid bytes length ${length}`);
      return null;
    }
    return this.view(length, "bytes");
  }

  compactBytes(): Buffer {
    const length = this.unsignedVarint() - 1;
    if (length < 0) this.fail("null where non-nullable compact bytes are required");
    return this.view(length, "bytes");
  }

  compactNullableBytes(): Buffer | null {
    const length = this.unsignedVarint() - 1;
    if (length < 0) return null;
    return this.view(length, "bytes");
  }

  /**
   * Reads an array length (-1 means null). Every element takes at least one byte, so a count above the bytes left is
   * rejected before the caller allocates anything.
   */
  arrayLength(): number {
    const count = this.int32();
    if (count < -1) this.fail(`invalid array length ${count}`);
    if (count > this.remaining) this.fail(`array of ${count} elements cannot fit in ${this.remaining} bytes`);
    return count;
  }

  compactArrayLength(): number {
    const count = this.unsignedVarint() - 1;
    if (count > this.remaining) this.fail(`array of ${count} elements cannot fit in ${this.remaining} bytes`);
    return count;
  }

  /** Reads a tagged-field header and returns the bounded reader over its value. */
  taggedSection(onField: (tag: number, reader: Reader, size: number) => void): void {
    const count = this.unsignedVarint();
    if (count > this.remaining) this.fail(`tagged section of ${count} fields cannot fit in ${this.remaining} bytes`);
    let previousTag = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.unsignedVarint();
      if (tag <= previousTag) this.fail(`tagged fields out of order: ${tag} after ${previousTag}`);
      previousTag = tag;
      const size = this.unsignedVarint();
      const at = this.need(size, "tagged field");
      onField(tag, new Reader(this.buf, at, at + size), size);
    }
  }

  /** The rest of the tagged value as an opaque view, for fields this version does not know. */
  rest(): Buffer {
    return this.view(this.remaining, "tagged field");
  }

  skip(n: number): void {
    this.need(n, "skipped bytes");
  }

  expectEnd(what: string): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} unexpected trailing bytes after ${what}`);
  }
}
