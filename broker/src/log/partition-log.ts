import { crc32c } from "@node-rs/crc32";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import {
  BATCH_HEADER_SIZE,
  BATCH_OFFSET,
  CRC_START,
  TIMESTAMP_TYPE_LOG_APPEND,
  batchSizeAt,
} from "../protocol/records/batch-header.ts";
import { sharedBufferPool, type BufferPool } from "./buffer-pool.ts";
import { fsyncDir, readCheckpoint, removeIfExists, writeCheckpoint, writeFileAtomic } from "./checkpoint.ts";
import { resolveLogConfig, type LogConfig } from "./config.ts";
import { InvalidBatchError, LogClosedError, OffsetOutOfRangeError, StorageError } from "./errors.ts";
import { LeaderEpochCache, type EpochEndOffset, type EpochEntry } from "./leader-epoch-cache.ts";
import { LogSegment, batchCrcValid, batchInfoAt, type BatchInfo, type SegmentInfo } from "./segment.ts";

export const CLEAN_SHUTDOWN_FILE = ".clean-shutdown";
export const RECOVERY_POINT_FILE = "recovery-point-offset-checkpoint";
export const LOG_START_OFFSET_FILE = "log-start-offset-checkpoint";
export const LEADER_EPOCH_FILE = "leader-epoch-checkpoint";
/** The partition's high watermark (Kafka keeps one replication-offset-checkpoint per log dir; we keep one per log). */
export const HIGH_WATERMARK_FILE = "high-watermark-checkpoint";
const SEGMENT_LOG = /^(\d{20})\.log$/;
const SEGMENT_INDEX = /^(\d{20})\.(index|timeindex)$/;
const MAX_RELATIVE_OFFSET = 0x7fffffffn;
/** Flush settings at or above this mean "never" (Kafka's Long.MAX_VALUE default). */
const DEFAULT_NEVER_MS = Number.MAX_SAFE_INTEGER;

export interface PartitionLogOptions {
  dir: string;
  /** Overrides on top of Kafka's defaults (or a full config from the LogManager). */
  config?: Partial<LogConfig>;
  logger: Logger;
  /** Wall clock in ms; tests inject one to drive roll, retention and LogAppendTime. */
  clock?: () => number;
  bufferPool?: BufferPool;
}

export interface AppendOptions {
  /** Written into every batch's partitionLeaderEpoch and recorded in the leader epoch cache. */
  leaderEpoch: number;
  /**
   * Stamp the batches with LogAppendTime (message.timestamp.type=LogAppendTime): maxTimestamp becomes the append time,
   * the timestamp-type attribute is set and the CRC recomputed, as Kafka's broker does. The time is taken under the
   * append lock so it never goes backwards along the log.
   */
  logAppendTime?: boolean;
}

export interface AppendResult {
  baseOffset: bigint;
  lastOffset: bigint;
  /** Set when the batches were stamped with LogAppendTime. */
  logAppendTime?: bigint;
}

export interface ReadOptions {
  /** Exclusive upper bound, usually the high watermark; defaults to the log end offset. */
  maxOffset?: bigint;
  /**
   * Return the first batch whole even if it exceeds maxBytes (default true), so a consumer can always make progress.
   * With false, a first batch larger than maxBytes yields no records, for partitions after the first in a response.
   */
  minOneBatch?: boolean;
}

export interface ReadResult {
  /**
   * Whole batches, starting with the one that holds the fetch offset (which may therefore start before it); the last
   * batch may be cut short by maxBytes, as Kafka allows. Empty when there is nothing to read. A view of a pooled
   * buffer: call release() once it has been written out, and do not touch it afterwards.
   */
  records: Buffer;
  highWatermark: bigint;
  logStartOffset: bigint;
  logEndOffset: bigint;
  release(): void;
}

/**
 * The batch a timestamp lookup landed on. Storage works at batch granularity; the caller decodes `batch` if it needs
 * the exact record (ListOffsets answers with a record offset).
 */
export interface TimestampLookup {
  timestamp: bigint;
  baseOffset: bigint;
  lastOffset: bigint;
  leaderEpoch: number;
  batch: Buffer;
}

export type DeletionReason = "retention.ms" | "retention.bytes" | "log-start-offset";

export interface DeletedSegment extends SegmentInfo {
  reason: DeletionReason;
}

export interface RetentionOutcome {
  deleted: DeletedSegment[];
  logStartOffset: bigint;
}

/**
 * Durable storage of one partition: a directory of segments (see docs/design/storage.md).
 *
 * Writers (append, truncate, delete, retention, flush, close) run one at a time in call order; reads run concurrently
 * with them and only ever see bytes whose write has completed.
 */
