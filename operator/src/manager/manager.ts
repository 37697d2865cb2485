// The controller manager: shared informers per watched kind and namespace, one work queue per controller fed by its
// primary kind and by the objects it owns (mapped to the owner's key through the controller ownerReference), workers
// that call the reconciler with a key only, retries with per-key backoff, and a periodic resync of every primary key.
import type { Logger } from "pino";
import {
  Informer,
  WorkQueue,
  objectKey,
  onlyStatusChanged,
  ownerKey,
  splitKey,
  type KubeClient,
  type KubeObject,
  type ObjectKey,
  type ResourceType,
} from "../kube/index.ts";
import type { OperatorMetrics } from "../runtime/metrics.ts";

export interface ReconcileResult {
  /** Reconcile this key again after the delay (polling a roll in progress, for example). */
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  logger: Logger;
  signal: AbortSignal;
}

export interface Reconciler {
  reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult>;
}

/**
 * A failure that retrying cannot fix (an invalid spec): the reconciler has recorded it in a condition, and the key is
 * not retried until the object changes.
 */
export class TerminalError extends Error {
  override name = "TerminalError";
}

export interface ControllerRegistration {
  /** The primary kind; its keys are what the reconciler receives. */
  primary: ResourceType;
  /** Kinds the controller creates; an event on one of them queues its controller owner of the primary kind. */
  owns: readonly ResourceType[];
  /**
   * Other kinds whose events map to a primary key some other way (pods are owned by the StatefulSet, not by the
   * primary, so they map through a label).
   */
  watches?: readonly {
    type: ResourceType;
    /** The primary keys an event on `obj` concerns (a KafkaCluster change concerns every topic of that cluster). */
    toKey: (obj: KubeObject) => ObjectKey | readonly ObjectKey[] | undefined;
    /**
     * Drop updates that changed only the watched object's status, as for the primary kind (a watched cluster's
     * frequent status writes give its topics nothing to do). @default false: a pod's status is what matters.
     */
    ignoreStatusOnly?: boolean;
    /** @default ownedLabelSelector */
    labelSelector?: string | undefined;
  }[];
  /** Restricts the owned-kind and other watches (for example to objects the operator labelled). */
  ownedLabelSelector?: string;
  /** Restricts the primary kind: only matching objects are cached and reconciled. */
  primaryLabelSelector?: string;
  /**
   * Further changes of a primary object that give its reconciler nothing to do (beyond status-only ones), such as the
   * reconciler's own finalizer write at the start of a pass that then went on to finish.
   */
  ignoreUpdate?: (previous: KubeObject, next: KubeObject) => boolean;
  reconciler: Reconciler;
  /** @default 1 */
  workers?: number;
  /** Every primary key is queued again this often, to repair drift nobody was told about. @default 10 minutes */
  resyncMs?: number;
}

export interface ManagerOptions {
  client: KubeClient;
  logger: Logger;
  metrics: OperatorMetrics;
  /** Namespaces to watch; undefined or empty watches all. */
  namespaces?: readonly string[] | undefined;
}

interface Controller {
  reg: ControllerRegistration;
  queue: WorkQueue;
  primaryInformers: Informer<KubeObject>[];
}

export class Manager {
  readonly #o: ManagerOptions;
  readonly #informers = new Map<string, Informer<KubeObject>[]>();
  readonly #controllers: Controller[] = [];
  #started = false;

  constructor(options: ManagerOptions) {
    this.#o = options;
  }

