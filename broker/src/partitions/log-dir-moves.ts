import { resolve } from "node:path";
import type { Logger } from "pino";
import { InvalidBatchError, OffsetOutOfRangeError, partitionDirName, type LogManager } from "../log/index.ts";
import type { PartitionLog } from "../log/index.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { splitBatches } from "../protocol/records/index.ts";
import type { PartitionManager } from "./partition-manager.ts";

// Moves a replica between this node's log dirs while it keeps serving (KIP-113, Kafka's ReplicaAlterLogDirsThread):
// AlterReplicaLogDirs creates a future log in the target dir, a background copy fills it from the current log (in
// chunks, bounded by replica.alter.log.dirs.io.max.bytes.per.second), and once it has caught up the rest is copied
// under the partition lock, where no append can reach the current log, and the future log replaces the current one
// (PartitionManager.replaceWithFuture). Producer state stays in memory across the swap; the HW, log start offset and
// latest leader epoch are carried over. A truncation of the current log while the copy runs (a follower meeting its
// leader's divergence) makes the copy start over: the future log is emptied and copied again. So does a restart: the
// future log found on disk is refilled from the start rather than checked against the current one.

/** Bytes read from the current log per step of the copy. */
const CHUNK_BYTES = 1024 * 1024;
/** How often a copy held back by the throttle looks again. */
const THROTTLE_POLL_MS = 50;
/** Kafka refuses a move whose future directory name would exceed a file name's length (KAFKA-4893). */
const MAX_DIR_NAME = 255;
const FUTURE_SUFFIX_LENGTH = ".".length + 32 + "-future".length;

/** The throttle of the copy: the alter-log-dirs quota of the replication throttles. */
export interface CopyQuota {
  isExceeded(nowMs: number): boolean;
  record(bytes: number, nowMs: number): void;
}

export interface LogDirMovesOptions {
  readonly logs: LogManager;
  readonly partitions: PartitionManager;
  readonly quota: () => CopyQuota;
  readonly logger: Logger;
  readonly clock?: () => number;
  /** Told of each replica that now lives in `logDir` (the directory assignments report it to the controller). */
  readonly onMoved?: (topic: string, partition: number, logDir: string) => void;
  /** Bytes read per copy step; tests make it small. */
  readonly chunkBytes?: number;
}

interface Move {
  readonly topic: string;
  readonly partition: number;
  readonly future: PartitionLog;
  stopped: boolean;
  done: Promise<void>;
}

export class LogDirMoves {
  private readonly moves = new Map<string, Move>();
  /** AlterReplicaLogDirs requests run one at a time (Kafka's replicaStateChangeLock). */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly clock: () => number;
  private readonly chunkBytes: number;
  private readonly wakeups = new Set<() => void>();

  constructor(private readonly options: LogDirMovesOptions) {
    this.clock = options.clock ?? Date.now;
    this.chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  }

  /** Resumes the moves whose future logs were found on disk at start. */
  resume(): void {
    for (const { topic, partition, log } of this.options.logs.futureLogs()) this.run(topic, partition, log);
  }

