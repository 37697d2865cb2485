import { join } from "node:path";
import type { Logger } from "pino";
import { PartitionLog } from "../log/index.ts";
import type { LogEntry } from "../raft/index.ts";
import { METADATA_PARTITION, METADATA_TOPIC, decodeEntries, encodeEntries, entryBatches } from "./wire.ts";

// The durable copy of the raft core's log: `__cluster_metadata-0` in Kafka's segment format (PartitionLog), one
// record batch per proposal at its leader epoch, so Kafka's kafka-dump-log can read it. The driver carries out the
// core's appendLog / truncateLog actions here and fsyncs with flush() before releasing the messages behind them.
// Snapshots let the log start move: trimTo deletes the segments wholly below the newest snapshot (Kafka never trims
// past its latest snapshot), resetTo empties the log to start at an installed snapshot's end.

export const METADATA_LOG_DIR = `${METADATA_TOPIC}-${METADATA_PARTITION}`;

/** Read back in slices of this many bytes at start. */
const READ_CHUNK_BYTES = 1024 * 1024;

export class MetadataLog {
  private constructor(private readonly log: PartitionLog) {}

  /**
   * Opens (creating if needed) the metadata log under `metadataDir` (`metadata.log.dir`), recovering a torn tail.
   * Segments roll at `metadata.log.segment.bytes` / `metadata.log.segment.ms`.
   */
  static async open(options: {
    metadataDir: string;
    logger: Logger;
    segmentBytes?: number;
    segmentMs?: number;
  }): Promise<MetadataLog> {
    const log = await PartitionLog.open({
      dir: join(options.metadataDir, METADATA_LOG_DIR),
      // Never trimmed by time or size: only snapshots let the log start move.
      config: {
        retentionMs: -1,
        retentionBytes: -1,
        ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}),
        ...(options.segmentMs !== undefined ? { segmentMs: options.segmentMs } : {}),
      },
      logger: options.logger,
    });
    return new MetadataLog(log);
  }

  get dir(): string {
    return this.log.dir;
  }

  get startOffset(): number {
    return Number(this.log.logStartOffset);
  }

  get endOffset(): number {
    return Number(this.log.logEndOffset);
  }

  /** Every entry on disk from `from` (default the log start), for the core's durable state at start. */
  async readAll(from = 0): Promise<LogEntry[]> {
    const entries: LogEntry[] = [];
    let offset = this.log.logStartOffset > BigInt(from) ? this.log.logStartOffset : BigInt(from);
    while (offset < this.log.logEndOffset) {
      const result = await this.log.read(offset, READ_CHUNK_BYTES);
      try {
        // The entries' data are views into what they were decoded from, and the read's buffer goes back to a pool
        // for the next read to overwrite: they are decoded from a copy of their own.
        const records = Buffer.from(result.records);
        // A read starts with the batch holding `offset`, which may begin before it.
        const batch = decodeEntries(records).filter((e) => BigInt(e.offset) >= offset);
        if (batch.length === 0) break;
        entries.push(...batch);
        offset = BigInt((batch.at(-1)?.offset ?? 0) + 1);
      } finally {
        result.release();
      }
    }
    return entries;
  }

  /** Appends the entries (whole batches), resolving once written; `flush` makes them durable. */
  async append(entries: readonly LogEntry[]): Promise<void> {
    for (const batch of entryBatches(entries)) {
      const first = batch[0];
      if (first === undefined) continue;
      // The core's offsets and the log's must agree; a gap is a driver bug, refused before anything is written.
      if (BigInt(first.offset) !== this.log.logEndOffset) {
        throw new Error(`metadata log: batch for offset ${first.offset}, but the log ends at ${this.log.logEndOffset}`);
      }
      await this.log.append(encodeEntries(batch), { leaderEpoch: first.epoch });
    }
  }

  /** Drops every entry at or after `endOffset`. */
  truncate(endOffset: number): Promise<void> {
    return this.log.truncateTo(BigInt(endOffset));
  }

  /** Deletes the segments wholly below `startOffset`, which a durable snapshot holds. */
  async trimTo(startOffset: number): Promise<void> {
    const to = BigInt(Math.min(startOffset, this.endOffset));
    // The raft core, not the partition log, knows what is committed; it trims only below a snapshot of committed
    // records, so the log's own high watermark (which bounds deletion) may move there first.
    this.log.updateHighWatermark(to);
    await this.log.deleteRecordsBefore(to);
  }

  /** Replaces the whole log by an empty one starting at `offset` (an installed snapshot's end). */
  resetTo(offset: number): Promise<void> {
    return this.log.truncateFullyAndStartAt(BigInt(offset));
  }

  /** Bytes of the log's segments on disk (what metadata retention counts with the snapshots). */
  sizeBytes(): number {
    return this.log.sizeBytes();
  }

  /** Segments on disk, oldest first, for tests and tools. */
  segments(): { baseOffset: number }[] {
    return this.log.segments().map((s) => ({ baseOffset: Number(s.baseOffset) }));
  }

  /** fsyncs what was appended. */
  flush(): Promise<void> {
    return this.log.flush();
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
