import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogManager, parsePartitionDirName } from "../../src/log/index.ts";
import { HIGH_WATERMARK_FILE } from "../../src/log/partition-log.ts";
import { makeBatch, manualClock, silentLogger, tempDir } from "./batches.ts";

let dir: string;
let cleanup: () => Promise<void>;
const managers: LogManager[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  await cleanup();
});

async function openManager(extra: Partial<Parameters<typeof LogManager.open>[0]> = {}): Promise<LogManager> {
  const manager = await LogManager.open({
    logDirs: [join(dir, "a"), join(dir, "b")],
    logger: silentLogger,
    retentionCheckIntervalMs: 0,
    ...extra,
  });
  managers.push(manager);
  return manager;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe("LogManager", () => {
  it("checkpoints every partition's high watermark every replica.high.watermark.checkpoint.interval.ms", async () => {
    const manager = await openManager({ hwCheckpointIntervalMs: 20 });
    const log = await manager.getOrCreate("orders", 0);
    await log.append(makeBatch({ records: 4 }), { leaderEpoch: 0 });
    const file = join(dir, "a", "orders-0", HIGH_WATERMARK_FILE);
    // The first append writes the checkpoint; a HW that moves later is written by the periodic pass alone (no flush,
    // roll or close happens here).
    expect(await readFile(file, "utf8")).toBe("0\n1\n0\n");
    log.updateHighWatermark(3n);
    let content = "";
    const deadline = Date.now() + 10_000;
    while ((content = await readFile(file, "utf8")) !== "0\n1\n3\n") {
      if (Date.now() > deadline) throw new Error(`the checkpoint still holds ${JSON.stringify(content)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it("parses partition directory names, topics with dashes included", () => {
    expect(parsePartitionDirName("my-topic-12")).toEqual({ topic: "my-topic", partition: 12 });
    expect(parsePartitionDirName("__consumer_offsets-0")).toEqual({ topic: "__consumer_offsets", partition: 0 });
    expect(parsePartitionDirName("meta.properties")).toBeUndefined();
    expect(parsePartitionDirName("t-0.0123456789abcdef0123456789abcdef-delete")).toBeUndefined();
  });

  it("spreads new partitions over log dirs and finds them again after a restart", async () => {
    let manager = await openManager();
    for (let p = 0; p < 4; p++) {
      const log = await manager.getOrCreate("orders", p);
      await log.append(makeBatch({ records: p + 1 }), { leaderEpoch: 0 });
    }
    expect(await manager.getOrCreate("orders", 0)).toBe(manager.get("orders", 0));
    expect((await readdir(join(dir, "a"))).sort()).toEqual(["orders-0", "orders-2"]);
    expect((await readdir(join(dir, "b"))).sort()).toEqual(["orders-1", "orders-3"]);
    await manager.close();
    managers.length = 0;

    manager = await openManager();
    expect(
      manager
        .partitions()
        .map((p) => `${p.topic}-${p.partition}`)
        .sort(),
    ).toEqual(["orders-0", "orders-1", "orders-2", "orders-3"]);
    for (let p = 0; p < 4; p++) expect(manager.get("orders", p)?.logEndOffset).toBe(BigInt(p + 1));
  });

  it("spreads partitions created at the same time over log dirs", async () => {
    const manager = await openManager();
    await Promise.all([0, 1, 2, 3].map((p) => manager.getOrCreate("burst", p)));
    expect(await readdir(join(dir, "a"))).toHaveLength(2);
    expect(await readdir(join(dir, "b"))).toHaveLength(2);
  });

  it("applies topic config overrides on top of the broker defaults", async () => {
    const manager = await openManager({ config: { segmentBytes: 5000, retentionMs: 1000 } });
    const log = await manager.getOrCreate("t", 0, { retentionMs: 42 });
    expect(log.config.segmentBytes).toBe(5000);
    expect(log.config.retentionMs).toBe(42);
  });

  it("deletes partitions and finishes interrupted deletions at start", async () => {
    let manager = await openManager();
    await manager.getOrCreate("gone", 0);
    expect(await manager.deletePartition("gone", 0)).toBe(true);
    expect(await manager.deletePartition("gone", 0)).toBe(false);
    expect(manager.get("gone", 0)).toBeUndefined();
    expect(await readdir(join(dir, "a"))).toEqual([]);
    await manager.close();
    managers.length = 0;

    const leftover = join(dir, "b", "old-0.0123456789abcdef0123456789abcdef-delete");
    await mkdir(leftover);
    await writeFile(join(leftover, "00000000000000000000.log"), "x");
    manager = await openManager();
    expect(await readdir(join(dir, "b"))).toEqual([]);
    expect(manager.partitions()).toEqual([]);
  });

  it("runs retention in the background and stops when closed", async () => {
    const clock = manualClock(1_000_000);
    const manager = await openManager({
      config: { segmentBytes: 300, retentionMs: 5_000 },
      clock: clock.now,
      retentionCheckIntervalMs: 1,
    });
    const log = await manager.getOrCreate("events", 0);
    for (let i = 0; i < 5; i++) {
      await log.append(makeBatch({ valueSize: 100, timestamp: 1_000_000n + BigInt(i) }), { leaderEpoch: 0 });
    }
    log.updateHighWatermark(log.logEndOffset);
    expect(log.segments().length).toBeGreaterThan(1);
    clock.advance(60_000);
    await until(() => log.segments().length === 1 && log.logStartOffset === 5n, "retention to delete old segments");
    await manager.close();
    expect(log.isClosed).toBe(true);
    await expect(manager.getOrCreate("events", 1)).rejects.toThrow(/closed/);
  });
});
