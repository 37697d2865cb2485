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
  longestNoLeader: LeaderGap | undefined;
  longestLeaderDown: LeaderGap | undefined;
}

export class LeaderMonitor {
  readonly #cluster: Cluster;
  readonly #topic: string;
  readonly #down: ReadonlySet<number>;
  readonly #noLeaderSince = new Map<number, number>();
  readonly #downSince = new Map<number, number>();
  #report: MonitorReport = { polls: 0, failedPolls: 0, longestNoLeader: undefined, longestLeaderDown: undefined };
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #stopped = false;

  /** `down`: the ids the run has killed or paused right now (it updates the set in place). */
  constructor(cluster: Cluster, topic: string, down: ReadonlySet<number>) {
    this.#cluster = cluster;
    this.#topic = topic;
    this.#down = down;
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
