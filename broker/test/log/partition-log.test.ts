import { readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BATCH_OFFSET, TIMESTAMP_TYPE_LOG_APPEND } from "../../src/protocol/records/batch-header.ts";
import { BufferPool, LogClosedError, OffsetOutOfRangeError } from "../../src/log/index.ts";
import { crcValid, makeBatch, manualClock, patched, readAll, splitBatches } from "./batches.ts";
import { partitionLogFixture } from "./log-fixture.ts";

const { dir, openLog } = partitionLogFixture();

describe("append and read", () => {
  it("assigns consecutive offsets and returns the producer's bytes with only offset and epoch patched", async () => {
    const log = await openLog();
    const a = makeBatch({ records: 3, seed: 1 });
    const b = makeBatch({ records: 1, seed: 2 });
    const c = makeBatch({ records: 5, seed: 3 });
    const originals = [Buffer.from(a), Buffer.from(b), Buffer.from(c)];
    expect(await log.append(a, { leaderEpoch: 4 })).toEqual({ baseOffset: 0n, lastOffset: 2n });
    expect(await log.append(Buffer.concat([b, c]), { leaderEpoch: 4 })).toEqual({ baseOffset: 3n, lastOffset: 8n });
    expect(log.logEndOffset).toBe(9n);
    expect(log.durableEnd).toBe(9n);
    // The partition layer moves the high watermark (ADR 24); a new log starts it at 0.
    expect(log.highWatermark).toBe(0n);

    const read = await readAll(log, 0n);
    expect(read).toEqual([patched(originals[0]!, 0n, 4), patched(originals[1]!, 3n, 4), patched(originals[2]!, 4n, 4)]);
    for (const batch of read) expect(crcValid(batch)).toBe(true);
  });

  it("returns the whole batch containing a fetch offset in its middle", async () => {
    const log = await openLog();
    await log.append(makeBatch({ records: 4 }), { leaderEpoch: 0 });
    await log.append(makeBatch({ records: 4 }), { leaderEpoch: 0 });
    const result = await log.read(6n, 1 << 20);
    const batches = splitBatches(result.records);
    expect(batches.map((b) => b.baseOffset)).toEqual([4n]);
    result.release();
  });

  it("returns the first batch whole even above maxBytes and may cut the last one short", async () => {
    const log = await openLog();
    const size = makeBatch({ valueSize: 100 }).length;
    for (let i = 0; i < 3; i++) await log.append(makeBatch({ valueSize: 100, seed: i }), { leaderEpoch: 0 });

    const tiny = await log.read(0n, 10);
    expect(tiny.records.length).toBe(size);
    expect(splitBatches(tiny.records)).toMatchObject([{ baseOffset: 0n, complete: true }]);

    const partial = await log.read(0n, size + size / 2);
    expect(partial.records.length).toBe(size + size / 2);
    expect(splitBatches(partial.records).map((b) => b.complete)).toEqual([true, false]);

    const strict = await log.read(0n, 10, { minOneBatch: false });
    expect(strict.records.length).toBe(0);
    for (const r of [tiny, partial, strict]) r.release();
  });

  it("stops at maxOffset and answers out-of-range offsets with OffsetOutOfRangeError", async () => {
    const log = await openLog();
    for (let i = 0; i < 4; i++) await log.append(makeBatch({ records: 2, seed: i }), { leaderEpoch: 0 });
    const bounded = await log.read(0n, 1 << 20, { maxOffset: 4n });
    expect(splitBatches(bounded.records).map((b) => b.baseOffset)).toEqual([0n, 2n]);
    const atEnd = await log.read(8n, 1 << 20);
    expect(atEnd.records.length).toBe(0);
    await expect(log.read(9n, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    await expect(log.read(-1n, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
  });

  it("rejects bytes that are not whole v2 batches without changing the log", async () => {
    const log = await openLog();
    const batch = makeBatch();
    await expect(log.append(batch.subarray(0, batch.length - 1), { leaderEpoch: 0 })).rejects.toThrow(/length/);
    await expect(log.append(Buffer.alloc(0), { leaderEpoch: 0 })).rejects.toThrow(/no batches/);
    expect(log.logEndOffset).toBe(0n);
    await log.append(makeBatch(), { leaderEpoch: 0 });
    expect(log.logEndOffset).toBe(1n);
  });

  it("stamps LogAppendTime into maxTimestamp and the attributes, keeping the CRC valid", async () => {
    const clock = manualClock(5_000_000);
    const log = await openLog({}, { clock: clock.now });
    const result = await log.append(makeBatch({ timestamp: 10n }), { leaderEpoch: 0, logAppendTime: true });
    expect(result.logAppendTime).toBe(5_000_000n);
    const read = await log.read(0n, 1000);
    const stored = read.records;
    expect(stored.readBigInt64BE(BATCH_OFFSET.maxTimestamp)).toBe(5_000_000n);
    expect(stored.readInt16BE(BATCH_OFFSET.attributes) & TIMESTAMP_TYPE_LOG_APPEND).toBe(TIMESTAMP_TYPE_LOG_APPEND);
    expect(crcValid(stored)).toBe(true);
    read.release();
  });

  it("reads through pooled buffers that come back once released", async () => {
    const pool = new BufferPool();
    const log = await openLog({}, { bufferPool: pool });
    await log.append(makeBatch(), { leaderEpoch: 0 });
    const first = await log.read(0n, 1000);
    const backing = first.records.buffer;
    const copy = Buffer.from(first.records);
    first.release();
    const second = await log.read(0n, 1000);
    expect(second.records.buffer).toBe(backing);
    expect(second.records).toEqual(copy);
    second.release();
  });

  it("refuses work after close", async () => {
    const log = await openLog();
    await log.close();
    await expect(log.append(makeBatch(), { leaderEpoch: 0 })).rejects.toBeInstanceOf(LogClosedError);
    await expect(log.read(0n, 10)).rejects.toBeInstanceOf(LogClosedError);
  });
});

describe("segments", () => {
  it("rolls by size and reads every offset across segments", async () => {
    const log = await openLog({ segmentBytes: 1000, indexIntervalBytes: 200 });
    const originals: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const batch = makeBatch({ records: 1 + (i % 3), valueSize: 50, seed: i });
      const { baseOffset } = await log.append(Buffer.from(batch), { leaderEpoch: 1 });
      originals.push(patched(batch, baseOffset, 1));
    }
    const segments = log.segments();
    expect(segments.length).toBeGreaterThan(5);
    for (const s of segments.slice(0, -1)) expect(s.sizeBytes).toBeLessThanOrEqual(1000);
    for (let i = 1; i < segments.length; i++) expect(segments[i]!.baseOffset).toBe(segments[i - 1]!.nextOffset);
    expect(await readAll(log, 0n)).toEqual(originals);
    // Every offset maps to the batch that holds it.
    for (let o = 0n; o < log.logEndOffset; o++) {
      const r = await log.read(o, 1);
      const [first] = splitBatches(r.records);
      expect(first!.baseOffset <= o && o <= first!.lastOffset).toBe(true);
      r.release();
    }
  });

  it("rolls by time, measured in batch timestamps", async () => {
    const log = await openLog({ segmentMs: 1000 });
    await log.append(makeBatch({ timestamp: 10_000n }), { leaderEpoch: 0 });
    await log.append(makeBatch({ timestamp: 10_900n }), { leaderEpoch: 0 });
    expect(log.segments()).toHaveLength(1);
    await log.append(makeBatch({ timestamp: 11_001n }), { leaderEpoch: 0 });
    expect(log.segments().map((s) => s.baseOffset)).toEqual([0n, 2n]);
  });

  it("reopens after a clean close with the same data, indexes and offsets", async () => {
    let log = await openLog({ segmentBytes: 2000, indexIntervalBytes: 100 });
    for (let i = 0; i < 30; i++) await log.append(makeBatch({ valueSize: 40, seed: i }), { leaderEpoch: 2 });
    const before = await readAll(log, 0n);
    const segmentsBefore = log.segments();
    await log.close();
    const files = await readdir(dir());
    expect(files).toContain(".clean-shutdown");
    expect(files.filter((f) => f.endsWith(".index")).length).toBe(segmentsBefore.length);

    log = await openLog({ segmentBytes: 2000, indexIntervalBytes: 100 });
    expect(await readdir(dir())).not.toContain(".clean-shutdown");
    expect(log.segments()).toEqual(segmentsBefore);
    expect(await readAll(log, 0n)).toEqual(before);
    expect(log.latestEpoch()).toBe(2);
  });

  it("rebuilds missing and corrupt indexes", async () => {
    let log = await openLog({ segmentBytes: 1200, indexIntervalBytes: 100 });
    for (let i = 0; i < 60; i++) {
      await log.append(makeBatch({ valueSize: 30, seed: i, timestamp: BigInt(1000 + i * 10) }), { leaderEpoch: 0 });
    }
    log.updateHighWatermark(log.logEndOffset);
    const before = await readAll(log, 0n);
    const segmentsBefore = log.segments();
    await log.close();
    const indexes = (await readdir(dir())).filter((f) => f.endsWith(".index"));
    const timeIndexes = (await readdir(dir())).filter((f) => f.endsWith(".timeindex"));
    const originalIndex = await readFile(join(dir(), indexes[0]!));
    expect(originalIndex.length).toBeGreaterThan(0);
    await rm(join(dir(), indexes[0]!));
    await writeFile(join(dir(), indexes[1]!), Buffer.alloc(16, 0xff));
    await truncate(join(dir(), timeIndexes[2]!), 5);

    log = await openLog({ segmentBytes: 1200, indexIntervalBytes: 100 });
    expect(log.segments()).toEqual(segmentsBefore);
    expect(await readAll(log, 0n)).toEqual(before);
    const found = await log.offsetForTimestamp(1000n + 45n * 10n);
    expect(found?.baseOffset).toBe(45n);
    await log.close();
    expect(await readFile(join(dir(), indexes[0]!))).toEqual(originalIndex);
  });
});

describe("timestamps", () => {
  it("finds the first batch whose max timestamp reaches the target", async () => {
    const log = await openLog({ segmentBytes: 400, indexIntervalBytes: 100 });
    // Timestamps rise by 100 per batch except one out-of-order batch.
    const stamps = [100n, 200n, 300n, 250n, 400n, 500n, 600n, 700n, 800n, 900n, 1000n, 1100n];
    for (const [i, t] of stamps.entries())
      await log.append(makeBatch({ timestamp: t, seed: i, valueSize: 60 }), { leaderEpoch: 0 });
    log.updateHighWatermark(log.logEndOffset);
    expect(log.segments().length).toBeGreaterThan(2);
    expect((await log.offsetForTimestamp(0n))?.baseOffset).toBe(0n);
    expect((await log.offsetForTimestamp(250n))?.baseOffset).toBe(2n);
    expect((await log.offsetForTimestamp(301n))?.baseOffset).toBe(4n);
    expect((await log.offsetForTimestamp(1000n))?.baseOffset).toBe(10n);
    expect((await log.offsetForTimestamp(1001n))?.baseOffset).toBe(11n);
    expect(await log.offsetForTimestamp(1101n)).toBeUndefined();
    const max = await log.maxTimestampOffset();
    expect(max).toMatchObject({ baseOffset: 11n, timestamp: 1100n });
    expect(crcValid(max!.batch)).toBe(true);
  });

  it("skips batches below the log start offset", async () => {
    const log = await openLog();
    for (let i = 0; i < 5; i++) await log.append(makeBatch({ timestamp: BigInt(100 * i) }), { leaderEpoch: 0 });
    log.updateHighWatermark(log.logEndOffset);
    await log.deleteRecordsBefore(3n);
    expect((await log.offsetForTimestamp(0n))?.baseOffset).toBe(3n);
  });
});

describe("deleteRecords, truncation and epochs", () => {
  it("advances and persists the log start offset, deleting whole segments below it", async () => {
    let log = await openLog({ segmentBytes: 500 });
    for (let i = 0; i < 20; i++) await log.append(makeBatch({ valueSize: 100, seed: i }), { leaderEpoch: 0 });
    log.updateHighWatermark(log.logEndOffset);
    const segments = log.segments();
    const cut = segments[2]!.baseOffset + 1n;
    expect(await log.deleteRecordsBefore(cut)).toBe(cut);
    expect(log.logStartOffset).toBe(cut);
    expect(log.segments()[0]!.baseOffset).toBe(segments[2]!.baseOffset);
    await expect(log.read(cut - 1n, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect(await log.deleteRecordsBefore(1n)).toBe(cut);
    await expect(log.deleteRecordsBefore(21n)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    await log.close();

    log = await openLog({ segmentBytes: 500 });
    expect(log.logStartOffset).toBe(cut);
  });

  it("truncates to an offset, dropping later segments and epochs", async () => {
    let log = await openLog({ segmentBytes: 500 });
    for (let i = 0; i < 20; i++)
      await log.append(makeBatch({ valueSize: 100, seed: i }), { leaderEpoch: i < 10 ? 1 : 3 });
    const expected = (await readAll(log, 0n)).slice(0, 7);
    await log.truncateTo(7n);
    expect(log.logEndOffset).toBe(7n);
    expect(log.latestEpoch()).toBe(1);
    expect(await readAll(log, 0n)).toEqual(expected);
    const { baseOffset } = await log.append(makeBatch(), { leaderEpoch: 4 });
    expect(baseOffset).toBe(7n);
    await log.close();
    log = await openLog({ segmentBytes: 500 });
    expect(log.logEndOffset).toBe(8n);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 4, startOffset: 7n },
    ]);
  });

  it("rebuilds the epoch cache from batch headers after a crash that lost its checkpoint", async () => {
    let log = await openLog({ segmentBytes: 400 });
    for (let i = 0; i < 6; i++) await log.append(makeBatch({ valueSize: 100 }), { leaderEpoch: i < 3 ? 1 : 3 });
    await log.close();
    for (const f of [".clean-shutdown", "recovery-point-offset-checkpoint", "leader-epoch-checkpoint"]) {
      await rm(join(dir(), f));
    }
    log = await openLog({ segmentBytes: 400 });
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 3, startOffset: 3n },
    ]);
    expect(await readFile(join(dir(), "leader-epoch-checkpoint"), "utf8")).toBe("0\n2\n1 0\n3 3\n");
  });

  it("answers endOffsetForEpoch as Kafka does, across a restart", async () => {
    let log = await openLog();
    await log.append(makeBatch({ records: 3 }), { leaderEpoch: 0 });
    await log.append(makeBatch({ records: 2 }), { leaderEpoch: 2 });
    await log.append(makeBatch({ records: 2 }), { leaderEpoch: 5 });
    await log.close();
    log = await openLog();
    expect(log.endOffsetForEpoch(0)).toEqual({ epoch: 0, endOffset: 3n });
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 0, endOffset: 3n });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 5n });
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 5, endOffset: 7n });
    expect(log.endOffsetForEpoch(6)).toEqual({ epoch: -1, endOffset: -1n });
    expect(await readFile(join(dir(), "leader-epoch-checkpoint"), "utf8")).toBe("0\n3\n0 0\n2 3\n5 5\n");
  });

  it("starts a new leader epoch at the log end, written with the next append", async () => {
    const checkpoint = () => readFile(join(dir(), "leader-epoch-checkpoint"), "utf8").catch(() => "");
    let log = await openLog();
    await log.append(makeBatch({ records: 3 }), { leaderEpoch: 1 });
    const before = await checkpoint();
    await log.assignEpochStartOffset(4);
    // An epoch not newer than the latest changes nothing.
    await log.assignEpochStartOffset(2);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 4, startOffset: 3n },
    ]);
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 3n });
    expect(log.endOffsetForEpoch(4)).toEqual({ epoch: 4, endOffset: 3n });
    expect(await checkpoint()).toBe(before);
    await log.append(makeBatch({ records: 2 }), { leaderEpoch: 4 });
    expect(await checkpoint()).toBe("0\n2\n1 0\n4 3\n");

    // An epoch nothing was appended in does not survive a restart, as in Kafka (it starts at the log end).
    await log.assignEpochStartOffset(6);
    await log.close();
    log = await openLog();
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 4, startOffset: 3n },
    ]);
  });
});

