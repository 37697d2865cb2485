import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LogManager, StorageError } from "../../src/log/index.ts";
import type { PartitionRegistration } from "../../src/metadata/image/index.ts";
import { PartitionManager } from "../../src/partitions/partition-manager.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { BATCH_OFFSET, writeBatchCrc } from "../../src/protocol/records/index.ts";
import { makeBatch } from "../log/batches.ts";

// Issue 12's duplicates from librdkafka. Clients pipeline up to five batches per partition. When a leader refuses one
// before checking its sequence, with an error that means "not written, retry" (it did not lead the partition yet,
// the ISR was below min.insync.replicas, the disk was full), and the cause is gone by the time the next batch
// arrives, that batch skips a sequence, and Kafka answers it OUT_OF_ORDER_SEQUENCE_NUMBER. librdkafka takes that
// answer on a batch behind the head as a reason to bump its epoch and renumber every unacknowledged message, on every
// partition, so a batch already written elsewhere but answered NOT_LEADER_OR_FOLLOWER (its leader moved while it
// waited for the ISR) was written a second time, under the new epoch. The successor of such a refused batch is
// refused with the same error instead, so the producer resends in order; a gap no refusal explains stays
// OUT_OF_ORDER_SEQUENCE_NUMBER.

const logger = pino({ level: "silent" });
const OPTIONS = { maxMessageBytes: 1 << 20, logAppendTime: false, compacted: false };
const ACKS_ALL = { ...OPTIONS, acks: -1, timeoutMs: 1 };

let dir: string;
let logs: LogManager;
let partitions: PartitionManager;

function registration(over: Partial<PartitionRegistration>): PartitionRegistration {
  return {
    replicas: [1],
    isr: [1],
    removingReplicas: [],
    addingReplicas: [],
    leader: 1,
    leaderRecoveryState: 0,
    leaderEpoch: 1,
    partitionEpoch: 1,
    eligibleLeaderReplicas: [],
    lastKnownElr: [],
    ...over,
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idempotent-refusal-"));
  logs = await LogManager.open({ logDirs: [dir], logger, retentionCheckIntervalMs: 0 });
  partitions = new PartitionManager(logs, logger);
  partitions.setReplicationView({ brokers: () => undefined, minInsyncReplicas: () => 2, topicId: () => undefined });
  await partitions.createPartition("t", 0, {});
});

afterEach(async () => {
  vi.restoreAllMocks();
  await logs.close();
  await rm(dir, { recursive: true, force: true });
});

function idempotentBatch(producerId: bigint, sequence: number, seed: number): Buffer {
  const batch = makeBatch({ records: 1, seed });
  batch.writeBigInt64BE(producerId, BATCH_OFFSET.producerId);
  batch.writeInt16BE(0, BATCH_OFFSET.producerEpoch);
  batch.writeInt32BE(sequence, BATCH_OFFSET.baseSequence);
  writeBatchCrc(batch);
  return batch;
}

const produce = (batch: Buffer, options = OPTIONS) => partitions.produce("t", 0, batch, options);

