import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, rename, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { BufferPool } from "./buffer-pool.ts";
import { fsyncDir, removeIfExists } from "./checkpoint.ts";
import { resolveLogConfig, type LogConfig } from "./config.ts";
import { isStorageFailure, StorageError } from "./errors.ts";
import { PartitionLog, type DeletedSegment } from "./partition-log.ts";

const PARTITION_DIR = /^(.+)-(\d+)$/;
/** A partition directory renamed for deletion; Kafka's own naming, so a crash mid-delete is finished at next start. */
const DELETED_DIR = /\.[0-9a-f]{32}-delete$/;
const OPEN_CONCURRENCY = 4;
/**
 * Written, synced and removed in each log dir at start: a dir that cannot take writes (a full disk, a file system the
 * kernel remounted read-only after I/O errors) is found offline then, not at the first write after the broker has
 * registered it and taken leaderships in it.
 */
const WRITE_PROBE = ".tributary-write-probe";

export interface LogManagerOptions {
  /** log.dirs: new partitions go to the directory holding the fewest. */
  logDirs: readonly string[];
  /** Broker-level defaults (log.* keys); topic configs are layered on top. */
  config?: Partial<LogConfig>;
  logger: Logger;
  clock?: () => number;
  /** log.retention.check.interval.ms; 0 or less disables the background retention run. */
  retentionCheckIntervalMs?: number;
  /** replica.high.watermark.checkpoint.interval.ms; 0 or less disables the periodic HW checkpoint. @default 5000 */
  hwCheckpointIntervalMs?: number;
  /** Topic-level overrides for partitions found on disk at start. */
  topicConfig?: (topic: string) => Partial<LogConfig> | undefined;
  bufferPool?: BufferPool;
  /** Directory names in a log dir that another component owns (the metadata quorum's `__cluster_metadata-0`). */
  foreignDirs?: readonly string[];
  /**
   * Log dirs that failed before the manager opened (their meta.properties could not be read), with why: offline from
   * the start. Any other dir whose listing or logs fail to load with a storage failure goes offline too (Kafka's
   * LogManager with its initial offline dirs); the manager opens with the others.
   */
  failedLogDirs?: ReadonlyMap<string, unknown>;
}

export interface PartitionRef {
  topic: string;
  partition: number;
  log: PartitionLog;
}

export interface PartitionRetention {
  topic: string;
  partition: number;
  deleted: DeletedSegment[];
  logStartOffset: bigint;
}

interface PeriodicTask {
  timer: NodeJS.Timeout | undefined;
  /** The pass in progress, if any. */
  run: Promise<unknown> | undefined;
}

/** Throws what writing a small file into `dir`, with fsync, raises; the file is gone afterwards. */
async function probeWrites(dir: string): Promise<void> {
  const path = join(dir, WRITE_PROBE);
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, "w");
    await fh.writeFile("probe\n");
    await fh.datasync();
  } catch (err) {
    // The write's error is the one that counts; a file left behind is removed at the next start's probe.
    await fh?.close().catch(() => undefined);
    await removeIfExists(path).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await removeIfExists(path);
}

/** The directory name of a partition's log, as Kafka names it. */
export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Splits a partition directory name; undefined for anything else found in a log dir. */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | undefined {
  const m = PARTITION_DIR.exec(name);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  const partition = Number(m[2]);
  return Number.isSafeInteger(partition) && partition <= 0x7fffffff ? { topic: m[1], partition } : undefined;
}

/**
 * All partition logs of this node across log.dirs: opens what is on disk at start, creates and deletes partitions,
 * runs retention in the background every log.retention.check.interval.ms, and checkpoints every partition's high
 * watermark every replica.high.watermark.checkpoint.interval.ms.
 */
export class LogManager {
  private readonly logs = new Map<string, { ref: PartitionRef; logDir: string }>();
  private readonly pending = new Map<string, Promise<PartitionLog>>();
  /** The directory of each log being created, so that logs created at once spread over the directories too. */
  private readonly pendingDirs = new Map<string, string>();
  /** Retention and the HW checkpoint, stopped by close(). */
  private readonly tasks: PeriodicTask[] = [];
  private closed = false;
  private readonly baseConfig: LogConfig;
  /** Log dirs taken offline after a storage failure; they stay so until the process restarts, as in Kafka. */
  private readonly offline = new Set<string>();
  /**
   * Replicas whose log is in an offline dir though no log of theirs is open here: found in a dir that failed at
   * start-up, or placed by the metadata in such a dir (markReplicaOffline). Partition dir name → log dir, if known.
   */
  private readonly offlineReplicas = new Map<string, string | undefined>();
  /** The dirs that failed while the manager opened, with the error. */
  private readonly startFailures = new Map<string, unknown>();

