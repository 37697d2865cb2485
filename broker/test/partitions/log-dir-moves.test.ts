import { readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LogManager, type PartitionLog } from "../../src/log/index.ts";
import { LogDirMoves, type CopyQuota } from "../../src/partitions/log-dir-moves.ts";
import { PartitionManager } from "../../src/partitions/partition-manager.ts";
import {
  AlterReplicaLogDirsRequest,
  AlterReplicaLogDirsResponse,
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
  ErrorCode,
  PartitionRecord,
  TopicRecord,
} from "../../src/protocol/index.ts";
import { makeBatch, patched, silentLogger, splitBatches, tempDir } from "../log/batches.ts";
import { ImageHarness, rec, registeredBroker, type MovesOptions } from "../support/image-harness.ts";

// Moving a replica between a broker's log dirs (AlterReplicaLogDirs, KIP-113): the future log is filled from the
// current one in the background and swapped in under the partition lock, with writes going on throughout; a
// truncation of the current log while it is copied makes the copy start over; a restart resumes the move, or finishes
// a swap it interrupted; the handler answers as Kafka does and DescribeLogDirs shows the future replica.

const T = "00000000-0000-0000-0000-0000000000e1";
const U = "00000000-0000-0000-0000-0000000000e2";
const WAIT = { timeout: 20_000, interval: 5 };

let h: ImageHarness | undefined;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A throttle the test opens and closes: while closed, the copy waits. */
function gate(): CopyQuota & {
  open: boolean;
  closeAfterNextChunk: boolean;
  copied: number;
  heldBack: number;
  onChunk: () => void;
} {
  const q = {
    /** Called as each chunk is copied, before the copy looks at the current log's end. */
    onChunk: () => undefined as void,
    open: true,
    closeAfterNextChunk: false,
    copied: 0,
    /** Times the copy found the gate closed: it is waiting. */
    heldBack: 0,
    isExceeded: () => {
      if (!q.open) q.heldBack++;
      return !q.open;
    },
    record: (bytes: number) => {
      q.copied += bytes;
      q.onChunk();
      if (q.closeAfterNextChunk) q.open = false;
    },
  };
  return q;
}

/** Broker 1 with two log dirs; `r` (one partition) is led by `leader` in `epoch`, `u` is only on broker 2. */
async function start(moves: MovesOptions, leader = 1, epoch = 3): Promise<ImageHarness> {
  h = await ImageHarness.start(1, {}, undefined, [], { logDirs: 2, ...moves });
  await h.publish([
    ...[1, 2].map((id) => registeredBroker(id, BigInt(id * 10))),
    rec(TopicRecord, { name: "r", topicId: T }),
    rec(PartitionRecord, {
      topicId: T,
      partitionId: 0,
      replicas: leader === 1 ? [1] : [2, 1],
      isr: leader === 1 ? [1] : [2, 1],
      leader,
      leaderEpoch: epoch,
    }),
    rec(TopicRecord, { name: "u", topicId: U }),
    rec(PartitionRecord, { topicId: U, partitionId: 0, replicas: [2], isr: [2], leader: 2, leaderEpoch: 1 }),
  ]);
  return h;
}

function otherDir(harness: ImageHarness): string {
  const current = harness.logs.logDirOf("r", 0);
  const other = harness.logs.logDirs.find((d) => d !== current);
  if (current === undefined || other === undefined) throw new Error("no second log dir");
  return other;
}

/** Every batch of the log, in order. */
async function batchesOf(log: PartitionLog): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, 1 << 20);
    try {
      for (const b of splitBatches(read.records)) {
        out.push(Buffer.from(b.bytes));
        offset = b.lastOffset + 1n;
      }
    } finally {
      read.release();
    }
  }
  return out;
}

