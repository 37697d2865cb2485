import { join } from "node:path";
import type { Logger } from "pino";
import { encodeRecord } from "../controller/records.ts";
import { imageRecords } from "../metadata/image/index.ts";
import { MetadataLoader, type SnapshotRecords } from "../metadata/metadata-loader.ts";
import {
  RaftNode,
  type Envelope,
  type LogEntry,
  type NodeId,
  type OffsetAndEpoch,
  type RaftAction,
  type RaftConfig,
  type RaftStatus,
  type Rng,
  type Role,
  type Snapshot,
  type Voter,
  type VoterChangeError,
  type VoterChangeResult,
} from "../raft/index.ts";
import { MetadataLog } from "./metadata-log.ts";
import { QUORUM_STATE_FILE, QuorumStateStore } from "./quorum-state-store.ts";
import { SnapshotStore, decodeSnapshot, encodeSnapshot, snapshotVoters, type LoadedSnapshot } from "./snapshot-file.ts";

// Runs one raft core against the real clock, files and a transport (ADR 22, docs/design/raft.md). Actions run one
// at a time in order: election state and log writes go to disk, and a message leaves only after everything written
// before it has been fsynced — the contract the simulation checks. Commits are handed to listeners in order.
// Snapshots (KIP-630): the driver feeds the process's MetadataLoader (the one image of the committed state) before
// any other listener, and writes that image as a checkpoint when
// `metadata.log.max.record.bytes.between.snapshots` bytes committed since the last one, or when
// `metadata.log.max.snapshot.interval.ms` passed and something committed; the core then trims the log to it. At
// start it loads the newest whole snapshot and resumes the log at its end; a snapshot fetched from the leader
// replaces the log. Listeners get a snapshot in place of the entries it holds.

/** Carries envelopes to other nodes; answers come back through `QuorumDriver.receive`. */
export interface Transport {
  send(envelope: Envelope): void;
}

export interface CommitListener {
  /**
   * Entries newly committed, in log order, the last one just below `highWatermark`. With `snapshot` (loaded at start
   * or installed from the leader) the state is replaced by it first, and the entries follow its end.
   */
  (entries: readonly LogEntry[], highWatermark: number, snapshot: SnapshotRecords | null): void;
}

/** This node's role in the quorum changed (the driver reports it in order with the other actions). */
export type RoleListener = (role: Role, epoch: number, leaderId: NodeId | null) => void;

/** The voter set in effect changed (KIP-853); also called once at start with the initial set. */
export type VotersListener = (voters: readonly Voter[], kraftVersion: number) => void;

/** How a voter change (AddRaftVoter, RemoveRaftVoter, UpdateRaftVoter) ended: null error when it is done. */
export interface VoterChangeOutcome {
  readonly error: VoterChangeError | null;
  readonly message: string | null;
}

