import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { SECURITY_PROTOCOL_ID, type ListenerAddress, type SecurityProtocol } from "../config/schema.ts";
import {
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponse,
  BrokerRegistrationRequest,
  BrokerRegistrationResponse,
  ErrorCode,
} from "../protocol/index.ts";
import type { ControllerChannel } from "./controller-channel.ts";

// The broker's side of its lifecycle with the active controller (Kafka's BrokerLifecycleManager): register with a new
// incarnation id on every process start, then heartbeat every broker.heartbeat.interval.ms with the metadata offset
// this node has applied. The controller unfences the broker once that offset reaches its registration; only then
// does the broker serve clients. At shutdown the broker asks for a controlled shutdown (wantShutDown) and keeps
// heartbeating until the controller says shouldShutDown (leaders moved away) or the bound passes.

const REGISTRATION_VERSION = 4;
const HEARTBEAT_VERSION = 1;
/** Heartbeat interval while the broker waits for the controller to unfence it or to agree to its shutdown. */
const WAITING_HEARTBEAT_MS = 100;
/**
 * The longest pause between attempts after failures in a row. The pause doubles from retryBackoffMs with each failure
 * (Kafka's BrokerLifecycleManager backs off exponentially too, from 100 ms up to broker.session.timeout.ms): a node
 * restarted after kill -9 is refused (DUPLICATE_BROKER_REGISTRATION) until its previous incarnation's session expires,
 * up to broker.session.timeout.ms, and a fixed 20 ms pause sent ~450 registrations, each logged, in that time. One
 * second bounds how late the registration that succeeds can come.
 */
const MAX_RETRY_BACKOFF_MS = 1_000;

export type LifecycleState = "registering" | "fenced" | "running" | "pending-shutdown" | "shut-down";

export interface BrokerFeatureRange {
  readonly name: string;
  readonly minSupportedVersion: number;
  readonly maxSupportedVersion: number;
}

export interface BrokerLifecycleOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly channel: ControllerChannel;
  /** The listeners clients reach this broker on (advertised.listeners) with their security protocols. */
  readonly listeners: readonly (ListenerAddress & { readonly securityProtocol: SecurityProtocol })[];
  readonly rack: string | null;
  /** The directory ids of this broker's log dirs (meta.properties' directory.id). */
  readonly logDirs: readonly string[];
  /**
   * The ids (of `logDirs`) of the log dirs taken offline after a storage failure, sent in every heartbeat. With every
   * log dir offline the broker has nothing left to serve and asks to be fenced, so its leaderships move to other
   * ISR members and it leaves their ISRs at once (Kafka's broker halts, and the controller notices at the session
   * timeout).
   */
  readonly offlineLogDirs?: () => readonly string[];
  /**
   * Called once, when the controller has fenced this broker at its request because every log dir is offline. An
   * offline log dir stays offline until the process restarts, so the node stops then (see start-node.ts).
   */
  readonly onFencedOffline?: () => void;
  readonly features: readonly BrokerFeatureRange[];
  /** The epoch of the previous incarnation if it shut down cleanly (KIP-966), else -1. */
  readonly previousBrokerEpoch?: bigint;
  /** Offset of the last metadata record this node has applied (its image), -1 before any. */
  readonly appliedOffset: () => number;
  readonly heartbeatIntervalMs: number;
  /** Per request. */
  readonly requestTimeoutMs: number;
  /** Pause after a failed registration or heartbeat before the next attempt. */
  readonly retryBackoffMs: number;
  readonly logger: Logger;
}

export class BrokerLifecycle {
  readonly incarnationId = randomUUID();
  private stateValue: LifecycleState = "registering";
  private epoch = -1n;
  private timer: NodeJS.Timeout | undefined;
  /** Failed or refused requests in a row, for the backoff. */
  private failures = 0;
  private inFlight: Promise<void> | null = null;
  private stopped = false;
  private fencedOffline = false;
  private started = false;
  private resolveRunning!: () => void;
  private resolveShutdown: (() => void) | null = null;
  /** Resolves once the controller has unfenced this broker. */
  readonly running: Promise<void>;

  constructor(private readonly options: BrokerLifecycleOptions) {
    this.running = new Promise((resolve) => (this.resolveRunning = resolve));
  }

  get state(): LifecycleState {
    return this.stateValue;
  }

  /** The epoch the controller gave this registration, -1 before it answered. */
  get brokerEpoch(): bigint {
    return this.epoch;
  }

  start(): void {
    this.started = true;
    this.schedule(0);
  }

  /**
   * The quorum names a new leader, the new active controller: heartbeat (or register) at once rather than after the
   * interval or a backoff grown while the old one was unreachable, so the new controller hears from this broker before
   * it could suspect it (ADR 29).
   */
  controllerChanged(): void {
    this.heartbeatNow();
  }

  /**
   * A log dir went offline: heartbeat at once, so the controller moves that dir's replicas now rather than at the next
   * interval (Kafka's propagateDirectoryFailure).
   */
  logDirFailed(): void {
    this.heartbeatNow();
  }

  private heartbeatNow(): void {
    if (!this.started || this.stopped || this.stateValue === "shut-down") return;
    this.failures = 0;
    if (this.inFlight === null) this.schedule(0);
    else void this.inFlight.then(() => this.schedule(0));
  }

