// List-then-watch cache of one kind (in one namespace or all). Handlers only learn "this object changed"; what to do
// about it is the work queue's and the reconciler's business (level-triggered: the event type is never acted on).
import type { Logger } from "pino";
import { ApiError, type KubeClient } from "./client.ts";
import { objectKey, type KubeObject, type ObjectKey, type ResourceType } from "./types.ts";

/** `previous` is the cached object before this change (undefined when it is new to the cache). */
export type InformerHandler<T extends KubeObject> = (obj: T, deleted: boolean, previous: T | undefined) => void;

export interface InformerOptions {
  type: ResourceType;
  /** Undefined watches every namespace. */
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  logger: Logger;
}

export class Informer<T extends KubeObject> {
  readonly #client: KubeClient;
  readonly #opts: InformerOptions;
  readonly #store = new Map<ObjectKey, T>();
  readonly #handlers: InformerHandler<T>[] = [];
  #synced = false;
  readonly #syncWaiters: (() => void)[] = [];

  constructor(client: KubeClient, opts: InformerOptions) {
    this.#client = client;
    this.#opts = opts;
  }

  on(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  get(key: ObjectKey): T | undefined {
    return this.#store.get(key);
  }

  list(): T[] {
    return [...this.#store.values()];
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /** Runs until the signal aborts: list, then watch from the list's version; re-list when the version expires. */
  async run(signal: AbortSignal): Promise<void> {
    const { type, namespace, labelSelector, logger } = this.#opts;
    let failures = 0;
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) resourceVersion = await this.#relist();
        let lastVersion = resourceVersion;
        await this.#client.watch<T>(
          type,
          // Jitter the server timeout so many informers do not re-watch in lockstep.
          { namespace, labelSelector, resourceVersion, signal, timeoutSeconds: 240 + Math.floor(Math.random() * 120) },
          (eventType, obj) => {
            if (obj.metadata.resourceVersion !== undefined) lastVersion = obj.metadata.resourceVersion;
            if (eventType === "BOOKMARK") return;
            const typed = { ...obj, apiVersion: type.apiVersion, kind: type.kind };
            const key = objectKey(obj.metadata.namespace, obj.metadata.name);
            const previous = this.#store.get(key);
            if (eventType === "DELETED") this.#store.delete(key);
            else this.#store.set(key, typed);
            this.#emit(typed, eventType === "DELETED", previous);
          },
        );
        resourceVersion = lastVersion;
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof ApiError && err.statusCode === 410) {
          // The version fell out of etcd's window: start over from a fresh list.
          resourceVersion = undefined;
          continue;
        }
        failures += 1;
        resourceVersion = undefined;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
        logger.warn({ err, kind: type.kind, namespace, delayMs: delay }, "Watch failed, re-listing");
        await abortableDelay(delay, signal);
      }
    }
  }

  async #relist(): Promise<string> {
    const { items, resourceVersion } = await this.#client.list<T>(this.#opts.type, {
      namespace: this.#opts.namespace,
      labelSelector: this.#opts.labelSelector,
    });
    const seen = new Set<ObjectKey>();
    for (const item of items) {
      const key = objectKey(item.metadata.namespace, item.metadata.name);
      seen.add(key);
      const old = this.#store.get(key);
      this.#store.set(key, item);
      if (old?.metadata.resourceVersion !== item.metadata.resourceVersion) this.#emit(item, false, old);
    }
    for (const [key, old] of this.#store) {
      if (!seen.has(key)) {
        this.#store.delete(key);
        this.#emit(old, true, old);
      }
    }
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
    return resourceVersion;
  }

  #emit(obj: T, deleted: boolean, previous: T | undefined): void {
    for (const h of this.#handlers) h(obj, deleted, previous);
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
