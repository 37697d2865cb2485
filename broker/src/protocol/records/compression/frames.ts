import { DecodeError, DecompressedSizeError } from "../errors.ts";

// LZ4 and zstd share the skippable-frame convention: magic 0x184D2A50-5F, a 4-byte length, then ignored bytes.
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

export interface WalkedFrame {
  /** Where the frame ends in the input. */
  readonly end: number;
  /** The most bytes the frame can decompress to, computed from its headers alone. */
  readonly maxOutput: number;
  /** By how much maxOutput may overestimate a legitimate frame (its last block may be short). */
  readonly slack: number;
}

export interface FrameRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Walks a sequence of frames with `walk` and refuses, before anything is decompressed, input whose bounded output
 * exceeds `maxBytes` by more than one block. Memory is thus bounded by the limit plus one block; the exact size is
 * checked after decompressing.
 */
export function boundFrames(
  data: Buffer,
  codec: string,
  frameMagic: number,
  maxBytes: number,
  walk: (data: Buffer, start: number) => WalkedFrame,
): FrameRange[] {
  if (data.length === 0) throw new DecodeError(`empty ${codec} data`, 0);
  const frames: FrameRange[] = [];
  let bound = 0;
  let slack = 0;
  let pos = 0;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new DecodeError(`truncated ${codec} frame magic`, pos);
    const magic = data.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (pos + 8 > data.length) throw new DecodeError(`truncated ${codec} skippable frame`, pos);
      pos += 8 + data.readUInt32LE(pos + 4);
      if (pos > data.length) throw new DecodeError(`truncated ${codec} skippable frame`, data.length);
      continue;
    }
    if (magic !== frameMagic) throw new DecodeError(`not a ${codec} frame (magic 0x${magic.toString(16)})`, pos);
    const frame = walk(data, pos);
    bound += frame.maxOutput;
    slack = Math.max(slack, frame.slack);
    if (bound > maxBytes + slack) throw new DecompressedSizeError(maxBytes, bound - slack);
    frames.push({ start: pos, end: frame.end });
    pos = frame.end;
  }
  return frames;
}
