// A deterministic simulation of a KRaft quorum built from the real sans-I/O core (broker/src/raft): one virtual-time
// event queue, a seeded generator for every choice, an in-memory network that loses, delays, reorders, duplicates
// and partitions messages, and in-memory disks that keep only what was fsynced when a node crashes (plus, sometimes,
// a prefix of what was written but not yet synced). Invariants are checked after every event; a seed replays exactly.
import {
  RaftNode,
  SeededRng,
  type ElectionState,
  type Envelope,
  type LogEntry,
  type NodeId,
  type RaftAction,
  type RaftConfig,
  type RaftStatus,
} from "../../../src/raft/index.ts";
import { InvariantChecker } from "./invariants.ts";

export interface SimOptions {
  readonly seed: number;
  readonly voters: number;
  readonly observers: number;
  /** Simulated time with faults, then everything heals and the quorum must make progress again. */
  readonly faultyMs: number;
  /** How long after healing a leader must have committed a new proposal. */
  readonly healMs: number;
  readonly loss: number;
  readonly duplicate: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Mean time between faults (crash-restart or partition) during the faulty phase; 0 for none. */
  readonly meanFaultIntervalMs: number;
  readonly maxFetchEntries: number;
  /** An fsync takes 1 to this many ms (a slow disk widens the window in which a crash loses unsynced writes). */
  readonly maxSyncMs: number;
  readonly unsafe?: RaftConfig["unsafe"];
  /** Stop after this many events even if the simulated time is not over (a guard, not a goal). */
  readonly maxSteps: number;
  /** How many of the last events the result's trace keeps. */
  readonly traceLines: number;
  /** A driver that breaks the contract (sends before the writes ahead of them are fsynced), for tests only. */
  readonly sendBeforeFsync?: boolean;
}

export const DEFAULT_SIM: Omit<SimOptions, "seed"> = {
  voters: 3,
  observers: 1,
  faultyMs: 8_000,
  healMs: 8_000,
  loss: 0.05,
  duplicate: 0.02,
  minDelayMs: 1,
  maxDelayMs: 25,
  meanFaultIntervalMs: 700,
  maxFetchEntries: 4,
  maxSyncMs: 8,
  maxSteps: 2_000_000,
  traceLines: 80,
};

/**
 * Swarm testing: each seed also draws its own fault mix (loss, duplication, delays, fsync latency, fault rate, fetch
 * size), so the seeds cover quiet and hostile networks alike instead of one average.
 */
export function swarmOptions(seed: number, shape: Omit<SimOptions, "seed"> = DEFAULT_SIM): SimOptions {
  const r = new SeededRng((seed ^ 0x5bd1e995) >>> 0);
  const maxDelayMs = 5 + r.nextInt(60);
  return {
    ...shape,
    seed,
    loss: r.nextInt(16) / 100,
    duplicate: r.nextInt(6) / 100,
    minDelayMs: 1 + r.nextInt(5),
    maxDelayMs,
    maxSyncMs: 1 + r.nextInt(40),
    meanFaultIntervalMs: 250 + r.nextInt(1500),
    // One entry per fetch under heavy loss catches up slower than the healing phase lasts: at least two.
    maxFetchEntries: 2 + r.nextInt(7),
    healMs: 12_000,
  };
}

export interface SimResult {
  readonly seed: number;
  readonly steps: number;
  readonly simulatedMs: number;
  readonly committed: number;
  readonly leadersElected: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly violation: string | null;
  /** The last events before the violation, for reading a failure. */
  readonly trace: readonly string[];
}

/** Sim timing: Kafka's ratios, scaled down so that many elections fit into a short run. */
const TIMING = {
  electionTimeoutMs: 300,
  fetchTimeoutMs: 600,
  electionBackoffMaxMs: 300,
  requestTimeoutMs: 400,
  fetchMaxWaitMs: 150,
  retryBackoffMs: 50,
  preVote: true,
} as const;
const TICK_MS = 20;

type WriteOp = Extract<RaftAction, { type: "persistElection" | "truncateLog" | "appendLog" }>;

interface Disk {
  election: ElectionState | null;
  log: LogEntry[];
}

