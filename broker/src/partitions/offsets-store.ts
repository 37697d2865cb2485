import { ErrorCode, GroupStoreError, type GroupStore, type GroupStoreRecord } from "../coordinator/index.ts";
import { StorageError, type PartitionLog } from "../log/index.ts";
import { decodeRecordBatch, encodeRecordBatch, splitBatches } from "../protocol/records/index.ts";
import { LEADER_EPOCH } from "./partition-manager.ts";

const REPLAY_CHUNK_BYTES = 1024 * 1024;

/**
 * The group coordinator's store on a partition of `__consumer_offsets`: each append is one uncompressed record batch,
 * written before the coordinator acknowledges the commit, so committed offsets survive kill -9 like produced data.
 * Batches carry the leader epoch the shard was loaded in.
 */
export class LogGroupStore implements GroupStore {
  constructor(
    private readonly log: PartitionLog,
    private readonly clock: () => number = Date.now,
    private readonly leaderEpoch: number = LEADER_EPOCH,
    /** Told of every append, so the partition's high watermark can move (ADR 24). */
    private readonly appended: () => void = () => undefined,
  ) {}

  async append(records: readonly GroupStoreRecord[]): Promise<void> {
    if (records.length === 0) return;
    const timestamp = BigInt(this.clock());
    const batch = encodeRecordBatch({
      records: records.map((r) => ({ key: r.key, value: r.value, timestamp })),
    });
    try {
      await this.log.append(batch, { leaderEpoch: this.leaderEpoch });
      this.appended();
    } catch (err) {
      // As Kafka maps a storage error on the offsets topic: clients look the coordinator up again and retry.
      if (err instanceof StorageError) throw new GroupStoreError(err.message, ErrorCode.NOT_COORDINATOR);
      throw err;
    }
  }

  async *replay(): AsyncIterable<GroupStoreRecord> {
    let offset = this.log.logStartOffset;
    while (offset < this.log.logEndOffset) {
      const read = await this.log.read(offset, REPLAY_CHUNK_BYTES);
      const records: GroupStoreRecord[] = [];
      try {
        const { batches } = splitBatches(read.records);
        if (batches.length === 0) return;
        for (const batch of batches) {
          const decoded = decodeRecordBatch(batch);
          for (const record of decoded.records) {
            if (record.key === null) continue;
            // Copy out of the pooled read buffer, which is reused after release().
            records.push({
              key: Buffer.from(record.key),
              value: record.value === null ? null : Buffer.from(record.value),
            });
          }
          offset = decoded.header.baseOffset + BigInt(decoded.header.lastOffsetDelta) + 1n;
        }
      } finally {
        read.release();
      }
      yield* records;
    }
  }
}