/** A voter change appended by this leader, answered once its VotersRecord commits. */
interface PendingVoterChange {
  readonly offset: number;
  readonly resolve: (outcome: VoterChangeOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

export interface QuorumDriverOptions {
  readonly config: RaftConfig;
  /** `metadata.log.dir`: holds `quorum-state` and `__cluster_metadata-0/`. */
  readonly metadataDir: string;
  readonly transport: Transport;
  readonly rng: Rng;
  readonly logger: Logger;
  /** How often the core's timers are checked. */
  readonly tickMs: number;
  /** Milliseconds, never going back; defaults to a monotonic clock. */
  readonly clock?: () => number;
  /**
   * The process's committed metadata: fed every commit (and snapshot) before the other listeners, so that whoever
   * follows it sees each commit once, and the source of the snapshots written. The committed records must then be
   * metadata records. Left out while `snapshots` is given, the driver keeps one of its own.
   */
  readonly loader?: MetadataLoader;
  /**
   * When to snapshot the committed state, which must then be metadata records (the snapshot is written from the
   * loader's image). Left out, the driver writes no snapshots (it still loads and serves one found on disk or fetched).
   */
  readonly snapshots?: {
    /** `metadata.log.max.record.bytes.between.snapshots` */
    readonly maxBytesBetween: number;
    /** `metadata.log.max.snapshot.interval.ms`; 0 turns the time trigger off, as in Kafka. */
    readonly intervalMs: number;
  };
  /**
   * `metadata.max.retention.bytes` and `.ms` (Kafka's KafkaMetadataLog.maybeClean): after each snapshot, while the
   * log and the snapshots together exceed `maxBytes`, and then while the oldest snapshot is older than `ms`, the oldest
   * snapshot is deleted and the log trimmed to the next one; the newest snapshot always stays. -1 turns a rule off.
   * Left out, the log is trimmed to each new snapshot at once and older snapshots are deleted.
   */
  readonly retention?: { readonly maxBytes: number; readonly ms: number };
  /** `metadata.log.segment.bytes` and `metadata.log.segment.ms` for the log's segments. */
  readonly segmentBytes?: number;
  readonly segmentMs?: number;
}

const DONE: VoterChangeOutcome = { error: null, message: null };

function recordsOf(loaded: LoadedSnapshot): SnapshotRecords {
  return { id: loaded.id, records: loaded.records };
}

export class QuorumDriver {
  private readonly queue: RaftAction[] = [];
  private running: Promise<void> | null = null;
  /**
   * Set synchronously as a drain starts and cleared as it finds the queue empty. A listener the drain calls (a commit
   * or role change) may propose before `drain()` has even returned; with this set, its actions join the running
   * drain instead of starting a second one that would run the queue concurrently (two appends at once, a message
   * leaving before an append ahead of it is durable).
   */
  private draining = false;
  /** Log writes not yet fsynced. */
  private dirty = false;
  private applied = 0;
  private readonly listeners: CommitListener[] = [];
  private readonly roleListeners: RoleListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failure: Error | null = null;
  /** The committed state as an image (given, or the driver's own when snapshots are configured). */
  private readonly loader: MetadataLoader | null;
  /**
   * The snapshot loaded at start, until listeners got it: it comes with the first commit, so a node's first image
   * still waits until it learns what is committed now (the snapshot alone may be old).
   */
  private startSnapshot: SnapshotRecords | null;
  private bytesSinceSnapshot = 0;
  private lastSnapshotAt: number;
  private readonly failureListeners: ((err: Error) => void)[] = [];
  private readonly votersListeners: VotersListener[] = [];
  private pendingVoterChange: PendingVoterChange | null = null;
  /** Peers whose connection closed, and when (core clock), until a message from them arrives. */
  private readonly lostPeers = new Map<NodeId, number>();
  /** Peers lost (above) whose host since refused a new connection, and when, until a message from them arrives. */
  private readonly refusedPeers = new Map<NodeId, number>();

  private constructor(
    private readonly core: RaftNode,
    private readonly store: QuorumStateStore,
    private readonly log: MetadataLog,
    private readonly snapshots: SnapshotStore,
    loaded: LoadedSnapshot | null,
    private readonly options: QuorumDriverOptions,
    private readonly clock: () => number,
  ) {
    this.startSnapshot = loaded === null ? null : recordsOf(loaded);
    this.applied = loaded?.id.offset ?? 0;
    this.loader = options.loader ?? (options.snapshots === undefined ? null : new MetadataLoader());
    this.lastSnapshotAt = clock();
  }

  static async start(options: QuorumDriverOptions): Promise<QuorumDriver> {
    const store = new QuorumStateStore(join(options.metadataDir, QUORUM_STATE_FILE));
    const election = await store.read();
    const log = await MetadataLog.open({
      metadataDir: options.metadataDir,
      logger: options.logger,
      ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}),
      ...(options.segmentMs !== undefined ? { segmentMs: options.segmentMs } : {}),
    });
    const snapshots = new SnapshotStore(log.dir, options.logger);
    const loaded = await snapshots.latest();
    const entries = await QuorumDriver.logAfter(log, loaded, options.logger);
    const snapshot: Snapshot | null = loaded === null ? null : { id: loaded.id, data: loaded.bytes };
    const core = new RaftNode(
      options.config,
      options.rng,
      { election, snapshot, log: entries },
      { voters: (data) => snapshotVoters(data) },
    );
    const origin = performance.now();
    const clock = options.clock ?? (() => Math.floor(performance.now() - origin));
    const driver = new QuorumDriver(core, store, log, snapshots, loaded, options, clock);
    driver.enqueue(core.start(clock()));
    driver.timer = setInterval(() => driver.enqueue(core.tick(clock())), options.tickMs);
    options.logger.info(
      {
        nodeId: options.config.nodeId,
        epoch: election?.epoch ?? 0,
        snapshotEndOffset: loaded?.id.offset ?? null,
        logEndOffset: log.endOffset,
      },
      "Started the metadata quorum",
    );
    return driver;
  }

