import { afterEach, describe, expect, it } from "vitest";
import { LogGroupStore } from "../../src/partitions/offsets-store.ts";
import { ErrorCode, PartitionChangeRecord, PartitionRecord, TopicRecord } from "../../src/protocol/index.ts";
import { decodeRecordBatch, splitBatches } from "../../src/protocol/records/index.ts";
import { ImageHarness, rec, registeredBroker } from "../support/image-harness.ts";

// The coordinator's store on a __consumer_offsets partition this node leads (a single replica, leader epoch 3):
// batches appended through the partition manager's leader append, stamped with the epoch the shard was loaded in,
// and read back in order.

const T = "00000000-0000-0000-0000-0000000000e1";

let h: ImageHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(): Promise<ImageHarness> {
  h = await ImageHarness.start(1);
  await h.publish([
    registeredBroker(1, 10n),
    rec(TopicRecord, { name: "o", topicId: T }),
    rec(PartitionRecord, { topicId: T, partitionId: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 3 }),
  ]);
  return h;
}

function storeIn(harness: ImageHarness, leaderEpoch: number): LogGroupStore {
  const log = harness.partitions.log("o", 0);
  if (!log) throw new Error("no log for o-0");
  return new LogGroupStore(log, harness.partitions.leaderWrites("o", 0, leaderEpoch, 5_000), () => 1_000);
}

describe("LogGroupStore", () => {
  it("appends at the shard's leader epoch and replays every record in order", async () => {
    const harness = await start();
    const store = storeIn(harness, 3);
    expect(await store.append([{ key: Buffer.from("k1"), value: Buffer.from("v1") }])).toBe(1n);
    expect(
      await store.append([
        { key: Buffer.from("k2"), value: null },
        { key: Buffer.from("k3"), value: Buffer.from("v3") },
      ]),
    ).toBe(3n);
    expect(store.highWatermark()).toBe(3n);
    const log = harness.partitions.log("o", 0);
    const read = await log!.read(0n, 1 << 20);
    try {
      const epochs = splitBatches(read.records).batches.map((b) => decodeRecordBatch(b).header.partitionLeaderEpoch);
      expect(epochs).toEqual([3, 3]);
    } finally {
      read.release();
    }
    const replayed = [];
    for await (const r of store.replay()) replayed.push([r.key.toString(), r.value?.toString() ?? null, r.nextOffset]);
    expect(replayed).toEqual([
      ["k1", "v1", 1n],
      ["k2", null, 3n],
      ["k3", "v3", 3n],
    ]);
  });

  it("writes nothing once this node leads the partition in a later epoch than the shard's", async () => {
    // Leadership moved away and back (epoch 4): the shard loaded in epoch 3 is over, the one of epoch 4 writes.
    const harness = await start();
    await harness.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, leader: 1 })]);
    expect(harness.partitions.role("o", 0)?.leaderEpoch).toBeGreaterThan(3);
    await expect(storeIn(harness, 3).append([{ key: Buffer.from("k"), value: null }])).rejects.toMatchObject({
      errorCode: ErrorCode.NOT_COORDINATOR,
    });
    expect(harness.partitions.log("o", 0)?.logEndOffset).toBe(0n);
    const current = harness.partitions.role("o", 0)?.leaderEpoch ?? -1;
    expect(await storeIn(harness, current).append([{ key: Buffer.from("k"), value: null }])).toBe(1n);
  });
});
