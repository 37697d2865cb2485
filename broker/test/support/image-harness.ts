import { ReplicationThrottles } from "../../src/replication/throttles.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { expect } from "vitest";
import { resolveBrokerConfig } from "../../src/config/broker-config.ts";
import { createDispatcher, type Dispatcher } from "../../src/handlers/dispatcher.ts";
import { createHandlers } from "../../src/handlers/registry.ts";
import type { BrokerServices } from "../../src/handlers/services.ts";
import { LogManager } from "../../src/log/index.ts";
import { startNetwork, type NetworkServer } from "../../src/network/server.ts";
import { EffectiveConfigs } from "../../src/metadata/effective-configs.ts";
import type { MetadataImage } from "../../src/metadata/image/index.ts";
import { MetadataView, PublishingChain } from "../../src/metadata/metadata-source.ts";
import { PartitionManager, type PartitionManagerOptions } from "../../src/partitions/partition-manager.ts";
import { PartitionPublisher, type FollowerFetchers } from "../../src/partitions/partition-publisher.ts";
import { decodeResponse, encodeRequest, type MessageCodec } from "../../src/protocol/index.ts";
import { replay, type RecordSpec } from "./metadata-records.ts";

// A broker's image-reading half without the interim source: images built from metadata records (as a controller
// would commit them) are published to a real partition publisher over real logs in a temporary directory, and
// requests go through the real handlers. Services no test here needs (groups, topic admin, registry, producer ids)
// throw when touched.

const logger = pino({ level: "silent" });

export { rec, registeredBroker, topicConfig, type RecordSpec } from "./metadata-records.ts";

function unavailable(name: string): never {
  return new Proxy(
    {},
    {
      get: (_, key) => {
        throw new Error(`the image harness has no ${name} (asked for ${String(key)})`);
      },
    },
  ) as never;
}

export class ImageHarness {
  private readonly chain = new PublishingChain();
  readonly view: MetadataView;
  readonly services: BrokerServices;
  /** What the fetch handler reported through fetchMetrics: consumer record bytes by role, preferred-replica answers. */
  readonly fetchCounts = { leader: 0, follower: 0, preferred: 0 };
  private readonly dispatcher: Dispatcher;
  private correlationId = 0;
  private network: NetworkServer | undefined;

  private constructor(
    readonly dir: string,
    readonly logs: LogManager,
    readonly partitions: PartitionManager,
    nodeId: number,
    fetchers?: FollowerFetchers,
    clock: () => number = Date.now,
    extraConfig: readonly string[] = [],
  ) {
    const { config } = resolveBrokerConfig({
      overrides: [
        `node.id=${nodeId}`,
        "process.roles=broker,controller",
        `log.dirs=${dir}`,
        "listeners=PLAINTEXT://127.0.0.1:0",
        ...extraConfig,
      ],
      cwd: dir,
    });
    const configs = new EffectiveConfigs(config);
    this.view = new MetadataView(nodeId);
    this.chain.subscribe(new PartitionPublisher(nodeId, partitions, configs, logger, fetchers).publish);
    this.chain.subscribe(this.view.publish);
    this.services = {
      config,
      clusterId: "image-harness",
      metadata: this.view,
      configs,
      partitions,
      throttles: new ReplicationThrottles({
        nodeId,
        image: () => this.view.image,
        window: config.replicationQuotaWindow,
        clock,
      }),
      logger,
      clock: Date.now,
      forwarder: unavailable("forwarding to the controller"),
      createTopic: unavailable("topic creation"),
      groups: unavailable("group coordinator"),
      ensureOffsetsTopic: () => undefined,
      offsetsPartitionLeader: () => null,
      producerIds: unavailable("producer ids"),
      fetchMetrics: {
        consumerBytes: (servedAs, bytes) => (this.fetchCounts[servedAs] += bytes),
        preferredReadReplica: () => (this.fetchCounts.preferred += 1),
      },
    };
    this.dispatcher = createDispatcher({ handlers: createHandlers(this.services), logger });
  }

  /**
   * `fetchers`: what the partition publisher tells the replica fetchers (none by default); `config`: more
   * server.properties lines (`key=value`).
   */
  static async start(
    nodeId: number,
    options: PartitionManagerOptions = {},
    fetchers?: FollowerFetchers,
    config: readonly string[] = [],
  ): Promise<ImageHarness> {
    const dir = await mkdtemp(join(tmpdir(), "image-harness-"));
    const logs = await LogManager.open({ logDirs: [dir], logger, retentionCheckIntervalMs: 0 });
    const partitions = new PartitionManager(logs, logger, options);
    return new ImageHarness(dir, logs, partitions, nodeId, fetchers, options.clock, config);
  }

  get image(): MetadataImage {
    return this.chain.image();
  }

  /** Replays `records` (framed and decoded, as they come out of the log) onto the current image and publishes it. */
  async publish(records: readonly RecordSpec[]): Promise<MetadataImage> {
    const { image, changes } = replay(this.chain.image(), records);
    await this.chain.publish(image, changes);
    return image;
  }

  /** Sends one request through the handlers as if it came in on `listener`. */
  async call<Req, Res>(
    version: number,
    request: MessageCodec<Req>,
    response: MessageCodec<Res>,
    body: Partial<Req>,
    listener = "PLAINTEXT",
  ): Promise<Res> {
    const id = ++this.correlationId;
    const header = { apiKey: request.apiKey, apiVersion: version, correlationId: id, clientId: "image-harness" };
    const frame = await this.dispatcher.dispatch(encodeRequest(header, request, { ...request.create(), ...body }), {
      id: "image-harness",
      listenerName: listener,
      remoteAddress: "127.0.0.1",
      logger,
      signal: new AbortController().signal,
      closeAfterResponse: () => undefined,
    });
    if (frame === null) throw new Error(`${request.name} got no response`);
    const decoded = decodeResponse(frame, request.apiKey, version, response);
    expect(decoded.correlationId).toBe(id);
    return decoded.body;
  }

  /**
   * Serves the handlers on a loopback listener named PLAINTEXT, as a broker's network does (pipelined Produces
   * included); resolves with its port.
   */
  async listen(): Promise<number> {
    this.network ??= await startNetwork({
      listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 0 }],
      dispatcher: {
        dispatch: (frame, connection) => this.dispatcher.dispatchChunks(frame, connection),
        pipelined: (frame) => this.dispatcher.pipelined(frame),
      },
      logger,
      maxRequestBytes: this.services.config.socketRequestMaxBytes,
      idleTimeoutMs: 60_000,
      requestReadTimeoutMs: 60_000,
    });
    return this.network.listeners[0]?.port ?? 0;
  }

  async close(): Promise<void> {
    await this.network?.close(1_000);
    this.partitions.stopReplication();
    this.partitions.wakeAll();
    await this.logs.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
