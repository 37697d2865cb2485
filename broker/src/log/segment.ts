import { crc32c } from "@node-rs/crc32";
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { BATCH_HEADER_SIZE, BATCH_LOG_OVERHEAD, BATCH_OFFSET, CRC_START } from "../protocol/records/batch-header.ts";
import type { BufferPool } from "./buffer-pool.ts";
import { removeIfExists } from "./checkpoint.ts";
import { OffsetIndex, TimeIndex } from "./indexes.ts";

export const LOG_SUFFIX = ".log";
export const INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";
const MAGIC_V2 = 2;
/** Headers are walked in chunks of this size: with the default index interval one read usually finds the batch. */
const WALK_CHUNK = 16 * 1024;
const RECOVERY_CHUNK = 1024 * 1024;

/** Segment files are named by their base offset, zero-padded to 20 digits so that names sort like offsets. */
export function segmentFileName(baseOffset: bigint, suffix: string): string {
  return baseOffset.toString().padStart(20, "0") + suffix;
}

/** The header fields storage cares about, for the batch at `position` in its segment (or its append buffer). */
export interface BatchInfo {
  position: number;
  size: number;
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
  leaderEpoch: number;
  records: number;
}

/** Reads a BatchInfo; the caller guarantees BATCH_HEADER_SIZE bytes at `at`. */
export function batchInfoAt(buf: Buffer, at: number, position: number): BatchInfo {
  const baseOffset = buf.readBigInt64BE(at + BATCH_OFFSET.baseOffset);
  return {
    position,
    size: buf.readInt32BE(at + BATCH_OFFSET.batchLength) + BATCH_LOG_OVERHEAD,
    baseOffset,
    lastOffset: baseOffset + BigInt(buf.readInt32BE(at + BATCH_OFFSET.lastOffsetDelta)),
    maxTimestamp: buf.readBigInt64BE(at + BATCH_OFFSET.maxTimestamp),
    leaderEpoch: buf.readInt32BE(at + BATCH_OFFSET.partitionLeaderEpoch),
    records: buf.readInt32BE(at + BATCH_OFFSET.recordsCount),
  };
}

/** True when the batch at `at` (whose `size` bytes are all in `buf`) carries a matching CRC32C. */
export function batchCrcValid(buf: Buffer, at: number, size: number): boolean {
  const expected = buf.readUInt32BE(at + BATCH_OFFSET.crc);
  return crc32c(buf.subarray(at + CRC_START, at + size)) >>> 0 === expected;
}

export interface SegmentInfo {
  baseOffset: bigint;
  /** Offset after the segment's last batch; equals baseOffset when the segment is empty. */
  nextOffset: bigint;
  sizeBytes: number;
  /** Largest batch maxTimestamp in the segment, -1 if none. */
  maxTimestamp: bigint;
  active: boolean;
}

export interface RecoveryOutcome {
  /** Bytes cut from the end of the file because they were not a valid continuation of the log. */
  truncatedBytes: number;
}

/**
 * One segment: a log file of whole batches plus its two sparse indexes. Positions are int32, offsets inside the
 * segment are int32 relative to baseOffset, so a segment holds less than 2 GiB and 2^31 offsets.
 */
