import type { Logger } from "pino";
import type { BrokerConfig } from "../config/broker-config.ts";
import type { QuorumVoter } from "../config/schema.ts";
import type { ControllerEndpoint } from "../handlers/controller/services.ts";
import { changesFromEmpty, type MetadataChanges, type MetadataImage } from "../metadata/image/index.ts";
import { PublishingChain, type MetadataPublisher, type MetadataSource } from "../metadata/metadata-source.ts";
import { MetadataLoader } from "../metadata/metadata-loader.ts";
import { ControllerQuorum } from "../quorum/controller-quorum.ts";
import { NetworkTransport } from "../quorum/network-transport.ts";
import { QuorumDriver } from "../quorum/quorum-driver.ts";
import { METADATA_VERSION } from "../controller/index.ts";
import { DEFAULT_RAFT_TIMING, SeededRng, type RaftStatus, type Voter } from "../raft/index.ts";
import type { NodePlan } from "./node-plan.ts";

// The metadata quorum as every node runs it (ADR 22): the raft core (a voter on a controller in the voter set, an
// observer elsewhere) over the quorum-state file and the __cluster_metadata-0 log in the metadata directory, the
// network transport to the voters, and the process's one MetadataLoader that turns committed records into images
// (the snapshot writer and the controller use the same one). The first image is
// published only once the node has replayed up to the high watermark it first learned, so nothing serves a stale
// view as current.

/** How often the core's timers are checked; well below every quorum timeout. */
const TICK_MS = 10;

export interface MetadataQuorumOptions {
  readonly config: BrokerConfig;
  readonly plan: NodePlan;
  /** The static voters and their controller-listener addresses (empty with dynamic voters, KIP-853). */
  readonly voters: readonly QuorumVoter[];
  /** The metadata directory's id (UUID form), which this node's fetches carry (KIP-853's replica key). */
  readonly directoryId?: string;
  /** This node's own controller-listener address, when it has one (named to peers as the leader's address). */
  readonly controllerAddress?: { readonly host: string; readonly port: number };
  readonly clusterId: string;
  /** `metadata.log.dir`: Kafka's default, the first log dir. */
  readonly metadataDir: string;
  readonly logger: Logger;
}

/** The node's metadata quorum and, as a MetadataSource, the images its committed records make. */
export class MetadataQuorum implements MetadataSource {
  private readonly chain = new PublishingChain();
  /**
   * The process's one committed image (ADR 22): the driver feeds it, it writes the snapshots from it, the controller
   * decides from it, and this quorum publishes it to the broker's subscribers.
   */
  readonly loader = new MetadataLoader();
  /** The high watermark of the last commit every subscriber has handled. */
  private publishedUpTo = 0;
  private readonly waiters: { offset: number; resolve: () => void }[] = [];
  private resolveFirst!: (image: MetadataImage) => void;
  private rejectFirst!: (err: Error) => void;
  /**
   * Resolves with the first image once every subscriber has handled it: the node has caught up with the high
   * watermark it first learned. Rejects when that publication failed.
   */
  readonly firstImage: Promise<MetadataImage>;
  private driverRef: QuorumDriver | null = null;
  /** The leader's high watermark as this node first learnt it (Kafka's MetadataLoader catches up to it first). */
  private catchUpTo: number | null = null;
  private publishedFirst = false;
  private readonly failureListeners: ((err: Error) => void)[] = [];
  private failed = false;
  /** The voters in effect as the core last reported them (KIP-853; the static ones otherwise). */
  private voterSet: readonly Voter[] = [];

  private constructor(
    readonly transport: NetworkTransport,
    readonly endpoints: readonly ControllerEndpoint[],
    private readonly options: MetadataQuorumOptions,
  ) {
    this.firstImage = new Promise((resolve, reject) => {
      this.resolveFirst = resolve;
      this.rejectFirst = reject;
    });
    this.loader.subscribe((image, changes, highWatermark) => this.loaded(image, changes, highWatermark));
  }

