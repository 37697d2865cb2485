import type { LogEntry, OffsetAndEpoch } from "./types.ts";

// The metadata log as the core sees it: entries in memory from the log start offset on, and the epoch cache (each
// epoch's start offset, strictly increasing) that Fetch validation and truncation are answered from. The log starts
// at 0, or at the end of the snapshot it was trimmed to (KIP-630): `base` is that offset and the epoch of the entry
// just before it, which the snapshot holds. The durable copy is the driver's business; this mirrors what the driver
// has been asked to write.

const EMPTY: OffsetAndEpoch = { offset: 0, epoch: 0 };

export class RaftLog {
  private entries: LogEntry[] = [];
  /** (epoch, start offset) pairs of the entries held, ascending in both, as Kafka's leader-epoch checkpoint. */
  private epochs: { epoch: number; start: number }[] = [];

  constructor(
    /** Where the log starts: 0, or a snapshot's end offset and the epoch of its last entry. */
    private base: OffsetAndEpoch = EMPTY,
    initial: readonly LogEntry[] = [],
  ) {
    this.append(initial);
  }

  /** First offset held: 0, or the end offset of the snapshot the log was trimmed to. */
  get startOffset(): number {
    return this.base.offset;
  }

  /** The start offset and the epoch of the entry before it (0 at offset 0). */
  get start(): OffsetAndEpoch {
    return this.base;
  }

  get endOffset(): number {
    return this.base.offset + this.entries.length;
  }

  /** Epoch of the last entry (or of the snapshot's last entry); 0, the primordial epoch, for an empty log. */
  get lastEpoch(): number {
    return this.epochs.at(-1)?.epoch ?? this.base.epoch;
  }

  /** Entries in [from, from + max) that the log holds (none below its start). */
  read(from: number, max: number): LogEntry[] {
    const i = from - this.base.offset;
    return this.entries.slice(Math.max(0, i), Math.max(0, i + max));
  }

  /** At least `max` entries from `from` if there are that many, and always up to the end of a batch. */
  readBatches(from: number, max: number): LogEntry[] {
    const i = Math.max(0, from - this.base.offset);
    let end = Math.min(this.entries.length, i + max);
    while (end < this.entries.length && !(this.entries[end - 1]?.lastInBatch ?? true)) end++;
    return this.entries.slice(i, end);
  }

  /** The epoch of the entry at `offset`, if this log (or its snapshot's last entry) knows it. */
  epochAt(offset: number): number | undefined {
    if (offset === this.base.offset - 1 && offset >= 0) return this.base.epoch;
    return this.entries[offset - this.base.offset]?.epoch;
  }

  append(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.offset !== this.endOffset) throw new Error(`append at ${e.offset}, log ends at ${this.endOffset}`);
      if (e.epoch < this.lastEpoch) throw new Error(`append of epoch ${e.epoch} after epoch ${this.lastEpoch}`);
      if (e.epoch > this.lastEpoch || (this.epochs.length === 0 && this.base.offset === 0)) {
        this.epochs.push({ epoch: e.epoch, start: e.offset });
      }
      this.entries.push(e);
    }
  }

  /** Drops every entry at or after `endOffset`. */
  truncateTo(endOffset: number): void {
    if (endOffset >= this.endOffset) return;
    if (endOffset < this.base.offset) throw new Error(`truncate to ${endOffset}, below log start ${this.base.offset}`);
    this.entries.length = endOffset - this.base.offset;
    while (this.epochs.length > 0 && (this.epochs.at(-1)?.start ?? 0) >= endOffset) this.epochs.pop();
  }

  /**
   * Drops the entries below `snapshot.offset`, which a snapshot now holds (Kafka never trims past its latest
   * snapshot). The snapshot must end inside this log, at an entry of its epoch.
   */
  trimTo(snapshot: OffsetAndEpoch): void {
    if (snapshot.offset <= this.base.offset) return;
    if (snapshot.offset > this.endOffset) throw new Error(`trim to ${snapshot.offset}, past log end ${this.endOffset}`);
    const epoch = this.epochAt(snapshot.offset - 1);
    if (epoch !== snapshot.epoch) {
      throw new Error(`trim to snapshot ${snapshot.offset}@${snapshot.epoch}, the log has epoch ${epoch} there`);
    }
    this.entries = this.entries.slice(snapshot.offset - this.base.offset);
    this.epochs = this.epochs.filter((e) => e.start >= snapshot.offset);
    this.base = snapshot;
  }

  /** Replaces the whole log by an empty one starting at an installed snapshot's end. */
  reset(snapshot: OffsetAndEpoch): void {
    this.entries = [];
    this.epochs = [];
    this.base = snapshot;
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
    // The snapshot's epoch runs from before the start up to the first epoch held here.
    if (this.base.offset > 0 && this.base.epoch <= epoch) {
      return { epoch: this.base.epoch, offset: this.epochs[0]?.start ?? this.endOffset };
    }
    return { epoch: 0, offset: this.base.offset };
  }

  /**
   * Checks a fetch position against this log (Kafka's `validateOffsetAndEpoch`): valid when the entry before
   * `offset` exists here with `epoch`; else the snapshot to fetch, when the position is below the log start or
   * older than the snapshot's epoch (only a trimmed log answers that); else the point to truncate to.
   */
  validateFetch(
    offset: number,
    epoch: number,
  ): { valid: true } | { valid: false; diverging: OffsetAndEpoch } | { valid: false; snapshot: OffsetAndEpoch } {
    const start = this.base;
    if (offset === start.offset && epoch === start.epoch) return { valid: true };
    if (start.offset > 0 && (offset < start.offset || epoch < start.epoch || offset === start.offset)) {
      return { valid: false, snapshot: start };
    }
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