  /**
   * The log entries that continue the snapshot (Kafka's truncateToLatestSnapshot at start): those from its end on,
   * if the log reaches it and agrees with it at its last entry; otherwise the log is emptied to start at its end (a
   * snapshot installed from the leader replaced it, and the node stopped before the log was reset).
   */
  private static async logAfter(log: MetadataLog, loaded: LoadedSnapshot | null, logger: Logger): Promise<LogEntry[]> {
    if (loaded === null) {
      if (log.startOffset > 0)
        throw new Error(`metadata log ${log.dir} starts at ${log.startOffset} but has no snapshot`);
      return log.readAll();
    }
    const { id } = loaded;
    // The log is trimmed only below a snapshot that was durable first, so this means the newest snapshot was damaged
    // and an older one loaded: the committed entries between them are nowhere on this node.
    if (log.startOffset > id.offset) {
      throw new Error(
        `metadata log ${log.dir} starts at ${log.startOffset}, after its newest readable snapshot ${id.offset}: ` +
          "the snapshot that covered the gap is damaged",
      );
    }
    if (log.startOffset < id.offset && log.endOffset >= id.offset) {
      const before = await log.readAll(id.offset - 1);
      if (before[0]?.offset === id.offset - 1 && before[0].epoch === id.epoch) return before.slice(1);
    } else if (log.startOffset === id.offset) {
      return log.readAll();
    }
    logger.info({ dir: log.dir, snapshot: id }, "Metadata log does not continue the snapshot; starting it there");
    await log.resetTo(id.offset);
    return [];
  }

  status(): RaftStatus {
    return this.core.status();
  }

  /** Wall-clock milliseconds of a time on the core's clock (DescribeQuorum reports fetch times as epoch ms). */
  wallClockOf(coreTime: number): number {
    return Date.now() - (this.clock() - coreTime);
  }

  /** The core's clock now. */
  now(): number {
    return this.clock();
  }

  /** The first I/O failure, after which the driver stopped (the node must not go on with a half-written state). */
  get error(): Error | null {
    return this.failure;
  }