  /**
   * The quorum's transport and image source, not yet running: subscribe to it first, so nothing misses the first
   * image, then `start()`.
   */
  static create(options: MetadataQuorumOptions): MetadataQuorum {
    const { plan, voters, logger } = options;
    const transport = new NetworkTransport({
      nodeId: plan.nodeId,
      clusterId: options.clusterId,
      logger: logger.child({ component: "quorum-transport" }),
      requestTimeoutMs: options.config.quorumTiming.requestTimeoutMs,
      fetchMaxWaitMs: DEFAULT_RAFT_TIMING.fetchMaxWaitMs,
    });
    for (const v of voters) if (v.id !== plan.nodeId) transport.setPeer(v.id, v.host, v.port);
    plan.bootstrapServers.forEach((b, i) => transport.setPeer(bootstrapServerId(i), b.host, b.port));
    if (options.controllerAddress !== undefined) {
      transport.setSelf(options.controllerAddress.host, options.controllerAddress.port);
    }
    return new MetadataQuorum(
      transport,
      voters.map((v) => ({ id: v.id, host: v.host, port: v.port })),
      options,
    );
  }

  /** Starts the raft core (a voter, or an observer when this node is outside the voter set) on its durable state. */
  async start(): Promise<void> {
    const { config, plan, voters, logger } = this.options;
    const driver = await QuorumDriver.start({
      loader: this.loader,
      config: {
        nodeId: plan.nodeId,
        voters: voters.map((v) => v.id),
        bootstrapServers: plan.bootstrapServers.map((_, i) => bootstrapServerId(i)),
        ...(this.options.directoryId !== undefined ? { directoryId: this.options.directoryId } : {}),
        ...DEFAULT_RAFT_TIMING,
        ...config.quorumTiming,
      },
      metadataDir: this.options.metadataDir,
      snapshots: {
        maxBytesBetween: config.metadataLog.snapshotMaxBytesBetween,
        intervalMs: config.metadataLog.snapshotIntervalMs,
      },
      retention: { maxBytes: config.metadataLog.retentionMaxBytes, ms: config.metadataLog.retentionMs },
      segmentBytes: config.metadataLog.segmentBytes,
      segmentMs: config.metadataLog.segmentMs,
      transport: this.transport,
      rng: new SeededRng(seed()),
      logger: logger.child({ component: "quorum" }),
      tickMs: TICK_MS,
    });
    this.driverRef = driver;
    driver.onFailure((err) => this.fail(err));
    driver.onVotersChange((set) => {
      this.voterSet = set;
      this.transport.setVoters(set, plan.controllerListenerName);
    });
    this.transport.attach(
      (envelope) => driver.receive(envelope),
      (peer) => driver.connectionLost(peer),
      (peer) => driver.connectionRefused(peer),
    );
    // A commit applied before the driver was known here (none is expected: the first one needs a flush) is looked at
    // now rather than at the next commit.
    if (this.loader.highWatermark > 0) this.loaded(this.loader.image, null, this.loader.highWatermark);
  }

  /**
   * Publishes what the loader applied to the broker's subscribers. Nothing is published before the image holds a
   * metadata.version (Kafka's loader waits for it too): before that, a new quorum has committed only its leader
   * change, and an image without the bootstrap records that follow would have the partition publisher delete every
   * log as a stray. Nor before the commits reach the leader's high watermark as first learnt: a node far behind gets
   * the log one fetch answer at a time, and an image of the first answers alone would be served as current while it
   * is not. The first image published carries the changes from the empty image.
   */
  private loaded(image: MetadataImage, changes: MetadataChanges | null, highWatermark: number): void {
    if (!this.publishedFirst) {
      // Known at the first commit: it follows a fetch answer from the leader (or this node's own commit as leader).
      const driver = this.driverRef;
      if (driver === null) return;
      this.catchUpTo ??= driver.status().leaderHighWatermark;
      if (!image.features.has(METADATA_VERSION) || highWatermark < this.catchUpTo) return;
      this.publishedFirst = true;
      changes = changesFromEmpty(image);
    }
    const published = changes === null ? this.chain.settled() : this.chain.publish(image, changes);
    published.then(
      () => {
        this.publishedUpTo = Math.max(this.publishedUpTo, highWatermark);
        if (changes !== null) this.resolveFirst(image);
        this.wake();
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        this.rejectFirst(error);
        this.options.logger.error({ err: error }, "A metadata image could not be published");
        this.fail(error);
      },
    );
  }

