import type { Logger } from "pino";
import type { BrokerConfig } from "../config/broker-config.ts";
import type { QuorumVoter } from "../config/schema.ts";
import type { ControllerEndpoint } from "../handlers/controller/services.ts";
import { EMPTY_IMAGE, type MetadataChanges, type MetadataImage } from "../metadata/image/index.ts";
import { MetadataLoader } from "../metadata/metadata-loader.ts";
import { ControllerQuorum } from "../quorum/controller-quorum.ts";
import { NetworkTransport } from "../quorum/network-transport.ts";
import { QuorumDriver } from "../quorum/quorum-driver.ts";
import { DEFAULT_RAFT_TIMING, SeededRng, type RaftStatus } from "../raft/index.ts";
import type { NodePlan } from "./node-plan.ts";

// The metadata quorum as every node runs it (ADR 22): the raft core (a voter on a controller in the voter set, an
// observer elsewhere) over the quorum-state file and the __cluster_metadata-0 log in the metadata directory, the
// network transport to the voters, and a MetadataLoader that turns committed records into images. The first image is
// published only once the node has replayed up to the high watermark it first learned, so nothing serves a stale
// view as current.

/** How often the core's timers are checked; well below every quorum timeout. */
const TICK_MS = 10;

export type ImageListener = (image: MetadataImage, changes: MetadataChanges) => void;

export interface MetadataQuorumOptions {
  readonly config: BrokerConfig;
  readonly plan: NodePlan;
  /** The voters and their controller-listener addresses. */
  readonly voters: readonly QuorumVoter[];
  readonly clusterId: string;
  /** `metadata.log.dir`: Kafka's default, the first log dir. */
  readonly metadataDir: string;
  readonly logger: Logger;
}

export class MetadataQuorum {
  private readonly imageListeners: ImageListener[] = [];
  private readonly loader: MetadataLoader;
  private published = false;
  private resolveFirst!: (image: MetadataImage) => void;
  /** Resolves with the first image, once the node has caught up with the high watermark it first learned. */
  readonly firstImage: Promise<MetadataImage>;
  private driverRef: QuorumDriver | null = null;

  private constructor(
    readonly transport: NetworkTransport,
    readonly endpoints: readonly ControllerEndpoint[],
    private readonly options: MetadataQuorumOptions,
  ) {
    this.firstImage = new Promise((resolve) => (this.resolveFirst = resolve));
    this.loader = new MetadataLoader((image, changes) => {
      for (const listener of this.imageListeners) listener(image, changes);
      if (!this.published) {
        this.published = true;
        this.resolveFirst(image);
      }
    });
  }

  static async start(options: MetadataQuorumOptions): Promise<MetadataQuorum> {
    const { config, plan, voters, logger } = options;
    const timing = { ...DEFAULT_RAFT_TIMING, ...config.quorumTiming };
    const transport = new NetworkTransport({
      nodeId: plan.nodeId,
      clusterId: options.clusterId,
      logger: logger.child({ component: "quorum-transport" }),
      requestTimeoutMs: timing.requestTimeoutMs,
      fetchMaxWaitMs: timing.fetchMaxWaitMs,
    });
    const endpoints = voters.map((v) => ({ id: v.id, host: v.host, port: v.port }));
    for (const v of voters) if (v.id !== plan.nodeId) transport.setPeer(v.id, v.host, v.port);
    const quorum = new MetadataQuorum(transport, endpoints, options);
    // The voter set the core sees; a node outside it (every broker-only node) is an observer.
    const driver = await QuorumDriver.start({
      config: { nodeId: plan.nodeId, voters: voters.map((v) => v.id), ...timing },
      metadataDir: options.metadataDir,
      transport,
      rng: new SeededRng(seed()),
      logger: logger.child({ component: "quorum" }),
      tickMs: TICK_MS,
    });
    quorum.driverRef = driver;
    transport.attach((envelope) => driver.receive(envelope));
    driver.onCommit(quorum.loader.onCommit);
    return quorum;
  }

  get driver(): QuorumDriver {
    if (this.driverRef === null) throw new Error("the metadata quorum is not started");
    return this.driverRef;
  }

  /** The latest published image (empty before the first). */
  get image(): MetadataImage {
    return this.published ? this.loader.image : EMPTY_IMAGE;
  }

  get caughtUp(): boolean {
    return this.published;
  }

  status(): RaftStatus {
    return this.driver.status();
  }

  /** The active controller, if this node knows one. */
  leaderId(): number | null {
    return this.driver.status().leaderId;
  }

  /** Called with every image published from now on, with what changed. */
  onImage(listener: ImageListener): void {
    this.imageListeners.push(listener);
  }

  /** What the controller listener's quorum handlers reach the core through. */
  controllerPort(): ControllerQuorum {
    return new ControllerQuorum(
      this.driver,
      this.transport,
      this.options.clusterId,
      this.endpoints,
      this.options.plan.controllerListenerName,
    );
  }

  async close(): Promise<void> {
    this.transport.close();
    await this.driverRef?.close();
  }
}

/** Election timeouts are random per process; the seed only needs to differ between nodes and restarts. */
function seed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