/** The log's next append fails as on a full disk, and writes nothing. */
function failNextAppend(): void {
  const log = logs.get("t", 0)!;
  vi.spyOn(log, "append").mockRejectedValueOnce(
    new StorageError(dir, "append", Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" })),
  );
}

describe("an idempotent producer's batch refused for lack of storage", () => {
  beforeEach(() => partitions.becomeLeader("t", 0, registration({})));

  it("has its pipelined successors refused the same way, not as out of order, until it is resent", async () => {
    expect(await produce(idempotentBatch(7n, 0, 0))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
    failNextAppend();
    expect(await produce(idempotentBatch(7n, 1, 1))).toMatchObject({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR });
    // Space is back; the next batch in flight skips sequence 1.
    const successor = await produce(idempotentBatch(7n, 2, 2));
    expect(successor.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    // Resent in order, both are written once.
    expect(await produce(idempotentBatch(7n, 1, 1))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 1n });
    expect(await produce(idempotentBatch(7n, 2, 2))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2n });
    // Once in order again, a gap is a gap.
    expect(await produce(idempotentBatch(7n, 4, 4))).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
  });

  it("changes nothing for other producers: their gaps stay OUT_OF_ORDER_SEQUENCE_NUMBER", async () => {
    expect(await produce(idempotentBatch(7n, 0, 0))).toMatchObject({ errorCode: ErrorCode.NONE });
    expect(await produce(idempotentBatch(8n, 0, 1))).toMatchObject({ errorCode: ErrorCode.NONE });
    failNextAppend();
    expect(await produce(idempotentBatch(7n, 1, 2))).toMatchObject({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR });
    expect(await produce(idempotentBatch(8n, 2, 3))).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
  });
});

describe("an idempotent producer's acks=all batch refused while the ISR was below min.insync.replicas", () => {
  // Two replicas, the follower out of the ISR: acks=all batches are refused until it is back.
  beforeEach(() => partitions.becomeLeader("t", 0, registration({ replicas: [1, 2], isr: [1] })));
  const isrBack = (): void =>
    partitions.updateLeadership("t", 0, registration({ replicas: [1, 2], isr: [1, 2], partitionEpoch: 2 }));

  it("has the successor that arrives once the ISR is back refused the same way, then both written once, in order", async () => {
    expect(await produce(idempotentBatch(7n, 0, 0))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
    expect(await produce(idempotentBatch(7n, 1, 1), ACKS_ALL)).toMatchObject({
      errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
    });
    isrBack();
    // The pipelined successor, answered after the ISR came back: out of order only because sequence 1 was refused.
    expect(await produce(idempotentBatch(7n, 2, 2), ACKS_ALL)).toMatchObject({
      errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
    });
    expect(await produce(idempotentBatch(7n, 1, 1), ACKS_ALL)).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 1n,
    });
    expect(await produce(idempotentBatch(7n, 2, 2), ACKS_ALL)).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 2n,
    });
  });

  it("still answers OUT_OF_ORDER_SEQUENCE_NUMBER for a gap the refusal does not explain", async () => {
    expect(await produce(idempotentBatch(7n, 0, 0))).toMatchObject({ errorCode: ErrorCode.NONE });
    expect(await produce(idempotentBatch(7n, 2, 2), ACKS_ALL)).toMatchObject({
      errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
    });
    isrBack();
    // Sequence 1 is missing, and was never refused here.
    expect(await produce(idempotentBatch(7n, 3, 3), ACKS_ALL)).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
  });
});

describe("an idempotent producer's batch refused by a replica that was not the leader yet", () => {
  beforeEach(() => partitions.becomeLeader("t", 0, registration({})));

  it("has the successor that arrives after the replica became leader refused the same way", async () => {
    expect(await produce(idempotentBatch(7n, 0, 0))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
    // Leadership moves away and back (the client still sent to this node).
    partitions.becomeFollower("t", 0, 2);
    expect(await produce(idempotentBatch(7n, 1, 1))).toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    await partitions.becomeLeader("t", 0, registration({ leaderEpoch: 3, partitionEpoch: 3 }));
    expect(await produce(idempotentBatch(7n, 2, 2))).toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    expect(await produce(idempotentBatch(7n, 1, 1))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 1n });
    expect(await produce(idempotentBatch(7n, 2, 2))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2n });
  });

  it("remembers at most 1,024 producers per partition, forgetting the oldest", async () => {
    expect(await produce(idempotentBatch(7n, 0, 0))).toMatchObject({ errorCode: ErrorCode.NONE });
    partitions.becomeFollower("t", 0, 2);
    expect(await produce(idempotentBatch(7n, 1, 1))).toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    for (let id = 100n; id < 1124n; id++) await produce(idempotentBatch(id, 0, 0));
    await partitions.becomeLeader("t", 0, registration({ leaderEpoch: 3, partitionEpoch: 3 }));
    expect(await produce(idempotentBatch(7n, 2, 2))).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
  });
});
