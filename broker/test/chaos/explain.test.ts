import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { check } from "./checker.ts";
import { explainAnomalies } from "./explain.ts";
import { dumpPartition } from "./log-dump.ts";
import type { HistoryEvent } from "./history.ts";

// The post-mortem of a failed chaos run: a record written twice is traced to its two batches on each node, with the
// producer id, epoch and sequences they carry, read from segment files as the brokers wrote them.

let root: string | undefined;
afterEach(() => {
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function batch(baseOffset: number, epoch: number, baseSequence: number, values: string[]): Buffer {
  return encodeRecordBatch({
    baseOffset: BigInt(baseOffset),
    partitionLeaderEpoch: 4,
    producerId: 1000n,
    producerEpoch: epoch,
    baseSequence,
    baseTimestamp: 1_796_561_139_000n,
    records: values.map((v) => ({ value: Buffer.from(`${v}|padding`) })),
  });
}

/** A node's log dir with partition 0 of topic t holding these batches in one segment. */
function logDir(node: number, batches: Buffer[]): string {
  root ??= mkdtempSync(join(tmpdir(), "chaos-explain-"));
  const dir = join(root, `node-${node}`, "logs");
  mkdirSync(join(dir, "t-0"), { recursive: true });
  writeFileSync(join(dir, "t-0", "00000000000000000000.log"), Buffer.concat(batches));
  return dir;
}

describe("chaos post-mortem", () => {
  it("reads batches from segment files with producer id, epoch and sequence", async () => {
    const dir = logDir(1, [batch(0, 0, 0, ["p:0", "p:1"]), batch(2, 0, 2, ["p:2"])]);
    const dump = await dumpPartition(join(dir, "t-0"));
    expect(dump.partialTail).toBeUndefined();
    expect(dump.batches).toMatchObject([
      { baseOffset: 0, lastOffset: 1, producerId: 1000n, producerEpoch: 0, baseSequence: 0, values: ["p:0", "p:1"] },
      { baseOffset: 2, lastOffset: 2, baseSequence: 2, values: ["p:2"] },
    ]);
  });

  it("names, on every node, the batches behind a duplicate", async () => {
    // p:1 written at offset 1 under epoch 0, then again at 2 as sequence 0 of epoch 1: a renumbered resend.
    const batches = [batch(0, 0, 0, ["p:0", "p:1"]), batch(2, 1, 0, ["p:1"])];
    const dirs = new Map([
      [1, logDir(1, batches)],
      [2, logDir(2, batches.slice(0, 1))],
    ]);
    const history: HistoryEvent[] = [
      { ev: "ack", a: "p", seq: 0, p: 0, o: 0, t: 1 },
      { ev: "ack", a: "p", seq: 1, p: 0, o: 2, t: 2 },
      { ev: "log", p: 0, o: 0, v: "p:0" },
      { ev: "log", p: 0, o: 1, v: "p:1" },
      { ev: "log", p: 0, o: 2, v: "p:1" },
      { ev: "log-end", p: 0, start: 0, end: 3, listed: 3 },
    ];
    const result = check(history, 1);
    const duplicate = result.anomalies.find((a) => a.kind === "duplicate");
    expect(duplicate?.at).toEqual([
      { p: 0, o: 1 },
      { p: 0, o: 2 },
    ]);
    await explainAnomalies(result.anomalies, "t", dirs);
    expect(duplicate?.batches).toEqual([
      "node 1 t-0: offsets 0..1 leader epoch 4 pid 1000 epoch 0 seq 0..1 at 12:45:39.000 [p:0 p:1]",
      "node 1 t-0: offsets 2..2 leader epoch 4 pid 1000 epoch 1 seq 0..0 at 12:45:39.000 [p:1]",
      "node 2 t-0: offsets 0..1 leader epoch 4 pid 1000 epoch 0 seq 0..1 at 12:45:39.000 [p:0 p:1]",
    ]);
    expect(duplicate?.duplicateCause).toBe("new-epoch");
    // The moved ack (p:1 acknowledged at 2, first found at 1) is explained from the same batches.
    expect(result.anomalies.find((a) => a.kind === "moved")?.batches).toHaveLength(3);
  });

  it("tells a resend accepted under the same producer epoch (a broker bug) from a client's renumbering", async () => {
    // p:1 twice under epoch 0: sequence 1 written again as sequence 2, which idempotence alone cannot refuse, but the
    // shape is what a broker that forgot a producer's state would leave.
    const dirs = new Map([[1, logDir(1, [batch(0, 0, 0, ["p:0", "p:1"]), batch(2, 0, 2, ["p:1"])])]]);
    const history: HistoryEvent[] = [
      { ev: "log", p: 0, o: 0, v: "p:0" },
      { ev: "log", p: 0, o: 1, v: "p:1" },
      { ev: "log", p: 0, o: 2, v: "p:1" },
      { ev: "log-end", p: 0, start: 0, end: 3, listed: 3 },
    ];
    const result = check(history, 1);
    await explainAnomalies(result.anomalies, "t", dirs);
    expect(result.anomalies.find((a) => a.kind === "duplicate")?.duplicateCause).toBe("same-epoch");
  });
});
