import { EncodeError } from "./decode-error.ts";
import { uuidToBytes } from "./uuid.ts";
import { sizeOfUnsignedVarint, zigZag32, zigZag64 } from "./varint.ts";

const MAX_INT16_STRING = 0x7fff;

/**
 * Writes into one buffer whose size the caller computed beforehand (encoders run a size pass first), so encoding a
 * message allocates once instead of once per field.
 */
export class Writer {
  private pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  static alloc(size: number): Writer {
    return new Writer(Buffer.allocUnsafe(size));
  }

  get offset(): number {
    return this.pos;
  }

  int8(value: number): void {
    this.pos = this.buf.writeInt8(value, this.pos);
  }

  uint8(value: number): void {
    this.buf[this.pos++] = value;
  }

  bool(value: boolean): void {
    this.buf[this.pos++] = value ? 1 : 0;
  }

  int16(value: number): void {
    this.pos = this.buf.writeInt16BE(value, this.pos);
  }

  uint16(value: number): void {
    this.pos = this.buf.writeUInt16BE(value, this.pos);
  }

  int32(value: number): void {
    this.pos = this.buf.writeInt32BE(value, this.pos);
  }

  uint32(value: number): void {
    this.pos = this.buf.writeUInt32BE(value, this.pos);
  }

  int64(value: bigint): void {
    this.pos = this.buf.writeBigInt64BE(value, this.pos);
  }

  float64(value: number): void {
    this.pos = this.buf.writeDoubleBE(value, this.pos);
  }

  uuid(value: string): void {
    uuidToBytes(value, this.buf, this.pos);
    this.pos += 16;
  }

  unsignedVarint(value: number): void {
    let v = value >>> 0;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  varint(value: number): void {
    this.unsignedVarint(zigZag32(value));
  }

  varlong(value: bigint): void {
    let v = zigZag64(value);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  raw(data: Uint8Array): void {
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  string(value: string): void {
    const length = Buffer.byteLength(value);
    if (length > MAX_INT16_STRING) throw new EncodeError(`string of ${length} bytes is longer than 32767`);
    this.int16(length);
    this.pos += this.buf.write(value, this.pos);
  }

  nullableString(value: string | null): void {
    if (value === null) this.int16(-1);
    else this.string(value);
  }

  compactString(value: string): void {
    const length = Buffer.byteLength(value);
    if (length > MAX_INT16_STRING) throw new EncodeError(`string of ${length} bytes is longer than 32767`);
    this.unsignedVarint(length + 1);
    this.pos += this.buf.write(value, this.pos);
  }

  compactNullableString(value: string | null): void {
    if (value === null) this.unsignedVarint(0);
    else this.compactString(value);
  }

  bytes(value: Uint8Array): void {
    this.int32(value.length);
    this.raw(value);
  }

  nullableBytes(value: Uint8Array | null): void {
    if (value === null) this.int32(-1);
    else this.bytes(value);
  }

  compactBytes(value: Uint8Array): void {
    this.unsignedVarint(value.length + 1);
    this.raw(value);
  }

  compactNullableBytes(value: Uint8Array | null): void {
    if (value === null) this.unsignedVarint(0);
    else this.compactBytes(value);
  }

  arrayLength(count: number): void {
    this.int32(count);
  }

  compactArrayLength(count: number): void {
    this.unsignedVarint(count + 1);
  }
}

/**
 * A Writer that leaves the byte values in `byReference` out of its buffer and hands them back in place among its
 * chunks(), so a large value (Fetch records read from the log) goes to the socket without being copied into the
 * encoded message. The buffer holds everything else: the message's size less those values' lengths.
 */
export class SplicingWriter extends Writer {
  private readonly pieces: Uint8Array[] = [];
  /** Where the part of the buffer not yet in `pieces` begins. */
  private from = 0;
  /** Bytes left out of the buffer so far. */
  private referenced = 0;

  constructor(
    buf: Buffer,
    private readonly byReference: ReadonlySet<Uint8Array>,
  ) {
    super(buf);
  }

  get referencedBytes(): number {
    return this.referenced;
  }

  override raw(data: Uint8Array): void {
    if (data.length === 0 || !this.byReference.has(data)) {
      super.raw(data);
      return;
    }
    if (this.offset > this.from) this.pieces.push(this.buf.subarray(this.from, this.offset));
    this.pieces.push(data);
    this.from = this.offset;
    this.referenced += data.length;
  }

  /** The message in order: slices of the buffer and the values left out of it. */
  chunks(): Uint8Array[] {
    const rest = this.offset > this.from ? [this.buf.subarray(this.from, this.offset)] : [];
    return [...this.pieces, ...rest];
  }
}

/** Byte sizes matching the Writer methods, for the size pass. */
export const sizeOf = {
  string: (value: string): number => 2 + Buffer.byteLength(value),
  nullableString: (value: string | null): number => (value === null ? 2 : 2 + Buffer.byteLength(value)),
  compactString: (value: string): number => {
    const length = Buffer.byteLength(value);
    return sizeOfUnsignedVarint(length + 1) + length;
  },
  compactNullableString: (value: string | null): number => {
    if (value === null) return 1;
    const length = Buffer.byteLength(value);
    return sizeOfUnsignedVarint(length + 1) + length;
  },
  bytes: (value: Uint8Array): number => 4 + value.length,
  nullableBytes: (value: Uint8Array | null): number => (value === null ? 4 : 4 + value.length),
  compactBytes: (value: Uint8Array): number => sizeOfUnsignedVarint(value.length + 1) + value.length,
  compactNullableBytes: (value: Uint8Array | null): number =>
    value === null ? 1 : sizeOfUnsignedVarint(value.length + 1) + value.length,
  compactArrayLength: (count: number): number => sizeOfUnsignedVarint(count + 1),
  unsignedVarint: sizeOfUnsignedVarint,
};
