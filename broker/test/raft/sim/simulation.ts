// A deterministic simulation of a KRaft quorum built from the real sans-I/O core (broker/src/raft): one virtual-time
// event queue, a seeded generator for every choice, an in-memory network that loses, delays, reorders, duplicates
// and partitions messages, and in-memory disks that keep only what was fsynced when a node crashes (plus, sometimes,
// a prefix of what was written but not yet synced). Every node applies what commits to a state machine (the list of
// committed entries) and snapshots it now and then, trimming its log (KIP-630), so lagging and restarted nodes catch
// up by FetchSnapshot. With `dynamicVoters` the voter set lives in the log (KIP-853): the voters start from a
// bootstrap snapshot naming them, the other nodes know only where to bootstrap from, and now and then the leader is
// asked to add a node or remove a voter (itself too). Invariants are checked after every event; a seed replays exactly.
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
  type Snapshot,
  type SnapshotFormat,
  type Voter,
  type VoterChangeResult,
  type VoterSetState,
} from "../../../src/raft/index.ts";
import { InvariantChecker, fingerprint } from "./invariants.ts";

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
  /** A node snapshots its state machine once this many entries committed since its last snapshot; 0 never. */
  readonly snapshotEvery: number;
  /** The most snapshot bytes one FetchSnapshot answer carries (small, so snapshots take several chunks). */
  readonly snapshotChunkBytes: number;
  /**
   * KIP-853: the voters start from a bootstrap snapshot (kraft.version 1), and the leader is asked to add or remove a
   * voter about this often (mean ms) during the faulty phase; 0 keeps the static voters of `controller.quorum.voters`.
   */
  readonly meanVoterChangeIntervalMs?: number;
  /** Dynamic voters (kraft.version 1, as above) without random changes, for scripted scenarios. */
  readonly dynamicVoters?: boolean;
  /**
   * False: a request to a crashed node is lost without a word instead of refused, as if its address were blackholed
   * (to compare, in scenarios, with what refusals gain).
   */
  readonly refuseConnects?: boolean;
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
  snapshotEvery: 40,
  snapshotChunkBytes: 512,
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
  /** Connection losses reported to nodes: one per live peer of a crashed node, and spurious ones to live peers. */
  readonly connectionLosses: number;
  /**
   * Refused connects reported to nodes: a request sent to a crashed node it can reach, and, as a fault, some of the
   * spurious losses followed by a refusal while the peer lives (a REJECT rule, a restart racing the connect).
   */
  readonly connectionRefusals: number;
  /** Snapshots nodes took of their own state, and snapshots fetched from a leader and installed. */
  readonly snapshotsTaken: number;
  readonly snapshotsInstalled: number;
  /** Voter changes a leader appended (AddRaftVoter / RemoveRaftVoter accepted), and how many of those committed. */
  readonly voterChanges: number;
  readonly voterChangesCommitted: number;
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
  leaderConnectionLossGraceMs: 300,
  leaderConnectionRefusedStepMs: 100,
} as const;
const TICK_MS = 20;

type WriteOp = Extract<
  RaftAction,
  { type: "persistElection" | "truncateLog" | "appendLog" | "installSnapshot" | "trimLog" }
>;

interface Disk {
  election: ElectionState | null;
  snapshot: Snapshot | null;
  /** The log from `logStart` on. */
  logStart: number;
  log: LogEntry[];
}

/**
 * The simulated state machine's snapshot: the fingerprints of every committed entry below its end, and the voter set
 * in effect there (as Kafka's snapshots carry KRaftVersionRecord and VotersRecord).
 */
function encodeState(state: readonly string[], voters: VoterSetState | null = null): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ state, voters }));
}

function decodeSnapshot(data: Uint8Array): { state: string[]; voters: VoterSetState | null } {
  return JSON.parse(new TextDecoder().decode(data)) as { state: string[]; voters: VoterSetState | null };
}

function decodeState(data: Uint8Array): string[] {
  return decodeSnapshot(data).state;
}

const SIM_SNAPSHOTS: SnapshotFormat = { voters: (data) => decodeSnapshot(data).voters };

/** A voter as the simulation adds it: a directory id of its own, and kraft.version 1 supported. */
function simVoter(id: NodeId): Voter {
  return { id, directoryId: `dir-${id}`, endpoints: [], kraftVersion: { min: 0, max: 1 } };
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
  /** The state machine: fingerprints of the committed entries applied, offset by offset. */
  state: string[];
  /** Its length at the last snapshot. */
  snapshotAt: number;
}