  private constructor(private readonly options: LogManagerOptions) {
    this.baseConfig = resolveLogConfig(options.config);
  }

  static async open(options: LogManagerOptions): Promise<LogManager> {
    if (options.logDirs.length === 0) throw new RangeError("LogManager needs at least one log dir");
    const manager = new LogManager(options);
    for (const [logDir, reason] of options.failedLogDirs ?? []) manager.failAtStart(logDir, reason);
    const found: { logDir: string; topic: string; partition: number }[] = [];
    for (const logDir of options.logDirs) {
      if (manager.offline.has(logDir)) continue;
      try {
        found.push(...(await manager.scanLogDir(logDir)));
      } catch (err) {
        if (!isStorageFailure(err)) throw err;
        manager.failAtStart(logDir, err);
      }
    }
    const claimed = new Set<string>();
    try {
      // A few at a time: recovery reads whole segments and the machine may have few cores.
      for (let i = 0; i < found.length; i += OPEN_CONCURRENCY) {
        await Promise.all(
          found.slice(i, i + OPEN_CONCURRENCY).map(async ({ logDir, topic, partition }) => {
            const key = partitionDirName(topic, partition);
            if (claimed.has(key)) throw new Error(`partition ${topic}-${partition} exists in more than one log dir`);
            claimed.add(key);
            if (manager.offline.has(logDir)) {
              manager.offlineReplicas.set(key, logDir);
              return;
            }
            let log: PartitionLog;
            try {
              log = await manager.openLog(logDir, topic, partition, options.topicConfig?.(topic));
            } catch (err) {
              if (!isStorageFailure(err)) throw err;
              manager.offlineReplicas.set(key, logDir);
              manager.failAtStart(logDir, err);
              return;
            }
            if (manager.offline.has(logDir)) {
              // Its dir failed meanwhile: none of its logs is served.
              manager.offlineReplicas.set(key, logDir);
              await log.close().catch(() => undefined);
              return;
            }
            manager.logs.set(key, { ref: { topic, partition, log }, logDir });
          }),
        );
      }
      // Logs opened from a dir before another of its logs failed are not served either (Kafka's removeOfflineLogs).
      for (const [key, { ref, logDir }] of manager.logs) {
        if (!manager.offline.has(logDir)) continue;
        manager.logs.delete(key);
        manager.offlineReplicas.set(key, logDir);
        await ref.log.close().catch(() => undefined);
      }
    } catch (err) {
      await manager.close().catch(() => undefined);
      throw err;
    }
    options.logger.info(
      { partitions: manager.logs.size, logDirs: options.logDirs, offlineLogDirs: [...manager.offline] },
      "opened partition logs",
    );
    manager.tasks.push(
      manager.periodic(options.retentionCheckIntervalMs ?? 300_000, "retention pass", () => manager.runRetention()),
      manager.periodic(options.hwCheckpointIntervalMs ?? 5_000, "high watermark checkpoint", () =>
        manager.checkpointHighWatermarks(),
      ),
    );
    return manager;
  }

  /** The partitions in a log dir (created if missing), after finishing interrupted deletions there. */
  private async scanLogDir(logDir: string): Promise<{ logDir: string; topic: string; partition: number }[]> {
    const found: { logDir: string; topic: string; partition: number }[] = [];
    await mkdir(logDir, { recursive: true });
    await probeWrites(logDir);
    for (const entry of await readdir(logDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (DELETED_DIR.test(entry.name)) {
        this.options.logger.info({ logDir, dir: entry.name }, "finishing an interrupted partition deletion");
        await rm(join(logDir, entry.name), { recursive: true, force: true });
        continue;
      }
      if (this.options.foreignDirs?.includes(entry.name)) continue;
      const parsed = parsePartitionDirName(entry.name);
      if (parsed !== undefined) found.push({ logDir, ...parsed });
    }
    return found;
  }

  /** A log dir failed while the manager opened: offline from the start, as a dir that fails later goes offline. */
  private failAtStart(logDir: string, reason: unknown): void {
    if (this.offline.has(logDir)) return;
    this.offline.add(logDir);
    this.startFailures.set(logDir, reason);
    this.options.logger.error(
      { logDir, err: reason },
      `Log dir ${logDir} failed at start-up and is offline: its partitions are not served until a restart with ` +
        `working storage (${reason instanceof Error ? reason.message : String(reason)})`,
    );
  }

  /** close() has begun: logs closing now close for a shutdown, not for a deletion. */
  get isClosed(): boolean {
    return this.closed;
  }

  get defaultConfig(): Readonly<LogConfig> {
    return this.baseConfig;
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionDirName(topic, partition))?.ref.log;
  }

