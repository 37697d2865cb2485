import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import type { BrokerConfig } from "../config/broker-config.ts";
import {
  encodeRecord,
  LATEST_METADATA_VERSION,
  NotActiveError,
  NotControllerError,
  QuorumController,
  type ControllerConfig,
  type ControllerResult,
} from "../controller/index.ts";
import type { AnyHandler } from "../handlers/handler.ts";
import { createControllerHandlers } from "../handlers/controller/registry.ts";
import type { ControllerCommands, QuorumPort } from "../handlers/controller/services.ts";
import type { BrokerEndpoint } from "../metadata/image/metadata-image.ts";
import type { MetadataLoader } from "../metadata/metadata-loader.ts";
import { staticBrokerDefaults } from "../metadata/topic-config.ts";
import type { MetadataRecordAndVersion } from "../protocol/index.ts";
import type { Role } from "../raft/index.ts";
import { nothingListens } from "./listener-probe.ts";
import type { QuorumDriver } from "./quorum-driver.ts";

// Binds the pure controller (controller/) to the metadata quorum (ADR 22): while this node leads the quorum and has
// applied everything committed before its epoch, it is the active controller. A command is decided on the
// controller's view, its records proposed to the raft leader as one batch, and its answer given once that batch (or,
// for a command that wrote nothing, everything the decision saw) has committed. Losing leadership first rejects every
// waiting command with NotControllerError (the handlers answer NOT_CONTROLLER, and clients retry on the new active
// controller). Commands are decided and proposed synchronously, one at a time, so they are serialized by JS itself.
// A timer fences brokers whose sessions expired; two more run the periodic preferred-leader elections
// (leader.imbalance.check.interval.seconds) and unclean elections (unclean.leader.election.interval.ms). The
// committed image is the process's MetadataLoader's, the one the quorum driver feeds (ADR 22: one committed image
// per process); the controller keeps only its uncommitted view on top.

/** How often broker sessions are checked for expiry. */
const SESSION_CHECK_MS = 250;
/** Longest delay a Node timer takes (a longer one would fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Pause before a periodic pass that stopped at its election limit goes on (Kafka waits 10 ms too). */
const NEXT_PASS_MS = 10;
/**
 * How long a probe of a broker's listener waits for an answer (ADR 32). A refusal comes in about a round trip; no
 * answer says nothing and leaves the connection-loss grace.
 */
const PROBE_TIMEOUT_MS = 1000;
/**
 * When the probes of a lost broker's listeners run, from the loss (ADR 32). kill -9 closes the process's descriptors
 * one by one, and a broker opens its client listeners after its controller connection, so that connection's close can
 * arrive while the listener is still open: a probe at that moment is accepted. Later probes, still well inside the
 * connection-loss grace, find it refused.
 */
const PROBE_AT_MS = [0, 200, 600] as const;

