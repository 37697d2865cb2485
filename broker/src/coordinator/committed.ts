import type { GroupStore, GroupStoreRecord } from "./store.ts";

interface Pending {
  readonly nextOffset: bigint;
  readonly apply: () => void;
}

/**
 * What a shard serves is its `__consumer_offsets` partition's log up to the high watermark, never beyond (ADR 24, as
 * Kafka's coordinator runtime reads at the last committed offset). Every change to that state is a write here: the
 * records go to the store, and `apply`, the change they stand for, runs once the HW has passed them, in log order.
 * Until then nobody sees it.
 *
 * - A write that never reached the log changes nothing: there is nothing to revert.
 * - A write that reached the log but was not replicated in time fails to its caller and stays pending: if the HW later
 *   passes it (the followers caught up), it applies then, in its place in the log; if leadership moves first, `close()`
 *   drops it with the shard, and the next leader's log decides.
 * - Records a load found above the HW (`defer`) apply the same way.
 */
export class CommittedView {
  private pending: Pending[] = [];
  private readonly abort = new AbortController();

  constructor(private readonly store: GroupStore) {}

  /**
   * Writes `records`; `apply` makes their change visible once they are committed. Resolves after that, rejects as the
   * store does (a `GroupStoreError` chooses the code clients see); `unwritten` runs when the records never reached the
   * log, so `apply` never will. Records reach the log in the order of the calls.
   */
  async write(records: readonly GroupStoreRecord[], apply: () => void, unwritten?: () => void): Promise<void> {
    let nextOffset: bigint;
    try {
      nextOffset = await this.store.write(records);
    } catch (err) {
      unwritten?.();
      throw err;
    }
    this.enqueue({ nextOffset, apply });
    try {
      await this.store.replicated(nextOffset);
    } catch (err) {
      // Written but not committed (yet): it may still commit while this shard leads.
      this.watch(nextOffset);
      throw err;
    }
    this.advance();
  }

  /** Records already in the log (a load's tail above the HW), applied once the HW passes `nextOffset`. */
  defer(nextOffset: bigint, apply: () => void): void {
    this.enqueue({ nextOffset, apply });
    this.watch(nextOffset);
  }

  /** Changes written or deferred and not committed yet. */
  get uncommitted(): number {
    return this.pending.length;
  }

  /** The shard unloads: pending changes are dropped, whatever the log does with their records later. */
  close(): void {
    this.abort.abort();
    this.pending = [];
  }

  private enqueue(entry: Pending): void {
    if (this.abort.signal.aborted) return;
    // Writes resolve in log order, so this is almost always an append; a sort keeps log order regardless.
    const last = this.pending[this.pending.length - 1];
    this.pending.push(entry);
    if (last !== undefined && last.nextOffset > entry.nextOffset) {
      this.pending.sort((a, b) => (a.nextOffset < b.nextOffset ? -1 : a.nextOffset > b.nextOffset ? 1 : 0));
    }
  }

  private watch(nextOffset: bigint): void {
    if (this.abort.signal.aborted) return;
    void this.store.untilCommitted(nextOffset, this.abort.signal).then((reached) => {
      if (reached) this.advance();
    });
  }

  /** Applies, in log order, every pending change the HW has passed. */
  private advance(): void {
    if (this.abort.signal.aborted) return;
    const hw = this.store.highWatermark();
    while (this.pending.length > 0 && (this.pending[0]?.nextOffset ?? hw + 1n) <= hw) {
      this.pending.shift()?.apply();
    }
  }
}
