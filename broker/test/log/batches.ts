import { crc32c } from "@node-rs/crc32";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { expect } from "vitest";
import type { PartitionLog } from "../../src/log/index.ts";
import { BATCH_HEADER_SIZE, BATCH_OFFSET, CRC_START } from "../../src/protocol/records/batch-header.ts";

export interface BatchSpec {
  records?: number;
  valueSize?: number;
  /** Base timestamp; record i gets timestamp + i, so maxTimestamp is timestamp + records - 1. */
  timestamp?: bigint;
  /** Varies the value bytes so that batches differ. */
  seed?: number;
  /** An idempotent producer's batch: its producer id, epoch and first sequence (none by default). */
  producer?: { id: bigint; epoch: number; sequence: number };
}

function zigzagVarint(value: number, out: number[]): void {
  let v = (value << 1) ^ (value >> 31);
  v >>>= 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** A valid, uncompressed v2 batch with baseOffset 0 and a correct CRC, as a producer would send it. */
export function makeBatch(spec: BatchSpec = {}): Buffer {
  const records = spec.records ?? 1;
  const valueSize = spec.valueSize ?? 16;
  const timestamp = spec.timestamp ?? 1_000_000n;
  const seed = spec.seed ?? 0;
  const parts: Buffer[] = [];
  for (let i = 0; i < records; i++) {
    const body: number[] = [0];
    zigzagVarint(i, body); // timestamp delta
    zigzagVarint(i, body); // offset delta
    zigzagVarint(-1, body); // null key
    zigzagVarint(valueSize, body);
    for (let j = 0; j < valueSize; j++) body.push((seed * 31 + i * 7 + j) & 0xff);
    zigzagVarint(0, body); // no headers
    const len: number[] = [];
    zigzagVarint(body.length, len);
    parts.push(Buffer.from([...len, ...body]));
  }
  const recordBytes = Buffer.concat(parts);
  const batch = Buffer.alloc(BATCH_HEADER_SIZE + recordBytes.length);
  batch.writeBigInt64BE(0n, BATCH_OFFSET.baseOffset);
  batch.writeInt32BE(batch.length - 12, BATCH_OFFSET.batchLength);
  batch.writeInt32BE(-1, BATCH_OFFSET.partitionLeaderEpoch);
  batch.writeInt8(2, BATCH_OFFSET.magic);
  batch.writeInt16BE(0, BATCH_OFFSET.attributes);
  batch.writeInt32BE(records - 1, BATCH_OFFSET.lastOffsetDelta);
  batch.writeBigInt64BE(timestamp, BATCH_OFFSET.baseTimestamp);
  batch.writeBigInt64BE(timestamp + BigInt(records - 1), BATCH_OFFSET.maxTimestamp);
  batch.writeBigInt64BE(spec.producer?.id ?? -1n, BATCH_OFFSET.producerId);
  batch.writeInt16BE(spec.producer?.epoch ?? -1, BATCH_OFFSET.producerEpoch);
  batch.writeInt32BE(spec.producer?.sequence ?? -1, BATCH_OFFSET.baseSequence);
  batch.writeInt32BE(records, BATCH_OFFSET.recordsCount);
  recordBytes.copy(batch, BATCH_HEADER_SIZE);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)) >>> 0, BATCH_OFFSET.crc);
  return batch;
}

/** The batch as storage must hand it back: the producer's bytes with baseOffset and leader epoch patched. */
export function patched(batch: Buffer, baseOffset: bigint, leaderEpoch: number): Buffer {
  const copy = Buffer.from(batch);
  copy.writeBigInt64BE(baseOffset, BATCH_OFFSET.baseOffset);
  copy.writeInt32BE(leaderEpoch, BATCH_OFFSET.partitionLeaderEpoch);
  return copy;
}

export interface ParsedBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  bytes: Buffer;
  complete: boolean;
}

/** Splits read() output into batches; a cut-short trailing batch comes back with complete=false. */
export function splitBatches(records: Buffer): ParsedBatch[] {
  const out: ParsedBatch[] = [];
  let pos = 0;
  while (pos + 12 <= records.length) {
    const size = records.readInt32BE(pos + 8) + 12;
    const complete = pos + size <= records.length;
    const baseOffset = records.readBigInt64BE(pos);
    const lastOffset = complete ? baseOffset + BigInt(records.readInt32BE(pos + BATCH_OFFSET.lastOffsetDelta)) : -1n;
    out.push({ baseOffset, lastOffset, bytes: records.subarray(pos, Math.min(pos + size, records.length)), complete });
    pos += size;
  }
  return out;
}

export function crcValid(batch: Buffer): boolean {
  return crc32c(batch.subarray(CRC_START)) >>> 0 === batch.readUInt32BE(BATCH_OFFSET.crc);
}

export const silentLogger: Logger = pino({ level: "silent" });

/** A fresh temporary directory and its cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tributary-log-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A clock tests move by hand. */
export function manualClock(start = 1_000_000): {
  now: () => number;
  advance: (ms: number) => void;
  set: (ms: number) => void;
} {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
    set: (ms) => {
      t = ms;
    },
  };
}

/** The i-th batch of the crash tests: deterministic, so the parent can rebuild what the child appended. */
export function crashBatch(i: number): Buffer {
  return makeBatch({
    records: 1 + (i % 4),
    valueSize: 20 + ((i * 37) % 300),
    seed: i,
    timestamp: BigInt(1_000_000 + i),
  });
}

/** Small segments and a dense index, so crashes also land in rolls and index bookkeeping. */
export const CRASH_LOG_CONFIG = { segmentBytes: 4096, indexIntervalBytes: 256 } as const;

/** Every whole batch from `from` to the log end, copied out of the pooled read buffers. */
export async function readAll(log: PartitionLog, from: bigint): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let next = from;
  while (next < log.logEndOffset) {
    const result = await log.read(next, 1 << 20);
    const batches = splitBatches(result.records).filter((b) => b.complete);
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) {
      out.push(Buffer.from(b.bytes));
      next = b.lastOffset + 1n;
    }
    result.release();
  }
  return out;
}
