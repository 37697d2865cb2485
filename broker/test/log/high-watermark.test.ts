import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PartitionLog, type LogConfig } from "../../src/log/index.ts";
import { CLEAN_SHUTDOWN_FILE, HIGH_WATERMARK_FILE } from "../../src/log/partition-log.ts";
import { makeBatch, manualClock, silentLogger } from "./batches.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-hw-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = (config: Partial<LogConfig> = {}, clock?: () => number) =>
  PartitionLog.open({ dir, config, logger: silentLogger, ...(clock && { clock }) });
const checkpoint = () => readFile(join(dir, HIGH_WATERMARK_FILE), "utf8");

describe("high watermark", () => {
  it("moves only up, and never past the log end", async () => {
    const log = await open();
    await log.append(makeBatch({ records: 5 }), { leaderEpoch: 0 });
    expect(log.highWatermark).toBe(0n);
    expect(log.updateHighWatermark(3n)).toBe(3n);
    expect(log.updateHighWatermark(2n)).toBe(3n);
    expect(log.updateHighWatermark(99n)).toBe(5n);
    expect(log.highWatermark).toBe(5n);
    const read = await log.read(0n, 1 << 20);
    expect(read.highWatermark).toBe(5n);
    read.release();
    await log.close();
  });

  it("is checkpointed by the first append, on flush and on close, and read back on open", async () => {
    let log = await open();
    expect(await readdir(dir)).not.toContain(HIGH_WATERMARK_FILE);
    await log.append(makeBatch({ records: 4 }), { leaderEpoch: 0 });
    expect(await checkpoint()).toBe("0\n1\n0\n");
    log.updateHighWatermark(2n);
    await log.flush();
    expect(await checkpoint()).toBe("0\n1\n2\n");
    log.updateHighWatermark(4n);
    await log.close();
    expect(await checkpoint()).toBe("0\n1\n4\n");
    log = await open();
    expect(log.highWatermark).toBe(4n);
    await log.close();
  });

  it("after a crash, serves up to the checkpointed HW, never beyond the log end", async () => {
    let log = await open();
    await log.append(makeBatch({ records: 6 }), { leaderEpoch: 0 });
    log.updateHighWatermark(3n);
    await log.flush();
    log.updateHighWatermark(6n); // not checkpointed: the process dies before the next flush
    log = await open(); // no close: an unclean restart
    expect(log.highWatermark).toBe(3n);
    await writeFile(join(dir, HIGH_WATERMARK_FILE), "0\n1\n100\n");
    log = await open();
    expect(log.highWatermark).toBe(6n);
    await log.close();
  });

  it("of a log from before replication (no checkpoint) is its end, as it served before", async () => {
    let log = await open();
    await log.append(makeBatch({ records: 7 }), { leaderEpoch: 0 });
    await log.close();
    await rm(join(dir, HIGH_WATERMARK_FILE));
    log = await open();
    expect(log.highWatermark).toBe(7n);
    expect(await readdir(dir)).not.toContain(CLEAN_SHUTDOWN_FILE);
    await log.close();
  });

  it("drops with truncation below it and the checkpoint follows at once", async () => {
    let log = await open();
    for (let i = 0; i < 5; i++) await log.append(makeBatch({ records: 2, seed: i }), { leaderEpoch: 0 });
    log.updateHighWatermark(10n);
    await log.truncateTo(4n);
    expect(log.highWatermark).toBe(4n);
    expect(log.durableEnd).toBe(4n);
    expect(await checkpoint()).toBe("0\n1\n4\n");
    log = await open(); // unclean: the checkpoint, not the old HW, bounds what is served
    expect(log.highWatermark).toBe(4n);
    await log.truncateFullyAndStartAt(20n);
    expect(log.highWatermark).toBe(20n);
    await log.close();
  });

  it("bounds retention: segments above the HW stay", async () => {
    const clock = manualClock(100_000);
    const log = await open({ segmentBytes: 300, retentionMs: 1_000 }, clock.now);
    for (let i = 0; i < 6; i++)
      await log.append(makeBatch({ valueSize: 100, timestamp: BigInt(100_000 + i) }), { leaderEpoch: 0 });
    const segments = log.segments();
    expect(segments.length).toBeGreaterThan(2);
    clock.set(200_000);
    expect((await log.applyRetention()).deleted).toEqual([]);
    log.updateHighWatermark(segments[2]!.baseOffset);
    const { deleted } = await log.applyRetention();
    expect(deleted.map((d) => d.baseOffset)).toEqual([segments[0]!.baseOffset, segments[1]!.baseOffset]);
    expect(log.logStartOffset).toBe(segments[2]!.baseOffset);
    await log.close();
  });
});