  partitions(): PartitionRef[] {
    return [...this.logs.values()].map((e) => e.ref);
  }

  /** The log dir holding the partition's log. */
  logDirOf(topic: string, partition: number): string | undefined {
    return this.logs.get(partitionDirName(topic, partition))?.logDir;
  }

  /** The partitions whose logs are in `logDir`. */
  partitionsIn(logDir: string): PartitionRef[] {
    return [...this.logs.values()].filter((e) => e.logDir === logDir).map((e) => e.ref);
  }

  /** Every configured log dir, as given. */
  get logDirs(): readonly string[] {
    return this.options.logDirs;
  }

  /**
   * Takes a log dir offline: its partitions are no longer served and no new partition is placed in it. Returns false
   * if it was offline already.
   */
  markLogDirOffline(logDir: string): boolean {
    if (this.offline.has(logDir)) return false;
    this.offline.add(logDir);
    this.options.logger.error({ logDir }, "Log dir is offline: its partitions are no longer served");
    return true;
  }

  offlineLogDirs(): string[] {
    return [...this.offline];
  }

  /** The log dirs that failed while the manager opened (given as failed, or failing to load), with the error. */
  get failedAtStart(): ReadonlyMap<string, unknown> {
    return this.startFailures;
  }

  /** The partition's log is in an offline log dir. */
  isOffline(topic: string, partition: number): boolean {
    if (this.offlineReplicas.has(partitionDirName(topic, partition))) return true;
    const dir = this.logDirOf(topic, partition);
    return dir !== undefined && this.offline.has(dir);
  }

  /**
   * The partition's log is in an offline dir (the metadata places it in one) though none is open here: it is not
   * created elsewhere (Kafka creates no log for an existing replica while a dir is offline) and answers
   * KAFKA_STORAGE_ERROR until a restart with working storage.
   */
  markReplicaOffline(topic: string, partition: number): void {
    const key = partitionDirName(topic, partition);
    if (!this.offlineReplicas.has(key)) this.offlineReplicas.set(key, undefined);
  }

  /** The partition's log, created empty (in the least loaded log dir) with `config` overrides if it does not exist. */
  async getOrCreate(topic: string, partition: number, config?: Partial<LogConfig>): Promise<PartitionLog> {
    this.ensureOpen();
    if (topic.length === 0 || !Number.isSafeInteger(partition) || partition < 0) {
      throw new RangeError(`invalid partition ${topic}-${partition}`);
    }
    const key = partitionDirName(topic, partition);
    const existing = this.logs.get(key)?.ref.log ?? this.pending.get(key);
    if (existing !== undefined) return existing;
    if (this.offlineReplicas.has(key)) {
      const where = this.offlineReplicas.get(key) ?? "an offline log dir";
      throw new StorageError(where, `opening ${key}`, "its log dir is offline");
    }
    const logDir = this.leastLoadedDir();
    const creating = this.openLog(logDir, topic, partition, config)
      .then(async (log) => {
        // The new directory entry must survive power loss along with the data that will be acknowledged in it.
        await fsyncDir(logDir);
        this.logs.set(key, { ref: { topic, partition, log }, logDir });
        this.options.logger.info({ topic, partition, logDir }, "created partition log");
        return log;
      })
      .finally(() => {
        this.pending.delete(key);
        this.pendingDirs.delete(key);
      });
    this.pending.set(key, creating);
    this.pendingDirs.set(key, logDir);
    return creating;
  }

  /**
   * Deletes a partition's log. The directory is first renamed to a "-delete" name, so that a crash part-way leaves
   * nothing that could be opened again as the partition; the rename is finished off at the next start if need be.
   */
  async deletePartition(topic: string, partition: number): Promise<boolean> {
    const key = partitionDirName(topic, partition);
    await this.pending.get(key)?.catch(() => undefined);
    // A replica whose dir is offline has nothing here to delete (its dir keeps its files until it is read again).
    this.offlineReplicas.delete(key);
    const entry = this.logs.get(key);
    if (entry === undefined) return false;
    this.logs.delete(key);
    const dir = join(entry.logDir, key);
    const doomed = join(entry.logDir, `${key}.${randomUUID().replaceAll("-", "")}-delete`);
    await entry.ref.log.close().catch(() => undefined);
    await rename(dir, doomed);
    await fsyncDir(entry.logDir);
    await rm(doomed, { recursive: true, force: true });
    this.options.logger.info({ topic, partition, logDir: entry.logDir }, "deleted partition log");
    return true;
  }

