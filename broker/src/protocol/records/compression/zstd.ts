import { Decoder, Encoder } from "@toondepauw/node-zstd";
import { DecodeError } from "../errors.ts";
import { boundFrames, type WalkedFrame } from "./frames.ts";
import { asDecodeError, checkLimit, ensureWithinLimit } from "./limit.ts";

// Zstandard frame format (RFC 8878). Frames written by a one-shot compressor (librdkafka, franz-go, kafkajs plugins)
// declare their content size; the Java client streams and does not, so the output is bounded from the block headers.
const FRAME_MAGIC = 0xfd2fb528;
const BLOCK_SIZE_MAX = 128 * 1024;
/** Kafka's default level, and zstd's. */
export const ZSTD_DEFAULT_LEVEL = 3;
/**
 * A streaming decoder keeps a window of this size in memory whatever the output size. 8 MiB covers zstd's standard
 * levels 1-19 (window log 23 at most); larger windows only come from "ultra" levels and are refused unless the limit
 * itself is larger.
 */
const WINDOW_SIZE_FLOOR = 8 * 1024 * 1024;

const DICT_ID_SIZE = [0, 1, 2, 4] as const;
const CONTENT_SIZE_SIZE = [0, 2, 4, 8] as const;

const encoder = new Encoder(ZSTD_DEFAULT_LEVEL);
const decoder = new Decoder();

function walkFrame(data: Buffer, start: number, maxBytes: number): WalkedFrame {
  const fail = (message: string, at: number): never => {
    throw new DecodeError(`zstd frame: ${message}`, at);
  };
  if (start + 5 > data.length) fail("truncated frame header", start);
  const fhd = data[start + 4] ?? 0;
  const contentSizeFlag = fhd >> 6;
  const singleSegment = (fhd & 0x20) !== 0;
  if ((fhd & 0x08) !== 0) fail("reserved bit set", start + 4);
  const hasChecksum = (fhd & 0x04) !== 0;
  let pos = start + 5;
  let windowSize = 0;
  if (!singleSegment) {
    if (pos >= data.length) fail("truncated window descriptor", pos);
    const wd = data[pos] ?? 0;
    const base = 2 ** (10 + (wd >> 3));
    windowSize = base + (base / 8) * (wd & 0x07);
    pos += 1;
  }
  pos += DICT_ID_SIZE[fhd & 0x03] ?? 0;
  const contentSizeBytes = contentSizeFlag === 0 ? (singleSegment ? 1 : 0) : (CONTENT_SIZE_SIZE[contentSizeFlag] ?? 0);
  if (pos + contentSizeBytes > data.length) fail("truncated frame header", pos);
  let contentSize: number | null = null;
  if (contentSizeBytes === 1) contentSize = data[pos] ?? 0;
  else if (contentSizeBytes === 2) contentSize = data.readUInt16LE(pos) + 256;
  else if (contentSizeBytes === 4) contentSize = data.readUInt32LE(pos);
  else if (contentSizeBytes === 8) contentSize = Number(data.readBigUInt64LE(pos));
  pos += contentSizeBytes;
  if (singleSegment) windowSize = contentSize ?? 0;
  if (windowSize > Math.max(maxBytes, WINDOW_SIZE_FLOOR)) fail(`window of ${windowSize} bytes is too large`, start + 5);
  const blockMax = Math.min(windowSize, BLOCK_SIZE_MAX);
  let blocksBound = 0;
  for (;;) {
    if (pos + 3 > data.length) fail("truncated block header", pos);
    const header = data.readUIntLE(pos, 3);
    pos += 3;
    const last = (header & 1) !== 0;
    const type = (header >> 1) & 0x03;
    const size = header >> 3;
    if (type === 3) fail("reserved block type", pos - 3);
    // Raw and RLE blocks produce exactly `size` bytes; RLE stores a single byte, which is what makes it a bomb vector.
    if (size > blockMax) fail(`block of ${size} bytes exceeds the ${blockMax}-byte maximum`, pos - 3);
    blocksBound += type === 2 ? blockMax : size;
    pos += type === 1 ? 1 : size;
    if (pos > data.length) fail("truncated block", pos);
    if (last) break;
  }
  pos += hasChecksum ? 4 : 0;
  if (pos > data.length) fail("truncated checksum", pos);
  if (contentSize !== null) {
    // libzstd checks the declared size against its output, and may allocate it up front: it must be plausible.
    if (contentSize > blocksBound) fail(`declared content size ${contentSize} exceeds what its blocks hold`, start);
    return { end: pos, maxOutput: contentSize, slack: 0 };
  }
  return { end: pos, maxOutput: blocksBound, slack: blockMax };
}

export function zstdCompress(data: Uint8Array): Buffer {
  return encoder.encodeSync(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

export function zstdCompressAsync(data: Uint8Array): Promise<Buffer> {
  return encoder.encode(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

export function zstdDecompress(data: Buffer, maxBytes: number): Buffer {
  checkLimit(maxBytes);
  let out: Buffer;
  try {
    boundFrames(data, "zstd", FRAME_MAGIC, maxBytes, (d, at) => walkFrame(d, at, maxBytes));
    out = decoder.decodeSync(data);
  } catch (error) {
    throw asDecodeError("zstd", error);
  }
  ensureWithinLimit(out.length, maxBytes);
  return out;
}

export async function zstdDecompressAsync(data: Buffer, maxBytes: number): Promise<Buffer> {
  checkLimit(maxBytes);
  let out: Buffer;
  try {
    boundFrames(data, "zstd", FRAME_MAGIC, maxBytes, (d, at) => walkFrame(d, at, maxBytes));
    out = await decoder.decode(data);
  } catch (error) {
    throw asDecodeError("zstd", error);
  }
  ensureWithinLimit(out.length, maxBytes);
  return out;
}
