import type { Logger } from "pino";

// Items a broker sends to the active controller in batches (ISR changes, replicas' log dirs): one request at a time,
// carrying every item queued meanwhile; a request that fails is sent again, whole, after a pause, and so are the items
// its answer asks to send again. Items are keyed (one per partition); an item queued again under the same key while an
// earlier one waits replaces it.

export interface ControllerBatchesOptions {
  /** Pause before a failed batch is sent again. */
  readonly retryBackoffMs: number;
  readonly logger: Logger;
  /** The request's name, for the log. */
  readonly what: string;
}

/** Sends one batch; resolves with the items to send again (none: done), rejects to send the whole batch again. */
export type BatchSend<T> = (batch: ReadonlyMap<string, T>) => Promise<ReadonlyMap<string, T>>;

export class ControllerBatches<T> {
  private readonly queued = new Map<string, T>();
  private inFlight: ReadonlyMap<string, T> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private sender: BatchSend<T> | undefined;
  private closed = false;

  constructor(private readonly options: ControllerBatchesOptions) {}

  /** Starts sending (until then items only queue). */
  start(send: BatchSend<T>): void {
    this.sender = send;
    this.sendQueued();
  }

  add(key: string, item: T): void {
    if (this.closed) return;
    this.queued.set(key, item);
    this.sendQueued();
  }

  /** Drops a queued item (not one in flight). */
  drop(key: string): void {
    this.queued.delete(key);
  }

  queuedItem(key: string): T | undefined {
    return this.queued.get(key);
  }

  inFlightItem(key: string): T | undefined {
    return this.inFlight?.get(key);
  }

  /** Items queued or in flight. */
  get pending(): number {
    return this.queued.size + (this.inFlight?.size ?? 0);
  }

  /** Stops sending; answers that arrive later are dropped. */
  close(): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.queued.clear();
  }

  private sendQueued(): void {
    const send = this.sender;
    if (send === undefined || this.closed || this.inFlight !== null || this.retryTimer !== undefined) return;
    if (this.queued.size === 0) return;
    const batch = new Map(this.queued);
    this.queued.clear();
    this.inFlight = batch;
    send(batch).then(
      (again) => {
        if (this.closed) return;
        if (again.size > 0) {
          this.retryLater(again);
          return;
        }
        this.inFlight = null;
        this.sendQueued();
      },
      (err: unknown) => {
        this.options.logger.debug({ err, partitions: batch.size }, `${this.options.what} failed; sending it again`);
        this.retryLater(batch);
      },
    );
  }

  /** Queues `batch` again, behind whatever was queued meanwhile, to be sent after the backoff. */
  private retryLater(batch: ReadonlyMap<string, T>): void {
    this.inFlight = null;
    if (this.closed) return;
    for (const [key, item] of batch) if (!this.queued.has(key)) this.queued.set(key, item);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.sendQueued();
    }, this.options.retryBackoffMs);
    this.retryTimer.unref();
  }
}