  /**
   * Asks for the partition's replica to be in `path` (AlterReplicaLogDirs), with Kafka's answers: an unknown dir
   * LOG_DIR_NOT_FOUND, an offline one or an offline replica KAFKA_STORAGE_ERROR, a replica this node does not hold
   * REPLICA_NOT_AVAILABLE (it will be created in `path` if it comes); NONE once the replica is there or on its way.
   * A move to another dir replaces one under way; a move back to the current dir cancels it.
   */
  alter(topic: string, partition: number, path: string): Promise<number> {
    const run = this.queue.then(() => this.alterNow(topic, partition, path));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** LOG_DIR_NOT_FOUND for a path that is none of this node's log dirs, KAFKA_STORAGE_ERROR for an offline one. */
  dirError(path: string): number | undefined {
    const logDir = this.logDirAt(path);
    if (logDir === undefined) return ErrorCode.LOG_DIR_NOT_FOUND;
    return this.options.logs.offlineLogDirs().includes(logDir) ? ErrorCode.KAFKA_STORAGE_ERROR : undefined;
  }

  private logDirAt(path: string): string | undefined {
    return this.options.logs.logDirs.find((d) => resolve(d) === resolve(path));
  }

  private async alterNow(topic: string, partition: number, path: string): Promise<number> {
    const { logs, logger } = this.options;
    if (partitionDirName(topic, partition).length + FUTURE_SUFFIX_LENGTH > MAX_DIR_NAME)
      return ErrorCode.INVALID_TOPIC_EXCEPTION;
    const dirError = this.dirError(path);
    const logDir = this.logDirAt(path);
    if (dirError !== undefined || logDir === undefined) return dirError ?? ErrorCode.LOG_DIR_NOT_FOUND;
    if (logs.isOffline(topic, partition)) return ErrorCode.KAFKA_STORAGE_ERROR;
    const future = logs.future(topic, partition);
    if (future !== undefined && future.logDir !== logDir) await this.cancel(topic, partition);
    const current = logs.logDirOf(topic, partition);
    if (current === undefined) {
      logs.setPreferredDir(topic, partition, logDir);
      return ErrorCode.REPLICA_NOT_AVAILABLE;
    }
    if (current === logDir || logs.future(topic, partition) !== undefined) return ErrorCode.NONE;
    // Kafka creates no future log while a dir is offline: the partition could end up with one in each.
    if (logs.offlineLogDirs().length > 0) return ErrorCode.KAFKA_STORAGE_ERROR;
    if (this.closed) return ErrorCode.KAFKA_STORAGE_ERROR;
    const log = await logs.createFuture(topic, partition, logDir);
    logger.info({ topic, partition, from: current, to: logDir }, "Moving a replica to another log dir");
    this.run(topic, partition, log);
    return ErrorCode.NONE;
  }

  /** The future log's lag behind the current log (DescribeLogDirs' offsetLag of the future replica). */
  futureLag(topic: string, partition: number): bigint {
    const current = this.options.logs.get(topic, partition);
    const future = this.options.logs.future(topic, partition)?.log;
    if (current === undefined || future === undefined) return 0n;
    const lag = current.logEndOffset - future.logEndOffset;
    return lag > 0n ? lag : 0n;
  }

  /** Stops every copy (the broker is stopping); future logs stay on disk and the moves resume at the next start. */
  async close(): Promise<void> {
    this.closed = true;
    for (const move of this.moves.values()) move.stopped = true;
    for (const wake of [...this.wakeups]) wake();
    await Promise.allSettled([...this.moves.values()].map((m) => m.done));
  }

  /** Stops the partition's move and deletes its future log. */
  private async cancel(topic: string, partition: number): Promise<void> {
    const key = partitionDirName(topic, partition);
    const move = this.moves.get(key);
    if (move !== undefined) {
      move.stopped = true;
      for (const wake of [...this.wakeups]) wake();
      await move.done;
    }
    await this.options.logs.deleteFuture(topic, partition);
    this.options.logger.info({ topic, partition }, "Cancelled a replica's move to another log dir");
  }

  private run(topic: string, partition: number, future: PartitionLog): void {
    const key = partitionDirName(topic, partition);
    const move: Move = { topic, partition, future, stopped: false, done: Promise.resolve() };
    move.done = this.copy(move)
      .catch((err: unknown) => {
        if (move.stopped || this.closed || future.isClosed) return;
        this.options.logger.error({ err, topic, partition }, "The move to another log dir failed; it is given up");
        return this.options.logs.deleteFuture(topic, partition).then(() => undefined);
      })
      .finally(() => {
        if (this.moves.get(key) === move) this.moves.delete(key);
      });
    this.moves.set(key, move);
  }

  /** Fills the future log until it has caught up, then swaps it in. */
  private async copy(move: Move): Promise<void> {
    const { topic, partition, future } = move;
    const { logs, partitions, logger } = this.options;
    let truncations = -1;
    for (;;) {
      if (move.stopped || this.closed) return;
      const current = logs.get(topic, partition);
      // Deleted (or the broker is stopping): deletion takes the future log with it.
      if (current === undefined || current.isClosed || future.isClosed) return;
      if (
        current.truncationCount !== truncations ||
        future.logEndOffset > current.logEndOffset ||
        future.logEndOffset < current.logStartOffset
      ) {
        truncations = current.truncationCount;
        await future.truncateFullyAndStartAt(current.logStartOffset);
      }
      let caughtUp = future.logEndOffset >= current.logEndOffset;
      if (!caughtUp) {
        await this.throttled(move);
        if (move.stopped || this.closed) return;
        const step = await this.copyStep(current, future, true);
        if (step === "diverged") truncations = -1;
        caughtUp = step === "end";
      }
      if (!caughtUp) continue;
      const swapped = await partitions.replaceWithFuture(topic, partition, async (log) => {
        if (move.stopped || log.truncationCount !== truncations) return false;
        // No append reaches the current log while this runs: copy what is left, unthrottled.
        for (;;) {
          const step = await this.copyStep(log, future, false);
          if (step === "diverged") return false;
          if (future.logEndOffset >= log.logEndOffset) break;
        }
        future.updateHighWatermark(log.highWatermark);
        if (log.logStartOffset > future.logStartOffset && log.logStartOffset <= future.highWatermark)
          await future.deleteRecordsBefore(log.logStartOffset);
        await future.flush();
        return true;
      });
      if (swapped !== undefined) {
        const logDir = logs.logDirOf(topic, partition);
        logger.info({ topic, partition, logDir }, "Moved a replica to another log dir");
        if (logDir !== undefined) this.options.onMoved?.(topic, partition, logDir);
        return;
      }
    }
  }

  /**
   * Copies one chunk from `current` at the future log's end into the future log. "end" when that reached the
   * current log's end as it was when read; "diverged" when the batches did not follow on (the current log was
   * truncated under the read): the copy starts over.
   */
  private async copyStep(
    current: PartitionLog,
    future: PartitionLog,
    throttled: boolean,
  ): Promise<"more" | "end" | "diverged"> {
    let read;
    try {
      read = await current.read(future.logEndOffset, this.chunkBytes);
    } catch (err) {
      if (err instanceof OffsetOutOfRangeError) return "diverged";
      throw err;
    }
    let records: Buffer;
    const end = read.logEndOffset;
    try {
      const { batches } = splitBatches(read.records);
      // Whole batches only, copied out of the pooled read buffer.
      records = Buffer.concat(batches);
    } finally {
      read.release();
    }
    if (records.length > 0) {
      try {
        await future.appendAsFollower(records);
      } catch (err) {
        if (err instanceof InvalidBatchError) return "diverged";
        throw err;
      }
      if (throttled) this.options.quota().record(records.length, this.clock());
    }
    if (future.logEndOffset >= end) return "end";
    // Nothing readable before the end the read saw: the log changed under the read.
    return records.length > 0 ? "more" : "diverged";
  }

  /** Waits while the alter-log-dirs throttle is exceeded. */
  private async throttled(move: Move): Promise<void> {
    while (!move.stopped && !this.closed && this.options.quota().isExceeded(this.clock())) {
      await new Promise<void>((resolveWait) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.wakeups.delete(wake);
          resolveWait();
        };
        const timer = setTimeout(wake, THROTTLE_POLL_MS);
        this.wakeups.add(wake);
      });
    }
  }
}
