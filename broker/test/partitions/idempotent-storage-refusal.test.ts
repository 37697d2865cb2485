import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LogManager, StorageError } from "../../src/log/index.ts";
import { PartitionManager } from "../../src/partitions/partition-manager.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { BATCH_OFFSET, writeBatchCrc } from "../../src/protocol/records/index.ts";
import { makeBatch } from "../log/batches.ts";

// Issue 12's duplicates from librdkafka: a leader refused an idempotent batch for lack of storage, space returned, and
// the producer's next pipelined batch was answered OUT_OF_ORDER_SEQUENCE_NUMBER. librdkafka takes that as a reason
// to get a new producer id and renumber every unacknowledged message, so a batch already written on another partition
// but not yet acknowledged (acks=all, waiting for the ISR across a leader change) was written a second time. The
// successor of a storage-refused batch is refused as retriably as the batch itself, so the producer resends in order.

const logger = pino({ level: "silent" });
const OPTIONS = { maxMessageBytes: 1 << 20, logAppendTime: false, compacted: false };

let dir: string;
let logs: LogManager;
let partitions: PartitionManager;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idempotent-storage-"));
  logs = await LogManager.open({ logDirs: [dir], logger, retentionCheckIntervalMs: 0 });
  partitions = new PartitionManager(logs, logger);
  await partitions.createPartition("t", 0, {});
  await partitions.becomeLeader("t", 0, {
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
  });
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

const produce = (batch: Buffer) => partitions.produce("t", 0, batch, OPTIONS);

/** The log's next append fails as on a full disk, and writes nothing. */
function failNextAppend(): void {
  const log = logs.get("t", 0)!;
  vi.spyOn(log, "append").mockRejectedValueOnce(
    new StorageError(dir, "append", Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" })),
  );
}

describe("an idempotent producer's batch refused for lack of storage", () => {
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