export class PartitionLog {
  private segmentList: LogSegment[];
  private startOffset: bigint;
  private endOffset: bigint;
  /** Offsets below it are as durable as the flush policy asks: the leader's own contribution to the HW. */
  private durable: bigint;
  /** Set by the partition layer (updateHighWatermark); consumers read below it. */
  private hw: bigint;
  /** The HW in the checkpoint file, undefined while there is no file. */
  private checkpointedHw: bigint | undefined;
  private unflushedRecords = 0;
  /** The epoch cache holds an entry (from assignEpochStartOffset) that its checkpoint file does not have yet. */
  private epochsUnpersisted = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * HW checkpoint writes, one at a time and each writing the HW as it is when it starts, so the last one to finish
   * holds the newest value. Separate from `queue`: the periodic checkpoint (two fsyncs) must not hold up appends.
   */
  private hwWrites: Promise<void> = Promise.resolve();
  private cfg: LogConfig;

  private constructor(
    readonly dir: string,
    config: LogConfig,
    private readonly logger: Logger,
    private readonly clock: () => number,
    private readonly pool: BufferPool,
    segments: LogSegment[],
    startOffset: bigint,
    private readonly epochs: LeaderEpochCache,
    checkpointedHw: bigint | undefined,
  ) {
    this.cfg = config;
    this.segmentList = segments;
    this.startOffset = startOffset;
    this.endOffset = this.active.nextOffset;
    this.durable = this.endOffset;
    this.checkpointedHw = checkpointedHw;
    // Without a checkpoint the log comes from before replicated partitions, when everything up to its end was
    // served (ADR 4): it keeps serving that. New logs have their checkpoint written with their first append.
    const hw = checkpointedHw ?? this.endOffset;
    this.hw = hw > this.endOffset ? this.endOffset : hw < startOffset ? startOffset : hw;
  }

  /**
   * Opens (creating if needed) the log in `dir`. After a clean shutdown segments and indexes are trusted; otherwise
   * every segment from the one holding the recovery point onwards is validated batch by batch (length, offsets, CRC),
   * a torn or corrupt tail is cut off together with any later segment, and their indexes are rebuilt.
   */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const { dir, logger } = options;
    const config = resolveLogConfig(options.config);
    const clock = options.clock ?? Date.now;
    const pool = options.bufferPool ?? sharedBufferPool;
    await mkdir(dir, { recursive: true });
    const names = await readdir(dir);
    const bases: bigint[] = [];
    for (const name of names) {
      const m = SEGMENT_LOG.exec(name);
      if (m?.[1] !== undefined) bases.push(BigInt(m[1]));
    }
    bases.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const baseSet = new Set(bases);
    for (const name of names) {
      const m = SEGMENT_INDEX.exec(name);
      // Leftovers of an interrupted atomic write or segment deletion.
      if (name.endsWith(".tmp") || (m?.[1] !== undefined && !baseSet.has(BigInt(m[1])))) {
        await removeIfExists(join(dir, name));
      }
    }

    const clean = names.includes(CLEAN_SHUTDOWN_FILE);
    // Only files the listing holds are read: a new log has none, and a failed read of a missing file costs an error.
    const checkpoint = (file: string) =>
      names.includes(file) ? readOffsetCheckpoint(join(dir, file)) : Promise.resolve(undefined);
    const recoveryPoint = await checkpoint(RECOVERY_POINT_FILE);
    const checkpointedStart = await checkpoint(LOG_START_OFFSET_FILE);
    const epochs = await LeaderEpochCache.load(join(dir, LEADER_EPOCH_FILE));
    const checkpointedHw = await checkpoint(HIGH_WATERMARK_FILE);

    let recoverFrom = bases.length;
    if (!clean) {
      recoverFrom = 0;
      if (recoveryPoint !== undefined) {
        for (let i = 0; i < bases.length; i++) if (bases[i]! <= recoveryPoint) recoverFrom = i;
      }
    }