/** The log dir entries that are not the partition logs themselves (future or deleted logs left behind). */
async function leftovers(logDirs: readonly string[]): Promise<string[]> {
  const names = await Promise.all(logDirs.map((d) => readdir(d)));
  return names.flat().filter((n) => n.endsWith("-future") || n.endsWith("-delete"));
}

describe("moving a replica to another log dir", () => {
  it("swaps in the future log while the leader keeps appending: every batch once, in order, in the new dir", async () => {
    const quota = gate();
    const harness = await start({ chunkBytes: 450, quota });
    const appended: Buffer[] = [];
    const append = async (seed: number) => {
      const batch = makeBatch({ records: 2, seed });
      const outcome = await harness.partitions.appendAsLeader("r", 0, batch, { acks: 1, logAppendTime: false });
      expect(outcome.errorCode).toBe(ErrorCode.NONE);
      appended.push(patched(batch, outcome.baseOffset, 3));
    };
    for (let i = 0; i < 30; i++) await append(i);
    const from = harness.logs.logDirOf("r", 0);
    const to = otherDir(harness);

    // Writes go on until the swap, and after it. Some start as each chunk is copied, so they are queued on the
    // partition lock ahead of the swap: the swap must copy them too.
    let seed = 30;
    const during: Promise<void>[] = [];
    quota.onChunk = () => {
      // One batch per chunk of about four: the copy gains on the writes.
      if (harness.logs.future("r", 0) !== undefined) during.push(append(seed++));
    };
    expect(await harness.services.logDirMoves.alter("r", 0, to)).toBe(ErrorCode.NONE);
    await vi.waitFor(async () => {
      await append(seed++);
      expect(harness.logs.logDirOf("r", 0)).toBe(to);
    }, WAIT);
    await Promise.all(during);
    for (let i = 0; i < 5; i++) await append(seed++);
    // Offsets are given in lock order, which is not the order the appends above were started in.
    appended.sort((a, b) => (a.readBigInt64BE(0) < b.readBigInt64BE(0) ? -1 : 1));

    const log = harness.partitions.log("r", 0)!;
    expect(log.dir).toBe(join(to, "r-0"));
    expect(await batchesOf(log)).toEqual(appended);
    expect(log.highWatermark).toBe(log.logEndOffset);
    expect(log.latestEpoch()).toBe(3);
    expect(quota.copied).toBeGreaterThan(0);
    expect(harness.logs.future("r", 0)).toBeUndefined();
    expect(await readdir(from!)).not.toContain("r-0");
    expect(await leftovers(harness.logs.logDirs)).toEqual([]);
  });

  it("starts the copy over when the follower's log is truncated under it", async () => {
    const quota = gate();
    const harness = await start({ chunkBytes: 250, quota }, 2, 5);
    const leaderBatch = (offset: bigint, seed: number, epoch: number) =>
      patched(makeBatch({ records: 2, seed }), offset, epoch);
    const first = [0, 1, 2, 3, 4, 5].map((i) => leaderBatch(BigInt(i * 2), i, 5));
    for (const b of first) await harness.partitions.appendAsFollower("r", 0, b);
    quota.closeAfterNextChunk = true;
    const to = otherDir(harness);
    expect(await harness.services.logDirMoves.alter("r", 0, to)).toBe(ErrorCode.NONE);
    await vi.waitFor(() => expect(harness.logs.future("r", 0)?.log.logEndOffset ?? 0n).toBeGreaterThan(2n), WAIT);
    // Parked at the throttle, so it sees the truncation only by its count: the logs' ends alone would not tell.
    await vi.waitFor(() => expect(quota.heldBack).toBeGreaterThan(0), WAIT);

    // The leader's log diverged from offset 2 on: the follower truncates and takes the new leader's batches.
    await harness.partitions.truncateTo("r", 0, 2n);
    const after = [10, 11, 12].map((seed, i) => leaderBatch(BigInt(2 + i * 2), seed, 6));
    for (const b of after) await harness.partitions.appendAsFollower("r", 0, b);
    quota.closeAfterNextChunk = false;
    quota.open = true;

    await vi.waitFor(() => expect(harness.logs.logDirOf("r", 0)).toBe(to), WAIT);
    expect(harness.logs.future("r", 0)).toBeUndefined();
    const log = harness.partitions.log("r", 0)!;
    expect(await batchesOf(log)).toEqual([first[0], ...after]);
    expect(log.endOffsetForEpoch(5).endOffset).toBe(2n);
    expect(log.latestEpoch()).toBe(6);
  });

  it("a move to another dir replaces the one under way; a move back to the current dir cancels it", async () => {
    const quota = gate();
    const harness = await start({ chunkBytes: 100, quota, logDirs: 3 });
    for (let i = 0; i < 5; i++)
      await harness.partitions.appendAsLeader("r", 0, makeBatch({ seed: i }), { acks: 1, logAppendTime: false });
    quota.open = false;
    const current = harness.logs.logDirOf("r", 0)!;
    const [a, b] = harness.logs.logDirs.filter((d) => d !== current) as [string, string];
    const moves = harness.services.logDirMoves;
    expect(await moves.alter("r", 0, a)).toBe(ErrorCode.NONE);
    expect(harness.logs.future("r", 0)?.logDir).toBe(a);
    expect(await moves.alter("r", 0, b)).toBe(ErrorCode.NONE);
    expect(harness.logs.future("r", 0)?.logDir).toBe(b);
    expect(await moves.alter("r", 0, current)).toBe(ErrorCode.NONE);
    expect(harness.logs.future("r", 0)).toBeUndefined();
    expect(await leftovers(harness.logs.logDirs)).toEqual([]);
    expect(harness.logs.logDirOf("r", 0)).toBe(current);
  });
});