  register(reg: ControllerRegistration): void {
    if (this.#started) throw new Error("register controllers before start()");
    const queue = new WorkQueue();
    const group = groupOf(reg.primary.apiVersion);
    const primaryInformers = this.#informersFor(reg.primary, reg.primaryLabelSelector);
    for (const inf of primaryInformers) {
      inf.on((obj, deleted, previous) => {
        // The reconciler's own status write comes back as an event; reconciling again for it would only repeat the
        // pass (and skip the backoff of a failing one). Owned objects are not filtered: their status is what matters.
        if (isUpdateWithoutNews(obj, deleted, previous, reg.ignoreUpdate)) return;
        queue.add(objectKey(obj.metadata.namespace, obj.metadata.name));
      });
    }
    for (const type of reg.owns) {
      for (const inf of this.#informersFor(type, reg.ownedLabelSelector)) {
        inf.on((obj) => {
          const key = ownerKey(obj, group, reg.primary.kind);
          if (key !== undefined) queue.add(key);
        });
      }
    }
    for (const watch of reg.watches ?? []) {
      const selector = "labelSelector" in watch ? watch.labelSelector : reg.ownedLabelSelector;
      for (const inf of this.#informersFor(watch.type, selector)) {
        inf.on((obj, deleted, previous) => {
          if (watch.ignoreStatusOnly === true && isUpdateWithoutNews(obj, deleted, previous)) return;
          const keys = watch.toKey(obj);
          if (keys === undefined) return;
          if (typeof keys === "string") queue.add(keys);
          else for (const key of keys) queue.add(key);
        });
      }
    }
    this.#controllers.push({ reg, queue, primaryInformers });
  }

  /** Objects of `type` in the cache, optionally only one namespace and those matching every label in `labels`. */
  cached<T extends KubeObject>(type: ResourceType, namespace?: string, labels?: Record<string, string>): T[] {
    // Several informers may cache one kind (different label selectors); each object is returned once.
    const out = new Map<string, T>();
    for (const [id, informers] of this.#informers) {
      if (!id.startsWith(`${kindId(type)}?`)) continue;
      for (const obj of informers.flatMap((inf) => inf.list())) {
        if (namespace !== undefined && obj.metadata.namespace !== namespace) continue;
        if (labels !== undefined && !Object.entries(labels).every(([k, v]) => obj.metadata.labels?.[k] === v)) continue;
        out.set(objectKey(obj.metadata.namespace, obj.metadata.name), obj as T);
      }
    }
    return [...out.values()];
  }

  /** True once every informer has listed once. */
  get synced(): boolean {
    return [...this.#informers.values()].every((list) => list.every((i) => i.synced));
  }

  /** Starts informers, waits for them to sync, then runs the workers until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.#started = true;
    const { logger, metrics } = this.#o;
    const informerRuns = [...this.#informers.values()].flat().map((inf) => inf.run(signal));
    await Promise.race([
      Promise.all([...this.#informers.values()].flat().map((inf) => inf.waitForSync())),
      new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true })),
    ]);
    if (signal.aborted) {
      await Promise.all(informerRuns);
      return;
    }
    logger.info({ namespaces: this.#o.namespaces ?? "all" }, "Caches synced, starting workers");
    const loops: Promise<void>[] = [];
    const timers: NodeJS.Timeout[] = [];
    for (const c of this.#controllers) {
      const kind = c.reg.primary.kind;
      const resync = setInterval(() => {
        for (const inf of c.primaryInformers) {
          for (const obj of inf.list()) c.queue.add(objectKey(obj.metadata.namespace, obj.metadata.name));
        }
      }, c.reg.resyncMs ?? 600_000);
      const depth = setInterval(() => metrics.queueDepth.set({ kind }, c.queue.length), 1_000);
      timers.push(resync, depth);
      for (let w = 0; w < (c.reg.workers ?? 1); w++) loops.push(this.#worker(c, signal));
    }
    signal.addEventListener("abort", () => this.#controllers.forEach((c) => c.queue.shutDown()), { once: true });
    await Promise.all(loops);
    for (const t of timers) clearInterval(t);
    await Promise.all(informerRuns);
  }

  async #worker(c: Controller, signal: AbortSignal): Promise<void> {
    const { logger, metrics } = this.#o;
    const kind = c.reg.primary.kind;
    for (;;) {
      const key = await c.queue.get();
      if (key === undefined) return;
      const { namespace, name } = splitKey(key);
      const log = logger.child({ kind, namespace, name, reconcileId: Math.random().toString(36).slice(2, 10) });
      const end = metrics.reconcileDuration.startTimer({ kind });
      const started = performance.now();
      try {
        const result = await c.reg.reconciler.reconcile(key, { logger: log, signal });
        log.debug({ durationMs: Math.round((performance.now() - started) * 10) / 10, ...result }, "Reconciled");
        c.queue.forget(key);
        if (result.requeueAfterMs !== undefined) {
          c.queue.addAfter(key, result.requeueAfterMs);
          metrics.reconciles.inc({ kind, result: "requeue" });
        } else {
          metrics.reconciles.inc({ kind, result: "success" });
        }
      } catch (err) {
        if (err instanceof TerminalError) {
          c.queue.forget(key);
          metrics.reconciles.inc({ kind, result: "invalid" });
          log.warn({ reason: err.message }, "Reconcile stopped: invalid spec");
        } else {
          metrics.reconciles.inc({ kind, result: "error" });
          metrics.reconcileErrors.inc({ kind });
          const delay = signal.aborted ? 0 : c.queue.addRateLimited(key);
          log.error({ err, retryInMs: delay, failures: c.queue.failures(key) }, "Reconcile failed");
        }
      } finally {
        end();
        c.queue.done(key);
      }
    }
  }

  /** The informers of one kind and label selector, shared by every controller that asks for the same pair. */
  #informersFor(type: ResourceType, labelSelector: string | undefined): Informer<KubeObject>[] {
    const id = informerId(type, labelSelector);
    const existing = this.#informers.get(id);
    if (existing !== undefined) return existing;
    // A cluster-scoped kind (nodes) has one informer whatever namespaces are watched.
    const namespaces =
      !type.namespaced || this.#o.namespaces === undefined || this.#o.namespaces.length === 0
        ? [undefined]
        : this.#o.namespaces;
    const created = namespaces.map(
      (namespace) =>
        new Informer<KubeObject>(this.#o.client, {
          type,
          namespace,
          labelSelector,
          logger: this.#o.logger,
        }),
    );
    this.#informers.set(id, created);
    return created;
  }
}

/** An update (not a create or delete) that changed only status, or that `ignoreUpdate` says is no news. */
function isUpdateWithoutNews(
  obj: KubeObject,
  deleted: boolean,
  previous: KubeObject | undefined,
  ignoreUpdate?: (previous: KubeObject, next: KubeObject) => boolean,
): boolean {
  if (deleted || previous === undefined) return false;
  return onlyStatusChanged(previous, obj) || ignoreUpdate?.(previous, obj) === true;
}

function kindId(type: ResourceType): string {
  return `${type.apiVersion}/${type.kind}`;
}

function informerId(type: ResourceType, labelSelector: string | undefined): string {
  return `${kindId(type)}?${labelSelector ?? ""}`;
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}