interface SimNode {
  readonly id: NodeId;
  readonly config: RaftConfig;
  incarnation: number;
  core: RaftNode | null;
  readonly disk: Disk;
  /** Written, not yet fsynced: lost (or partly kept) on a crash. */
  pending: WriteOp[];
  /** Actions waiting for a sync before they may run. */
  queue: RaftAction[];
  sync: { covers: number; seqs: number[] } | null;
}

type SimEvent =
  | { kind: "tick"; node: NodeId; incarnation: number }
  | { kind: "deliver"; envelope: Envelope }
  | { kind: "synced"; node: NodeId; incarnation: number }
  | { kind: "crash"; node: NodeId }
  | { kind: "restart"; node: NodeId }
  | { kind: "heal"; partition: number }
  | { kind: "propose" }
  | { kind: "fault" }
  | { kind: "healAll" };

interface Scheduled {
  readonly at: number;
  readonly seq: number;
  readonly event: SimEvent;
}

/** A binary heap ordered by (time, insertion), so equal times keep a deterministic order. */
class EventQueue {
  private heap: Scheduled[] = [];
  private seq = 0;

  push(at: number, event: SimEvent): void {
    const item = { at, seq: this.seq++, event };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent];
      if (p === undefined || before(p, item)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = item;
  }

