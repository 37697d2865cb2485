import { afterEach, describe, expect, it, vi } from "vitest";
import { StorageError } from "../../src/log/index.ts";
import { LogGroupStore } from "../../src/partitions/offsets-store.ts";
import {
  ErrorCode,
  FetchRequest,
  FetchResponse,
  PartitionRecord,
  ProduceRequest,
  ProduceResponse,
  TopicRecord,
} from "../../src/protocol/index.ts";
import { makeBatch } from "../log/batches.ts";
import { ImageHarness, rec, registeredBroker } from "../support/image-harness.ts";

// A write that fails for lack of storage on broker 1: a replicated partition's log dir goes offline (Kafka's log dir
// failure), so every partition in it answers KAFKA_STORAGE_ERROR to producers, consumers and followers alike and the
// broker is told (it reports the dir to the controller); a partition with one replica keeps today's per-write errors.

const T = "00000000-0000-0000-0000-0000000000d1";
const U = "00000000-0000-0000-0000-0000000000d2";

let h: ImageHarness | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
  h = undefined;
});

async function start(): Promise<ImageHarness> {
  h = await ImageHarness.start(1);
  await h.publish([
    // Left fenced (RegisterBrokerRecord's default), as this test has always had them.
    ...[1, 2, 3].map((id) => registeredBroker(id, BigInt(id * 10), true)),
    rec(TopicRecord, { name: "r", topicId: T }),
    rec(PartitionRecord, {
      topicId: T,
      partitionId: 0,
      replicas: [1, 2, 3],
      isr: [1, 2, 3],
      leader: 1,
      leaderEpoch: 3,
    }),
    rec(TopicRecord, { name: "single", topicId: U }),
    rec(PartitionRecord, { topicId: U, partitionId: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 1 }),
  ]);
  return h;
}

async function produce(harness: ImageHarness, topic: string, acks: number) {
  const res = await harness.call(11, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: makeBatch({ records: 2 }) }] }],
  });
  return res.responses[0]?.partitionResponses[0]?.errorCode;
}

async function fetchError(harness: ImageHarness, topic: string, replicaId: number) {
  const res = await harness.call(17, FetchRequest, FetchResponse, {
    maxWaitMs: 0,
    minBytes: 0,
    replicaState: { replicaId, replicaEpoch: replicaId >= 0 ? BigInt(replicaId * 10) : -1n },
    topics: [
      {
        topic,
        topicId: topic === "r" ? T : U,
        partitions: [
          { partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 },
        ],
      },
    ],
  });
  return res.responses[0]?.partitions[0]?.errorCode;
}

function failNextAppend(harness: ImageHarness, topic: string): void {
  const log = harness.partitions.log(topic, 0);
  if (!log) throw new Error(`no log for ${topic}-0`);
  const enospc = Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
  vi.spyOn(log, "append").mockRejectedValueOnce(new StorageError(harness.dir, "appending", enospc));
}

describe("a storage failure of a replicated partition", () => {
  it("takes its log dir offline: producers, consumers and followers get KAFKA_STORAGE_ERROR", async () => {
    const harness = await start();
    const offline: { logDir: string; partitions: string[] }[] = [];
    harness.partitions.onLogDirOffline((logDir, partitions) =>
      offline.push({ logDir, partitions: partitions.map((p) => `${p.topic}-${p.partition}`).sort() }),
    );
    expect(await produce(harness, "r", 1)).toBe(ErrorCode.NONE);
    // An acks=all batch waits for the followers when the disk fills under the next one.
    const waiting = produce(harness, "r", -1);
    await vi.waitFor(() => expect(harness.partitions.log("r", 0)?.logEndOffset).toBe(4n));
    failNextAppend(harness, "r");
    expect(await produce(harness, "r", 1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(await waiting).toBe(ErrorCode.KAFKA_STORAGE_ERROR);

    const logDir = harness.logs.logDirOf("r", 0);
    expect(offline).toEqual([{ logDir, partitions: ["r-0", "single-0"] }]);
    expect(harness.partitions.offlineLogDirs()).toEqual([logDir]);
    // Nothing is written any more, though the log itself would take it now.
    expect(await produce(harness, "r", 1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(await produce(harness, "single", 1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(harness.partitions.log("r", 0)?.logEndOffset).toBe(4n);
    expect(await fetchError(harness, "r", -1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(await fetchError(harness, "r", 2)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(await fetchError(harness, "single", -1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
  });
});

describe("a storage failure of the group coordinator's write to a replicated partition", () => {
  it("takes the log dir offline as a client's append does, and tells the coordinator's clients NOT_COORDINATOR", async () => {
    const harness = await start();
    const offline: string[] = [];
    harness.partitions.onLogDirOffline((logDir) => offline.push(logDir));
    const log = harness.partitions.log("r", 0);
    if (!log) throw new Error("no log for r-0");
    const store = new LogGroupStore(log, harness.partitions.leaderWrites("r", 0, 3, 5_000));
    failNextAppend(harness, "r");
    await expect(store.write([{ key: Buffer.from("k"), value: Buffer.from("v") }])).rejects.toMatchObject({
      errorCode: ErrorCode.NOT_COORDINATOR,
    });
    const logDir = harness.logs.logDirOf("r", 0);
    expect(offline).toEqual([logDir]);
    expect(harness.partitions.offlineLogDirs()).toEqual([logDir]);
    expect(await produce(harness, "r", 1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(await fetchError(harness, "r", 2)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    // The coordinator writes nothing more there either, though the log itself would take it now.
    await expect(store.write([{ key: Buffer.from("k"), value: Buffer.from("v") }])).rejects.toMatchObject({
      errorCode: ErrorCode.NOT_COORDINATOR,
    });
    expect(log.logEndOffset).toBe(0n);
  });
});

describe("a storage failure of a partition with one replica", () => {
  it("refuses that write only: the log dir stays online and the next write succeeds", async () => {
    const harness = await start();
    failNextAppend(harness, "single");
    expect(await produce(harness, "single", 1)).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(harness.partitions.offlineLogDirs()).toEqual([]);
    expect(await produce(harness, "single", -1)).toBe(ErrorCode.NONE);
    expect(await fetchError(harness, "single", -1)).toBe(ErrorCode.NONE);
  });
});
