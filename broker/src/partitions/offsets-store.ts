import {
  ErrorCode,
  GroupStoreError,
  appendCommitted,
  type GroupStore,
  type GroupStoreRecord,
  type ReplayedRecord,
} from "../coordinator/index.ts";
import { StorageError, type PartitionLog } from "../log/index.ts";
import { decodeRecordBatch, encodeRecordBatch, splitBatches } from "../protocol/records/index.ts";
import type { ReplicationOutcome } from "../replication/delayed-produce.ts";
import { LEADER_EPOCH } from "./partition-manager.ts";

const REPLAY_CHUNK_BYTES = 1024 * 1024;

/**
 * The coordinator's writes are acks=all writes (ADR 24), as Kafka's coordinator's: refused while the ISR is below
 * min.insync.replicas, acknowledged once the ISR has them. The partition manager answers both.
 */
export interface GroupStoreReplication {
  /** An outcome to refuse the append with before writing anything (NOT_ENOUGH_REPLICAS, NOT_LEADER_OR_FOLLOWER). */
  beforeAppend(): ReplicationOutcome | undefined;
  /**
   * Tells the partition that the store appended to the log: the followers' fetches parked at the log end answer now,
   * as they do after a client's append, instead of at their max wait (every commit waited that long for the ISR).
   */
  appended(): void;
  /** Resolves once the batch ending before `requiredOffset` is replicated, or with the error instead. */
  replicated(requiredOffset: bigint): Promise<ReplicationOutcome>;
  /**
   * Resolves true once the HW reached `offset` while this node leads the partition, with no time limit; false once it
   * no longer leads (a follower's log may be truncated there) or `signal` aborted.
   */
  untilHighWatermark(offset: bigint, signal: AbortSignal): Promise<boolean>;
}

/**
 * The group coordinator's store on a partition of `__consumer_offsets`: each append is one uncompressed record batch,
 * written (and, with `replication`, replicated to the ISR) before the coordinator acknowledges the commit, so committed
 * offsets survive kill -9 like produced data. Batches carry the leader epoch the shard was loaded in.
 */
export class LogGroupStore implements GroupStore {
  constructor(
    private readonly log: PartitionLog,
    private readonly clock: () => number = Date.now,
    private readonly leaderEpoch: number = LEADER_EPOCH,
    private readonly replication?: GroupStoreReplication,
  ) {}

  async write(records: readonly GroupStoreRecord[]): Promise<bigint> {
    if (records.length === 0) return this.log.logEndOffset;
    const timestamp = BigInt(this.clock());
    const batch = encodeRecordBatch({
      records: records.map((r) => ({ key: r.key, value: r.value, timestamp })),
    });
    const refused = this.replication?.beforeAppend();
    if (refused !== undefined) throw replicationError(refused);
    try {
      const { lastOffset } = await this.log.append(batch, { leaderEpoch: this.leaderEpoch });
      this.replication?.appended();
      return lastOffset + 1n;
    } catch (err) {
      // As Kafka maps a storage error on the offsets topic: clients look the coordinator up again and retry.
      if (err instanceof StorageError) throw new GroupStoreError(err.message, ErrorCode.NOT_COORDINATOR);
      throw err;
    }
  }

  async replicated(offset: bigint): Promise<void> {
    const outcome = await this.replication?.replicated(offset);
    if (outcome !== undefined && outcome.errorCode !== ErrorCode.NONE) throw replicationError(outcome);
  }

  /** Without replication (a single replica), whatever is in the log is committed. */
  highWatermark(): bigint {
    return this.replication === undefined ? this.log.logEndOffset : this.log.highWatermark;
  }

  untilCommitted(offset: bigint, signal: AbortSignal): Promise<boolean> {
    if (this.replication === undefined) return Promise.resolve(!signal.aborted && offset <= this.log.logEndOffset);
    return this.replication.untilHighWatermark(offset, signal);
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
 * A replication failure as Kafka's group coordinator answers it (normalizeException): the partition moved away →
 * NOT_COORDINATOR; too few in-sync replicas or a timeout → COORDINATOR_NOT_AVAILABLE. Both make clients retry.
 */
function replicationError(outcome: ReplicationOutcome): GroupStoreError {
  const code =
    outcome.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || outcome.errorCode === ErrorCode.KAFKA_STORAGE_ERROR
      ? ErrorCode.NOT_COORDINATOR
      : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  return new GroupStoreError(outcome.errorMessage ?? `replication failed with error ${outcome.errorCode}`, code);
}
