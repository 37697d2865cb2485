import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { METADATA_LOG_DIR, MetadataLog } from "../../src/quorum/metadata-log.ts";
import type { LogEntry } from "../../src/raft/index.ts";

const logger = pino({ level: "silent" });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "metadata-log-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const data = (offset: number, epoch: number, lastInBatch = true): LogEntry => ({
  offset,
  epoch,
  lastInBatch,
  record: { kind: "data", data: Buffer.from(`r${offset}`) },
});
const leaderChange = (offset: number, epoch: number, leaderId: number): LogEntry => ({
  offset,
  epoch,
  lastInBatch: true,
  record: { kind: "leaderChange", leaderId, voters: [1, 2, 3] },
});

function shape(entries: readonly LogEntry[]): unknown[] {
  return entries.map((e) => [
    e.offset,
    e.epoch,
    e.lastInBatch,
    e.record.kind === "data"
      ? Buffer.from(e.record.data).toString()
      : e.record.kind === "leaderChange"
        ? `leader ${e.record.leaderId}`
        : e.record.kind,
  ]);
}

describe("MetadataLog", () => {
  it("keeps the core's entries in __cluster_metadata-0 and reads them back after a reopen", async () => {
    const entries = [leaderChange(0, 1, 1), data(1, 1, false), data(2, 1), leaderChange(3, 2, 2), data(4, 2)];
    const log = await MetadataLog.open({ metadataDir: dir, logger });
    await log.append(entries.slice(0, 3));
    await log.append(entries.slice(3));
    await log.flush();
    await log.close();
    expect(await readdir(dir)).toEqual([METADATA_LOG_DIR]);
    expect((await readdir(join(dir, METADATA_LOG_DIR))).filter((f) => f.endsWith(".log"))).toEqual([
      "00000000000000000000.log",
    ]);

    const reopened = await MetadataLog.open({ metadataDir: dir, logger });
    expect(shape(await reopened.readAll())).toEqual(shape(entries));
    await reopened.close();
  });

  it("reads back a log of several read chunks whole: entries do not share a reused read buffer", async () => {
    // 3 batches of 1,000 entries of 1 KiB each: about 3 MiB, three 1 MiB reads.
    const entries: LogEntry[] = [];
    for (let offset = 0; offset < 3000; offset++) {
      const data = Buffer.alloc(1024, offset % 251);
      data.write(`r${offset}`);
      entries.push({ offset, epoch: 1, lastInBatch: offset % 1000 === 999, record: { kind: "data", data } });
    }
    const log = await MetadataLog.open({ metadataDir: dir, logger });
    for (let i = 0; i < 3; i++) await log.append(entries.slice(i * 1000, (i + 1) * 1000));
    await log.flush();
    await log.close();
    const reopened = await MetadataLog.open({ metadataDir: dir, logger });
    const read = await reopened.readAll();
    await reopened.close();
    expect(read).toHaveLength(3000);
    for (const [i, e] of read.entries()) {
      const want = entries[i]?.record;
      if (e.record.kind !== "data" || want?.kind !== "data") throw new Error(`entry ${i} is not data`);
      expect(Buffer.from(e.record.data).equals(Buffer.from(want.data)), `entry ${i}`).toBe(true);
    }
  });

  it("truncates as the core asks, and appends continue from there", async () => {
    const log = await MetadataLog.open({ metadataDir: dir, logger });
    await log.append([leaderChange(0, 1, 1), data(1, 1), data(2, 1), data(3, 1)]);
    await log.truncate(2);
    await log.append([leaderChange(2, 3, 3), data(3, 3)]);
    expect(shape(await log.readAll())).toEqual(
      shape([leaderChange(0, 1, 1), data(1, 1), leaderChange(2, 3, 3), data(3, 3)]),
    );
    // The core's offsets must match the log's: a gap is a driver bug, refused before anything is written.
    await expect(log.append([data(9, 3)])).rejects.toThrow(/offset 9, but the log ends at 4/);
    expect((await log.readAll()).length).toBe(4);
    await log.close();
  });
});
