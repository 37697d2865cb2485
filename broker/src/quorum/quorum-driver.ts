import { join } from "node:path";
import type { Logger } from "pino";
import {
  RaftNode,
  type Envelope,
  type LogEntry,
  type NodeId,
  type RaftAction,
  type RaftConfig,
  type RaftStatus,
  type Rng,
  type Role,
} from "../raft/index.ts";
import { MetadataLog } from "./metadata-log.ts";
import { QUORUM_STATE_FILE, QuorumStateStore } from "./quorum-state-store.ts";

// Runs one raft core against the real clock, files and a transport (ADR 22, docs/design/raft.md). Actions run one
// at a time in order: election state and log writes go to disk, and a message leaves only after everything written
// before it has been fsynced — the contract the simulation checks. Commits are handed to listeners in order.

/** Carries envelopes to other nodes; answers come back through `QuorumDriver.receive`. */
export interface Transport {
  send(envelope: Envelope): void;
}

export interface CommitListener {
  /** Entries newly committed, in log order, the last one just below `highWatermark`. */
  (entries: readonly LogEntry[], highWatermark: number): void;
}

/** This node's role in the quorum changed (the driver reports it in order with the other actions). */
export type RoleListener = (role: Role, epoch: number, leaderId: NodeId | null) => void;

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
}

export class QuorumDriver {
  private readonly queue: RaftAction[] = [];
  private running: Promise<void> | null = null;
  /** Log writes not yet fsynced. */
  private dirty = false;
  private applied = 0;
  private readonly listeners: CommitListener[] = [];
  private readonly roleListeners: RoleListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failure: Error | null = null;

  private constructor(
    private readonly core: RaftNode,
    private readonly store: QuorumStateStore,
    private readonly log: MetadataLog,
    private readonly options: QuorumDriverOptions,
    private readonly clock: () => number,
  ) {}

  static async start(options: QuorumDriverOptions): Promise<QuorumDriver> {
    const store = new QuorumStateStore(join(options.metadataDir, QUORUM_STATE_FILE));
    const election = await store.read();
    const log = await MetadataLog.open({ metadataDir: options.metadataDir, logger: options.logger });
    const entries = await log.readAll();
    const core = new RaftNode(options.config, options.rng, { election, log: entries });
    const origin = performance.now();
    const clock = options.clock ?? (() => Math.floor(performance.now() - origin));
    const driver = new QuorumDriver(core, store, log, options, clock);
    driver.enqueue(core.start(clock()));
    driver.timer = setInterval(() => driver.enqueue(core.tick(clock())), options.tickMs);
    options.logger.info(
      { nodeId: options.config.nodeId, epoch: election?.epoch ?? 0, logEndOffset: entries.length },
      "Started the metadata quorum",
    );
    return driver;
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

  /** What has been committed and handed to listeners so far, for a listener that joins after the start. */
  committed(): { entries: readonly LogEntry[]; highWatermark: number } {
    return { entries: this.core.entries(0, this.applied), highWatermark: this.applied };
  }

  onRoleChange(listener: RoleListener): void {
    this.roleListeners.push(listener);
  }

  receive(envelope: Envelope): void {
    if (this.closed) return;
    this.enqueue(this.core.receive(envelope, this.clock()));
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
    await this.running;
    if (flush && this.failure === null) await this.log.flush();
    await this.log.close();
  }

  private enqueue(actions: readonly RaftAction[]): void {
    if (actions.length === 0 || this.failure !== null) return;
    this.queue.push(...actions);
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  private async drain(): Promise<void> {
    try {
      for (let action = this.queue.shift(); action !== undefined; action = this.queue.shift()) {
        await this.execute(action);
      }
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.queue.length = 0;
      clearInterval(this.timer);
      this.options.logger.error({ err: this.failure }, "Metadata quorum stopped after a storage failure");
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
        for (const listener of this.listeners) listener(entries, action.highWatermark);
        return;
      }
      case "roleChanged":
        this.options.logger.info(
          { nodeId: this.options.config.nodeId, role: action.role, epoch: action.epoch, leaderId: action.leaderId },
          "Metadata quorum role changed",
        );
        for (const listener of this.roleListeners) listener(action.role, action.epoch, action.leaderId);
        return;
    }
  }

  private async syncLog(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await this.log.flush();
  }
}
