import type { LogEntry, OffsetAndEpoch } from "./types.ts";

// The metadata log as the core sees it: entries in memory from the log start offset on, and the epoch cache (each
// epoch's start offset, strictly increasing) that Fetch validation and truncation are answered from. The durable copy
// is the driver's business; this mirrors what the driver has been asked to write.

export class RaftLog {
  private entries: LogEntry[] = [];
  /** (epoch, start offset) pairs, ascending in both, as Kafka's leader-epoch checkpoint. */
  private epochs: { epoch: number; start: number }[] = [];

  constructor(
    /** First offset held; later the offset of the newest snapshot the log was trimmed to. */
    readonly startOffset = 0,
    initial: readonly LogEntry[] = [],
  ) {
    this.append(initial);
  }

  get endOffset(): number {
    return this.startOffset + this.entries.length;
  }

  /** Epoch of the last entry; 0 (the primordial epoch, which never has a leader) for an empty log. */
  get lastEpoch(): number {
    return this.epochs.at(-1)?.epoch ?? 0;
  }

  read(from: number, max: number): LogEntry[] {
    const i = Math.max(0, from - this.startOffset);
    return this.entries.slice(i, i + max);
  }

  /** At least `max` entries from `from` if there are that many, and always up to the end of a batch. */
  readBatches(from: number, max: number): LogEntry[] {
    const i = Math.max(0, from - this.startOffset);
    let end = Math.min(this.entries.length, i + max);
    while (end < this.entries.length && !(this.entries[end - 1]?.lastInBatch ?? true)) end++;
    return this.entries.slice(i, end);
  }

  append(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.offset !== this.endOffset) throw new Error(`append at ${e.offset}, log ends at ${this.endOffset}`);
      if (e.epoch < this.lastEpoch) throw new Error(`append of epoch ${e.epoch} after epoch ${this.lastEpoch}`);
      if (e.epoch > this.lastEpoch || this.epochs.length === 0) this.epochs.push({ epoch: e.epoch, start: e.offset });
      this.entries.push(e);
    }
  }

  /** Drops every entry at or after `endOffset`. */
  truncateTo(endOffset: number): void {
    if (endOffset >= this.endOffset) return;
    if (endOffset < this.startOffset) throw new Error(`truncate to ${endOffset}, below log start ${this.startOffset}`);
    this.entries.length = endOffset - this.startOffset;
    while (this.epochs.length > 0 && (this.epochs.at(-1)?.start ?? 0) >= endOffset) this.epochs.pop();
  }

  /**
   * The largest epoch ≤ `epoch` in this log and the offset where it ends (the next epoch's start, or the log end),
   * as Kafka's `endOffsetForEpoch`. (0, log start) when the log holds no such epoch.
   */
  endOffsetForEpoch(epoch: number): OffsetAndEpoch {
    for (let i = this.epochs.length - 1; i >= 0; i--) {
      const e = this.epochs[i];
      if (e !== undefined && e.epoch <= epoch) {
        const next = this.epochs[i + 1];
        return { epoch: e.epoch, offset: next === undefined ? this.endOffset : next.start };
      }
    }
    return { epoch: 0, offset: this.startOffset };
  }

  /**
   * Checks a fetch position against this log: valid when the entry before `offset` exists here with `epoch`, else
   * the point the fetcher should truncate to (Kafka's `validateOffsetAndEpoch`, without snapshots yet).
   */
  validateFetch(offset: number, epoch: number): { valid: true } | { valid: false; diverging: OffsetAndEpoch } {
    if (offset === this.startOffset && epoch === 0) return { valid: true };
    const end = this.endOffsetForEpoch(epoch);
    if (end.epoch !== epoch || end.offset < offset) return { valid: false, diverging: end };
    return { valid: true };
  }

  /** Where a follower truncates to on a diverging answer: the common part of its own and the leader's epoch. */
  truncationPoint(diverging: OffsetAndEpoch): number {
    const local = this.endOffsetForEpoch(diverging.epoch);
    return local.epoch === diverging.epoch ? Math.min(local.offset, diverging.offset) : local.offset;
  }
}
