// acks=all produces waiting for their batch to be replicated (Kafka's DelayedProduce purgatory, ADR 24). A waiter
// holds no lock: the partition manager appends under the partition's lock, registers the waiter, and lets go. Each
// time something a waiter depends on changes (the high watermark, the ISR, leadership) the partition manager asks
// the purgatory to look at the partition's waiters again; a waiter also ends at its request's timeout.

import { ErrorCode } from "../protocol/errors.ts";

/** How a replicated produce ends: NONE once the HW passed the batch, or the error for the client. */
export interface ReplicationOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /** NOT_LEADER_OR_FOLLOWER: the partition's new leader, when known (KIP-951). */
  readonly currentLeader?: { readonly leaderId: number; readonly leaderEpoch: number };
}

export const REPLICATED: ReplicationOutcome = { errorCode: ErrorCode.NONE, errorMessage: null };

/** Whether the batch ending before `requiredOffset` is replicated enough: an outcome, or undefined to go on waiting. */
export type ReplicationCheck = (requiredOffset: bigint) => ReplicationOutcome | undefined;

interface Waiter {
  readonly requiredOffset: bigint;
  readonly check: ReplicationCheck;
  readonly finish: (outcome: ReplicationOutcome) => void;
}

export class DelayedProduces {
  private readonly waiting = new Map<string, Set<Waiter>>();

  /**
   * Waits until `check` settles the batch ending before `requiredOffset` on partition `key`, or `timeoutMs` passes
   * (REQUEST_TIMED_OUT). The caller has checked once already; `check` runs again at each `recheck(key)`.
   */
  wait(key: string, requiredOffset: bigint, timeoutMs: number, check: ReplicationCheck): Promise<ReplicationOutcome> {
    return new Promise((resolve) => {
      let waiters = this.waiting.get(key);
      if (waiters === undefined) {
        waiters = new Set();
        this.waiting.set(key, waiters);
      }
      const set = waiters;
      const waiter: Waiter = {
        requiredOffset,
        check,
        finish: (outcome) => {
          clearTimeout(timer);
          set.delete(waiter);
          if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
          resolve(outcome);
        },
      };
      const timer = setTimeout(
        () =>
          waiter.finish({
            errorCode: ErrorCode.REQUEST_TIMED_OUT,
            errorMessage: `the batch was not replicated to the ISR within the request's timeout of ${timeoutMs} ms`,
          }),
        Math.max(0, timeoutMs),
      );
      set.add(waiter);
    });
  }

  /** Looks at the waiters of partition `key` again, completing those that are settled. */
  recheck(key: string): void {
    const waiters = this.waiting.get(key);
    if (waiters === undefined) return;
    for (const waiter of [...waiters]) {
      const outcome = waiter.check(waiter.requiredOffset);
      if (outcome !== undefined) waiter.finish(outcome);
    }
  }

  /** Ends every waiter of partition `key` with `outcome` (leadership lost, partition deleted). */
  fail(key: string, outcome: ReplicationOutcome): void {
    for (const waiter of [...(this.waiting.get(key) ?? [])]) waiter.finish(outcome);
  }

  /** Ends every waiter with `outcome` (the broker is stopping). */
  failAll(outcome: ReplicationOutcome): void {
    for (const key of [...this.waiting.keys()]) this.fail(key, outcome);
  }

  /** Waiters of partition `key` (tests). */
  waitingOn(key: string): number {
    return this.waiting.get(key)?.size ?? 0;
  }
}