    const segments: LogSegment[] = [];
    const seenEpochs: EpochEntry[] = [];
    const rebuilt = new Set<LogSegment>();
    let recoveredFromOffset: bigint | undefined;
    try {
      for (let i = 0; i < bases.length; i++) {
        const base = bases[i]!;
        const previous = segments[segments.length - 1];
        if (previous !== undefined && previous.nextOffset !== base) {
          logger.warn(
            { dir, expected: previous.nextOffset, found: base },
            "segments are not contiguous; dropping the rest",
          );
          await dropSegmentFiles(dir, bases.slice(i));
          break;
        }
        const { segment, outcome, recovered } = await LogSegment.open(dir, base, {
          recover: i >= recoverFrom,
          indexIntervalBytes: config.indexIntervalBytes,
          pool,
          onBatch: (info) => {
            // Only the crash-recovery region, which runs to the end of the log, may rewrite the epoch cache's tail.
            if (i >= recoverFrom) seenEpochs.push({ epoch: info.leaderEpoch, startOffset: info.baseOffset });
          },
        });
        segments.push(segment);
        if (recovered) {
          rebuilt.add(segment);
          if (i >= recoverFrom) recoveredFromOffset ??= base;
          logger.info({ dir, baseOffset: base, nextOffset: segment.nextOffset }, "recovered segment");
        }
        if (outcome.truncatedBytes > 0) {
          logger.warn({ dir, baseOffset: base, truncatedBytes: outcome.truncatedBytes }, "cut a torn or corrupt tail");
          if (i + 1 < bases.length) {
            logger.warn({ dir, segments: bases.length - i - 1 }, "dropping segments after the corrupt one");
            await dropSegmentFiles(dir, bases.slice(i + 1));
          }
          break;
        }
      }
      if (segments.length === 0) segments.push(await LogSegment.create(dir, checkpointedStart ?? 0n, clock(), pool));

      let startOffset = segments[0]!.baseOffset;
      if (checkpointedStart !== undefined && checkpointedStart > startOffset) startOffset = checkpointedStart;
      const endOffset = segments[segments.length - 1]!.nextOffset;
      if (startOffset > endOffset) {
        // Only possible if data below a deleteRecords point was lost (power loss without flush): start empty there.
        logger.warn({ dir, startOffset, endOffset }, "log start offset is beyond the recovered data; starting empty");
        for (const segment of segments.reverse()) await segment.retire();
        segments.length = 0;
        segments.push(await LogSegment.create(dir, startOffset, clock(), pool));
      }

      // Segments that are no longer active were made durable when they were rolled; recovered ones must be again,
      // indexes included, because recovery will not look at them next time.
      for (const segment of segments.slice(0, -1)) if (rebuilt.has(segment)) await segment.flush(true);

      let epochsChanged = false;
      if (recoveredFromOffset !== undefined) {
        // Batch headers are the truth for what recovery validated; the checkpoint may be ahead of or behind them.
        epochsChanged = epochs.truncateFromEnd(recoveredFromOffset);
        for (const e of seenEpochs) epochsChanged = epochs.assign(e.epoch, e.startOffset) || epochsChanged;
      }
      const finalEnd = segments[segments.length - 1]!.nextOffset;
      epochsChanged = epochs.truncateFromEnd(finalEnd) || epochsChanged;
      epochsChanged = epochs.truncateFromStart(startOffset) || epochsChanged;
      if (epochsChanged) await epochs.persist();

      if (clean) {
        // Durably gone before any new write, or a later crash would be mistaken for a clean shutdown.
        await removeIfExists(join(dir, CLEAN_SHUTDOWN_FILE));
        await fsyncDir(dir);
      }
      const log = new PartitionLog(dir, config, logger, clock, pool, segments, startOffset, epochs, checkpointedHw);
      logger.debug({ dir, logStartOffset: startOffset, logEndOffset: log.endOffset, clean }, "opened partition log");
      return log;
    } catch (err) {
      for (const segment of segments) await segment.close(false).catch(() => undefined);
      throw err;
    }
  }

  private get active(): LogSegment {
    return this.segmentList[this.segmentList.length - 1]!;
  }

  get logStartOffset(): bigint {
    return this.startOffset;
  }

  /** The offset the next appended record will get. */
  get logEndOffset(): bigint {
    return this.endOffset;
  }

  /**
   * Every appended offset once it is as durable as the flush policy asks: appends that trigger a policy fsync
   * advance it only after the fsync. The leader's own part of the high watermark (ADR 24).
   */
  get durableEnd(): bigint {
    return this.durable;
  }

  /**
   * Consumers read below it. The partition layer sets it (updateHighWatermark): on a leader the smallest end offset
   * across the ISR, on a follower what its leader sent. Only truncation lowers it.
   */
  get highWatermark(): bigint {
    return this.hw;
  }

  /**
   * Moves the high watermark up to `offset`, or to the log end offset if that is lower; never down. Returns the high
   * watermark after the call. It reaches the checkpoint file with the next flush, roll or close.
   */
  updateHighWatermark(offset: bigint): bigint {
    const bounded = offset > this.endOffset ? this.endOffset : offset;
    if (bounded > this.hw) this.hw = bounded;
    return this.hw;
  }

  get config(): Readonly<LogConfig> {
    return this.cfg;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Applies changed topic configs (AlterConfigs); they take effect from the next append or retention run. */
  setConfig(overrides: Partial<LogConfig>): void {
    this.cfg = resolveLogConfig(overrides, this.cfg);
  }

  /**
   * Appends one or more v2 batches, already validated by the produce path, assigning consecutive offsets: a batch
   * with lastOffsetDelta d takes d + 1. Patches baseOffset and partitionLeaderEpoch in `batches` itself (both lie
   * outside the CRC), writes them unchanged otherwise, and resolves once the bytes are in the file, and fsynced if
   * the flush policy asks for it. All batches of one call land in one segment.
   */
  append(batches: Buffer, options: AppendOptions): Promise<AppendResult> {
    return this.exclusive(async () => {
      const now = this.clock();
      const logAppendTime = options.logAppendTime === true ? BigInt(now) : undefined;
      let next = this.endOffset;
      const totals = walkBatches(batches, (pos, size) => {
        batches.writeBigInt64BE(next, pos + BATCH_OFFSET.baseOffset);
        batches.writeInt32BE(options.leaderEpoch, pos + BATCH_OFFSET.partitionLeaderEpoch);
        if (logAppendTime !== undefined) stampLogAppendTime(batches, pos, size, logAppendTime);
        const info = batchInfoAt(batches, pos, pos);
        next = info.lastOffset + 1n;
        return info;
      });
      const epochs = [{ epoch: options.leaderEpoch, startOffset: totals.first.baseOffset }];
      try {
        await this.writeAppend(batches, totals, epochs, now);
      } catch (err) {
        throw new StorageError(this.dir, "append", err);
      }
      this.endOffset = next;
      this.durable = next;
      const result: AppendResult = { baseOffset: totals.first.baseOffset, lastOffset: totals.lastOffset };
      if (logAppendTime !== undefined) result.logAppendTime = logAppendTime;
      return result;
    });
  }

  /**
   * A follower's append (Kafka's appendAsFollower): `batches` come from the leader's log and keep its offsets and
   * partition leader epochs. They must be whole v2 batches with valid CRCs whose offsets run on without a gap from
   * the log end offset; anything else throws InvalidBatchError and leaves the log as it was. Each batch whose epoch
   * is newer than the latest known one starts that epoch in the leader epoch cache, as on the leader. The high
   * watermark does not move: a follower's comes from its leader.
   */
  appendAsFollower(batches: Buffer): Promise<AppendResult> {
    return this.exclusive(async () => {
      let next = this.endOffset;
      // An epoch this replica assigned when it led but never wrote in starts at the log end; the leader's batches
      // there replace it (Kafka drops such conflicting entries the same way).
      let latestEpoch = this.epochs.all().findLast((e) => e.startOffset < this.endOffset)?.epoch ?? -1;
      const epochs: EpochEntry[] = [];
      const totals = walkBatches(batches, (pos, size) => {
        if (!batchCrcValid(batches, pos, size)) throw new InvalidBatchError(`CRC mismatch in the batch at ${pos}`);
        const info = batchInfoAt(batches, pos, pos);
        if (info.baseOffset !== next)
          throw new InvalidBatchError(`the batch at ${pos} starts at offset ${info.baseOffset}, expected ${next}`);
        if (info.leaderEpoch > latestEpoch) {
          epochs.push({ epoch: info.leaderEpoch, startOffset: info.baseOffset });
          latestEpoch = info.leaderEpoch;
        }
        next = info.lastOffset + 1n;
        return info;
      });
      if (this.epochs.truncateFromEnd(this.endOffset)) this.epochsUnpersisted = true;
      try {
        await this.writeAppend(batches, totals, epochs, this.clock());
      } catch (err) {
        throw new StorageError(this.dir, "append", err);
      }
      this.endOffset = next;
      this.durable = next;
      return { baseOffset: totals.first.baseOffset, lastOffset: totals.lastOffset };
    });
  }

  /**
   * The I/O of an append. Nothing becomes part of the log until every step succeeded: a failed write is cut off, and
   * bytes whose epoch checkpoint or policy fsync failed are cut off too, because the producer is told the append
   * failed and would otherwise find its retry stored twice.
   */
  private async writeAppend(
    batches: Buffer,
    totals: AppendTotals,
    epochs: readonly EpochEntry[],
    now: number,
  ): Promise<void> {
    const { infos, lastOffset, maxTimestamp, records } = totals;
    const baseOffset = totals.first.baseOffset;
    // A log's first append writes its first HW checkpoint, so that a log with data always has one: a missing
    // checkpoint means a log from before replication, whose high watermark is its end.
    if (this.checkpointedHw === undefined) await this.checkpointHighWatermark();
    const current = this.active;
    if (
      current.size > 0 &&
      (current.size + batches.length > this.cfg.segmentBytes ||
        lastOffset - current.baseOffset > MAX_RELATIVE_OFFSET ||
        current.ageMs(maxTimestamp, now) > this.cfg.segmentMs)
    ) {
      await this.roll();
    }
    const active = this.active;
    await active.writeAppend(batches);
    let epochAssigned = false;
    for (const e of epochs) epochAssigned = this.epochs.assign(e.epoch, e.startOffset) || epochAssigned;
    const unflushed = this.unflushedRecords + Math.max(records, 1);
    const flushNow = unflushed >= this.cfg.flushIntervalMessages;
    try {
      if (epochAssigned || this.epochsUnpersisted) {
        await this.epochs.persist();
        this.epochsUnpersisted = false;
      }
      if (flushNow) await active.flush(false);
    } catch (err) {
      if (epochAssigned) this.epochs.truncateFromEnd(baseOffset);
      await active
        .discardAppend()
        .catch((cutErr: unknown) =>
          this.logger.error({ err: cutErr, dir: this.dir }, "could not cut off an append that failed"),
        );
      throw err;
    }
    active.commitAppend(batches, infos, this.cfg.indexIntervalBytes, now);
    if (flushNow) {
      if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.unflushedRecords = 0;
    } else {
      this.unflushedRecords = unflushed;
      this.scheduleFlush();
    }
  }

  /**
   * Reads whole batches from `fetchOffset` on, at most `maxBytes` (but see ReadOptions.minOneBatch), never crossing
   * into the next segment. Throws OffsetOutOfRangeError outside [logStartOffset, logEndOffset], also when retention
   * deleted the segments it was reading and the log start moved past `fetchOffset` meanwhile; StorageError when the
   * segment files cannot be read.
   */
  async read(fetchOffset: bigint, maxBytes: number, options: ReadOptions = {}): Promise<ReadResult> {
    if (this.closed) throw new LogClosedError(this.dir);
    const end = this.endOffset;
    const start = this.startOffset;
    if (fetchOffset < start || fetchOffset > end) throw new OffsetOutOfRangeError(fetchOffset, start, end);
    const limit = options.maxOffset === undefined || options.maxOffset > end ? end : options.maxOffset;
    const segments = this.segmentList;
    for (let i = floorSegment(segments, fetchOffset); i >= 0 && i < segments.length && fetchOffset < limit; i++) {
      const segment = segments[i]!;
      if (!segment.acquireReader()) {
        // Retired under us by retention or truncation: start over against the new segment list.
        if (this.segmentList !== segments) return this.read(fetchOffset, maxBytes, options);
        break;
      }
      try {
        const size = segment.size;
        const first = await segment.findBatch(fetchOffset, size);
        if (first === undefined) continue;
        if (first.baseOffset >= limit) break;
        let stop = size;
        if (limit < segment.nextOffset) {
          const boundary = await segment.findBatch(limit, size);
          if (boundary !== undefined) stop = boundary.position;
        }
        if (stop <= first.position) break;
        let length = Math.min(maxBytes, stop - first.position);
        if (length < first.size) {
          if (options.minOneBatch === false) break;
          length = first.size;
        }
        const { data, backing } = await segment.read(first.position, length);
        return this.readResult(data, () => this.pool.release(backing));
      } catch (err) {
        throw new StorageError(this.dir, "reading", err);
      } finally {
        await segment.releaseReader();
      }
    }
    return this.readResult(Buffer.alloc(0), () => undefined);
  }

  private readResult(records: Buffer, release: () => void): ReadResult {
    return {
      records,
      highWatermark: this.hw,
      logStartOffset: this.startOffset,
      logEndOffset: this.endOffset,
      release,
    };
  }

  /**
   * The first batch at or after the log start, below the high watermark, whose maxTimestamp is >= `timestamp`
   * (ListOffsets by timestamp), found through the time index. Undefined if there is none.
   */
  async offsetForTimestamp(timestamp: bigint): Promise<TimestampLookup | undefined> {
    for (const segment of this.segmentList) {
      if (segment.nextOffset <= this.startOffset || segment.maxTimestamp < timestamp) continue;
      const found = await this.withReader(segment, async () => {
        const info = await segment.findByTimestamp(timestamp, this.startOffset);
        return info === undefined || info.baseOffset >= this.hw ? undefined : this.lookupResult(segment, info);
      });
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** The first batch holding the largest timestamp in the log (ListOffsets MAX_TIMESTAMP), undefined if empty. */
  async maxTimestampOffset(): Promise<TimestampLookup | undefined> {
    let best: LogSegment | undefined;
    for (const segment of this.segmentList) {
      if (segment.nextOffset <= this.startOffset || segment.size === 0) continue;
      if (best === undefined || segment.maxTimestamp > best.maxTimestamp) best = segment;
    }
    if (best === undefined) return undefined;
    const segment = best;
    return this.withReader(segment, async () => {
      const info = await segment.findBatch(segment.offsetOfMaxTimestamp, segment.size);
      return info === undefined ? undefined : this.lookupResult(segment, info);
    });
  }

  private async lookupResult(segment: LogSegment, info: BatchInfo): Promise<TimestampLookup> {
    const { data, backing } = await segment.read(info.position, info.size);
    const batch = Buffer.from(data);
    this.pool.release(backing);
    return {
      timestamp: info.maxTimestamp,
      baseOffset: info.baseOffset,
      lastOffset: info.lastOffset,
      leaderEpoch: info.leaderEpoch,
      batch,
    };
  }

  private async withReader<T>(segment: LogSegment, fn: () => Promise<T | undefined>): Promise<T | undefined> {
    if (!segment.acquireReader()) return undefined;
    try {
      return await fn();
    } finally {
      await segment.releaseReader();
    }
  }

  /**
   * DeleteRecords: moves the log start offset up to `offset` (at most the high watermark) and persists it; segments
   * wholly below it are deleted. Returns the new log start offset (the low watermark).
   */
  deleteRecordsBefore(offset: bigint): Promise<bigint> {
    return this.exclusive(async () => {
      if (offset < 0n || offset > this.hw) throw new OffsetOutOfRangeError(offset, this.startOffset, this.hw);
      if (offset <= this.startOffset) return this.startOffset;
      // On disk first: if the checkpoint cannot be written (disk full), the log start does not move at all.
      try {
        await writeOffsetCheckpoint(join(this.dir, LOG_START_OFFSET_FILE), offset);
      } catch (err) {
        throw new StorageError(this.dir, "moving the log start offset", err);
      }
      this.startOffset = offset;
      // A stale epoch checkpoint is harmless: opening the log cuts it to the log start again.
      if (this.epochs.truncateFromStart(offset))
        await this.epochs
          .persist()
          .catch((err: unknown) =>
            this.logger.warn({ err, dir: this.dir }, "could not write the leader epoch checkpoint"),
          );
      await this.deleteOldSegments((_segment, next) => next.baseOffset <= this.startOffset, "log-start-offset");
      return this.startOffset;
    });
  }

  /**
   * Removes every batch from the one holding `offset` onwards (a follower truncating to its leader). The log end
   * offset becomes that batch's base offset, which is `offset` whenever it is a batch boundary.
   */
  truncateTo(offset: bigint): Promise<void> {
    return this.exclusive(async () => {
      if (offset < 0n) throw new RangeError(`cannot truncate to negative offset ${offset}`);
      if (offset >= this.endOffset) {
        // No data to cut, but an epoch this replica started as leader and never wrote in may conflict with the
        // leader it now follows: it goes, as in Kafka.
        if (this.epochs.truncateFromEnd(this.endOffset)) await this.epochs.persist();
        return;
      }
      const segments = this.segmentList;
      const keep = offset <= segments[0]!.baseOffset ? -1 : floorSegment(segments, offset);
      // Newest first, so that a crash part-way still leaves a contiguous run of segments. Readers that meet a
      // retired segment start over against the new list.
      const doomed = segments.slice(keep + 1).reverse();
      if (keep >= 0) this.segmentList = segments.slice(0, keep + 1);
      for (const segment of doomed) await segment.retire();
      if (keep < 0) {
        this.segmentList = [await LogSegment.create(this.dir, offset, this.clock(), this.pool)];
        if (offset !== this.startOffset) {
          this.startOffset = offset;
          await writeOffsetCheckpoint(join(this.dir, LOG_START_OFFSET_FILE), offset);
        }
      }
      if (keep >= 0) await this.active.truncateTo(offset, this.cfg.indexIntervalBytes);
      this.endOffset = this.active.nextOffset;
      this.durable = this.endOffset;
      if (this.hw > this.endOffset) {
        this.hw = this.endOffset;
        // Written now: data appended after a truncation may differ from what the old checkpoint covered.
        await this.checkpointHighWatermark();
      }
      if (this.epochs.truncateFromEnd(this.endOffset)) await this.epochs.persist();
      this.logger.info({ dir: this.dir, offset, logEndOffset: this.endOffset }, "truncated log");
    });
  }

  /**
   * Drops every segment and starts the log empty at `offset` (Kafka's truncateFullyAndStartAt: a KRaft follower that
   * installed a snapshot beyond its log). Segments go newest first, so a crash part-way leaves a contiguous prefix.
   */
  truncateFullyAndStartAt(offset: bigint): Promise<void> {
    return this.exclusive(async () => {
      if (offset < 0n) throw new RangeError(`cannot start a log at negative offset ${offset}`);
      for (const segment of [...this.segmentList].reverse()) await segment.retire();
      this.segmentList = [await LogSegment.create(this.dir, offset, this.clock(), this.pool)];
      this.startOffset = offset;
      await writeOffsetCheckpoint(join(this.dir, LOG_START_OFFSET_FILE), offset);
      this.endOffset = offset;
      this.durable = offset;
      this.hw = offset;
      await this.checkpointHighWatermark();
      if (this.epochs.truncateFromEnd(0n)) await this.epochs.persist();
      this.logger.info({ dir: this.dir, offset }, "emptied log to start at a new offset");
    });
  }

  /** fsyncs the active segment: everything appended so far survives power loss. */
  flush(): Promise<void> {
    return this.exclusive(() => this.flushActive());
  }

  private async flushActive(): Promise<void> {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    await this.active.flush(false);
    this.unflushedRecords = 0;
    await this.checkpointHighWatermark();
  }

  /**
   * Writes the high watermark to its checkpoint file unless it already holds it (the log manager calls this every
   * replica.high.watermark.checkpoint.interval.ms, so a restart after kill -9 serves up to a recent HW). Appends go on
   * meanwhile: holding the log's lock across the file's two fsyncs stalled every acks=all write to the partition, on
   * the leader and on each follower, once per interval (Kafka's checkpoint thread does not block appends either).
   * Whatever must order itself with the checkpoint (truncation, close, delete) waits for the write under way.
   */
  checkpointHighWatermarkNow(): Promise<void> {
    return this.closed ? Promise.resolve() : this.checkpointHighWatermark();
  }

  /**
   * Writes the high watermark to its checkpoint file unless the file already holds it, after any write under way;
   * never once the log is closed (close() writes its own before it marks the log closed).
   */
  private checkpointHighWatermark(): Promise<void> {
    const write = this.hwWrites.then(async () => {
      if (this.closed) return;
      const hw = this.hw;
      if (hw === this.checkpointedHw) return;
      await writeOffsetCheckpoint(join(this.dir, HIGH_WATERMARK_FILE), hw);
      this.checkpointedHw = hw;
    });
    this.hwWrites = write.catch(() => undefined);
    return write;
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined || this.cfg.flushIntervalMs >= DEFAULT_NEVER_MS) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (this.closed) return;
      this.flush().catch((err: unknown) => this.logger.error({ err, dir: this.dir }, "scheduled flush failed"));
    }, this.cfg.flushIntervalMs);
    this.flushTimer.unref();
  }

  /**
   * Starts a new active segment at the log end offset. The old one is fsynced with its indexes first and the recovery
   * point moved to the new one, so crash recovery never needs to look further back than the active segment.
   */
  private async roll(): Promise<void> {
    await this.active.flush(true);
    this.unflushedRecords = 0;
    await this.checkpointHighWatermark();
    const segment = await LogSegment.create(this.dir, this.endOffset, this.clock(), this.pool);
    this.segmentList = [...this.segmentList, segment];
    // Also fsyncs the directory, which makes the new segment's file name durable.
    await writeOffsetCheckpoint(join(this.dir, RECOVERY_POINT_FILE), segment.baseOffset);
    this.logger.debug({ dir: this.dir, baseOffset: segment.baseOffset }, "rolled segment");
  }

  /** Time and size retention plus log-start cleanup; never deletes the active segment nor data above the HW. */
  applyRetention(): Promise<RetentionOutcome> {
    return this.exclusive(async () => {
      const now = this.clock();
      const { retentionMs, retentionBytes } = this.cfg;
      const deleted: DeletedSegment[] = [];
      if (retentionMs >= 0) {
        const expired = (segment: LogSegment): boolean => now - segment.largestTimestampMs() > retentionMs;
        // Kafka rolls an expired active segment so its data can go too; the segment deleted is then no longer active.
        if (this.active.size > 0 && this.segmentList.every(expired)) await this.roll();
        deleted.push(...(await this.deleteOldSegments(expired, "retention.ms")));
      }
      if (retentionBytes >= 0) {
        let excess = this.sizeBytes() - retentionBytes;
        const tooBig = (segment: LogSegment): boolean => {
          if (segment.size > excess) return false;
          excess -= segment.size;
          return true;
        };
        deleted.push(...(await this.deleteOldSegments(tooBig, "retention.bytes")));
      }
      deleted.push(
        ...(await this.deleteOldSegments((_s, next) => next.baseOffset <= this.startOffset, "log-start-offset")),
      );
      return { deleted, logStartOffset: this.startOffset };
    });
  }

  /** Deletes the oldest segments while `predicate` holds, stopping before the active segment. */
  private async deleteOldSegments(
    predicate: (segment: LogSegment, next: LogSegment) => boolean,
    reason: DeletionReason,
  ): Promise<DeletedSegment[]> {
    const segments = this.segmentList;
    let count = 0;
    // Only what consumers may already have read can be deleted: a segment goes once the HW is past it (as in Kafka).
    while (
      count < segments.length - 1 &&
      predicate(segments[count]!, segments[count + 1]!) &&
      segments[count + 1]!.baseOffset <= this.hw
    )
      count++;
    if (count === 0) return [];
    const doomed = segments.slice(0, count);
    this.segmentList = segments.slice(count);
    const newStart = this.segmentList[0]!.baseOffset;
    if (newStart > this.startOffset) {
      this.startOffset = newStart;
      if (this.epochs.truncateFromStart(newStart)) await this.epochs.persist();
    }
    const deleted: DeletedSegment[] = [];
    for (const segment of doomed) {
      const info = { ...segment.info(false), reason };
      this.logger.info(
        { dir: this.dir, baseOffset: info.baseOffset, nextOffset: info.nextOffset, sizeBytes: info.sizeBytes, reason },
        "deleting segment",
      );
      await segment.retire();
      deleted.push(info);
    }
    return deleted;
  }

  /**
   * This replica leads from `epoch` on: the epoch starts at the log end offset (Kafka's assignEpochStartOffset). An
   * epoch not newer than the latest known one changes nothing. The checkpoint is written with the next append rather
   * than now (an fsync per partition would triple the cost of creating a topic): an epoch nothing was appended in is
   * dropped when the log is opened again anyway (as in Kafka), and assigned again if this node still leads.
   */
  assignEpochStartOffset(epoch: number): Promise<void> {
    return this.exclusive(() => {
      if (this.epochs.assign(epoch, this.endOffset)) this.epochsUnpersisted = true;
      return Promise.resolve();
    });
  }

  /** Largest epoch <= `epoch` and where it ends, for OffsetForLeaderEpoch. */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetFor(epoch, this.endOffset);
  }

  latestEpoch(): number | undefined {
    return this.epochs.latest()?.epoch;
  }

  epochEntries(): readonly EpochEntry[] {
    return this.epochs.all();
  }

  sizeBytes(): number {
    let total = 0;
    for (const segment of this.segmentList) total += segment.size;
    return total;
  }

  segments(): SegmentInfo[] {
    const last = this.segmentList.length - 1;
    return this.segmentList.map((segment, i) => segment.info(i === last));
  }

  /** Flushes everything and writes the clean-shutdown marker, so the next open skips recovery. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      this.stopTimers();
      for (const segment of this.segmentList) await segment.close(segment === this.active);
      await this.checkpointHighWatermark();
      await writeOffsetCheckpoint(join(this.dir, RECOVERY_POINT_FILE), this.endOffset);
      await writeFileAtomic(join(this.dir, CLEAN_SHUTDOWN_FILE), "");
      this.closed = true;
    });
  }

  /** Closes without flushing and removes the directory. Works on a closed log too. */
  delete(): Promise<void> {
    return this.exclusive(async () => {
      this.stopTimers();
      if (!this.closed) for (const segment of this.segmentList) await segment.close(false);
      this.closed = true;
      // A periodic checkpoint under way would write into the directory being removed.
      await this.hwWrites;
      await rm(this.dir, { recursive: true, force: true });
    }, true);
  }

  private stopTimers(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  private exclusive<T>(fn: () => Promise<T>, evenIfClosed = false): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed && !evenIfClosed) throw new LogClosedError(this.dir);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** What writeAppend needs to know of the batches of one append. */
