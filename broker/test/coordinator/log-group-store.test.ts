import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PartitionLog } from "../../src/log/index.ts";
import { LogGroupStore } from "../../src/partitions/offsets-store.ts";
import { decodeRecordBatch, splitBatches } from "../../src/protocol/records/index.ts";
import { silentLogger } from "./helpers.ts";

// The coordinator's store on a __consumer_offsets partition log: batches stamped with the epoch the shard was loaded
// in, and read back in order.

let dir: string;

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LogGroupStore", () => {
  it("appends at the shard's leader epoch and replays every record in order", async () => {
    dir = await mkdtemp(join(tmpdir(), "tributary-log-group-store-"));
    const log = await PartitionLog.open({ dir, config: {}, logger: silentLogger });
    try {
      const store = new LogGroupStore(log, () => 1_000, 3);
      await store.append([{ key: Buffer.from("k1"), value: Buffer.from("v1") }]);
      await store.append([
        { key: Buffer.from("k2"), value: null },
        { key: Buffer.from("k3"), value: Buffer.from("v3") },
      ]);
      const read = await log.read(0n, 1 << 20);
      try {
        const epochs = splitBatches(read.records).batches.map((b) => decodeRecordBatch(b).header.partitionLeaderEpoch);
        expect(epochs).toEqual([3, 3]);
      } finally {
        read.release();
      }
      const replayed = [];
      for await (const r of store.replay()) replayed.push([r.key.toString(), r.value?.toString() ?? null]);
      expect(replayed).toEqual([
        ["k1", "v1"],
        ["k2", null],
        ["k3", "v3"],
      ]);
    } finally {
      await log.close();
    }
  });
});