describe("retention", () => {
  it("deletes segments older than retention.ms, rolling an expired active segment", async () => {
    const clock = manualClock(100_000);
    const log = await openLog({ segmentBytes: 300, retentionMs: 10_000 }, { clock: clock.now });
    for (let i = 0; i < 6; i++)
      await log.append(makeBatch({ valueSize: 100, timestamp: BigInt(100_000 + i * 1000) }), { leaderEpoch: 0 });
    log.updateHighWatermark(log.logEndOffset);
    const segments = log.segments();
    expect(segments.length).toBeGreaterThan(2);
    clock.set(100_000 + 12_500);
    const outcome = await log.applyRetention();
    // Batches at 100000..102000 are older than 10 s.
    expect(outcome.deleted.every((d) => d.reason === "retention.ms")).toBe(true);
    expect(outcome.deleted.every((d) => d.maxTimestamp < 102_500n)).toBe(true);
    expect(log.segments()[0]!.maxTimestamp).toBeGreaterThanOrEqual(102_500n);
    expect(log.logStartOffset).toBe(log.segments()[0]!.baseOffset);

    clock.set(200_000);
    await log.applyRetention();
    expect(log.segments()).toHaveLength(1);
    expect(log.segments()[0]!.sizeBytes).toBe(0);
    expect(log.logStartOffset).toBe(6n);
    expect(log.logEndOffset).toBe(6n);
    const { baseOffset } = await log.append(makeBatch({ timestamp: 200_000n }), { leaderEpoch: 0 });
    expect(baseOffset).toBe(6n);
  });

  it("deletes the oldest segments beyond retention.bytes but never the active one", async () => {
    const log = await openLog({ segmentBytes: 400, retentionBytes: 1000, retentionMs: -1 });
    for (let i = 0; i < 20; i++) await log.append(makeBatch({ valueSize: 100 }), { leaderEpoch: 0 });
    log.updateHighWatermark(log.logEndOffset);
    const outcome = await log.applyRetention();
    expect(outcome.deleted.length).toBeGreaterThan(0);
    expect(outcome.deleted.every((d) => d.reason === "retention.bytes")).toBe(true);
    // Kafka's rule: keep at least retention.bytes, deleting only whole segments that fit in the excess.
    expect(log.sizeBytes()).toBeGreaterThanOrEqual(1000);
    expect(log.sizeBytes() - log.segments()[0]!.sizeBytes).toBeLessThan(1000);

    log.setConfig({ retentionBytes: 0 });
    await log.applyRetention();
    expect(log.segments()).toHaveLength(1);
    expect(log.segments()[0]!.active).toBe(true);
  });
});

