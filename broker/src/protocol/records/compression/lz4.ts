import { compressFrame, compressFrameSync, decompressFrame, decompressFrameSync } from "lz4-napi";
import { DecodeError } from "../errors.ts";
import { boundFrames, type WalkedFrame } from "./frames.ts";
import { asDecodeError, checkLimit, ensureWithinLimit } from "./limit.ts";

// LZ4 frame format (lz4 doc/lz4_Frame_format.md). Every client writes standard frames; Kafka's broken header checksum
// only ever applied to magic 0 message sets, which this broker does not accept.
const FRAME_MAGIC = 0x184d2204;
const BLOCK_MAX_SIZE: Readonly<Record<number, number>> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };
const BLOCK_UNCOMPRESSED_FLAG = 0x80000000;

/**
 * Walks one frame's headers and block sizes without decompressing. Each compressed block inflates to at most the
 * frame's block maximum, and an uncompressed block to its own size, so the sum bounds the output before the native
 * decoder allocates anything.
 */
function walkFrame(data: Buffer, start: number): WalkedFrame {
  const fail = (message: string, at: number): never => {
    throw new DecodeError(`lz4 frame: ${message}`, at);
  };
  if (start + 7 > data.length) fail("truncated frame header", start);
  const flg = data[start + 4] ?? 0;
  const bd = data[start + 5] ?? 0;
  if (flg >> 6 !== 1) fail(`unsupported version ${flg >> 6}`, start + 4);
  if ((flg & 0x02) !== 0 || (bd & 0x8f) !== 0) fail("reserved bits set", start + 4);
  const blockMax =
    BLOCK_MAX_SIZE[(bd >> 4) & 0x07] ?? fail(`invalid block maximum size id ${(bd >> 4) & 0x07}`, start + 5);
  const hasBlockChecksum = (flg & 0x10) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const hasContentChecksum = (flg & 0x04) !== 0;
  const hasDictId = (flg & 0x01) !== 0;
  let pos = start + 6 + (hasContentSize ? 8 : 0) + (hasDictId ? 4 : 0) + 1;
  if (pos > data.length) fail("truncated frame header", start);
  let maxOutput = 0;
  for (;;) {
    if (pos + 4 > data.length) fail("truncated block size", pos);
    const word = data.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax) fail(`block of ${size} bytes exceeds the frame's ${blockMax}-byte maximum`, pos - 4);
    maxOutput += word >= BLOCK_UNCOMPRESSED_FLAG ? size : blockMax;
    pos += size + (hasBlockChecksum ? 4 : 0);
    if (pos > data.length) fail("truncated block", pos - size);
  }
  pos += hasContentChecksum ? 4 : 0;
  if (pos > data.length) fail("truncated content checksum", pos);
  if (hasContentSize) {
    // A decoder may allocate the declared size up front, so it must not exceed what the blocks can produce.
    const declared = data.readBigUInt64LE(start + 6);
    if (declared > BigInt(maxOutput)) fail(`declared content size ${declared} exceeds what its blocks hold`, start + 6);
    maxOutput = Number(declared);
  }
  return { end: pos, maxOutput, slack: blockMax };
}

function joined(parts: Buffer[], maxBytes: number): Buffer {
  const out = parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts);
  ensureWithinLimit(out.length, maxBytes);
  return out;
}

/**
 * Writes a standard LZ4 frame with independent blocks and no checksums. lz4_flex picks the block maximum from the input
 * size (64 KiB for small inputs, as the Java client always uses); every client reads all four standard sizes.
 */
export function lz4Compress(data: Uint8Array): Buffer {
  return compressFrameSync(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

export function lz4CompressAsync(data: Uint8Array): Promise<Buffer> {
  return compressFrame(data);
}

export function lz4Decompress(data: Buffer, maxBytes: number): Buffer {
  checkLimit(maxBytes);
  try {
    return joined(
      boundFrames(data, "lz4", FRAME_MAGIC, maxBytes, walkFrame).map((f) =>
        decompressFrameSync(data.subarray(f.start, f.end)),
      ),
      maxBytes,
    );
  } catch (error) {
    throw asDecodeError("lz4", error);
  }
}

export async function lz4DecompressAsync(data: Buffer, maxBytes: number): Promise<Buffer> {
  checkLimit(maxBytes);
  try {
    const parts = await Promise.all(
      boundFrames(data, "lz4", FRAME_MAGIC, maxBytes, walkFrame).map((f) =>
        decompressFrame(data.subarray(f.start, f.end)),
      ),
    );
    return joined(parts, maxBytes);
  } catch (error) {
    throw asDecodeError("lz4", error);
  }
}
