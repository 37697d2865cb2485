// A level-triggered work queue of object keys (client-go's semantics): a key waiting to be processed is held once no
// matter how many events name it; a key being processed is never handed to a second worker, and if it is added again
// meanwhile it is processed once more afterwards. Failures back off per key, exponentially, until forget().
import type { ObjectKey } from "./types.ts";

export interface WorkQueueOptions {
  /** First retry delay after a failure. @default 500 ms */
  baseDelayMs?: number;
  /** Ceiling of the per-key retry delay. @default 5 minutes */
  maxDelayMs?: number;
}

export class WorkQueue {
  readonly #queue: ObjectKey[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  readonly #dirty = new Set<ObjectKey>();
  readonly #processing = new Set<ObjectKey>();
  readonly #failures = new Map<ObjectKey, number>();
  /** Delayed adds: key -> [due time, timer]; only the earliest pending delay per key is kept. */
  readonly #delayed = new Map<ObjectKey, [number, NodeJS.Timeout]>();
  readonly #waiters: ((key: ObjectKey | undefined) => void)[] = [];
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 300_000;
  }

  add(key: ObjectKey): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) this.#hand(key, waiter);
    else this.#queue.push(key);
  }

  /** Adds the key after `ms`; a sooner pending delay for the same key wins, a later one is replaced. */
  addAfter(key: ObjectKey, ms: number): void {
    if (this.#shutDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending !== undefined) {
      if (pending[0] <= due) return;
      clearTimeout(pending[1]);
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    // A pending retry alone must not keep the process alive at shutdown.
    timer.unref();
    this.#delayed.set(key, [due, timer]);
  }

  /** Re-adds after this key's next backoff delay: base * 2^(failures - 1), capped. */
  addRateLimited(key: ObjectKey): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    const delay = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures - 1, 30));
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count, after a successful pass. */
  forget(key: ObjectKey): void {
    this.#failures.delete(key);
  }

  failures(key: ObjectKey): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue has shut down. Call done(key) when finished. */
  get(): Promise<ObjectKey | undefined> {
    if (this.#shutDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: ObjectKey): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shutDown) {
      // Added again while it was being processed: give it another turn.
      this.#dirty.delete(key);
      this.add(key);
    }
  }

  /** Keys waiting to be processed (not counting delayed ones or those in progress). */
  get length(): number {
    return this.#queue.length;
  }

  get processing(): number {
    return this.#processing.size;
  }

  shutDown(): void {
    this.#shutDown = true;
    for (const [, timer] of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  #hand(key: ObjectKey, waiter: (key: ObjectKey) => void): void {
    this.#dirty.delete(key);
    this.#processing.add(key);
    waiter(key);
  }
}
