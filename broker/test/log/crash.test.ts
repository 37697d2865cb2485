import { spawn } from "node:child_process";
import { readdir, rm, stat, truncate, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PartitionLog } from "../../src/log/index.ts";
import { CRASH_LOG_CONFIG, crashBatch, crcValid, patched, silentLogger, splitBatches, tempDir } from "./batches.ts";

const CHILD = fileURLToPath(new URL("./crash-child.ts", import.meta.url));

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  await cleanup();
});

/** Deterministic PRNG (mulberry32) so a failing run can be replayed from its seed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

interface ChildRun {
  acks: { i: number; baseOffset: bigint; lastOffset: bigint }[];
  deletedBefore: bigint;
}

/** Runs the child until it has acknowledged `killAfter` appends, then kill -9s it and waits for it to die. */
function runChild(start: number, epoch: number, killAfter: number, flushMessages?: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const args = ["--import", "tsx", CHILD, dir, String(start), String(epoch)];
    if (flushMessages !== undefined) args.push(String(flushMessages));
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const run: ChildRun = { acks: [], deletedBefore: -1n };
    let pending = "";
    let stderr = "";
    let killed = false;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => (stderr += chunk));
    child.stdout.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const [kind, a, b, c] = pending.slice(0, nl).split(" ");
        pending = pending.slice(nl + 1);
        if (kind === "ACK") run.acks.push({ i: Number(a), baseOffset: BigInt(b!), lastOffset: BigInt(c!) });
        if (kind === "DEL") run.deletedBefore = BigInt(a!);
      }
      if (!killed && run.acks.length >= killAfter) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL" && killed) resolve(run);
      else reject(new Error(`child exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

interface Expected {
  /** Batches by index: what the log must hold at the offset it was acknowledged at. */
  offsets: Map<number, bigint>;
  epochs: Map<number, number>;
}

/**
 * Reopens the log (crash recovery runs here) and checks it against everything acknowledged: offsets contiguous from
 * the log start, every batch byte-identical to crashBatch(i) with its patched offset and epoch, every offset readable
 * through the index, the epoch cache agreeing with the batch headers. Returns how many batches the log holds.
 */
async function verify(expected: Expected, minLogStart: bigint): Promise<number> {
  const log = await PartitionLog.open({ dir, config: CRASH_LOG_CONFIG, logger: silentLogger });
  try {
    expect(log.logStartOffset).toBeGreaterThanOrEqual(minLogStart);
    const segments = log.segments();
    for (let s = 1; s < segments.length; s++) expect(segments[s]!.baseOffset).toBe(segments[s - 1]!.nextOffset);
    expect(segments[segments.length - 1]!.nextOffset).toBe(log.logEndOffset);

    // Batch index i sits at offset offsets(i); invert for lookups by offset.
    const byOffset = new Map<bigint, number>();
    for (const [i, o] of expected.offsets) byOffset.set(o, i);
    let next = log.logStartOffset;
    let first = true;
    let count = 0;
    let lastEpoch = -1;
    let index = -1;
    const transitions: { epoch: number; startOffset: bigint }[] = [];
    while (next < log.logEndOffset) {
      const result = await log.read(next, 64 * 1024);
      const batches = splitBatches(result.records).filter((b) => b.complete);
      expect(batches.length).toBeGreaterThan(0);
      for (const b of batches) {
        if (first) {
          expect(b.baseOffset).toBeLessThanOrEqual(next);
          first = false;
        } else {
          expect(b.baseOffset).toBe(next);
        }
        expect(crcValid(b.bytes)).toBe(true);
        // Batches survive as a prefix of what was appended, so indexes run on from the first, which is known.
        const i = byOffset.get(b.baseOffset);
        if (index < 0) expect(i).toBeDefined();
        index = i ?? index + 1;
        const epoch = b.bytes.readInt32BE(12);
        expect(Buffer.from(b.bytes)).toEqual(patched(crashBatch(index), b.baseOffset, epoch));
        if (i !== undefined) expect(epoch).toBe(expected.epochs.get(i));
        if (epoch > lastEpoch) {
          transitions.push({ epoch, startOffset: b.baseOffset });
          lastEpoch = epoch;
        }
        expected.offsets.set(index, b.baseOffset);
        expected.epochs.set(index, epoch);
        next = b.lastOffset + 1n;
        count = index + 1;
      }
      result.release();
    }
    expect(next).toBe(log.logEndOffset);
    // The cache may also remember epochs that started below the log start; compare the part the log still holds.
    const cached = log
      .epochEntries()
      .filter((e) => transitions.length === 0 || e.startOffset >= transitions[0]!.startOffset);
    expect(cached.map((e) => e.epoch)).toEqual(transitions.map((t) => t.epoch));
    expect(cached.slice(1).map((e) => e.startOffset)).toEqual(transitions.slice(1).map((t) => t.startOffset));

    // Every offset resolves through the indexes to the batch holding it.
    for (let o = log.logStartOffset; o < log.logEndOffset; o += 7n) {
      const r = await log.read(o, 1);
      const [b] = splitBatches(r.records);
      expect(b!.baseOffset <= o && o <= b!.lastOffset).toBe(true);
      r.release();
    }
    // Drop what is beyond the log so the next round's expectations start from the truth.
    for (const [i, o] of expected.offsets) if (o >= log.logEndOffset) expected.offsets.delete(i);
    return count;
  } finally {
    await log.close();
  }
}

describe("crash safety", () => {
  it("keeps every acknowledged append across kill -9 at random points", async () => {
    const random = prng(20261121);
    const expected: Expected = { offsets: new Map(), epochs: new Map() };
    let held = 0;
    let minLogStart = 0n;
    for (let round = 0; round < 5; round++) {
      const run = await runChild(held, round, 1 + random(120));
      for (const ack of run.acks) {
        expected.offsets.set(ack.i, ack.baseOffset);
        expected.epochs.set(ack.i, round);
      }
      if (run.deletedBefore > minLogStart) minLogStart = run.deletedBefore;
      const acked = run.acks[run.acks.length - 1]!;
      held = await verify(expected, minLogStart);
      expect(held).toBeGreaterThan(acked.i);
    }
  });

  it("keeps every acknowledged append with fsync per message", async () => {
    const expected: Expected = { offsets: new Map(), epochs: new Map() };
    const run = await runChild(0, 0, 30, 1);
    for (const ack of run.acks) {
      expected.offsets.set(ack.i, ack.baseOffset);
      expected.epochs.set(ack.i, 0);
    }
    expect(await verify(expected, 0n)).toBeGreaterThan(run.acks[run.acks.length - 1]!.i);
  });

  it("cuts torn and garbled tails back to the last whole batch", async () => {
    const random = prng(4242);
    const log = await PartitionLog.open({ dir, config: CRASH_LOG_CONFIG, logger: silentLogger });
    const written: Buffer[] = [];
    for (let i = 0; i < 120; i++) {
      const batch = crashBatch(i);
      const { baseOffset } = await log.append(Buffer.from(batch), { leaderEpoch: 1 });
      written.push(patched(batch, baseOffset, 1));
    }
    await log.close();
    const pristine = new Map<string, Buffer>();
    for (const name of await readdir(dir)) pristine.set(name, await readFile(join(dir, name)));
    const segmentNames = [...pristine.keys()].filter((n) => n.endsWith(".log")).sort();
    expect(segmentNames.length).toBeGreaterThan(4);

    for (let trial = 0; trial < 24; trial++) {
      for (const name of await readdir(dir)) await rm(join(dir, name));
      for (const [name, content] of pristine) await writeFile(join(dir, name), content);
      await rm(join(dir, ".clean-shutdown"));
      // Damage the tail segment as a crash would; or, with the recovery point gone, any segment.
      const anywhere = trial % 2 === 1;
      if (anywhere) await rm(join(dir, "recovery-point-offset-checkpoint"));
      const target = anywhere ? segmentNames[random(segmentNames.length)]! : segmentNames[segmentNames.length - 1]!;
      const path = join(dir, target);
      const size = (await stat(path)).size;
      const at = random(size);
      if (trial % 4 < 2) {
        await truncate(path, at);
      } else {
        const content = Buffer.from(pristine.get(target)!);
        const end = Math.min(size, at + 5 + random(40));
        for (let p = at; p < end; p++) content[p] = content[p]! ^ (1 + random(255));
        await writeFile(path, content);
      }
      // Survivors: every batch of earlier segments, and the batches of the damaged one that end at or before `at`.
      const targetBase = BigInt(target.slice(0, 20));
      const survivors = written.filter((b) => {
        const base = b.readBigInt64BE(0);
        if (base < targetBase) return true;
        const segmentIndex = segmentNames.indexOf(target);
        const nextName = segmentNames[segmentIndex + 1];
        if (nextName !== undefined && base >= BigInt(nextName.slice(0, 20))) return false;
        let pos = 0;
        for (const other of written) {
          const otherBase = other.readBigInt64BE(0);
          if (otherBase < targetBase) continue;
          if (otherBase === base) break;
          pos += other.length;
        }
        return pos + b.length <= at;
      });

      const reopened = await PartitionLog.open({ dir, config: CRASH_LOG_CONFIG, logger: silentLogger });
      try {
        const last = survivors[survivors.length - 1];
        const expectedEnd = last === undefined ? 0n : last.readBigInt64BE(0) + BigInt(last.readInt32BE(23)) + 1n;
        expect(reopened.logEndOffset, `trial ${trial}`).toBe(expectedEnd);
        const read: Buffer[] = [];
        for (let next = 0n; next < reopened.logEndOffset;) {
          const r = await reopened.read(next, 1 << 20);
          for (const b of splitBatches(r.records).filter((x) => x.complete)) {
            read.push(Buffer.from(b.bytes));
            next = b.lastOffset + 1n;
          }
          r.release();
        }
        expect(read).toEqual(survivors);
        const { baseOffset } = await reopened.append(crashBatch(500), { leaderEpoch: 2 });
        expect(baseOffset).toBe(expectedEnd);
        const again = await reopened.read(baseOffset, 1 << 20);
        expect(splitBatches(again.records)[0]!.bytes).toEqual(patched(crashBatch(500), baseOffset, 2));
        again.release();
      } finally {
        await reopened.close();
      }
    }
  });
});
