import { open as openFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { PartitionLog, StorageError, segmentFileName, type LogConfig } from "../../src/log/index.ts";
import { mountSmallDisk, type SmallDisk } from "../support/small-disk.ts";
import { makeBatch, patched, readAll, silentLogger, tempDir } from "./batches.ts";

// A write that fails for lack of space (or a failed fsync) must leave the log exactly as it was: no offset taken, no
// bytes left behind the last batch, reads unaffected, and the next append after space returns continuing the log.

async function activeFileSize(dir: string, baseOffset: bigint): Promise<number> {
  return (await stat(join(dir, segmentFileName(baseOffset, ".log")))).size;
}

describe("a full disk (size-limited tmpfs)", () => {
  const mounted = mountSmallDisk(2 * 1024 * 1024);
  const disk: SmallDisk | undefined = "dir" in mounted ? mounted : undefined;
  const skipReason = "unavailable" in mounted ? mounted.unavailable : "";
  afterAll(() => disk?.unmount());

  it.skipIf(disk === undefined)(`refuses the append whole and keeps the log consistent ${skipReason}`, async () => {
    if (!disk) return;
    const dir = join(disk.dir, "topic-0");
    const config: Partial<LogConfig> = { segmentBytes: 1024 * 1024 };
    const log = await PartitionLog.open({ dir, config, logger: silentLogger });
    const first = makeBatch({ records: 3, valueSize: 100, seed: 1 });
    const firstCopy = Buffer.from(first);
    await log.append(first, { leaderEpoch: 0 });
    await disk.fill();
    expect(await disk.freeBytes()).toBe(0);

    const big = makeBatch({ records: 50, valueSize: 2000, seed: 2 });
    const failure = await log.append(big, { leaderEpoch: 0 }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StorageError);
    expect((failure as StorageError).code).toBe("ENOSPC");
    expect(log.logEndOffset).toBe(3n);
    expect(log.durableEnd).toBe(3n);
    // Nothing of the failed write stays in the file behind the last batch.
    expect(await activeFileSize(dir, 0n)).toBe(log.sizeBytes());
    expect(await readAll(log, 0n)).toEqual([patched(firstCopy, 0n, 0)]);

    await disk.free();
    const second = makeBatch({ records: 2, valueSize: 100, seed: 3 });
    const secondCopy = Buffer.from(second);
    expect(await log.append(second, { leaderEpoch: 0 })).toEqual({ baseOffset: 3n, lastOffset: 4n });
    await log.close();

    const reopened = await PartitionLog.open({ dir, config, logger: silentLogger });
    expect(reopened.logEndOffset).toBe(5n);
    expect(await readAll(reopened, 0n)).toEqual([patched(firstCopy, 0n, 0), patched(secondCopy, 3n, 0)]);
    await reopened.close();
  });

  it.skipIf(disk === undefined)(`refuses deleteRecords without moving the log start ${skipReason}`, async () => {
    if (!disk) return;
    const dir = join(disk.dir, "delete-0");
    const log = await PartitionLog.open({ dir, logger: silentLogger });
    await log.append(makeBatch({ records: 4 }), { leaderEpoch: 0 });
    log.updateHighWatermark(log.logEndOffset);
    await disk.fill();
    await expect(log.deleteRecordsBefore(2n)).rejects.toBeInstanceOf(StorageError);
    expect(log.logStartOffset).toBe(0n);
    await disk.free();
    expect(await log.deleteRecordsBefore(2n)).toBe(2n);
    await log.close();
  });
});

describe("a failed fsync", () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await cleanup?.();
  });

  it("cuts off the written batch, so that a retry is stored once", async () => {
    const temp = await tempDir();
    cleanup = temp.cleanup;
    // flush.messages=1: every append fsyncs before it is acknowledged.
    const log = await PartitionLog.open({ dir: temp.dir, config: { flushIntervalMessages: 1 }, logger: silentLogger });
    const first = makeBatch({ records: 2, seed: 1 });
    const firstCopy = Buffer.from(first);
    await log.append(first, { leaderEpoch: 0 });

    // The FileHandle class is not exported by node:fs/promises; take it from a handle.
    const probe = await openFile(join(temp.dir, "probe"), "w");
    const fileHandleClass = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, fsync"), { code: "ENOSPC" });
    vi.spyOn(fileHandleClass, "datasync").mockRejectedValueOnce(enospc);

    const retried = makeBatch({ records: 3, seed: 2 });
    const retriedCopy = Buffer.from(retried);
    const failure = await log.append(Buffer.from(retried), { leaderEpoch: 0 }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StorageError);
    expect(log.logEndOffset).toBe(2n);
    expect(await activeFileSize(temp.dir, 0n)).toBe(log.sizeBytes());

    expect(await log.append(retried, { leaderEpoch: 0 })).toEqual({ baseOffset: 2n, lastOffset: 4n });
    expect(await readAll(log, 0n)).toEqual([patched(firstCopy, 0n, 0), patched(retriedCopy, 2n, 0)]);
    await log.close();
  });
});