interface AppendTotals {
  infos: BatchInfo[];
  first: BatchInfo;
  lastOffset: bigint;
  maxTimestamp: bigint;
  records: number;
}

/**
 * Walks the whole v2 batches in `batches` (InvalidBatchError on anything else, or on none), handing each one's
 * position and size to `visit`, which may patch the batch and returns its header fields.
 */
function walkBatches(batches: Buffer, visit: (pos: number, size: number) => BatchInfo): AppendTotals {
  const infos: BatchInfo[] = [];
  let records = 0;
  let maxTimestamp = -1n;
  for (let pos = 0; pos < batches.length;) {
    const size = checkedBatchSize(batches, pos);
    const info = visit(pos, size);
    infos.push(info);
    records += info.records;
    if (info.maxTimestamp > maxTimestamp) maxTimestamp = info.maxTimestamp;
    pos += size;
  }
  const first = infos[0];
  const last = infos[infos.length - 1];
  if (first === undefined || last === undefined) throw new InvalidBatchError("no batches to append");
  return { infos, first, lastOffset: last.lastOffset, maxTimestamp, records };
}

/** The size of the batch at `pos`, after checking that it is a whole v2 batch with a sane header. */
function checkedBatchSize(batches: Buffer, pos: number): number {
  if (batches.length - pos < BATCH_HEADER_SIZE) throw new InvalidBatchError(`truncated batch header at ${pos}`);
  const size = batchSizeAt(batches, pos);
  if (size < BATCH_HEADER_SIZE || pos + size > batches.length)
    throw new InvalidBatchError(`bad batch length at ${pos}`);
  if (batches.readInt8(pos + BATCH_OFFSET.magic) !== 2) throw new InvalidBatchError(`not a v2 batch at ${pos}`);
  if (batches.readInt32BE(pos + BATCH_OFFSET.lastOffsetDelta) < 0)
    throw new InvalidBatchError(`bad lastOffsetDelta at ${pos}`);
  return size;
}