  get driver(): QuorumDriver {
    if (this.driverRef === null) throw new Error("the metadata quorum is not started");
    return this.driverRef;
  }

  /** The newest image every subscriber has been handed (EMPTY_IMAGE before the first). */
  image(): MetadataImage {
    return this.chain.image();
  }

  subscribe(publisher: MetadataPublisher): void {
    this.chain.subscribe(publisher);
  }

  /**
   * Called once when the node can no longer follow the metadata: its log could not be written, or an image could not
   * be applied. The node must stop rather than serve a view no other node has.
   */
  onFailure(listener: (err: Error) => void): void {
    this.failureListeners.push(listener);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    for (const listener of this.failureListeners) listener(err);
  }

  /** Offset of the last committed record (data or control) every subscriber has handled; -1 before any. */
  appliedOffset(): number {
    return this.publishedUpTo - 1;
  }

  status(): RaftStatus {
    return this.driver.status();
  }

  /** The active controller, if this node knows one. */
  leaderId(): number | null {
    return this.driver.status().leaderId;
  }

  /**
   * Resolves once every subscriber has handled an image that includes everything this node knows to be committed
   * now, or after `timeoutMs` regardless: a broker answering a write it forwarded shows its own effect (read your
   * writes), as far as this node has heard of the commit.
   */
  async caughtUpWithCommitted(timeoutMs: number): Promise<void> {
    const target = this.driver.status().highWatermark;
    if (this.publishedUpTo >= target) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ offset: target, resolve })),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w !== undefined && w.offset <= this.publishedUpTo) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** The voters' ids in effect now. */
  voterIds(): number[] {
    return this.voterSet.map((v) => v.id);
  }

  /**
   * The controllers and their controller-listener addresses: the static voters, or (KIP-853) the voter set in effect,
   * by the addresses its VotersRecord gives.
   */
  controllerEndpoints(): readonly ControllerEndpoint[] {
    if (this.options.plan.bootstrapServers.length === 0) return this.endpoints;
    const out: ControllerEndpoint[] = [];
    for (const v of this.voterSet) {
      const at = this.transport.address(v.id);
      if (at !== undefined) out.push({ id: v.id, host: at.host, port: at.port });
    }
    return out;
  }

  /** What the controller listener's quorum handlers reach the core through. */
  controllerPort(): ControllerQuorum {
    return new ControllerQuorum(
      this.driver,
      this.transport,
      this.options.clusterId,
      () => this.controllerEndpoints(),
      this.options.plan.controllerListenerName,
      () => this.registeredControllers(),
    );
  }

  /**
   * Every controller registered in the image (KIP-919: voters and observers, each at its latest registration's
   * address on the controller listener), and the voters that have not registered yet, by id. Kafka lists only the
   * registered ones; the voters are added so a controller that leads before its registration committed is listed.
   */
  registeredControllers(): readonly ControllerEndpoint[] {
    const listener = this.options.plan.controllerListenerName;
    const byId = new Map<number, ControllerEndpoint>();
    for (const c of this.image().controllers.values()) {
      const e = c.endpoints.find((x) => x.listener === listener);
      if (e !== undefined) byId.set(c.id, { id: c.id, host: e.host, port: e.port });
    }
    for (const v of this.controllerEndpoints()) if (!byId.has(v.id)) byId.set(v.id, v);
    return [...byId.values()].sort((a, b) => a.id - b.id);
  }

  async close(): Promise<void> {
    this.transport.close();
    await this.driverRef?.close();
  }
}

/** Kafka numbers the bootstrap servers -2, -3, ... (they have no node id until they answer). */
function bootstrapServerId(index: number): number {
  return -2 - index;
}

/** Election timeouts are random per process; the seed only needs to differ between nodes and restarts. */
function seed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
