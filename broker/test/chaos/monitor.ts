import { AdminClient, type PartitionInfo } from "../../src/admin/index.ts";
import type { Cluster } from "../support/cluster.ts";

// Polls Metadata through the chaos run and keeps, per partition, how long it went without a leader: "no leader" is
// what Metadata says (leader -1); "leader down" adds the time the named leader was a process the run had killed or
// paused, which clients cannot use either. Also answers whether the cluster has recovered after a fault.

export interface LeaderGap {
  partition: number;
  ms: number;
  /** When the gap began (ms since the epoch). */
  from: number;
}

export interface MonitorReport {
  polls: number;
  failedPolls: number;
  /** Times a running broker dropped out of Metadata's broker list (fenced, or not yet registered again). */
  fencings: number;
  /**
   * Of those, fencings of a broker no fault had touched for FAULT_GRACE_MS: false fencing of a live broker, under load
   * only. Each is listed (node and time).
   */
  liveFencings: { node: number; at: number }[];
  longestNoLeader: LeaderGap | undefined;
  longestLeaderDown: LeaderGap | undefined;
}

/** A broker fenced this soon after a fault touched it is fenced because of that fault (Kafka's session is 9 s). */
const FAULT_GRACE_MS = 20_000;

/** A report of no polls: where a monitor starts, and what a run that never started one reports. */
export function emptyMonitorReport(): MonitorReport {
  return {
    polls: 0,
    failedPolls: 0,
    fencings: 0,
    liveFencings: [],
    longestNoLeader: undefined,
    longestLeaderDown: undefined,
  };
}

export class LeaderMonitor {
  readonly #cluster: Cluster;
  readonly #topic: string;
  readonly #down: ReadonlySet<number>;
  readonly #noLeaderSince = new Map<number, number>();
  readonly #downSince = new Map<number, number>();
  #report: MonitorReport = emptyMonitorReport();
  /** Per node, when a fault last touched it (injected or healed); Infinity while a fault holds it. */
  readonly #faultedAt = new Map<number, number>();
  #listed = new Set<number>();
  #lastBrokers: number[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #stopped = false;

  /** `down`: the ids the run has killed or paused right now (it updates the set in place). */
  constructor(cluster: Cluster, topic: string, down: ReadonlySet<number>) {
    this.#cluster = cluster;
    this.#topic = topic;
    this.#down = down;
  }

  /** The run marks the nodes a fault touches: `holding` while it lasts, then again (false) when it is healed. */
  markFaulted(ids: Iterable<number>, holding: boolean): void {
    for (const id of ids) this.#faultedAt.set(id, holding ? Number.POSITIVE_INFINITY : Date.now());
  }

  /** The broker ids the last answered Metadata listed (registered and unfenced), or undefined before any answer. */
  get listedBrokers(): readonly number[] | undefined {
    return this.#lastBrokers;
  }

  /** The topic's partitions as one reachable, live broker reports them; undefined if none answered. */
  async describe(): Promise<PartitionInfo[] | undefined> {
    const live = this.#cluster.brokers.filter((n) => this.#cluster.isRunning(n.id) && !this.#down.has(n.id));
    for (let i = 0; i < live.length; i++) {
      const n = live[(this.#next + i) % live.length];
      if (n === undefined) continue;
      const admin = new AdminClient({
        bootstrap: `${n.host}:${n.clientPort}`,
        requestTimeoutMs: 2_000,
        connectTimeoutMs: 2_000,
        retries: 0,
      });
      try {
        const t = (await admin.describeTopics([this.#topic])).get(this.#topic);
        this.#lastBrokers = (await admin.cluster()).brokers.map((b) => b.nodeId);
        if (t?.topic !== undefined) {
          this.#next = (this.#next + i + 1) % live.length;
          return t.topic.partitions;
        }
      } catch {
        // A paused or cut-off broker: ask the next one.
      } finally {
        admin.close();
      }
    }
    return undefined;
  }

  start(intervalMs = 500): void {
    const tick = async (): Promise<void> => {
      if (this.#stopped) return;
      await this.poll();
      if (!this.#stopped) this.#timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
  }

  async poll(): Promise<void> {
    const ps = await this.describe();
    const now = Date.now();
    this.#report.polls++;
    if (ps === undefined) {
      this.#report.failedPolls++;
      return;
    }
    const listed = new Set(this.#lastBrokers ?? []);
    for (const id of this.#listed) {
      if (listed.has(id) || !this.#cluster.isRunning(id) || this.#down.has(id)) continue;
      this.#report.fencings++;
      const touched = this.#faultedAt.get(id);
      if (touched === undefined || now - touched > FAULT_GRACE_MS)
        this.#report.liveFencings.push({ node: id, at: now });
    }
    this.#listed = listed;
    for (const p of ps) {
      this.#track(this.#noLeaderSince, p.partition, p.leader < 0, now, "longestNoLeader");
      const unusable = p.leader < 0 || this.#down.has(p.leader) || !this.#cluster.isRunning(p.leader);
      this.#track(this.#downSince, p.partition, unusable, now, "longestLeaderDown");
    }
  }

  #track(
    since: Map<number, number>,
    partition: number,
    bad: boolean,
    now: number,
    field: "longestNoLeader" | "longestLeaderDown",
  ): void {
    const from = since.get(partition);
    if (bad && from === undefined) since.set(partition, now);
    if (from === undefined) return;
    const ms = now - from;
    const best = this.#report[field];
    if (best === undefined || ms > best.ms) this.#report[field] = { partition, ms, from };
    if (!bad) since.delete(partition);
  }

  stop(): MonitorReport {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    return this.#report;
  }
}