interface Waiting {
  readonly offset: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export interface ControllerRuntimeOptions {
  readonly driver: QuorumDriver;
  /** The committed image: the loader the driver feeds. */
  readonly loader: MetadataLoader;
  readonly controller: QuorumController;
  readonly logger: Logger;
  /** Written after metadata.version on the first activation over an empty log (a migrated single-node data dir). */
  readonly bootstrapRecords?: readonly MetadataRecordAndVersion[];
  /** How often the active controller runs its preferred-leader and unclean elections; never when absent. */
  readonly electionIntervals?: { readonly balanceMs: number; readonly uncleanMs: number };
  /**
   * Whether nothing listens on a broker's endpoints at the address its lost heartbeat connection came from
   * (listener-probe.ts, ADR 32); absent: lost connections get the grace only.
   */
  readonly nothingListens?: (endpoints: readonly BrokerEndpoint[], peerHost: string) => Promise<boolean>;
}

export class ControllerRuntime implements ControllerCommands {
  private readonly loader: MetadataLoader;
  private leaderEpoch: number | null = null;
  /** The epoch in which activation failed, so it is not retried on every commit. */
  private failedEpoch: number | null = null;
  private waiting: Waiting[] = [];
  /** The last other node this node knew as quorum leader: the leader before this one, once this one leads. */
  private previousLeader: number | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  /** A one-off session check at the next expiry, when it falls between two periodic checks. */
  private expiryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ControllerRuntimeOptions) {
    const { driver } = options;
    this.loader = options.loader;
    // Started after the quorum: the loader holds what committed already, and reports each commit from now on.
    this.loader.subscribe(() => {
      this.release();
      this.maybeActivate();
    });
    driver.onRoleChange((role, epoch, leaderId) => this.roleChanged(role, epoch, leaderId));
    const status = driver.status();
    if (status.role === "leader") this.leaderEpoch = status.epoch;
    this.timers.push(setInterval(() => this.expireSessions(), SESSION_CHECK_MS));
    const intervals = options.electionIntervals;
    if (intervals) {
      const { controller } = options;
      const every = (ms: number, pass: () => ControllerResult<boolean> | null) =>
        this.timers.push(setInterval(() => this.runPasses(pass), Math.min(ms, MAX_TIMER_MS)));
      every(intervals.balanceMs, () => controller.balancePartitionLeaders());
      every(intervals.uncleanMs, () => controller.electUncleanLeaders());
    }
    for (const t of this.timers) t.unref();
  }

  get isActive(): boolean {
    return this.options.controller.isActive;
  }

  finalizedFeatures(): { epoch: bigint; levels: ReadonlyMap<string, number> } {
    const image = this.loader.image;
    return { epoch: BigInt(image.provenance.offset), levels: image.features };
  }

  /** The committed image this runtime has applied. */
  get committedImage() {
    return this.loader.image;
  }

  run<T>(decide: (controller: QuorumController) => ControllerResult<T>): Promise<T> {
    const { controller } = this.options;
    if (this.closed || !controller.isActive) return Promise.reject(new NotControllerError());
    this.skipQuorumRecords();
    let result: ControllerResult<T>;
    try {
      result = decide(controller);
    } catch (err) {
      if (err instanceof NotActiveError) return Promise.reject(new NotControllerError());
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (!this.propose(result)) return Promise.reject(new NotControllerError());
    return this.after(result.waitForOffset).then(() => result.response);
  }

  async heartbeatConnectionLost(connectionId: string, peerHost: string): Promise<void> {
    const shortened = await this.run((c) => c.heartbeatConnectionLost(connectionId));
    const { controller, nothingListens } = this.options;
    if (nothingListens === undefined) return;
    const lostAt = Date.now();
    await Promise.all(
      shortened.map(async (id) => {
        const reg = controller.view?.brokers.get(id);
        if (reg === undefined) return;
        for (const at of PROBE_AT_MS) {
          const wait = lostAt + at - Date.now();
          if (wait > 0) await delay(wait);
          // Fenced, re-registered or heard from meanwhile: nothing left to prove.
          const now = controller.view?.brokers.get(id);
          if (this.closed || !controller.isActive || now?.epoch !== reg.epoch || now.fenced) return;
          if (!(await nothingListens(reg.endpoints, peerHost))) continue;
          if (this.closed || !controller.isActive) return;
          if (controller.brokerRefusesConnects(id, reg.epoch)) this.expireSessions();
          return;
        }
      }),
    );
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.expiryTimer);
    this.resign("the controller is closing");
  }

  /**
   * Only this controller proposes while its node leads, so the log end runs ahead of its view only by records the
   * quorum appended itself (KIP-853 voter changes); its next records go after them.
   */
  private skipQuorumRecords(): void {
    const status = this.options.driver.status();
    if (status.role === "leader" && status.epoch === this.leaderEpoch) {
      this.options.controller.skipTo(status.logEndOffset);
    }
  }

