import {
  ErrorCode,
  GroupStoreError,
  appendCommitted,
  type GroupStore,
  type GroupStoreRecord,
  type ReplayedRecord,
} from "../coordinator/index.ts";
import type { PartitionLog } from "../log/index.ts";
import { decodeRecordBatch, encodeRecordBatch, splitBatches } from "../protocol/records/index.ts";
import type { ReplicationOutcome } from "../replication/delayed-produce.ts";
import type { ProduceOutcome } from "./partition-manager.ts";

const REPLAY_CHUNK_BYTES = 1024 * 1024;

/**
 * A `__consumer_offsets` partition this node leads, as the coordinator's store writes to it (the partition manager's
 * leaderWrites). Appends go the way a client's acks=all Produce goes (appendAsLeader, ADR 24): refused while the ISR
 * is below min.insync.replicas or once the shard's leader epoch is over, a storage error takes the log dir offline,
 * the followers' parked fetches wake, and the outcome's `replicated` resolves once the ISR has the batch.
 */
export interface GroupStorePartition {
  /** Appends one batch, stamped with the shard's leader epoch, as acks=all. */
  append(batch: Buffer): Promise<ProduceOutcome>;
  /**
   * Resolves true once the HW reached `offset` while this node leads the partition in the shard's epoch, with no time
   * limit; false once it no longer does (a follower's log may be truncated there) or `signal` aborted.
   */
  untilHighWatermark(offset: bigint, signal: AbortSignal): Promise<boolean>;
}

/**
 * The group coordinator's store on a partition of `__consumer_offsets`: each write is one uncompressed record batch,
 * appended and replicated to the ISR before the coordinator acknowledges the commit, so committed offsets survive
 * kill -9 like produced data. The log is read directly only for the HW and replay.
 */
export class LogGroupStore implements GroupStore {
  /** The ISR waits of writes not yet asked about (`replicated`), by the offset just past each write. */
  private readonly replicating = new Map<bigint, Promise<ReplicationOutcome>>();

  constructor(
    private readonly log: PartitionLog,
    private readonly partition: GroupStorePartition,
    private readonly clock: () => number = Date.now,
  ) {}

  async write(records: readonly GroupStoreRecord[]): Promise<bigint> {
    if (records.length === 0) return this.log.logEndOffset;
    const timestamp = BigInt(this.clock());
    const batch = encodeRecordBatch({
      records: records.map((r) => ({ key: r.key, value: r.value, timestamp })),
    });
    const outcome = await this.partition.append(batch);
    if (outcome.errorCode !== ErrorCode.NONE) throw storeError(outcome);
    const next = outcome.baseOffset + BigInt(records.length);
    if (outcome.replicated !== undefined) this.replicating.set(next, outcome.replicated);
    return next;
  }

  async replicated(offset: bigint): Promise<void> {
    const replicating = this.replicating.get(offset);
    if (replicating === undefined) return;
    this.replicating.delete(offset);
    const outcome = await replicating;
    if (outcome.errorCode !== ErrorCode.NONE) throw storeError(outcome);
  }

  highWatermark(): bigint {
    return this.log.highWatermark;
  }

  untilCommitted(offset: bigint, signal: AbortSignal): Promise<boolean> {
    return this.partition.untilHighWatermark(offset, signal);
  }

  /** `write` then `replicated`: an acks=all append. */
  append(records: readonly GroupStoreRecord[]): Promise<bigint> {
    return appendCommitted(this, records);
  }

  async *replay(): AsyncIterable<ReplayedRecord> {
    let offset = this.log.logStartOffset;
    while (offset < this.log.logEndOffset) {
      const read = await this.log.read(offset, REPLAY_CHUNK_BYTES);
      const records: ReplayedRecord[] = [];
      try {
        const { batches } = splitBatches(read.records);
        if (batches.length === 0) return;
        for (const batch of batches) {
          const decoded = decodeRecordBatch(batch);
          // A batch is committed whole: once the HW passes its last offset.
          const nextOffset = decoded.header.baseOffset + BigInt(decoded.header.lastOffsetDelta) + 1n;
          for (const record of decoded.records) {
            if (record.key === null) continue;
            // Copy out of the pooled read buffer, which is reused after release().
            records.push({
              key: Buffer.from(record.key),
              value: record.value === null ? null : Buffer.from(record.value),
              nextOffset,
            });
          }
          offset = nextOffset;
        }
      } finally {
        read.release();
      }
      yield* records;
    }
  }
}

/**
 * A failed append as Kafka's group coordinator answers it (normalizeException): the partition moved away or its log
 * dir failed → NOT_COORDINATOR; too few in-sync replicas, a timeout, the partition gone → COORDINATOR_NOT_AVAILABLE;
 * a batch too large → UNKNOWN_SERVER_ERROR. Clients look the coordinator up again and retry the first two.
 */
function storeError(outcome: { errorCode: number; errorMessage: string | null | undefined }): GroupStoreError {
  const code =
    outcome.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || outcome.errorCode === ErrorCode.KAFKA_STORAGE_ERROR
      ? ErrorCode.NOT_COORDINATOR
      : outcome.errorCode === ErrorCode.MESSAGE_TOO_LARGE || outcome.errorCode === ErrorCode.RECORD_LIST_TOO_LARGE
        ? ErrorCode.UNKNOWN_SERVER_ERROR
        : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  return new GroupStoreError(outcome.errorMessage ?? `the append failed with error ${outcome.errorCode}`, code);
}