  /** One retention pass over every partition; failures are logged per partition and do not stop the others. */
  async runRetention(): Promise<PartitionRetention[]> {
    const results: PartitionRetention[] = [];
    for (const { topic, partition, log } of this.partitions()) {
      if (log.isClosed) continue;
      try {
        const outcome = await log.applyRetention();
        if (outcome.deleted.length === 0) continue;
        results.push({ topic, partition, ...outcome });
        const bytes = outcome.deleted.reduce((sum, d) => sum + d.sizeBytes, 0);
        const reasons = [...new Set(outcome.deleted.map((d) => d.reason))];
        this.options.logger.info(
          {
            topic,
            partition,
            segments: outcome.deleted.length,
            bytes,
            reasons,
            logStartOffset: outcome.logStartOffset,
          },
          "retention deleted segments",
        );
      } catch (err) {
        if (log.isClosed) continue;
        this.options.logger.error({ err, topic, partition }, "retention failed");
      }
    }
    return results;
  }

  async flushAll(): Promise<void> {
    for (const { log } of this.partitions()) if (!log.isClosed) await log.flush();
  }

  /** Stops retention and the HW checkpoint, waits for a run in progress, and closes every log cleanly. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.tasks.splice(0)) {
      clearTimeout(task.timer);
      await task.run;
    }
    await Promise.allSettled(this.pending.values());
    const errors: unknown[] = [];
    for (const { log } of this.partitions()) {
      if (!log.isClosed) await log.close().catch((err: unknown) => errors.push(err));
    }
    this.logs.clear();
    if (errors.length > 0) throw new AggregateError(errors, "some partition logs failed to close");
  }

  /** Writes the high watermark checkpoint of every open partition whose HW moved since its last one. */
  async checkpointHighWatermarks(): Promise<void> {
    for (const { log } of this.partitions()) {
      if (!log.isClosed) await log.checkpointHighWatermarkNow();
    }
  }

  /**
   * Runs `pass` every `intervalMs` (none when 0 or less) until close(), as a chain of timeouts rather than an
   * interval, so that a slow pass never overlaps the next one.
   */
  private periodic(intervalMs: number, what: string, pass: () => Promise<unknown>): PeriodicTask {
    const task: PeriodicTask = { timer: undefined, run: undefined };
    const schedule = (): void => {
      if (this.closed || intervalMs <= 0) return;
      task.timer = setTimeout(() => {
        task.run = pass()
          .catch((err: unknown) => this.options.logger.error({ err }, `${what} failed`))
          .finally(() => {
            task.run = undefined;
            schedule();
          });
      }, intervalMs);
      task.timer.unref();
    };
    schedule();
    return task;
  }

  private openLog(
    logDir: string,
    topic: string,
    partition: number,
    config?: Partial<LogConfig>,
  ): Promise<PartitionLog> {
    const logOptions = {
      dir: join(logDir, partitionDirName(topic, partition)),
      config: resolveLogConfig(config ?? {}, this.baseConfig),
      logger: this.options.logger.child({ topic, partition }),
      ...(this.options.clock !== undefined ? { clock: this.options.clock } : {}),
      ...(this.options.bufferPool !== undefined ? { bufferPool: this.options.bufferPool } : {}),
    };
    return PartitionLog.open(logOptions);
  }

  private leastLoadedDir(): string {
    const online = this.options.logDirs.filter((d) => !this.offline.has(d));
    if (online.length === 0)
      throw new StorageError(this.options.logDirs.join(","), "placing a partition", "every log dir is offline");
    const counts = new Map<string, number>(online.map((d) => [d, 0]));
    for (const { logDir } of this.logs.values())
      if (counts.has(logDir)) counts.set(logDir, (counts.get(logDir) ?? 0) + 1);
    for (const logDir of this.pendingDirs.values())
      if (counts.has(logDir)) counts.set(logDir, (counts.get(logDir) ?? 0) + 1);
    let best = online[0]!;
    for (const [dir, count] of counts) if (count < (counts.get(best) ?? 0)) best = dir;
    return best;
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error("LogManager is closed");
  }
}