  /** Proposes a result's records; false (and the view dropped) when they did not land where the view put them. */
  private propose(result: ControllerResult<unknown>): boolean {
    if (result.records.length === 0) return true;
    const offsets = this.options.driver.propose(result.records.map(encodeRecord));
    if (offsets === null || offsets[0] !== result.baseOffset) {
      this.options.logger.warn(
        { expected: result.baseOffset, got: offsets?.[0] ?? null },
        "A controller proposal was not appended where expected; giving up the active role",
      );
      this.resign("the proposal was not appended");
      return false;
    }
    return true;
  }

  private get highWatermark(): number {
    return this.loader.highWatermark;
  }

  /** Resolves once the log up to `offset` has committed. */
  private after(offset: number): Promise<void> {
    if (offset < this.highWatermark) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiting.push({ offset, resolve, reject }));
  }

  private release(): void {
    if (this.waiting.length === 0) return;
    const still: Waiting[] = [];
    for (const w of this.waiting) {
      if (w.offset < this.highWatermark) w.resolve();
      else still.push(w);
    }
    this.waiting = still;
  }

  private roleChanged(role: Role, epoch: number, leaderId: number | null): void {
    if (leaderId !== null && leaderId !== this.options.driver.status().nodeId) this.previousLeader = leaderId;
    if (role === "leader") {
      this.leaderEpoch = epoch;
      this.maybeActivate();
      return;
    }
    this.leaderEpoch = null;
    this.resign(`this node is now ${role} in epoch ${epoch}`);
  }

  /** Drops the view and rejects everything waiting. */
  private resign(reason: string): void {
    const { controller } = this.options;
    if (controller.isActive) {
      this.options.logger.info({ reason }, "Leaving the active controller role");
      controller.deactivate();
    }
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.reject(new NotControllerError());
  }

  /**
   * Activates once this node leads and has applied everything before its epoch's leader-change record (Kafka's
   * controller also claims leadership only after catching up), so the view starts from the whole committed log.
   */
  private maybeActivate(): void {
    const { controller, driver } = this.options;
    if (this.closed || controller.isActive || this.leaderEpoch === null) return;
    const status = driver.status();
    if (status.role !== "leader" || status.epoch !== this.leaderEpoch) return;
    if (this.highWatermark < status.logEndOffset) return;
    if (this.failedEpoch === status.epoch) return;
    let result: ControllerResult<null>;
    try {
      result = controller.activate(this.loader.image, status.logEndOffset, status.epoch, this.options.bootstrapRecords);
    } catch (err) {
      // Bootstrap records that contradict each other: this node cannot serve as controller in this epoch. Said once;
      // the quorum keeps running (and another node, or a later epoch, may try again).
      this.failedEpoch = status.epoch;
      controller.deactivate();
      this.options.logger.error({ err, epoch: status.epoch }, "Could not become the active controller");
      return;
    }
    if (result.records.length > 0) {
      this.options.logger.info({ records: result.records.length }, "Writing the bootstrap metadata records");
    }
    if (!this.propose(result)) return;
    // ADR 29: a previous leader whose connection this node saw close (killed, as a rule) has its broker fenced after
    // the connection-loss grace rather than a whole fresh session, unless that broker heartbeats first; at once if a
    // connect to it was refused since (ADR 32).
    const previous = this.previousLeader;
    const lostAt = previous === null ? null : driver.connectionLostAt(previous);
    if (previous !== null && lostAt !== null) {
      controller.previousLeaderLost(previous, lostAt, driver.connectionRefusedAt(previous));
      this.expireSessions();
    }
  }

  /** Runs a periodic election pass while active; a pass that stopped at its limit goes on shortly after. */
  private runPasses(pass: () => ControllerResult<boolean> | null): void {
    if (this.closed || !this.options.controller.isActive) return;
    const result = pass();
    if (result === null || !this.propose(result) || !result.response) return;
    setTimeout(() => this.runPasses(pass), NEXT_PASS_MS).unref();
  }

  private expireSessions(): void {
    const { controller } = this.options;
    if (this.closed || !controller.isActive) return;
    const due = controller.nextSessionExpiry();
    if (due === null) return;
    const wait = due - this.options.driver.now();
    if (wait > 0) {
      // Due before the next check: a timer for that moment, so a fence after a connection-loss grace (ADR 26, 27) is
      // not up to one check interval late.
      if (wait < SESSION_CHECK_MS && this.expiryTimer === undefined) {
        this.expiryTimer = setTimeout(() => {
          this.expiryTimer = undefined;
          this.expireSessions();
        }, wait);
        this.expiryTimer.unref();
      }
      return;
    }
    this.skipQuorumRecords();
    for (let fenced = controller.fenceStaleBroker(); fenced !== null; fenced = controller.fenceStaleBroker()) {
      if (!this.propose(fenced)) return;
    }
  }
}

