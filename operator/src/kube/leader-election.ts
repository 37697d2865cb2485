// Leader election on a coordination.k8s.io/v1 Lease (client-go's algorithm): only the holder reconciles, so two
// replicas of the operator never roll the same broker at once. Expiry is judged by the local clock from when this
// process last saw the record change, never by comparing our clock with the holder's renewTime (clock skew).
import type { Logger } from "pino";
import { isConflict, isNotFound, type KubeClient } from "./client.ts";
import { abortableDelay } from "./informer.ts";
import { KINDS, type KubeObject } from "./types.ts";

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** Unique per process, for example the pod name. */
  identity: string;
  logger: Logger;
  /** @default 15 */
  leaseDurationSeconds?: number;
  /** Give up leadership when renewals keep failing for this long. @default 10 000 */
  renewDeadlineMs?: number;
  /** @default 2 000 */
  retryPeriodMs?: number;
}

export class LeaderElector {
  readonly #client: KubeClient;
  readonly #o: Required<LeaderElectionOptions>;
  #observed: { record: string; at: number } | undefined;

  constructor(client: KubeClient, options: LeaderElectionOptions) {
    this.#client = client;
    this.#o = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
  }

  /**
   * Waits for leadership, runs `lead` with a signal that aborts when leadership is lost or `signal` aborts, waits for
   * the work it returned to finish, and only then releases the lease on a clean shutdown (a successor must not start
   * while a pass here is still writing). Resolves with "lost" or "stopped".
   */
  async run(signal: AbortSignal, lead: (leading: AbortSignal) => Promise<void>): Promise<"lost" | "stopped"> {
    const { logger, retryPeriodMs, renewDeadlineMs, namespace, name, identity } = this.#o;
    while (!signal.aborted && !(await this.#tryAcquireOrRenew())) await abortableDelay(retryPeriodMs, signal);
    if (signal.aborted) return "stopped";
    logger.info({ kind: "Lease", namespace, name, identity }, "Acquired leadership");
    const leading = new AbortController();
    const work = lead(leading.signal);
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await abortableDelay(retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.#tryAcquireOrRenew()) lastRenew = Date.now();
      else if (Date.now() - lastRenew > renewDeadlineMs) {
        logger.error(
          { kind: "Lease", namespace, name, identity },
          "Lost leadership: renewals failed past the deadline",
        );
        leading.abort();
        await work;
        return "lost";
      }
    }
    leading.abort();
    await work;
    await this.#release();
    return "stopped";
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds, logger } = this.#o;
    const now = new Date();
    try {
      const lease = await this.#client.get<Lease>(KINDS.Lease, namespace, name);
      if (lease === undefined) {
        await this.#client.create({
          apiVersion: KINDS.Lease.apiVersion,
          kind: KINDS.Lease.kind,
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime]);
      if (this.#observed?.record !== record) this.#observed = { record, at: Date.now() };
      const holder = spec.holderIdentity ?? "";
      const expired = Date.now() > this.#observed.at + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      if (holder !== "" && holder !== identity && !expired) return false;
      const mine = holder === identity;
      await this.#client.replace({
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: mine ? (spec.acquireTime ?? microTime(now)) : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      });
      return true;
    } catch (err) {
      // Someone else wrote the lease between our read and write: not an error, just not us this round.
      if (!isConflict(err) && !isNotFound(err))
        logger.warn({ err, kind: "Lease", namespace, name }, "Lease update failed");
      return false;
    }
  }

  /** Hands the lease back so a successor need not wait for it to expire. */
  async #release(): Promise<void> {
    const { namespace, name, identity, logger } = this.#o;
    try {
      const lease = await this.#client.get<Lease>(KINDS.Lease, namespace, name);
      if (lease?.spec?.holderIdentity !== identity) return;
      await this.#client.replace({
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(new Date()) },
      });
      logger.info({ kind: "Lease", namespace, name, identity }, "Released leadership");
    } catch (err) {
      logger.warn({ err, kind: "Lease", namespace, name }, "Releasing the lease failed; it will expire instead");
    }
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
