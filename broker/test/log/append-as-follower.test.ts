import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidBatchError } from "../../src/log/index.ts";
import { BATCH_OFFSET } from "../../src/protocol/records/batch-header.ts";
import { makeBatch, patched, readAll } from "./batches.ts";
import { partitionLogFixture } from "./log-fixture.ts";

// A follower's log takes the leader's batches as they are: offsets and partition leader epochs included.

const { dir, openLog } = partitionLogFixture();

/** A batch as it sits in the leader's log: its offset and epoch set, its CRC (which covers neither) still valid. */
function leaderBatch(baseOffset: bigint, epoch: number, records = 1, seed = 0): Buffer {
  return patched(makeBatch({ records, seed }), baseOffset, epoch);
}

const checkpoint = () => readFile(join(dir(), "leader-epoch-checkpoint"), "utf8");

describe("appendAsFollower", () => {
  it("keeps the leader's offsets and epochs and starts each new epoch at its first batch", async () => {
    const log = await openLog();
    const batches = [leaderBatch(0n, 1, 3, 1), leaderBatch(3n, 1, 2, 2), leaderBatch(5n, 4, 1, 3)];
    expect(await log.appendAsFollower(Buffer.concat(batches.slice(0, 2)))).toEqual({ baseOffset: 0n, lastOffset: 4n });
    expect(await log.appendAsFollower(Buffer.from(batches[2]!))).toEqual({ baseOffset: 5n, lastOffset: 5n });
    expect(log.logEndOffset).toBe(6n);
    expect(await readAll(log, 0n)).toEqual(batches);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 4, startOffset: 5n },
    ]);
    expect(await checkpoint()).toBe("0\n2\n1 0\n4 5\n");
  });

  it("does not move the high watermark: the leader sets it", async () => {
    const log = await openLog();
    await log.append(makeBatch({ records: 2 }), { leaderEpoch: 0 });
    expect(log.updateHighWatermark(2n)).toBe(2n);
    await log.appendAsFollower(leaderBatch(2n, 0, 3));
    expect(log.logEndOffset).toBe(5n);
    expect(log.highWatermark).toBe(2n);
  });

  it("refuses gaps, overlaps, corrupt and partial batches, leaving the log unchanged", async () => {
    const log = await openLog();
    await log.appendAsFollower(leaderBatch(0n, 2, 2));
    const corrupt = leaderBatch(2n, 2);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    const badMagic = leaderBatch(2n, 2);
    badMagic.writeInt8(1, BATCH_OFFSET.magic);
    const cases: [string, Buffer][] = [
      ["a gap", leaderBatch(3n, 2)],
      ["an overlap", leaderBatch(1n, 2)],
      ["a gap between two batches", Buffer.concat([leaderBatch(2n, 2), leaderBatch(4n, 2)])],
      ["a CRC mismatch", corrupt],
      ["an old format", badMagic],
      ["a cut-short batch", leaderBatch(2n, 2).subarray(0, 70)],
      ["nothing", Buffer.alloc(0)],
    ];
    for (const [what, bytes] of cases) {
      await expect(log.appendAsFollower(bytes), what).rejects.toBeInstanceOf(InvalidBatchError);
    }
    expect(log.logEndOffset).toBe(2n);
    expect(log.epochEntries()).toEqual([{ epoch: 2, startOffset: 0n }]);
    expect((await readAll(log, 0n)).length).toBe(1);
  });

  it("ignores a batch epoch older than the latest one, as Kafka's follower does", async () => {
    const log = await openLog();
    await log.appendAsFollower(Buffer.concat([leaderBatch(0n, 3), leaderBatch(1n, 2), leaderBatch(2n, 5)]));
    expect(log.epochEntries()).toEqual([
      { epoch: 3, startOffset: 0n },
      { epoch: 5, startOffset: 2n },
    ]);
  });

  it("replaces an epoch this replica started as leader but never wrote in", async () => {
    const log = await openLog();
    await log.append(makeBatch({ records: 2 }), { leaderEpoch: 1 });
    // It led in epoch 3 without writing, then the leader of epoch 4 wrote epoch-2 batches from offset 2.
    await log.assignEpochStartOffset(3);
    await log.appendAsFollower(Buffer.concat([leaderBatch(2n, 2), leaderBatch(3n, 4)]));
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 2n },
      { epoch: 4, startOffset: 3n },
    ]);
    expect(await checkpoint()).toBe("0\n3\n1 0\n2 2\n4 3\n");
  });

  it("truncating at or past the log end drops an unwritten epoch there", async () => {
    const log = await openLog();
    await log.append(makeBatch({ records: 2 }), { leaderEpoch: 1 });
    await log.assignEpochStartOffset(3);
    await log.truncateTo(5n);
    expect(log.logEndOffset).toBe(2n);
    expect(log.epochEntries()).toEqual([{ epoch: 1, startOffset: 0n }]);
    expect(await checkpoint()).toBe("0\n1\n1 0\n");
  });

  it("rolls segments and survives a reopen with the leader's offsets and epochs", async () => {
    let log = await openLog({ segmentBytes: 300 });
    const batches: Buffer[] = [];
    for (let i = 0; i < 12; i++) batches.push(leaderBatch(BigInt(i * 2), i < 6 ? 1 : 2, 2, i));
    for (const b of batches) await log.appendAsFollower(Buffer.from(b));
    expect(log.segments().length).toBeGreaterThan(2);
    await log.close();
    log = await openLog({ segmentBytes: 300 });
    expect(log.logEndOffset).toBe(24n);
    expect(await readAll(log, 0n)).toEqual(batches);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 12n },
    ]);
  });

  it("continues a log that was emptied to start at the leader's log start", async () => {
    const log = await openLog();
    await log.appendAsFollower(leaderBatch(0n, 0, 2));
    await log.truncateFullyAndStartAt(100n);
    await log.appendAsFollower(leaderBatch(100n, 3, 2));
    expect(log.logStartOffset).toBe(100n);
    expect(log.logEndOffset).toBe(102n);
    expect(log.epochEntries()).toEqual([{ epoch: 3, startOffset: 100n }]);
  });
});
