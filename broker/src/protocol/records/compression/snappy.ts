import { compress, compressSync, uncompress, uncompressSync } from "snappy";
import { DecodeError } from "../errors.ts";
import { asDecodeError, checkLimit, ensureWithinLimit } from "./limit.ts";

// Java's client writes snappy through xerial's SnappyOutputStream: a 16-byte header, then each block of at most 32 KiB
// of input as [int32 BE compressed length][raw snappy block]. librdkafka and franz-go write one raw snappy block.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
const XERIAL_VERSION = 1;
const XERIAL_MIN_COMPATIBLE = 1;
const XERIAL_BLOCK_SIZE = 32 * 1024;

/** True when `data` starts with xerial's stream header rather than a raw block. */
export function isXerialFramed(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_SIZE) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/**
 * A raw snappy block begins with its uncompressed length as an unsigned LEB128 varint (at most 32 bits). Reading it
 * first lets the limit be enforced before the native decoder allocates; the decoder itself rejects a block whose
 * output does not match that length.
 */
function rawUncompressedLength(data: Uint8Array, start: number, end: number): number {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    const at = start + i;
    if (at >= end) throw new DecodeError("truncated snappy length preamble", at);
    const byte = data[at] ?? 0;
    result += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return result;
  }
  throw new DecodeError("snappy length preamble longer than 32 bits", start);
}

interface Block {
  readonly start: number;
  readonly end: number;
}

/** Walks the xerial blocks and checks the total output against the limit before any is decompressed. */
function xerialBlocks(data: Buffer, maxBytes: number): Block[] {
  const blocks: Block[] = [];
  let total = 0;
  let pos = XERIAL_HEADER_SIZE;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new DecodeError("truncated xerial block length", pos);
    const length = data.readInt32BE(pos);
    pos += 4;
    if (length < 0 || pos + length > data.length)
      throw new DecodeError(`xerial block of ${length} bytes overruns the data`, pos - 4);
    total += rawUncompressedLength(data, pos, pos + length);
    ensureWithinLimit(total, maxBytes);
    blocks.push({ start: pos, end: pos + length });
    pos += length;
  }
  return blocks;
}

function xerialHeader(): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_MIN_COMPATIBLE, 12);
  return header;
}

function frameBlocks(compressed: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [xerialHeader()];
  for (const block of compressed) {
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

function chunks(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_SIZE) out.push(data.subarray(at, at + XERIAL_BLOCK_SIZE));
  return out;
}

function asBuffer(result: string | Buffer): Buffer {
  // Only reachable if the binding ignored asBuffer; a string here would be a binding bug, not bad input.
  if (typeof result === "string") throw new DecodeError("snappy binding returned a string", 0);
  return result;
}

/** Compresses as the Java client does (xerial framing, 32 KiB blocks), which every Kafka client can read. */
export function snappyCompress(data: Uint8Array): Buffer {
  return frameBlocks(chunks(data).map((chunk) => compressSync(chunk)));
}

export async function snappyCompressAsync(data: Uint8Array): Promise<Buffer> {
  return frameBlocks(await Promise.all(chunks(data).map((chunk) => compress(chunk))));
}

/** One raw snappy block, as librdkafka and franz-go write. */
export function snappyCompressRaw(data: Uint8Array): Buffer {
  return compressSync(data);
}

/** Decompresses xerial-framed or raw snappy, whichever `data` is. */
export function snappyDecompress(data: Buffer, maxBytes: number): Buffer {
  checkLimit(maxBytes);
  try {
    if (!isXerialFramed(data)) {
      ensureWithinLimit(rawUncompressedLength(data, 0, data.length), maxBytes);
      return asBuffer(uncompressSync(data, { asBuffer: true }));
    }
    const blocks = xerialBlocks(data, maxBytes);
    return Buffer.concat(
      blocks.map((b) => asBuffer(uncompressSync(data.subarray(b.start, b.end), { asBuffer: true }))),
    );
  } catch (error) {
    throw asDecodeError("snappy", error);
  }
}

export async function snappyDecompressAsync(data: Buffer, maxBytes: number): Promise<Buffer> {
  checkLimit(maxBytes);
  try {
    if (!isXerialFramed(data)) {
      ensureWithinLimit(rawUncompressedLength(data, 0, data.length), maxBytes);
      return asBuffer(await uncompress(data, { asBuffer: true }));
    }
    const blocks = xerialBlocks(data, maxBytes);
    const parts = await Promise.all(blocks.map((b) => uncompress(data.subarray(b.start, b.end), { asBuffer: true })));
    return Buffer.concat(parts.map(asBuffer));
  } catch (error) {
    throw asDecodeError("snappy", error);
  }
}