function stampLogAppendTime(buf: Buffer, pos: number, size: number, time: bigint): void {
  const attributes = buf.readInt16BE(pos + BATCH_OFFSET.attributes);
  buf.writeInt16BE(attributes | TIMESTAMP_TYPE_LOG_APPEND, pos + BATCH_OFFSET.attributes);
  buf.writeBigInt64BE(time, pos + BATCH_OFFSET.maxTimestamp);
  buf.writeUInt32BE(crc32c(buf.subarray(pos + CRC_START, pos + size)) >>> 0, pos + BATCH_OFFSET.crc);
}

/** Index of the last segment whose base offset is <= `offset` (0 if `offset` precedes them all). */
function floorSegment(segments: readonly LogSegment[], offset: bigint): number {
  let lo = 0;
  let hi = segments.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (segments[mid]!.baseOffset <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

async function readOffsetCheckpoint(path: string): Promise<bigint | undefined> {
  const lines = await readCheckpoint(path);
  const line = lines?.[0];
  return line !== undefined && /^\d+$/.test(line) ? BigInt(line) : undefined;
}

async function writeOffsetCheckpoint(path: string, offset: bigint): Promise<void> {
  await writeCheckpoint(path, [offset.toString()]);
}

async function dropSegmentFiles(dir: string, bases: readonly bigint[]): Promise<void> {
  for (const base of [...bases].reverse()) {
    const paths = LogSegment.paths(dir, base);
    await removeIfExists(paths.log);
    await removeIfExists(paths.index);
    await removeIfExists(paths.timeIndex);
  }
}