  onCommit(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  onRoleChange(listener: RoleListener): void {
    this.roleListeners.push(listener);
  }

  /** Called with the voter set in effect now and whenever it changes. */
  onVotersChange(listener: VotersListener): void {
    this.votersListeners.push(listener);
    const status = this.core.status();
    listener(status.voters, status.kraftVersion);
  }

  /**
   * KIP-853 voter changes, as the leader: resolves once the change's VotersRecord commits (add and remove), at once for
   * an update (as Kafka answers UpdateRaftVoter), or with the refusal; REQUEST_TIMED_OUT after `timeoutMs`, and
   * NOT_LEADER_OR_FOLLOWER if this node stops leading first.
   */
  addVoter(voter: Voter, timeoutMs: number): Promise<VoterChangeOutcome> {
    return this.changeVoters(this.core.addVoter(voter, this.clock()), timeoutMs);
  }

  removeVoter(id: NodeId, directoryId: string | null, timeoutMs: number): Promise<VoterChangeOutcome> {
    return this.changeVoters(this.core.removeVoter(id, directoryId, this.clock()), timeoutMs);
  }

  updateVoter(voter: Voter): Promise<VoterChangeOutcome> {
    const { result, actions } = this.core.updateVoter(voter, this.clock());
    this.enqueue(actions);
    return Promise.resolve(result.error === null ? DONE : { error: result.error, message: result.message });
  }

  private changeVoters(
    change: { result: VoterChangeResult; actions: RaftAction[] },
    timeoutMs: number,
  ): Promise<VoterChangeOutcome> {
    const { result, actions } = change;
    if (this.closed) return Promise.resolve({ error: "NOT_LEADER_OR_FOLLOWER", message: "the quorum is closing" });
    if (result.error !== null) return Promise.resolve({ error: result.error, message: result.message });
    const outcome = new Promise<VoterChangeOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.settleVoterChange({ error: "REQUEST_TIMED_OUT", message: "the voter change did not commit in time" });
      }, timeoutMs);
      this.pendingVoterChange = { offset: result.offset, resolve, timer };
    });
    this.enqueue(actions);
    return outcome;
  }

  private settleVoterChange(outcome: VoterChangeOutcome): void {
    const pending = this.pendingVoterChange;
    if (pending === null) return;
    this.pendingVoterChange = null;
    clearTimeout(pending.timer);
    pending.resolve(outcome);
  }

  /** Called once if the driver stops on a failure (see `error`). */
  onFailure(listener: (err: Error) => void): void {
    this.failureListeners.push(listener);
  }

  receive(envelope: Envelope): void {
    if (this.closed) return;
    this.lostPeers.delete(envelope.from);
    this.refusedPeers.delete(envelope.from);
    this.enqueue(this.core.receive(envelope, this.clock()));
  }

  /**
   * The transport saw peer `peer` close or reset a connection this node opened to it: a follower of that peer fetches
   * again on a new connection and runs for election after a short grace if that fails (ADR 29). Remembered, with the
   * time, until a message from the peer arrives.
   */
  connectionLost(peer: NodeId): void {
    if (this.closed) return;
    const now = this.clock();
    if (!this.lostPeers.has(peer)) this.lostPeers.set(peer, now);
    this.enqueue(this.core.leaderConnectionLost(peer, now));
  }

  /**
   * The transport's connect to `peer` was refused (ECONNREFUSED): nothing listens at its address. A follower of that
   * peer runs for election almost at once (ADR 32). Remembered, with the time, if the peer's connection was seen
   * closing before, until a message from the peer arrives: a restarted peer is heard from before it matters.
   */
  connectionRefused(peer: NodeId): void {
    if (this.closed) return;
    const now = this.clock();
    if (this.lostPeers.has(peer) && !this.refusedPeers.has(peer)) this.refusedPeers.set(peer, now);
    this.enqueue(this.core.leaderConnectionRefused(peer, now));
  }

  /** When the connection to `peer` was seen closing, on the core's clock, if nothing arrived from it since; else null. */
  connectionLostAt(peer: NodeId): number | null {
    return this.lostPeers.get(peer) ?? null;
  }

  /**
   * When a connect to `peer` was refused after its connection was seen closing, if nothing arrived from it since;
   * else null: evidence that the process behind that connection is gone.
   */
  connectionRefusedAt(peer: NodeId): number | null {
    return this.refusedPeers.get(peer) ?? null;
  }

  /** Appends records as one batch if this node leads; the offsets, or null. Committing is reported to listeners. */
  propose(records: readonly Uint8Array[]): number[] | null {
    if (this.closed) return null;
    const { offsets, actions } = this.core.propose(records, this.clock());
    this.enqueue(actions);
    return offsets;
  }

  /** Stops timers and waits for the actions already taken; `flush` false simulates a crash (no final fsync). */
  async close(flush = true): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.settleVoterChange({ error: "NOT_LEADER_OR_FOLLOWER", message: "the quorum is closing" });
    await this.running;
    if (flush && this.failure === null) await this.log.flush();
    await this.log.close();
  }

  private enqueue(actions: readonly RaftAction[]): void {
    if (actions.length === 0 || this.failure !== null) return;
    this.queue.push(...actions);
    if (!this.draining) this.running = this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let action = this.queue.shift(); action !== undefined; action = this.queue.shift()) {
        await this.execute(action);
      }
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.queue.length = 0;
      clearInterval(this.timer);
      this.options.logger.error({ err: this.failure }, "Metadata quorum stopped after a storage failure");
      for (const listener of this.failureListeners) listener(this.failure);
    } finally {
      this.draining = false;
    }
  }

  private async execute(action: RaftAction): Promise<void> {
    switch (action.type) {
      case "persistElection":
        await this.store.write(action.state, { version: 0, voters: this.options.config.voters });
        return;
      case "appendLog":
        await this.log.append(action.entries);
        this.dirty = true;
        return;
      case "truncateLog":
        await this.log.truncate(action.endOffset);
        this.dirty = true;
        return;
      case "flushLog":
        await this.syncLog();
        // Behind whatever is queued already: the core produced those first.
        this.queue.push(...this.core.flushed(action.seq, this.clock()));
        return;
      case "send":
        // Everything written before this message must be durable before it leaves.
        await this.syncLog();
        if (!this.closed) this.options.transport.send(action.envelope);
        return;
      case "commit": {
        const entries = this.core.entries(this.applied, action.highWatermark);
        this.applied = action.highWatermark;
        if (this.pendingVoterChange !== null && action.highWatermark > this.pendingVoterChange.offset) {
          this.settleVoterChange(DONE);
        }
        const snapshot = this.startSnapshot;
        this.startSnapshot = null;
        this.loader?.onCommit(entries, action.highWatermark, snapshot);
        for (const listener of this.listeners) listener(entries, action.highWatermark, snapshot);
        for (const e of entries) if (e.record.kind === "data") this.bytesSinceSnapshot += e.record.data.length;
        await this.maybeSnapshot();
        return;
      }
      case "installSnapshot": {
        const { id, data } = action.snapshot;
        const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        // A snapshot that does not read back whole is refused before anything on disk changes.
        const records = decodeSnapshot(bytes);
        await this.snapshots.write(id, bytes);
        await this.log.resetTo(id.offset);
        await this.snapshots.deleteBefore(id);
        const installed = { id, records };
        this.startSnapshot = null;
        this.applied = id.offset;
        this.bytesSinceSnapshot = 0;
        this.lastSnapshotAt = this.clock();
        this.options.logger.info({ snapshot: id }, "Installed a metadata snapshot fetched from the leader");
        this.loader?.onCommit([], id.offset, installed);
        for (const listener of this.listeners) listener([], id.offset, installed);
        return;
      }
      case "trimLog":
        // The core's log in memory starts at the new snapshot; on disk, retention decides (or, without it, the same).
        if (this.options.retention !== undefined) await this.clean(this.options.retention);
        else await this.trimTo(action.startOffset);
        return;
      case "roleChanged":
        this.options.logger.info(
          { nodeId: this.options.config.nodeId, role: action.role, epoch: action.epoch, leaderId: action.leaderId },
          "Metadata quorum role changed",
        );
        if (action.role !== "leader") {
          this.settleVoterChange({
            error: "NOT_LEADER_OR_FOLLOWER",
            message: "the leader changed before the change committed",
          });
        }
        for (const listener of this.roleListeners) listener(action.role, action.epoch, action.leaderId);
        return;
      case "votersChanged":
        this.options.logger.info(
          { voters: action.voters.map((v) => v.id), kraftVersion: action.kraftVersion },
          "Metadata quorum voters",
        );
        for (const listener of this.votersListeners) listener(action.voters, action.kraftVersion);
        return;
    }
  }

  /** Writes a snapshot of the committed image when enough bytes or time passed since the last one. */
  private async maybeSnapshot(): Promise<void> {
    const policy = this.options.snapshots;
    if (this.loader === null || policy === undefined || this.bytesSinceSnapshot === 0) return;
    // The loader is fed before anything else and synchronously, so this holds unless a listener failed mid-commit.
    if (this.loader.highWatermark !== this.applied) return;
    const { maxBytesBetween, intervalMs } = policy;
    const now = this.clock();
    const due =
      this.bytesSinceSnapshot >= maxBytesBetween || (intervalMs > 0 && now - this.lastSnapshotAt >= intervalMs);
    if (!due) return;
    const offset = this.applied;
    const epoch = this.core.epochAt(offset - 1);
    if (epoch === undefined) return;
    const records = imageRecords(this.loader.image).map(encodeRecord);
    const id = { offset, epoch };
    // Log entries carry no time here, so the snapshot's last record is taken to be as old as its commit, just now.
    const wallClock = this.wallClockOf(now);
    const voters = this.core.voterSetAt(offset - 1);
    const bytes = encodeSnapshot(id, records, {
      timestampMs: wallClock,
      lastContainedLogTimestamp: wallClock,
      ...(voters.kraftVersion > 0 || voters.voters !== null ? { voters } : {}),
    });
    try {
      await this.snapshots.write(id, bytes);
    } catch (err) {
      // A snapshot is an optimisation: without it the log is simply not trimmed yet. Tried again after the next commit.
      this.options.logger.warn({ err, snapshot: id }, "Could not write a metadata snapshot");
      return;
    }
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotAt = now;
    this.options.logger.info({ snapshot: id, bytes: bytes.length }, "Wrote a metadata snapshot");
    // The core trims its log and asks for the segments below to go (a trimLog action, behind what is queued).
    this.queue.push(...this.core.snapshotTaken({ id, data: bytes }, this.clock()));
    if (this.options.retention === undefined) await this.deleteSnapshotsBefore(id);
  }

  /** Deleting old segments can wait for the next snapshot if it fails now; the log itself is intact. */
  private async trimTo(startOffset: number): Promise<void> {
    await this.log.trimTo(startOffset).catch((err: unknown) => {
      this.options.logger.warn({ err, startOffset }, "Could not delete metadata log segments");
    });
  }

  private async deleteSnapshotsBefore(id: OffsetAndEpoch): Promise<void> {
    await this.snapshots.deleteBefore(id).catch((err: unknown) => {
      this.options.logger.warn({ err }, "Could not delete older metadata snapshots");
    });
  }

  /**
   * Kafka's metadata retention: the oldest snapshots go, each with the log below the next one, first while the log
   * and the snapshots together exceed `maxBytes`, then while the oldest is older than `ms` (by its header's
   * lastContainedLogTimestamp); the newest snapshot always stays.
   */
  private async clean(retention: { readonly maxBytes: number; readonly ms: number }): Promise<void> {
    const ids = await this.snapshots.list();
    if (ids.length < 2) return;
    const infos = await Promise.all(ids.map((id) => this.snapshots.info(id)));
    let snapshotBytes = infos.reduce((sum, info) => sum + (info?.sizeBytes ?? 0), 0);
    const now = Date.now();
    let keepFrom = 0;
    const oldestGoes = (): boolean => {
      const info = infos[keepFrom];
      // A snapshot that cannot be read stops the cleaning, as in Kafka (it cannot be judged).
      if (info === null || info === undefined) return false;
      if (retention.maxBytes >= 0 && this.log.sizeBytes() + snapshotBytes > retention.maxBytes) {
        snapshotBytes -= info.sizeBytes;
        return true;
      }
      return retention.ms >= 0 && now - info.timestampMs > retention.ms;
    };
    while (keepFrom < ids.length - 1 && oldestGoes()) {
      keepFrom++;
      const next = ids[keepFrom];
      if (next !== undefined) await this.trimTo(next.offset);
    }
    const oldestKept = ids[keepFrom];
    if (keepFrom > 0 && oldestKept !== undefined) {
      this.options.logger.info({ deleted: keepFrom, oldestKept }, "Deleted metadata snapshots past their retention");
      await this.deleteSnapshotsBefore(oldestKept);
    }
  }

  private async syncLog(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await this.log.flush();
  }
}