type SimEvent =
  | { kind: "tick"; node: NodeId; incarnation: number }
  | { kind: "deliver"; envelope: Envelope }
  | { kind: "synced"; node: NodeId; incarnation: number }
  | { kind: "crash"; node: NodeId }
  /** `node`'s connection to `peer` closed: the peer crashed (its kernel closed its sockets) or, as a fault, spuriously. */
  | { kind: "connectionLost"; node: NodeId; incarnation: number; peer: NodeId }
  /** `node`'s connect to `peer` was refused: the peer is down (its port closed) or, as a fault, spuriously. */
  | { kind: "connectionRefused"; node: NodeId; incarnation: number; peer: NodeId }
  | { kind: "restart"; node: NodeId }
  | { kind: "heal"; partition: number }
  | { kind: "propose" }
  | { kind: "fault" }
  | { kind: "changeVoters" }
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
  private connectionLosses = 0;
  private connectionRefusals = 0;
  private snapshotsTaken = 0;
  private snapshotsInstalled = 0;
  private voterChanges = 0;
  /** Offsets of the VotersRecords leaders appended for a change, to count those that committed. */
  private readonly voterChangeOffsets = new Set<string>();
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
    const dynamic = options.dynamicVoters === true || (options.meanVoterChangeIntervalMs ?? 0) > 0;
    for (const id of all) {
      const config: RaftConfig = {
        nodeId: id,
        // With dynamic voters nobody is configured with the voters: the voters find them in the bootstrap snapshot,
        // the others ask the bootstrap servers (here, the initial voters).
        voters: dynamic ? [] : this.voterIds,
        ...(dynamic ? { bootstrapServers: this.voterIds } : {}),
        ...TIMING,
        maxFetchEntries: options.maxFetchEntries,
        snapshotChunkBytes: options.snapshotChunkBytes,
        ...(options.unsafe ? { unsafe: options.unsafe } : {}),
      };
      const node: SimNode = {
        id,
        config,
        incarnation: 0,
        core: null,
        disk: {
          election: null,
          // `tributary-storage format --initial-controllers` on the voters: the 0-0 bootstrap snapshot with the
          // voter set at kraft.version 1. The others are formatted with --no-initial-controllers.
          snapshot:
            dynamic && this.voterIds.includes(id)
              ? {
                  id: { offset: 0, epoch: 0 },
                  data: encodeState([], { kraftVersion: 1, voters: this.voterIds.map(simVoter) }),
                }
              : null,
          logStart: 0,
          log: [],
        },
        pending: [],
        queue: [],
        sync: null,
        state: [],
        snapshotAt: 0,
      };
      this.nodes.set(id, node);
    }
  }

  run(): SimResult {
    this.start();
    this.queue.push(this.rng.nextInt(100), { kind: "propose" });
    if (this.options.meanFaultIntervalMs > 0) this.queue.push(this.faultDelay(), { kind: "fault" });
    if (this.voterChangeDelay() > 0) this.queue.push(this.voterChangeDelay(), { kind: "changeVoters" });
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
      connectionLosses: this.connectionLosses,
      connectionRefusals: this.connectionRefusals,
      snapshotsTaken: this.snapshotsTaken,
      snapshotsInstalled: this.snapshotsInstalled,
      voterChanges: this.voterChanges,
      voterChangesCommitted: [...this.voterChangeOffsets].filter((k) => this.checker.isCommittedAt(k)).length,
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

  /** Tells `node` that its connect to `peer` was refused, whether or not `peer` is alive. */
  refuseConnectionTo(node: NodeId, peer: NodeId): void {
    this.refuseConnection(node, peer);
  }

  /** Tells `node` that its connection to `peer` closed, whether or not `peer` is alive. */
  loseConnectionTo(node: NodeId, peer: NodeId): void {
    this.loseConnection(node, peer);
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

  /** What a node holds durably at an offset: its snapshot's fingerprint below the log start, else its log's. */
  private durableLogs(): Map<NodeId, (offset: number) => string | undefined> {
    const logs = new Map<NodeId, (offset: number) => string | undefined>();
    for (const id of this.nodes.keys()) {
      const disk = this.nodes.get(id)?.disk;
      if (disk === undefined) continue;
      logs.set(id, (offset) => {
        if (offset < disk.logStart) return disk.snapshot === null ? undefined : this.stateOf(disk.snapshot)[offset];
        const e = disk.log[offset - disk.logStart];
        return e === undefined ? undefined : fingerprint(e);
      });
    }
    return logs;
  }

  /** A snapshot's state, decoded once (the checks read old snapshots after every event). */
  private readonly decoded = new WeakMap<Snapshot, string[]>();

  private stateOf(snapshot: Snapshot): string[] {
    let state = this.decoded.get(snapshot);
    if (state === undefined) {
      state = decodeState(snapshot.data);
      this.decoded.set(snapshot, state);
    }
    return state;
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
      case "connectionLost": {
        const node = this.nodes.get(event.node);
        if (!node?.core || node.incarnation !== event.incarnation) return;
        this.note(`node ${event.node} lost its connection to ${event.peer}`);
        this.apply(node, node.core.leaderConnectionLost(event.peer, this.now));
        return;
      }
      case "connectionRefused": {
        const node = this.nodes.get(event.node);
        if (!node?.core || node.incarnation !== event.incarnation) return;
        this.note(`node ${event.node} was refused a connection to ${event.peer}`);
        this.apply(node, node.core.leaderConnectionRefused(event.peer, this.now));
        return;
      }
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
      case "changeVoters":
        return this.changeVoters();
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
    const { disk } = node;
    this.alignLogWithSnapshot(node);
    node.core = new RaftNode(
      node.config,
      rng,
      { election: disk.election, snapshot: disk.snapshot, log: [...disk.log] },
      SIM_SNAPSHOTS,
    );
    node.pending = [];
    node.queue = [];
    node.sync = null;
    // The state machine restarts from the snapshot; what committed after it is applied again as it commits.
    node.state = disk.snapshot === null ? [] : decodeState(disk.snapshot.data);
    node.snapshotAt = node.state.length;
    this.checker.restarted(node.id, node.state);
    this.note(
      `node ${node.id} started (incarnation ${node.incarnation}, snapshot ${disk.logStart}, log end ${disk.logStart + disk.log.length})`,
    );
    this.apply(node, node.core.start(this.now));
    this.queue.push(this.now + 1 + this.rng.nextInt(TICK_MS), {
      kind: "tick",
      node: node.id,
      incarnation: node.incarnation,
    });
  }

  /**
   * What the quorum driver does at start: the log resumes at the snapshot's end. Entries below it go; a log that does
   * not reach the snapshot, or disagrees with it at its last entry (a tail the installed snapshot replaced), is
   * dropped whole.
   */
  private alignLogWithSnapshot(node: SimNode): void {
    const { disk } = node;
    const id = disk.snapshot?.id;
    if (id === undefined || disk.logStart === id.offset) return;
    const end = disk.logStart + disk.log.length;
    const before = disk.log[id.offset - 1 - disk.logStart];
    const agrees = disk.logStart < id.offset && end >= id.offset && before?.epoch === id.epoch;
    disk.log = agrees ? disk.log.slice(id.offset - disk.logStart) : [];
    disk.logStart = id.offset;
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
    // Its kernel closes its connections: the nodes it can reach see them close a network delay later.
    for (const other of this.nodes.values()) {
      if (other.core && this.connected(id, other.id)) this.loseConnection(other.id, id);
    }
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
    else if (dice < 47) this.crash(target);
    else if (dice < 57) this.spuriousConnectionLoss(target);
    else this.partition(target);
    this.queue.push(this.now + this.faultDelay(), { kind: "fault" });
  }

  /**
   * A connection to a live `peer` closes (an idle timeout, a reset on the way): a random other node sees it, and half
   * the time its next connect is refused too (a REJECT rule on the way; a real refusal means a closed port). The peer
   * still answers, so a follower of it must not disrupt it: at most a pre-vote the others refuse.
   */
  private spuriousConnectionLoss(peer: NodeId): void {
    const others = [...this.nodes.keys()].filter((id) => id !== peer);
    const node = others[this.rng.nextInt(others.length)];
    if (node === undefined) return;
    this.loseConnection(node, peer);
    if (this.rng.chance(0.5)) this.refuseConnection(node, peer, 2 * this.options.maxDelayMs);
  }

  /** Tells `node` (its current incarnation), `after` ms plus a network round trip from now, that `peer` refused a connect. */
  private refuseConnection(node: NodeId, peer: NodeId, after = 0): void {
    const incarnation = this.nodes.get(node)?.incarnation ?? 0;
    const delay =
      2 * (this.options.minDelayMs + this.rng.nextInt(this.options.maxDelayMs - this.options.minDelayMs + 1));
    this.connectionRefusals++;
    this.queue.push(this.now + after + delay, { kind: "connectionRefused", node, incarnation, peer });
  }

  /** Tells `node` (its current incarnation) a network delay from now that its connection to `peer` closed. */
  private loseConnection(node: NodeId, peer: NodeId): void {
    const incarnation = this.nodes.get(node)?.incarnation ?? 0;
    const delay = this.options.minDelayMs + this.rng.nextInt(this.options.maxDelayMs - this.options.minDelayMs + 1);
    this.connectionLosses++;
    this.queue.push(this.now + delay, { kind: "connectionLost", node, incarnation, peer });
  }

  private faultDelay(): number {
    return 1 + this.rng.nextInt(2 * this.options.meanFaultIntervalMs);
  }

  private voterChangeDelay(): number {
    const mean = this.options.meanVoterChangeIntervalMs ?? 0;
    return mean > 0 ? 1 + this.rng.nextInt(2 * mean) : 0;
  }

  /**
   * Asks the leader (if any) to add a node that is not a voter or to remove a voter, itself included, as
   * kafka-metadata-quorum add-controller / remove-controller would. Refusals (a change still uncommitted, a node not
   * caught up) are part of the test: the core must refuse rather than stack changes.
   */
  private changeVoters(): void {
    if (this.healed) return;
    this.queue.push(this.now + this.voterChangeDelay(), { kind: "changeVoters" });
    const node = [...this.nodes.values()].find((n) => n.core?.status().role === "leader");
    const core = node?.core;
    if (node === undefined || !core) return;
    const voters = core.status().voters.map((v) => v.id);
    const others = [...this.nodes.keys()].filter((id) => !voters.includes(id));
    const add = others.length > 0 && (voters.length <= 1 || this.rng.chance(0.5));
    const target = add ? others[this.rng.nextInt(others.length)] : voters[this.rng.nextInt(voters.length)];
    if (target === undefined) return;
    this.changeVoter(node.id, add ? "add" : "remove", target);
  }

  /** Asks node `id` (if it leads) to add or remove voter `target`; the core's answer. */
  changeVoter(id: NodeId, change: "add" | "remove", target: NodeId): VoterChangeResult {
    const node = this.nodes.get(id);
    const core = node?.core;
    if (node === undefined || !core) return { error: "NOT_LEADER_OR_FOLLOWER", message: `node ${id} is down` };
    const { result, actions } =
      change === "add"
        ? core.addVoter(simVoter(target), this.now)
        : core.removeVoter(target, `dir-${target}`, this.now);
    if (result.error === null) {
      this.voterChanges++;
      this.voterChangeOffsets.add(`${result.offset}/${core.status().epoch}`);
      this.note(`node ${id} ${change === "add" ? "adds" : "removes"} voter ${target} at ${result.offset}`);
    } else {
      this.note(`node ${id} refused to ${change} voter ${target}: ${result.error}`);
    }
    this.apply(node, actions);
    return result;
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
        const entries = this.checker.committed(
          node.id,
          action.highWatermark,
          (from, to) => core.entries(from, to),
          core.status().voters.map((v) => v.id),
        );
        node.state.push(...entries.map(fingerprint));
        this.maybeSnapshot(node);
      } else if (action.type === "roleChanged") {
        this.note(`node ${node.id} → ${action.role} epoch ${action.epoch} leader ${action.leaderId ?? "-"}`);
        if (action.role === "leader") this.checker.becameLeader(node.id, action.epoch, this.knownLog(node));
      } else {
        if (action.type === "appendLog") {
          this.checker.appended(node.id, action.entries, (o) => core.epochAt(o));
        } else if (action.type === "installSnapshot") {
          // Applied at once (the state machine is not durable); the disk gets it with the next sync.
          const state = decodeState(action.snapshot.data);
          this.checker.installed(node.id, action.snapshot.id.offset, state);
          node.state = state;
          node.snapshotAt = state.length;
          this.snapshotsInstalled++;
          this.note(`node ${node.id} installed snapshot ${action.snapshot.id.offset}@${action.snapshot.id.epoch}`);
        }
        node.queue.push(action);
      }
    }
    this.drain(node);
  }

  /** A node's committed knowledge as fingerprints: its snapshot, then its log. */
  private knownLog(node: SimNode): (offset: number) => string | undefined {
    const core = node.core;
    const snapshot = core?.latestSnapshot();
    const state = snapshot ? decodeState(snapshot.data) : [];
    return (offset) => {
      if (offset < state.length) return state[offset];
      const e = core?.entries(offset, offset + 1)[0];
      return e === undefined ? undefined : fingerprint(e);
    };
  }

  /** Snapshots the state machine every `snapshotEvery` applied entries: durable at once, then the core trims. */
  private maybeSnapshot(node: SimNode): void {
    const core = node.core;
    const every = this.options.snapshotEvery;
    if (core === null || every <= 0 || node.state.length - node.snapshotAt < every) return;
    // An installed snapshot not yet on disk comes first: the driver writes in order.
    if ([...node.pending, ...node.queue].some((a) => a.type === "installSnapshot")) return;
    const offset = node.state.length;
    const epoch = core.epochAt(offset - 1);
    if (epoch === undefined) throw new Error(`node ${node.id} has no epoch for applied offset ${offset - 1}`);
    const snapshot: Snapshot = { id: { offset, epoch }, data: encodeState(node.state, core.voterSetAt(offset - 1)) };
    node.snapshotAt = offset;
    node.disk.snapshot = snapshot;
    this.snapshotsTaken++;
    this.note(`node ${node.id} took snapshot ${offset}@${epoch}`);
    this.apply(node, core.snapshotTaken(snapshot, this.now));
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
        case "installSnapshot":
        case "trimLog":
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
        if (op.endOffset < node.disk.logStart) throw new Error(`driver: node ${node.id} truncates below its log start`);
        node.disk.log.length = Math.min(node.disk.log.length, op.endOffset - node.disk.logStart);
        return;
      case "appendLog":
        for (const e of op.entries) {
          const end = node.disk.logStart + node.disk.log.length;
          if (e.offset !== end) {
            throw new Error(`driver: node ${node.id} appends offset ${e.offset} to a log ending at ${end}`);
          }
          node.disk.log.push(e);
        }
        return;
      case "installSnapshot":
        node.disk.snapshot = op.snapshot;
        node.disk.logStart = op.snapshot.id.offset;
        node.disk.log = [];
        return;
      case "trimLog": {
        // Only below a durable snapshot (Kafka's rule); the snapshot was written before the core asked.
        const held = node.disk.snapshot?.id.offset ?? 0;
        if (op.startOffset > held)
          throw new Error(`driver: node ${node.id} trims to ${op.startOffset} past its snapshot`);
        if (op.startOffset <= node.disk.logStart) return;
        node.disk.log = node.disk.log.slice(op.startOffset - node.disk.logStart);
        node.disk.logStart = op.startOffset;
        return;
      }
    }
  }

  // ---- the network ----

  private connected(a: NodeId, b: NodeId): boolean {
    return this.groups === null || this.groups.get(a) === this.groups.get(b);
  }

  private send(envelope: Envelope): void {
    if (!this.connected(envelope.from, envelope.to)) return;
    // A request to a crashed node it can reach: the connect is refused (nothing listens on the dead node's port).
    const refuses = this.options.refuseConnects ?? true;
    if (refuses && envelope.message.type.endsWith("Request") && this.nodes.get(envelope.to)?.core === null) {
      this.refuseConnection(envelope.from, envelope.to);
      return;
    }
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
      }${m.snapshotId ? `, snapshot ${m.snapshotId.offset}@${m.snapshotId.epoch}` : ""})`;
    case "FetchSnapshotRequest":
      return `FetchSnapshot(e${m.epoch}, ${m.snapshotId.offset}@${m.snapshotId.epoch} from ${m.position})`;
    case "FetchSnapshotResponse":
      return `FetchSnapshotResp(e${m.epoch}, ${m.error}, ${m.position}+${m.data.length}/${m.size})`;
    default:
      return `${m.type}(e${m.epoch})`;
  }
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
