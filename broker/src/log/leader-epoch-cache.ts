import { readCheckpoint, writeCheckpoint } from "./checkpoint.ts";

export interface EpochEntry {
  epoch: number;
  startOffset: bigint;
}

/** What OffsetForLeaderEpoch answers; Kafka's UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET are -1 / -1n. */
export interface EpochEndOffset {
  epoch: number;
  endOffset: bigint;
}

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1n;

/**
 * Leader epoch → first offset written in it, strictly increasing in both. Persisted in Kafka's
 * leader-epoch-checkpoint text format (version, count, "epoch startOffset" lines) so the file reads the same to
 * anyone who knows Kafka's.
 */
export class LeaderEpochCache {
  private entries: EpochEntry[] = [];

  private constructor(readonly path: string) {}

  /** Loads the checkpoint. A missing or malformed file gives an empty cache: recovery refills it from batch headers. */
  static async load(path: string): Promise<LeaderEpochCache> {
    const cache = new LeaderEpochCache(path);
    const lines = (await readCheckpoint(path)) ?? [];
    for (const line of lines) {
      const [epoch, offset] = line.split(" ");
      const e = Number(epoch);
      if (!Number.isSafeInteger(e) || offset === undefined || !/^\d+$/.test(offset)) {
        cache.entries = [];
        break;
      }
      if (!cache.assign(e, BigInt(offset))) {
        cache.entries = [];
        break;
      }
    }
    return cache;
  }

  all(): readonly EpochEntry[] {
    return this.entries;
  }

  latest(): EpochEntry | undefined {
    return this.entries[this.entries.length - 1];
  }

  /** Records that `epoch` starts at `startOffset`. Returns false (and changes nothing) unless both move forward. */
  assign(epoch: number, startOffset: bigint): boolean {
    if (epoch < 0) return false;
    const last = this.latest();
    if (last !== undefined && (epoch <= last.epoch || startOffset < last.startOffset)) return false;
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /** Forgets epochs that start at or after `endOffset` (the log was cut there). Returns whether anything changed. */
  truncateFromEnd(endOffset: bigint): boolean {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.startOffset < endOffset);
    return this.entries.length !== before;
  }

  /**
   * The log now starts at `startOffset`: epochs wholly before it disappear and the one that spans it is moved to start
   * there, as Kafka does, so the cache never names offsets that no longer exist.
   */
  truncateFromStart(startOffset: bigint): boolean {
    let spanning = -1;
    for (let i = 0; i < this.entries.length && this.entries[i]!.startOffset <= startOffset; i++) spanning = i;
    if (spanning < 0) return false;
    const entry = this.entries[spanning]!;
    if (spanning === 0 && entry.startOffset === startOffset) return false;
    this.entries = [{ epoch: entry.epoch, startOffset }, ...this.entries.slice(spanning + 1)];
    return true;
  }

  /**
   * OffsetForLeaderEpoch: the largest epoch <= `requested` and the offset where the epoch after it starts (the log
   * end offset if it is the latest). Undefined epoch and offset if `requested` is newer than every known epoch.
   */
  endOffsetFor(requested: number, logEndOffset: bigint): EpochEndOffset {
    const latest = this.latest();
    if (requested < 0 || latest === undefined) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requested === latest.epoch) return { epoch: requested, endOffset: logEndOffset };
    const higher = this.entries.findIndex((e) => e.epoch > requested);
    if (higher < 0) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    const next = this.entries[higher]!;
    const floor = this.entries[higher - 1];
    return floor === undefined
      ? { epoch: requested, endOffset: next.startOffset }
      : { epoch: floor.epoch, endOffset: next.startOffset };
  }

  async persist(): Promise<void> {
    await writeCheckpoint(
      this.path,
      this.entries.map((e) => `${e.epoch} ${e.startOffset}`),
    );
  }
}