describe("concurrency", () => {
  it("serves reads that race with appends and segment deletion either correct bytes or out-of-range", async () => {
    const log = await openLog({ segmentBytes: 600 });
    const originals = new Map<bigint, Buffer>();
    const append = async (i: number): Promise<void> => {
      const batch = makeBatch({ valueSize: 80, seed: i });
      const { baseOffset } = await log.append(Buffer.from(batch), { leaderEpoch: 0 });
      originals.set(baseOffset, patched(batch, baseOffset, 0));
    };
    for (let i = 0; i < 20; i++) await append(i);
    log.updateHighWatermark(log.logEndOffset);
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 30 }, (_, k) => log.read(BigInt(k % 20), 4096)),
      log.deleteRecordsBefore(12n),
      ...Array.from({ length: 10 }, (_, k) => append(20 + k)),
      ...Array.from({ length: 30 }, (_, k) => log.read(BigInt(k % 20), 4096)),
    ]);
    let served = 0;
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toBeInstanceOf(OffsetOutOfRangeError);
        continue;
      }
      const value = outcome.value;
      if (value === undefined || typeof value === "bigint") continue;
      for (const b of splitBatches(value.records).filter((x) => x.complete)) {
        expect(Buffer.from(b.bytes)).toEqual(originals.get(b.baseOffset));
        served++;
      }
      value.release();
    }
    expect(served).toBeGreaterThan(0);
    expect(log.logStartOffset).toBe(12n);
    expect(log.logEndOffset).toBe(30n);
  });
});