describe("a restart during a move", () => {
  async function twoDirs() {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    return [join(dir, "a"), join(dir, "b")] as const;
  }

  const openLogs = (dirs: readonly string[]) =>
    LogManager.open({ logDirs: dirs, logger: silentLogger, retentionCheckIntervalMs: 0 });

  async function logWithData(logs: LogManager, batches: number): Promise<Buffer[]> {
    const log = await logs.getOrCreate("t", 0);
    const out: Buffer[] = [];
    for (let i = 0; i < batches; i++) {
      const batch = makeBatch({ records: 3, seed: i });
      const result = await log.append(batch, { leaderEpoch: 2 });
      out.push(patched(batch, result.baseOffset, 2));
    }
    log.updateHighWatermark(log.logEndOffset);
    return out;
  }

  it("resumes the copy of a future log found at start and swaps it in", async () => {
    const dirs = await twoDirs();
    let logs = await openLogs(dirs);
    const written = await logWithData(logs, 8);
    const from = logs.logDirOf("t", 0)!;
    const to = dirs.find((d) => d !== from)!;
    const future = await logs.createFuture("t", 0, to);
    await future.appendAsFollower(Buffer.concat(written.slice(0, 3)));
    await logs.close();

    logs = await openLogs(dirs);
    expect(logs.futureLogs().map((f) => [f.topic, f.partition, f.logDir])).toEqual([["t", 0, to]]);
    expect(logs.logDirOf("t", 0)).toBe(from);
    const partitions = new PartitionManager(logs, silentLogger);
    const moved: string[] = [];
    const withHook = new LogDirMoves({
      logs,
      partitions,
      quota: () => ({ isExceeded: () => false, record: () => undefined }),
      logger: silentLogger,
      onMoved: (topic, partition, logDir) => moved.push(`${topic}-${partition}@${logDir}`),
    });
    withHook.resume();
    await vi.waitFor(() => expect(moved).toEqual([`t-0@${to}`]), WAIT);
    expect(logs.logDirOf("t", 0)).toBe(to);
    expect(await batchesOf(logs.get("t", 0)!)).toEqual(written);
    expect(logs.get("t", 0)!.highWatermark).toBe(logs.get("t", 0)!.logEndOffset);
    await withHook.close();
    await logs.close();
    expect(await leftovers(dirs)).toEqual([]);
  });

  it("finishes a swap interrupted after the current log was renamed for deletion", async () => {
    const dirs = await twoDirs();
    let logs = await openLogs(dirs);
    const written = await logWithData(logs, 4);
    const from = logs.logDirOf("t", 0)!;
    const to = dirs.find((d) => d !== from)!;
    const future = await logs.createFuture("t", 0, to);
    await future.appendAsFollower(Buffer.concat(written));
    await logs.close();
    // The swap's first step, then the process died.
    await rename(join(from, "t-0"), join(from, `t-0.${"0".repeat(32)}-delete`));

    logs = await openLogs(dirs);
    expect(logs.logDirOf("t", 0)).toBe(to);
    expect(logs.futureLogs()).toEqual([]);
    expect(await batchesOf(logs.get("t", 0)!)).toEqual(written);
    await logs.close();
    expect(await leftovers(dirs)).toEqual([]);
  });
});