  /**
   * Asks the controller for a controlled shutdown and waits, at most `timeoutMs`, for it to agree (Kafka moves this
   * broker's leaderships away first). Resolves either way; the broker then stops.
   */
  async controlledShutdown(timeoutMs: number): Promise<void> {
    if (this.stopped || this.stateValue === "registering") return this.stop();
    this.stateValue = "pending-shutdown";
    const agreed = new Promise<void>((resolve) => (this.resolveShutdown = resolve));
    this.schedule(0);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([agreed.then(() => "agreed" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout")
      this.options.logger.warn({ timeoutMs }, "The controller did not agree to a controlled shutdown in time");
    else this.options.logger.info("The controller agreed to a controlled shutdown");
    await this.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.inFlight !== null) return;
      this.inFlight = this.step().finally(() => (this.inFlight = null));
    }, delayMs);
  }

  /** The pause before the next attempt after a failure; each failure in a row doubles it, up to the bound. */
  private backoff(): number {
    const { retryBackoffMs } = this.options;
    const ms = Math.min(
      retryBackoffMs * 2 ** Math.min(this.failures, 30),
      Math.max(MAX_RETRY_BACKOFF_MS, retryBackoffMs),
    );
    this.failures++;
    return ms;
  }

  private async step(): Promise<void> {
    try {
      if (this.stateValue === "registering") await this.register();
      else await this.heartbeat();
    } catch (err) {
      this.options.logger.debug({ err, state: this.stateValue }, "Request to the controller failed; retrying");
      this.schedule(this.backoff());
    }
  }

  private async register(): Promise<void> {
    const o = this.options;
    const response = await o.channel.send(
      BrokerRegistrationRequest,
      BrokerRegistrationResponse,
      REGISTRATION_VERSION,
      {
        ...BrokerRegistrationRequest.create(),
        brokerId: o.nodeId,
        clusterId: o.clusterId,
        incarnationId: this.incarnationId,
        listeners: o.listeners.map((l) => ({
          name: l.name,
          host: l.host,
          port: l.port,
          securityProtocol: SECURITY_PROTOCOL_ID[l.securityProtocol],
        })),
        features: o.features.map((f) => ({ ...f })),
        rack: o.rack,
        logDirs: [...o.logDirs],
        // This process's own epoch once it has one (a re-registration); before that the last clean stop's.
        previousBrokerEpoch: this.epoch >= 0n ? this.epoch : (o.previousBrokerEpoch ?? -1n),
      },
      o.requestTimeoutMs,
    );
    if (response.errorCode !== ErrorCode.NONE) {
      // Logged once per run of refusals: the usual one lasts until the previous incarnation's session expires.
      const level = this.failures === 0 ? "info" : "debug";
      o.logger[level]({ errorCode: response.errorCode }, "Broker registration refused; retrying");
      this.schedule(this.backoff());
      return;
    }
    this.failures = 0;
    this.epoch = response.brokerEpoch;
    this.stateValue = "fenced";
    o.logger.info(
      { brokerEpoch: String(this.epoch), incarnationId: this.incarnationId },
      "Registered with the controller",
    );
    this.schedule(0);
  }

  private async heartbeat(): Promise<void> {
    const o = this.options;
    const wantShutDown = this.stateValue === "pending-shutdown";
    const offline = o.offlineLogDirs?.() ?? [];
    const wantFence = offline.length > 0 && o.logDirs.every((id) => offline.includes(id));
    const response = await o.channel.send(
      BrokerHeartbeatRequest,
      BrokerHeartbeatResponse,
      HEARTBEAT_VERSION,
      {
        ...BrokerHeartbeatRequest.create(),
        brokerId: o.nodeId,
        brokerEpoch: this.epoch,
        currentMetadataOffset: BigInt(o.appliedOffset()),
        wantFence,
        wantShutDown,
        offlineLogDirs: [...offline],
      },
      o.requestTimeoutMs,
    );
    switch (response.errorCode) {
      case ErrorCode.NONE:
        break;
      case ErrorCode.STALE_BROKER_EPOCH:
      case ErrorCode.BROKER_ID_NOT_REGISTERED:
        // The controller lost or replaced this registration (a newer incarnation, or fenced and removed): register
        // again, as Kafka's broker does.
        o.logger.warn({ errorCode: response.errorCode }, "The controller no longer knows this registration");
        if (this.stateValue !== "pending-shutdown") this.stateValue = "registering";
        this.schedule(this.backoff());
        return;
      default:
        this.schedule(this.backoff());
        return;
    }
    this.failures = 0;
    if (wantShutDown && response.shouldShutDown) {
      this.stateValue = "shut-down";
      this.resolveShutdown?.();
      return;
    }
    if (this.stateValue === "fenced" && !response.isFenced) {
      this.stateValue = "running";
      o.logger.info({ brokerEpoch: String(this.epoch) }, "Unfenced by the controller");
      this.resolveRunning();
    } else if (this.stateValue === "running" && response.isFenced) {
      // Fenced again (missed heartbeats): keep heartbeating; the controller unfences once this node is caught up.
      this.stateValue = "fenced";
      o.logger.warn("Fenced by the controller");
    }
    // Waiting on the controller (to be unfenced, or to agree to a controlled shutdown) asks again soon.
    const waiting = this.stateValue === "fenced" || this.stateValue === "pending-shutdown";
    this.schedule(waiting ? Math.min(o.heartbeatIntervalMs, WAITING_HEARTBEAT_MS) : o.heartbeatIntervalMs);
    // Last, so that a controlled shutdown the callback starts schedules its own heartbeat over the one above.
    if (wantFence && response.isFenced && !this.fencedOffline) {
      this.fencedOffline = true;
      o.logger.error({ offlineLogDirs: offline }, "Fenced at this broker's request: every log dir is offline");
      o.onFencedOffline?.();
    }
  }
}