/** The controller's settings from the node's config. */
function controllerConfig(config: BrokerConfig, clusterId: string): ControllerConfig {
  const rf = config.entries["offsets.topic.replication.factor"];
  return {
    nodeId: config.nodeId,
    clusterId,
    brokerSessionTimeoutMs: config.brokerSessionTimeoutMs,
    connectionLossGraceMs: config.brokerConnectionLossGraceMs,
    colocatedBroker: config.processRoles.includes("broker"),
    defaultPartitions: config.numPartitions,
    defaultReplicationFactor: config.defaultReplicationFactor,
    offsetsTopicNumPartitions: config.offsetsTopicNumPartitions,
    // Only a value the operator set is enforced strictly; Kafka's default (3) becomes min(3, usable brokers).
    offsetsTopicReplicationFactor: rf.source === "default" ? null : config.offsetsTopicReplicationFactor,
    staticBrokerConfigs: staticBrokerDefaults(config),
    bootstrapMetadataVersion: LATEST_METADATA_VERSION,
    autoLeaderRebalanceEnable: config.leaderElection.autoLeaderRebalanceEnable,
    leaderImbalancePerBrokerPercentage: config.leaderElection.leaderImbalancePerBrokerPercentage,
  };
}

export interface StartControllerOptions {
  readonly driver: QuorumDriver;
  /** The process's committed metadata, fed by `driver` (its `loader` option). */
  readonly loader: MetadataLoader;
  /** The quorum as the controller listener's handlers reach it (Vote, Fetch, DescribeQuorum, ...). */
  readonly quorum: QuorumPort;
  readonly config: BrokerConfig;
  readonly logger: Logger;
  /** Milliseconds, never going back; the driver's clock by default. */
  readonly clock?: () => number;
  /** Written after metadata.version on the first activation over an empty log (a migrated single-node data dir). */
  readonly bootstrapRecords?: readonly MetadataRecordAndVersion[];
}

export interface RunningController {
  /** Every handler of the controller listener: the quorum's and the controller's commands. */
  readonly handlers: AnyHandler[];
  readonly runtime: ControllerRuntime;
  close(): void;
}

/** The controller layer of a node with the controller role, on the node's quorum driver. */
export function startController(options: StartControllerOptions): RunningController {
  const { driver, loader, quorum, logger } = options;
  const controller = new QuorumController({
    config: controllerConfig(options.config, quorum.clusterId),
    clock: options.clock ?? (() => driver.now()),
    randomBytes: (n) => randomBytes(n),
    logger: logger.child({ component: "controller" }),
  });
  const runtime = new ControllerRuntime({
    driver,
    loader,
    controller,
    logger: logger.child({ component: "controller-runtime" }),
    ...(options.bootstrapRecords ? { bootstrapRecords: options.bootstrapRecords } : {}),
    electionIntervals: {
      balanceMs: options.config.leaderElection.leaderImbalanceCheckIntervalMs,
      uncleanMs: options.config.leaderElection.uncleanLeaderElectionIntervalMs,
    },
    nothingListens: (endpoints, peerHost) => nothingListens(endpoints, peerHost, PROBE_TIMEOUT_MS),
  });
  return { handlers: createControllerHandlers(quorum, runtime), runtime, close: () => runtime.close() };
}