  pop(): Scheduled | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = last;
      const left = h[l];
      const right = h[r];
      if (left !== undefined && before(left, best)) {
        m = l;
        best = left;
      }
      if (right !== undefined && before(right, best)) {
        m = r;
        best = right;
      }
      if (m === i) break;
      h[i] = best;
      i = m;
    }
    h[i] = last;
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class Simulation {
  private readonly rng: SeededRng;
  private readonly queue = new EventQueue();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly voterIds: NodeId[];
  private readonly checker: InvariantChecker;
  private now = 0;
  private steps = 0;
  private crashes = 0;
  private partitions = 0;
  /** Partition groups: a message passes only between nodes of the same group. Null when the network is whole. */
  private groups: Map<NodeId, number> | null = null;
  private healed = false;
  private proposals = 0;
  /**
   * Proposals accepted by a leader after everything healed. Liveness needs one of them committed (not all: a leader
   * can lose its uncommitted tail to the next one).
   */
  private readonly proposalsAfterHeal: string[] = [];
  private readonly trace: string[] = [];

  constructor(private readonly options: SimOptions) {
    this.rng = new SeededRng(options.seed);
    this.voterIds = Array.from({ length: options.voters }, (_, i) => i + 1);
    const all = Array.from({ length: options.voters + options.observers }, (_, i) => i + 1);
    this.checker = new InvariantChecker(this.voterIds);
    for (const id of all) {
      const config: RaftConfig = {
        nodeId: id,
        voters: this.voterIds,
        ...TIMING,
        maxFetchEntries: options.maxFetchEntries,
        ...(options.unsafe ? { unsafe: options.unsafe } : {}),
      };
      const node: SimNode = {
        id,
        config,
        incarnation: 0,
        core: null,
        disk: { election: null, log: [] },
        pending: [],
        queue: [],
        sync: null,
      };
      this.nodes.set(id, node);
    }
  }

  run(): SimResult {
    this.start();
    this.queue.push(this.rng.nextInt(100), { kind: "propose" });
    if (this.options.meanFaultIntervalMs > 0) this.queue.push(this.faultDelay(), { kind: "fault" });
    this.queue.push(this.options.faultyMs, { kind: "healAll" });
    this.runUntil(() => false, this.options.faultyMs + this.options.healMs);
    const violation = this.violation ?? this.livenessProblem();
    return {
      seed: this.options.seed,
      steps: this.steps,
      simulatedMs: this.now,
      committed: this.checker.committedLength,
      leadersElected: this.checker.leadersElected,
      crashes: this.crashes,
      partitions: this.partitions,
      violation,
      trace: [...this.trace],
    };
  }

  // ---- scripted use: a test starts the nodes and then steers the network, crashes and proposals itself ----

  /** The first invariant broken (or exception raised by a core), if any. */
  violation: string | null = null;

  start(): void {
    for (const node of this.nodes.values()) this.boot(node);
  }

  /** Processes events until `done()` holds after one, a violation, or `until` ms of simulated time. */
  runUntil(done: () => boolean, until: number): boolean {
    while (this.violation === null && this.steps < this.options.maxSteps) {
      const next = this.queue.pop();
      if (next === undefined) return false;
      if (next.at > until) {
        this.queue.push(next.at, next.event);
        this.now = until;
        return false;
      }
      this.now = next.at;
      this.steps++;
      try {
        this.handle(next.event);
        this.checker.afterEvent(this.durableLogs());
      } catch (error) {
        this.violation = error instanceof Error ? error.message : String(error);
      }
      this.violation ??= this.checker.violation;
      if (this.violation === null && done()) return true;
    }
    return false;
  }

  get time(): number {
    return this.now;
  }

  status(id: NodeId): RaftStatus | null {
    return this.nodes.get(id)?.core?.status() ?? null;
  }

  /** Only nodes in the same group can talk; null makes the network whole. */
  setGroups(groups: readonly (readonly NodeId[])[] | null): void {
    this.groups = groups === null ? null : new Map(groups.flatMap((g, i) => g.map((id) => [id, i] as const)));
    this.note(`groups ${JSON.stringify(groups)}`);
  }

  crashNode(id: NodeId): void {
    this.crash(id);
  }

  restartNode(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node && !node.core) this.boot(node);
  }

  /** Proposes the markers as one batch to node `id`; false if it is not the leader. */
  proposeTo(id: NodeId, ...markers: string[]): boolean {
    const node = this.nodes.get(id);
    if (!node?.core) return false;
    const records = markers.map((m) => new TextEncoder().encode(m));
    const { offsets, actions } = node.core.propose(records, this.now);
    if (offsets === null) return false;
    this.note(`node ${id} proposed ${markers.join(" ")} at ${offsets[0]}`);
    this.apply(node, actions);
    return true;
  }

  isCommitted(marker: string): boolean {
    return this.checker.isCommitted(marker);
  }

  private livenessProblem(): string | null {
    if (this.steps >= this.options.maxSteps) return `liveness: stopped after ${this.steps} steps at ${this.now} ms`;

    if (this.proposalsAfterHeal.length === 0) return "liveness: no leader accepted a proposal after healing";
    if (!this.proposalsAfterHeal.some((p) => this.checker.isCommitted(p))) {
      return `liveness: none of ${this.proposalsAfterHeal.length} proposals made after healing committed within ${this.options.healMs} ms`;
    }
    return null;
  }

  private note(text: string): void {
    this.trace.push(`${this.now}ms ${text}`);
    if (this.trace.length > this.options.traceLines) this.trace.shift();
  }

  private durableLogs(): Map<NodeId, readonly LogEntry[]> {
    const logs = new Map<NodeId, readonly LogEntry[]>();
    for (const id of this.voterIds) logs.set(id, this.nodes.get(id)?.disk.log ?? []);
    return logs;
  }

  // ---- events ----

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case "tick": {
        const node = this.nodes.get(event.node);
        if (!node?.core || node.incarnation !== event.incarnation) return;
        this.queue.push(this.now + TICK_MS, event);
        this.apply(node, node.core.tick(this.now));
        return;
      }
      case "deliver": {
        const { envelope } = event;
        const node = this.nodes.get(envelope.to);
        if (!node?.core || !this.connected(envelope.from, envelope.to)) return;
        this.note(`${envelope.from}→${envelope.to} ${describe(envelope)}`);
        this.apply(node, node.core.receive(envelope, this.now));
        return;
      }
      case "synced": {
        const node = this.nodes.get(event.node);
        if (!node?.core || node.incarnation !== event.incarnation || node.sync === null) return;
        const { covers, seqs } = node.sync;
        node.sync = null;
        for (const op of node.pending.splice(0, covers)) this.writeDurably(node, op);
        for (const seq of seqs) this.apply(node, node.core.flushed(seq, this.now));
        this.drain(node);
        return;
      }
      case "crash":
        return this.crash(event.node);
      case "restart": {
        const node = this.nodes.get(event.node);
        if (node && !node.core) this.boot(node);
        return;
      }
      case "heal":
        // Only the partition this heal belongs to; a newer one keeps its own schedule.
        if (!this.healed && event.partition === this.partitions) {
          this.groups = null;
          this.note("network healed");
        }
        return;
      case "propose":
        return this.propose();
      case "fault":
        return this.fault();
      case "healAll":
        this.healed = true;
        this.groups = null;
        for (const node of this.nodes.values()) if (!node.core) this.boot(node);
        this.note("everything healed");
        return;
    }
  }

  private boot(node: SimNode): void {
    node.incarnation++;
    const rng = new SeededRng((this.options.seed * 7919 + node.id * 104729 + node.incarnation * 15485863) >>> 0);
    node.core = new RaftNode(node.config, rng, { election: node.disk.election, log: [...node.disk.log] });
    node.pending = [];
    node.queue = [];
    node.sync = null;
    this.checker.restarted(node.id);
    this.note(`node ${node.id} started (incarnation ${node.incarnation}, log ${node.disk.log.length})`);
    this.apply(node, node.core.start(this.now));
    this.queue.push(this.now + 1 + this.rng.nextInt(TICK_MS), {
      kind: "tick",
      node: node.id,
      incarnation: node.incarnation,
    });
  }

  private crash(id: NodeId): void {
    const node = this.nodes.get(id);
    if (!node?.core) return;
    // Some writes may reach the disk without an fsync; never more than a prefix, and never a reordering.
    if (this.rng.chance(0.5)) {
      const kept = this.rng.nextInt(node.pending.length + 1);
      for (const op of node.pending.slice(0, kept)) this.writeDurably(node, op);
    }
    node.core = null;
    node.pending = [];
    node.queue = [];
    node.sync = null;
    this.crashes++;
    this.note(`node ${id} crashed`);
    if (!this.healed && this.options.meanFaultIntervalMs > 0) {
      this.queue.push(this.now + 100 + this.rng.nextInt(2000), { kind: "restart", node: id });
    }
  }

  /** Splits the nodes into two random groups, or cuts one node off from all others. */
  private partition(isolate: NodeId): void {
    if (this.healed) return;
    const ids = [...this.nodes.keys()];
    const groups = new Map<NodeId, number>();
    const alone = this.rng.chance(0.5);
    for (const id of ids) groups.set(id, alone ? Number(id === isolate) : this.rng.nextInt(2));
    this.groups = groups;
    this.partitions++;
    this.note(`partition ${JSON.stringify([...groups])}`);
    this.queue.push(this.now + 200 + this.rng.nextInt(3000), { kind: "heal", partition: this.partitions });
  }

  private fault(): void {
    if (this.healed) return;
    // Faults aimed at the leader half of the time: those are the ones that force elections and truncations.
    const ids = [...this.nodes.keys()];
    const leader = [...this.nodes.values()].find((n) => n.core?.status().role === "leader")?.id;
    const target = leader !== undefined && this.rng.chance(0.5) ? leader : (ids[this.rng.nextInt(ids.length)] ?? 1);
    const dice = this.rng.nextInt(100);
    // Now and then a correlated power loss: every node crashes at once and keeps only what it fsynced.
    if (dice < 5) for (const id of ids) this.crash(id);
    else if (dice < 52) this.crash(target);
    else this.partition(target);
    this.queue.push(this.now + this.faultDelay(), { kind: "fault" });
  }

  private faultDelay(): number {
    return 1 + this.rng.nextInt(2 * this.options.meanFaultIntervalMs);
  }

  private propose(): void {
    // After healing the load drops, so that recovery is measured and not how fast tiny fetches outrun new writes.
    this.queue.push(this.now + (this.healed ? 300 : 20) + this.rng.nextInt(150), { kind: "propose" });
    const live = [...this.nodes.values()].filter((n) => n.core?.status().role === "leader");
    const node = live[this.rng.nextInt(live.length)];
    if (!node?.core) return;
    // Batches of one to three records, like a controller command's records.
    const n = ++this.proposals;
    const markers = Array.from({ length: 1 + this.rng.nextInt(3) }, (_, i) => `p${n}.${i}`);
    if (this.proposeTo(node.id, ...markers) && this.healed) this.proposalsAfterHeal.push(...markers);
  }

  // ---- the driver contract ----

  /** Takes the core's actions: commits and role changes are observed at once, the rest run in order. */
  private apply(node: SimNode, actions: readonly RaftAction[]): void {
    const core = node.core;
    if (!core) return;
    for (const action of actions) {
      if (action.type === "commit") {
        this.checker.committed(node.id, action.highWatermark, (from, to) => core.entries(from, to));
      } else if (action.type === "roleChanged") {
        this.note(`node ${node.id} → ${action.role} epoch ${action.epoch} leader ${action.leaderId ?? "-"}`);
        if (action.role === "leader") this.checker.becameLeader(node.id, action.epoch, core.entries(0, Infinity));
      } else {
        if (action.type === "appendLog") this.checker.appended(node.id, action.entries, (o) => core.entries(o, o + 1));
        node.queue.push(action);
      }
    }
    this.drain(node);
  }

  /** Runs queued actions until one needs a sync that has not happened yet. */
  private drain(node: SimNode): void {
    while (node.queue.length > 0 && node.core) {
      const action = node.queue[0];
      if (action === undefined) break;
      switch (action.type) {
        case "persistElection":
        case "truncateLog":
        case "appendLog":
          node.pending.push(action);
          node.queue.shift();
          continue;
        case "flushLog":
          if (node.sync !== null) return;
          this.startSync(node, [action.seq]);
          node.queue.shift();
          continue;
        case "send":
          if (this.options.sendBeforeFsync === true) {
            this.send(action.envelope);
            node.queue.shift();
            continue;
          }
          if (node.sync !== null) return;
          if (node.pending.length > 0) {
            this.startSync(node, []);
            return;
          }
          this.send(action.envelope);
          node.queue.shift();
          continue;
        default:
          node.queue.shift();
      }
    }
  }

  private startSync(node: SimNode, seqs: number[]): void {
    node.sync = { covers: node.pending.length, seqs };
    this.queue.push(this.now + 1 + this.rng.nextInt(this.options.maxSyncMs), {
      kind: "synced",
      node: node.id,
      incarnation: node.incarnation,
    });
  }

  private writeDurably(node: SimNode, op: WriteOp): void {
    switch (op.type) {
      case "persistElection":
        this.checker.persisted(node.id, node.disk.election, op.state);
        node.disk.election = op.state;
        return;
      case "truncateLog":
        node.disk.log.length = Math.min(node.disk.log.length, op.endOffset);
        return;
      case "appendLog":
        for (const e of op.entries) {
          if (e.offset !== node.disk.log.length) {
            throw new Error(`driver: node ${node.id} appends offset ${e.offset} to a log of ${node.disk.log.length}`);
          }
          node.disk.log.push(e);
        }
        return;
    }
  }

  // ---- the network ----

  private connected(a: NodeId, b: NodeId): boolean {
    return this.groups === null || this.groups.get(a) === this.groups.get(b);
  }

  private send(envelope: Envelope): void {
    if (!this.connected(envelope.from, envelope.to)) return;
    const copies = this.rng.chance(this.options.loss) ? 0 : this.rng.chance(this.options.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.options.minDelayMs + this.rng.nextInt(this.options.maxDelayMs - this.options.minDelayMs + 1);
      this.queue.push(this.now + delay, { kind: "deliver", envelope });
    }
  }
}

function describe(envelope: Envelope): string {
  const m = envelope.message;
  switch (m.type) {
    case "VoteRequest":
      return `${m.preVote ? "PreVote" : "Vote"}(e${m.epoch}, last ${m.lastEpoch}@${m.lastOffset})`;
    case "VoteResponse":
      return `${m.preVote ? "PreVote" : "Vote"}Resp(e${m.epoch}, ${m.granted ? "granted" : "refused"} ${m.error})`;
    case "FetchRequest":
      return `Fetch(e${m.epoch}, ${m.fetchOffset}/${m.lastFetchedEpoch})`;
    case "FetchResponse":
      return `FetchResp(e${m.epoch}, ${m.error}, hw ${m.highWatermark}, ${m.entries.length} entries${
        m.divergingEpoch ? `, diverging ${m.divergingEpoch.epoch}@${m.divergingEpoch.offset}` : ""
      })`;
    default:
      return `${m.type}(e${m.epoch})`;
  }
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