describe("AlterReplicaLogDirs and DescribeLogDirs", () => {
  const alter = (harness: ImageHarness, path: string, topic = "r") =>
    harness
      .call(2, AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse, {
        dirs: [{ path, topics: [{ name: topic, partitions: [0] }] }],
      })
      .then((res) => res.results[0]?.partitions[0]?.errorCode);

  const describeDirs = (harness: ImageHarness) =>
    harness.call(4, DescribeLogDirsRequest, DescribeLogDirsResponse, { topics: null }).then((res) =>
      res.results.flatMap((r) =>
        r.topics.flatMap((t) =>
          t.partitions.map((p) => ({
            logDir: r.logDir,
            name: `${t.name}-${p.partitionIndex}`,
            isFutureKey: p.isFutureKey,
            offsetLag: p.offsetLag,
          })),
        ),
      ),
    );

  it("answers as Kafka does, and reports the future replica while it is copied", async () => {
    const quota = gate();
    const harness = await start({ chunkBytes: 100, quota });
    for (let i = 0; i < 5; i++)
      await harness.partitions.appendAsLeader("r", 0, makeBatch({ seed: i }), { acks: 1, logAppendTime: false });
    const current = harness.logs.logDirOf("r", 0)!;
    const to = otherDir(harness);

    expect(await alter(harness, join(harness.dir, "elsewhere"))).toBe(ErrorCode.LOG_DIR_NOT_FOUND);
    expect(await alter(harness, current)).toBe(ErrorCode.NONE);
    expect(await alter(harness, to, "nope")).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    // In the image, but not on this broker: it will be created in `to` if it comes here.
    expect(await alter(harness, to, "u")).toBe(ErrorCode.REPLICA_NOT_AVAILABLE);

    quota.closeAfterNextChunk = true;
    expect(await alter(harness, to)).toBe(ErrorCode.NONE);
    await vi.waitFor(() => expect(harness.logs.future("r", 0)?.log.logEndOffset ?? 0n).toBeGreaterThan(0n), WAIT);
    const during = await describeDirs(harness);
    expect(during.filter((p) => p.name === "r-0").map((p) => [p.logDir, p.isFutureKey])).toEqual([
      [current, false],
      [to, true],
    ]);
    expect(during.find((p) => p.isFutureKey)?.offsetLag).toBeGreaterThan(0n);

    quota.closeAfterNextChunk = false;
    quota.open = true;
    await vi.waitFor(() => expect(harness.logs.logDirOf("r", 0)).toBe(to), WAIT);
    expect(await describeDirs(harness)).toEqual([{ logDir: to, name: "r-0", isFutureKey: false, offsetLag: 0n }]);

    harness.logs.markLogDirOffline(current);
    expect(await alter(harness, current)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
  });
});