export class LogSegment {
  /** Bytes of whole batches: where the next append goes. Readers never look past it. */
  size = 0;
  nextOffset: bigint;
  maxTimestamp = -1n;
  /** Base offset of the first batch that reached maxTimestamp. */
  offsetOfMaxTimestamp: bigint;
  /** maxTimestamp of the first batch, -1 if none: time-based roll measures the segment's age in data time from it. */
  firstBatchTimestamp = -1n;
  /** Creation (or, for a segment found on disk, modification) time: the age fallback for batches without timestamps. */
  readonly createdAtMs: number;
  /** Wall-clock time of the last write; the retention fallback for batches without timestamps. */
  lastModifiedMs: number;
  private bytesSinceIndex = 0;
  private readers = 0;
  private retired = false;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly baseOffset: bigint,
    private readonly fh: FileHandle,
    private offsetIndex: OffsetIndex,
    private timeIndex: TimeIndex,
    nowMs: number,
    private readonly pool: BufferPool,
  ) {
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.createdAtMs = nowMs;
    this.lastModifiedMs = nowMs;
  }

  static paths(dir: string, baseOffset: bigint): { log: string; index: string; timeIndex: string } {
    return {
      log: join(dir, segmentFileName(baseOffset, LOG_SUFFIX)),
      index: join(dir, segmentFileName(baseOffset, INDEX_SUFFIX)),
      timeIndex: join(dir, segmentFileName(baseOffset, TIME_INDEX_SUFFIX)),
    };
  }

  /** A new empty segment; any stale files under the same name are discarded. */
  static async create(dir: string, baseOffset: bigint, nowMs: number, pool: BufferPool): Promise<LogSegment> {
    const paths = LogSegment.paths(dir, baseOffset);
    await removeIfExists(paths.index);
    await removeIfExists(paths.timeIndex);
    const fh = await open(paths.log, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC);
    return LogSegment.withEmptyIndexes(dir, baseOffset, fh, nowMs, pool);
  }

  private static withEmptyIndexes(
    dir: string,
    baseOffset: bigint,
    fh: FileHandle,
    nowMs: number,
    pool: BufferPool,
  ): LogSegment {
    const paths = LogSegment.paths(dir, baseOffset);
    const offsetIndex = OffsetIndex.empty(paths.index);
    return new LogSegment(dir, baseOffset, fh, offsetIndex, TimeIndex.empty(paths.timeIndex), nowMs, pool);
  }

  /**
   * Opens an existing segment. Without `recover` its indexes are trusted after a cheap consistency check (the tail
   * after the last index entry is walked to find the end offset); if the check fails, or with `recover`, the whole
   * file is validated batch by batch and the indexes are rebuilt.
   */
  static async open(
    dir: string,
    baseOffset: bigint,
    opts: { recover: boolean; indexIntervalBytes: number; pool: BufferPool; onBatch?: (info: BatchInfo) => void },
  ): Promise<{ segment: LogSegment; outcome: RecoveryOutcome; recovered: boolean }> {
    const fh = await open(LogSegment.paths(dir, baseOffset).log, constants.O_RDWR);
    try {
      const st = await fh.stat();
      const mtime = Math.floor(st.mtimeMs);
      if (!opts.recover) {
        const segment = await LogSegment.tryLoad(dir, baseOffset, fh, st.size, mtime, opts.pool);
        if (segment !== undefined) return { segment, outcome: { truncatedBytes: 0 }, recovered: false };
      }
      const segment = LogSegment.withEmptyIndexes(dir, baseOffset, fh, mtime, opts.pool);
      const outcome = await segment.recover(opts.indexIntervalBytes, opts.onBatch);
      return { segment, outcome, recovered: true };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  private static async tryLoad(
    dir: string,
    baseOffset: bigint,
    fh: FileHandle,
    fileSize: number,
    mtime: number,
    pool: BufferPool,
  ): Promise<LogSegment | undefined> {
    const paths = LogSegment.paths(dir, baseOffset);
    const offsetIndex = await OffsetIndex.load(paths.index, Math.max(fileSize, 1));
    const timeIndex = await TimeIndex.load(paths.timeIndex, 0x7fffffff);
    if (offsetIndex === undefined || timeIndex === undefined) return undefined;
    const segment = new LogSegment(dir, baseOffset, fh, offsetIndex, timeIndex, mtime, pool);
    if (fileSize === 0) return offsetIndex.entries === 0 && timeIndex.entries === 0 ? segment : undefined;

    const start = offsetIndex.last() ?? { relativeOffset: 0, position: 0 };
    let expected = baseOffset + BigInt(start.relativeOffset);
    let end = start.position;
    let consistent = true;
    let tailMaxTimestamp = -1n;
    await segment.walk(start.position, fileSize, (info) => {
      if (info.baseOffset !== expected || info.size < BATCH_HEADER_SIZE || info.position + info.size > fileSize) {
        consistent = false;
        return true;
      }
      if (info.maxTimestamp > tailMaxTimestamp) tailMaxTimestamp = info.maxTimestamp;
      expected = info.lastOffset + 1n;
      end = info.position + info.size;
      return false;
    });
    const lastTime = timeIndex.last();
    const indexedMax = lastTime?.timestamp ?? -1n;
    // The time index gets its final entry when the segment is rolled or closed, so a tail that beats it, or a
    // non-empty segment without one, means the index is stale.
    if (
      !consistent ||
      end !== fileSize ||
      tailMaxTimestamp > indexedMax ||
      (lastTime === undefined && tailMaxTimestamp >= 0n)
    ) {
      return undefined;
    }
    if (lastTime !== undefined && baseOffset + BigInt(lastTime.relativeOffset) >= expected) return undefined;
    segment.size = fileSize;
    segment.nextOffset = expected;
    segment.maxTimestamp = indexedMax;
    if (lastTime !== undefined) segment.offsetOfMaxTimestamp = baseOffset + BigInt(lastTime.relativeOffset);
    segment.bytesSinceIndex = fileSize - start.position;
    const first = await segment.walk(0, fileSize, () => true);
    if (first !== undefined) segment.firstBatchTimestamp = first.maxTimestamp;
    return segment;
  }

  /** Validates every batch from the start, cuts the file after the last good one and rebuilds both indexes. */
  async recover(indexIntervalBytes: number, onBatch?: (info: BatchInfo) => void): Promise<RecoveryOutcome> {
    this.offsetIndex.clear();
    this.timeIndex.clear();
    this.size = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1n;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.firstBatchTimestamp = -1n;
    this.bytesSinceIndex = 0;
    const fileSize = (await this.fh.stat()).size;
    let buf = Buffer.allocUnsafe(Math.min(RECOVERY_CHUNK, Math.max(fileSize, BATCH_HEADER_SIZE)));
    let bufStart = 0;
    let bufLen = 0;
    const ensure = async (pos: number, n: number): Promise<number> => {
      if (pos >= bufStart && pos + n <= bufStart + bufLen) return pos - bufStart;
      if (n > buf.length) buf = Buffer.allocUnsafe(n);
      bufStart = pos;
      bufLen = await readFully(this.fh, buf, 0, Math.min(buf.length, fileSize - pos), pos);
      return 0;
    };
    let pos = 0;
    let expected = this.baseOffset;
    while (pos + BATCH_HEADER_SIZE <= fileSize) {
      let at = await ensure(pos, BATCH_HEADER_SIZE);
      if (bufLen - at < BATCH_HEADER_SIZE) break;
      const info = batchInfoAt(buf, at, pos);
      if (
        info.baseOffset !== expected ||
        info.size < BATCH_HEADER_SIZE ||
        pos + info.size > fileSize ||
        buf.readInt8(at + BATCH_OFFSET.magic) !== MAGIC_V2 ||
        info.lastOffset < info.baseOffset
      ) {
        break;
      }
      at = await ensure(pos, info.size);
      if (bufLen - at < info.size || !batchCrcValid(buf, at, info.size)) break;
      this.track(info, indexIntervalBytes);
      onBatch?.(info);
      pos += info.size;
      this.size = pos;
      this.nextOffset = info.lastOffset + 1n;
      expected = this.nextOffset;
    }
    if (pos < fileSize) await this.fh.truncate(pos);
    return { truncatedBytes: fileSize - pos };
  }

  /** Index and timestamp bookkeeping for a batch that now lies at info.position in the file. */
  private track(info: BatchInfo, indexIntervalBytes: number): void {
    if (info.position === 0) this.firstBatchTimestamp = info.maxTimestamp;
    if (info.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = info.maxTimestamp;
      this.offsetOfMaxTimestamp = info.baseOffset;
    }
    if (this.bytesSinceIndex > indexIntervalBytes) {
      this.offsetIndex.append(Number(info.baseOffset - this.baseOffset), info.position);
      if (this.maxTimestamp >= 0n) {
        this.timeIndex.maybeAppend(this.maxTimestamp, Number(this.offsetOfMaxTimestamp - this.baseOffset));
      }
      this.bytesSinceIndex = 0;
    }
    this.bytesSinceIndex += info.size;
  }

  /**
   * Writes whole batches, whose offsets the caller has already patched, right after the segment's last batch without
   * making them part of it yet: size, indexes and readers ignore them until commitAppend, and discardAppend cuts them
   * off again. A failed write is cut off here, so nothing half-written stays behind the segment's end.
   */
  async writeAppend(buf: Buffer): Promise<void> {
    try {
      await writeFully(this.fh, buf, this.size);
    } catch (err) {
      await this.discardAppend().catch(() => undefined);
      throw err;
    }
  }

  /** Makes the batches of the last writeAppend part of the segment; `infos` give their positions relative to `buf`. */
  commitAppend(buf: Buffer, infos: readonly BatchInfo[], indexIntervalBytes: number, nowMs: number): void {
    const base = this.size;
    for (const info of infos) this.track({ ...info, position: base + info.position }, indexIntervalBytes);
    const last = infos[infos.length - 1];
    if (last !== undefined) this.nextOffset = last.lastOffset + 1n;
    this.size = base + buf.length;
    this.lastModifiedMs = nowMs;
  }

  /** Cuts off whatever lies after the segment's last committed batch (a write that was written but not committed). */
  async discardAppend(): Promise<void> {
    await this.fh.truncate(this.size);
  }

  /**
   * Visits batch headers from `from` (a batch boundary) while they start below `limit`, reading the file in chunks;
   * stops at and returns the first batch for which `visit` returns true. Undefined if none did or the file ended.
   */
  async walk(from: number, limit: number, visit: (info: BatchInfo) => boolean): Promise<BatchInfo | undefined> {
    const buf = this.pool.acquire(WALK_CHUNK);
    try {
      let bufStart = 0;
      let bufLen = 0;
      let pos = from;
      while (pos + BATCH_HEADER_SIZE <= limit) {
        if (pos < bufStart || pos + BATCH_HEADER_SIZE > bufStart + bufLen) {
          bufStart = pos;
          bufLen = await readFully(this.fh, buf, 0, Math.min(WALK_CHUNK, limit - pos), pos);
          if (bufLen < BATCH_HEADER_SIZE) return undefined;
        }
        const info = batchInfoAt(buf, pos - bufStart, pos);
        if (visit(info)) return info;
        if (info.size < BATCH_HEADER_SIZE) return undefined;
        pos += info.size;
      }
      return undefined;
    } finally {
      this.pool.release(buf);
    }
  }

  /** The first batch below `limit` whose last offset is >= `offset`: the batch that holds it, or the next one. */
  findBatch(offset: bigint, limit: number): Promise<BatchInfo | undefined> {
    const rel = offset - this.baseOffset;
    const start = rel <= 0n ? { position: 0 } : this.offsetIndex.lookup(rel > 0x7fffffffn ? 0x7fffffff : Number(rel));
    return this.walk(start.position, limit, (info) => info.lastOffset >= offset);
  }

  /** The first batch whose maxTimestamp is >= `timestamp` and whose last offset is >= `minOffset`. */
  findByTimestamp(timestamp: bigint, minOffset: bigint): Promise<BatchInfo | undefined> {
    const entry = this.timeIndex.lookup(timestamp);
    let from = entry === undefined ? 0 : this.offsetIndex.lookup(entry.relativeOffset).position;
    const rel = minOffset - this.baseOffset;
    if (rel > 0n) from = Math.max(from, this.offsetIndex.lookup(Number(rel)).position);
    const size = this.size;
    return this.walk(from, size, (info) => info.lastOffset >= minOffset && info.maxTimestamp >= timestamp);
  }

  /** Reads `length` bytes at `position` into a pooled buffer. The returned view may be shorter at end of file. */
  async read(position: number, length: number): Promise<{ data: Buffer; backing: Buffer }> {
    const backing = this.pool.acquire(length);
    try {
      const got = await readFully(this.fh, backing, 0, length, position);
      return { data: backing.subarray(0, got), backing };
    } catch (err) {
      this.pool.release(backing);
      throw err;
    }
  }

  /** Cuts the segment so that it ends before the batch that holds `offset`; rebuilds its indexes from the rest. */
  async truncateTo(offset: bigint, indexIntervalBytes: number): Promise<void> {
    const batch = await this.findBatch(offset, this.size);
    if (batch === undefined) return;
    await this.fh.truncate(batch.position);
    await this.recover(indexIntervalBytes);
  }

  /** The segment is done receiving appends (or is being closed): record its final max timestamp in the time index. */
  private sealTimeIndex(): void {
    if (this.maxTimestamp >= 0n) {
      this.timeIndex.maybeAppend(this.maxTimestamp, Number(this.offsetOfMaxTimestamp - this.baseOffset));
    }
  }

  /** fsyncs the log data; with `withIndexes`, also seals, writes and fsyncs both indexes. */
  async flush(withIndexes: boolean): Promise<void> {
    await this.fh.datasync();
    if (withIndexes) {
      this.sealTimeIndex();
      await this.offsetIndex.persist(true);
      await this.timeIndex.persist(true);
    }
  }

  info(active: boolean): SegmentInfo {
    return {
      baseOffset: this.baseOffset,
      nextOffset: this.nextOffset,
      sizeBytes: this.size,
      maxTimestamp: this.maxTimestamp,
      active,
    };
  }

  /**
   * How old the segment is for time-based roll, as Kafka measures it: in data time (the incoming batch against the
   * first one) when batches carry timestamps, so that replaying old data does not roll on every append.
   */
  ageMs(incomingMaxTimestamp: bigint, nowMs: number): number {
    if (this.size === 0) return 0;
    if (this.firstBatchTimestamp >= 0n && incomingMaxTimestamp >= 0n) {
      return Number(incomingMaxTimestamp - this.firstBatchTimestamp);
    }
    return nowMs - this.createdAtMs;
  }

  /** Age reference for time retention, in ms: the newest batch timestamp, or the last write if batches carry none. */
  largestTimestampMs(): number {
    return this.maxTimestamp >= 0n ? Number(this.maxTimestamp) : this.lastModifiedMs;
  }

  /** Registers a reader; false if the segment is already gone (the caller then looks again). */
  acquireReader(): boolean {
    if (this.closed) return false;
    this.readers++;
    return true;
  }

  async releaseReader(): Promise<void> {
    this.readers--;
    if (this.retired && this.readers === 0) await this.closeHandle();
  }

  /**
   * Removes the segment from disk. Unlinking first is safe while reads are in flight: their open handle keeps the
   * data readable until the last one finishes and the handle is closed.
   */
  async retire(): Promise<void> {
    this.retired = true;
    const paths = LogSegment.paths(this.dir, this.baseOffset);
    await removeIfExists(paths.log);
    await removeIfExists(paths.index);
    await removeIfExists(paths.timeIndex);
    if (this.readers === 0) await this.closeHandle();
  }

  /** Closes without deleting; with `clean`, first makes data and indexes durable. */
  async close(clean: boolean): Promise<void> {
    if (this.closed) return;
    if (clean) await this.flush(true);
    this.retired = true;
    if (this.readers === 0) await this.closeHandle();
  }

  private async closeHandle(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function readFully(
  fh: FileHandle,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, offset + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
