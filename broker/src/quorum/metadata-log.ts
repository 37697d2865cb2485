import { join } from "node:path";
import type { Logger } from "pino";
import { PartitionLog } from "../log/index.ts";
import type { LogEntry } from "../raft/index.ts";
import { METADATA_PARTITION, METADATA_TOPIC, decodeEntries, encodeEntries, entryBatches } from "./wire.ts";

// The durable copy of the raft core's log: `__cluster_metadata-0` in Kafka's segment format (PartitionLog), one
// record batch per proposal at its leader epoch, so Kafka's kafka-dump-log can read it. The driver carries out the
// core's appendLog / truncateLog actions here and fsyncs with flush() before releasing the messages behind them.

export const METADATA_LOG_DIR = `${METADATA_TOPIC}-${METADATA_PARTITION}`;

/** Read back in slices of this many bytes at start. */
const READ_CHUNK_BYTES = 1024 * 1024;

export class MetadataLog {
  private constructor(private readonly log: PartitionLog) {}

  /** Opens (creating if needed) the metadata log under `metadataDir` (`metadata.log.dir`), recovering a torn tail. */
  static async open(options: { metadataDir: string; logger: Logger }): Promise<MetadataLog> {
    const log = await PartitionLog.open({
      dir: join(options.metadataDir, METADATA_LOG_DIR),
      // Never trimmed by time or size: only snapshots may let the log start move (not implemented yet).
      config: { retentionMs: -1, retentionBytes: -1 },
      logger: options.logger,
    });
    return new MetadataLog(log);
  }

  get dir(): string {
    return this.log.dir;
  }

  /** Every entry on disk, for the core's durable state at start. */
  async readAll(): Promise<LogEntry[]> {
    const entries: LogEntry[] = [];
    let offset = this.log.logStartOffset;
    while (offset < this.log.logEndOffset) {
      const result = await this.log.read(offset, READ_CHUNK_BYTES);
      try {
        // A read starts with the batch holding `offset`, which may begin before it.
        const batch = decodeEntries(result.records).filter((e) => BigInt(e.offset) >= offset);
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

  /** fsyncs what was appended. */
  flush(): Promise<void> {
    return this.log.flush();
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
