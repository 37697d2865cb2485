import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type * as checkpointFiles from "../../src/log/checkpoint.ts";
import { writeCheckpoint } from "../../src/log/checkpoint.ts";
import { HIGH_WATERMARK_FILE } from "../../src/log/partition-log.ts";
import { makeBatch } from "./batches.ts";
import { partitionLogFixture } from "./log-fixture.ts";

// The periodic high watermark checkpoint (two fsyncs) runs beside appends rather than under the log's lock, and still
// orders itself with what must follow it (truncation, delete). Each test holds the HW file's write at a gate of its
// own, so nothing here depends on how long a write takes.

vi.mock("../../src/log/checkpoint.ts", async (importOriginal) => {
  const actual = await importOriginal<typeof checkpointFiles>();
  return { ...actual, writeCheckpoint: vi.fn(actual.writeCheckpoint) };
});

const { dir, openLog } = partitionLogFixture();
const checkpoint = () => readFile(join(dir(), HIGH_WATERMARK_FILE), "utf8");

/** Holds the next write of the HW checkpoint file until `open()`; resolves `started` when that write begins. */
function gateNextHwWrite(): { started: Promise<void>; open: () => void } {
  const mocked = vi.mocked(writeCheckpoint);
  const real = mocked.getMockImplementation();
  if (real === undefined) throw new Error("writeCheckpoint is not mocked");
  let open = (): void => undefined;
  const gate = new Promise<void>((r) => (open = r));
  let began = (): void => undefined;
  const started = new Promise<void>((r) => (began = r));
  mocked.mockImplementation(async (path, lines) => {
    if (!path.endsWith(HIGH_WATERMARK_FILE)) return real(path, lines);
    mocked.mockImplementation(real);
    began();
    await gate;
    return real(path, lines);
  });
  return { started, open };
}

/** Resolves with what settled first: `p` ("done") or a deadline far beyond any append ("still waiting"). */
function settlesBefore(p: Promise<unknown>, deadlineMs: number): Promise<"done" | "still waiting"> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"still waiting">((r) => (timer = setTimeout(() => r("still waiting"), deadlineMs)));
  return Promise.race([p.then(() => "done" as const), deadline]).finally(() => clearTimeout(timer));
}

describe("high watermark checkpoint writes", () => {
  beforeEach(() => {
    vi.mocked(writeCheckpoint).mockClear();
  });

  it("do not hold up appends while the periodic one is under way", async () => {
    const log = await openLog();
    await log.append(makeBatch({ records: 3 }), { leaderEpoch: 0 });
    log.updateHighWatermark(3n);
    const gate = gateNextHwWrite();
    const periodic = log.checkpointHighWatermarkNow();
    await gate.started;
    // Held at the gate, the checkpoint never finishes by itself: an append queued behind it would never settle.
    expect(await settlesBefore(log.append(makeBatch({ records: 2, seed: 1 }), { leaderEpoch: 0 }), 10_000)).toBe(
      "done",
    );
    expect(log.logEndOffset).toBe(5n);
    gate.open();
    await periodic;
    expect(await checkpoint()).toBe("0\n1\n3\n");
  }, 20_000);

  it("let a truncation below the HW write its lower HW after the one under way", async () => {
    const log = await openLog();
    for (let i = 0; i < 5; i++) await log.append(makeBatch({ records: 2, seed: i }), { leaderEpoch: 0 });
    log.updateHighWatermark(10n);
    const gate = gateNextHwWrite();
    const periodic = log.checkpointHighWatermarkNow();
    await gate.started;
    const truncated = log.truncateTo(4n);
    gate.open();
    await Promise.all([periodic, truncated]);
    expect(log.highWatermark).toBe(4n);
    expect(await checkpoint()).toBe("0\n1\n4\n");
  });

  it("finish before delete() removes the directory, and none starts after it", async () => {
    const log = await openLog();
    await log.append(makeBatch({ records: 3 }), { leaderEpoch: 0 });
    log.updateHighWatermark(2n);
    const gate = gateNextHwWrite();
    const periodic = log.checkpointHighWatermarkNow();
    await gate.started;
    const deleted = log.delete();
    gate.open();
    await Promise.all([periodic, deleted]);
    expect(existsSync(dir())).toBe(false);
    const writes = vi.mocked(writeCheckpoint).mock.calls.length;
    log.updateHighWatermark(3n);
    await log.checkpointHighWatermarkNow();
    expect(vi.mocked(writeCheckpoint).mock.calls.length).toBe(writes);
  });
});
