import type { Logger } from "pino";
import type { BrokerConfig } from "./config/broker-config.ts";
import {
  applyOffsetsLeadership,
  GroupCoordinatorManager,
  OFFSETS_TOPIC,
  offsetsLeadershipIn,
  offsetsTopicCreator,
  offsetsTopicSpec,
} from "./coordinator/index.ts";
import { createDispatcher, type Dispatcher } from "./handlers/dispatcher.ts";

import { createHandlers } from "./handlers/registry.ts";
import type { BrokerServices, ControllerForwarder, TopicCreator } from "./handlers/services.ts";
import { LogManager } from "./log/index.ts";
import { EffectiveConfigs } from "./metadata/effective-configs.ts";
import { leaderEndpoint, topicByName } from "./metadata/image/index.ts";
import { MetadataView, type MetadataSource } from "./metadata/metadata-source.ts";
import { LogGroupStore } from "./partitions/offsets-store.ts";
import { PartitionManager } from "./partitions/partition-manager.ts";
import { PartitionPublisher } from "./partitions/partition-publisher.ts";
import type { DirectoryAssignments } from "./partitions/directory-assignments.ts";
import { ProducerIdAllocator, type ProducerIdBlockSource } from "./partitions/producer-ids.ts";
import { ReplicaFetcherManager } from "./replication/fetcher/fetcher-manager.ts";
import { ReplicationThrottles, type ThrottleMetrics } from "./replication/throttles.ts";
import { API_CODECS } from "./protocol/index.ts";
import { METADATA_LOG_DIR } from "./quorum/metadata-log.ts";
import { apiRequestMetrics, type BrokerMetrics } from "./runtime/metrics.ts";

/** How long the group coordinator's writes wait for the ISR (Kafka's offsets.commit.timeout.ms default). */
const OFFSETS_COMMIT_TIMEOUT_MS = 5_000;

export interface Broker {
  readonly services: BrokerServices;
  readonly dispatcher: Dispatcher;
  /** Resolves once the group coordinator shards being loaded now have finished loading. */
  shardsLoaded(): Promise<void>;
  /** Stops the coordinator and wakes long-polls; the logs close with BrokerStorage. */
  close(): Promise<void>;
}

/** A broker's partition logs, kept in step with the metadata images it is subscribed to. */
export interface BrokerStorage {
  readonly logs: LogManager;
  readonly partitions: PartitionManager;
  readonly configs: EffectiveConfigs;
  /** The image the request handlers answer from. */
  readonly view: MetadataView;
  /** Fetch the partitions this node follows from their leaders, once started with the broker's registration epoch. */
  readonly fetchers: ReplicaFetcherManager;
  /** The replication throttles (KIP-73) the fetchers and the Fetch handler apply. */
  readonly throttles: ReplicationThrottles;
  /** Stops the replica fetchers, then closes every log cleanly (the clean-shutdown marker skips recovery). */
  close(): Promise<void>;
}

export interface BrokerStorageOptions {
  config: BrokerConfig;
  /** The metadata images to follow: the node's metadata quorum. Subscribed before it publishes its first image. */
  source: MetadataSource;
  logger: Logger;
  clock?: () => number;
  /** Where the replication throttles count throttled bytes. */
  throttleMetrics?: ThrottleMetrics;
  /** Told which log dir holds each replica, for the controller (KIP-858). */
  directoryAssignments?: DirectoryAssignments;
  /** Log dirs whose storage failed before the logs opened (unreadable meta.properties), with why: offline. */
  failedLogDirs?: ReadonlyMap<string, unknown>;
}

/**
 * Opens the partition logs on disk and subscribes to the image source: the partition publisher creates, opens and
 * deletes logs as images say (on the first image also removing strays), then the handlers' view takes the image, so a
 * partition is answered for only once its log is open.
 */
export async function openBrokerStorage(options: BrokerStorageOptions): Promise<BrokerStorage> {
  const { config, logger, source } = options;
  const logs = await LogManager.open({
    logDirs: config.logDirs,
    config: {
      segmentBytes: config.logSegmentBytes,
      segmentMs: config.logRollMs,
      indexIntervalBytes: config.logIndexIntervalBytes,
      retentionMs: config.logRetentionMs,
      retentionBytes: config.logRetentionBytes,
      flushIntervalMessages: config.logFlushIntervalMessages,
      flushIntervalMs: config.logFlushIntervalMs,
    },
    logger: logger.child({ component: "log" }),
    clock: options.clock ?? Date.now,
    retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
    hwCheckpointIntervalMs: config.replicaHighWatermarkCheckpointIntervalMs,
    foreignDirs: [METADATA_LOG_DIR],
    ...(options.failedLogDirs !== undefined ? { failedLogDirs: options.failedLogDirs } : {}),
  });
  const partitions = new PartitionManager(logs, logger.child({ component: "partitions" }), {
    clock: options.clock ?? Date.now,
    replicaLagTimeMaxMs: config.replicaLagTimeMaxMs,
  });
  const configs = new EffectiveConfigs(config);
  const view = new MetadataView(config.nodeId);
  const throttles = new ReplicationThrottles({
    nodeId: config.nodeId,
    image: () => view.image,
    window: config.replicationQuotaWindow,
    ...(options.clock && { clock: options.clock }),
    ...(options.throttleMetrics && { metrics: options.throttleMetrics }),
  });
  const fetchers = new ReplicaFetcherManager({
    nodeId: config.nodeId,
    listenerName: config.interBrokerListenerName,
    partitions,
    config: config.replicaFetch,
    logger: logger.child({ component: "replica-fetcher" }),
    throttle: () => throttles.follower,
  });
  source.subscribe(
    new PartitionPublisher(
      config.nodeId,
      partitions,
      configs,
      logger.child({ component: "partitions" }),
      fetchers,
      options.directoryAssignments,
    ).publish,
  );
  source.subscribe(view.publish);
  return {
    logs,
    partitions,
    configs,
    view,
    fetchers,
    throttles,
    async close() {
      await fetchers.close();
      partitions.wakeAll();
      await logs.close();
    },
  };
}

export interface BrokerOptions {
  config: BrokerConfig;
  /** The formatted storage's cluster id. */
  clusterId: string;
  storage: BrokerStorage;
  /** The same source the storage follows; its later images move group coordinator shards. */
  source: MetadataSource;
  /** Admin writes go to the active controller. */
  forwarder: ControllerForwarder;
  /** Topics the broker creates itself (auto-creation, `__consumer_offsets`), through the active controller. */
  createTopic: TopicCreator;
  /** Where InitProducerId's id blocks come from: the active controller (AllocateProducerIds). */
  producerIdBlocks: ProducerIdBlockSource;
  logger: Logger;
  metrics?: BrokerMetrics;
  clock?: () => number;
}

/**
 * The broker's request handling on its storage: the group coordinator following leadership of the `__consumer_offsets`
 * partitions, the topic created on first need (FindCoordinator for a group), and the handlers.
 */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const { config, logger, storage, source } = options;
  const { logs, partitions, configs, view, throttles } = storage;
  const clock = options.clock ?? Date.now;

  // __consumer_offsets is created only through this port, as a CreateTopics to the controller.
  const ensureOffsetsTopic = offsetsTopicCreator({
    spec: offsetsTopicSpec(config),
    exists: () => topicByName(view.image, OFFSETS_TOPIC) !== undefined,
    create: (spec) =>
      options.createTopic({
        name: OFFSETS_TOPIC,
        // The controller's settings (offsets.topic.num.partitions and .replication.factor) for -1.
        numPartitions: -1,
        replicationFactor: -1,
        configs: new Map(spec.configs),
      }),
    logger,
  });
  const groups = new GroupCoordinatorManager({
    partitionCount: topicByName(view.image, OFFSETS_TOPIC)?.partitions.size ?? null,
    openStore: (partition, leaderEpoch) => {
      const log = partitions.log(OFFSETS_TOPIC, partition);
      if (!log) throw new Error(`${OFFSETS_TOPIC}-${partition} has no log`);
      return new LogGroupStore(
        log,
        partitions.leaderWrites(OFFSETS_TOPIC, partition, leaderEpoch, OFFSETS_COMMIT_TIMEOUT_MS),
        clock,
      );
    },
    logger: logger.child({ component: "groups" }),
    config: {
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
    },
  });
  // Leadership of the __consumer_offsets partitions (the coordinator's OffsetsPartitionOwnership port) follows the
  // metadata images, as Kafka's BrokerMetadataPublisher.updateCoordinator does: the partitions the current image says
  // this node leads load now, before clients are served; each later image's local changes load and unload shards
  // (not awaited, so the chain goes on; their groups answer COORDINATOR_LOAD_IN_PROGRESS meanwhile). The image that
  // first has the topic also fixes the coordinator's partition count.
  const loading = new Set<Promise<boolean>>();
  source.subscribe((image, changes) => {
    const topic = topicByName(image, OFFSETS_TOPIC);
    if (topic && groups.partitionCount === null) groups.setPartitionCount(topic.partitions.size);
    for (const load of applyOffsetsLeadership(changes.localChanges(config.nodeId), groups)) {
      loading.add(load);
      void load.finally(() => loading.delete(load));
    }
  });
  const loaded = await Promise.all(applyOffsetsLeadership(offsetsLeadershipIn(view.image, config.nodeId), groups));
  if (!loaded.every(Boolean)) throw new Error(`cannot load the groups of ${OFFSETS_TOPIC}: see the log`);

  const producerIds = new ProducerIdAllocator(options.producerIdBlocks, logger.child({ component: "producer-ids" }));
  const services: BrokerServices = {
    config,
    clusterId: options.clusterId,
    metadata: view,
    configs,
    forwarder: options.forwarder,
    createTopic: options.createTopic,
    partitions,
    throttles,
    groups,
    ensureOffsetsTopic,
    offsetsPartitionLeader: (partition, listenerName) =>
      leaderEndpoint(view.image, OFFSETS_TOPIC, partition, listenerName),
    producerIds,
    fetchMetrics: {
      consumerBytes: (servedAs, bytes) => options.metrics?.consumerFetchBytes.inc({ served_as: servedAs }, bytes),
      preferredReadReplica: () => options.metrics?.preferredReadReplicas.inc(),
    },
    logger,
    clock,
  };

  const metrics = options.metrics;
  if (metrics) {
    metrics.setPartitionStatsSource(() =>
      logs.partitions().map(({ topic, partition, log }) => ({
        topic,
        partition,
        logSizeBytes: log.sizeBytes(),
        ...partitions.replicationHealth(topic, partition),
      })),
    );
    metrics.setLogDirSource(() => {
      const offline = new Set(logs.offlineLogDirs());
      return logs.logDirs.map((logDir) => ({ logDir, offline: offline.has(logDir) }));
    });
    metrics.setGroupLagSource(() =>
      groups
        .lag((topic, partition) => partitions.log(topic, partition)?.highWatermark ?? null)
        .map((l) => ({ group: l.groupId, topic: l.topic, partition: l.partition, lag: Number(l.lag) })),
    );
  }
  const apiName = (apiKey: number) =>
    (API_CODECS as Record<number, { name: string } | undefined>)[apiKey]?.name ?? String(apiKey);
  const dispatcher = createDispatcher({
    handlers: createHandlers(services),
    logger,
    ...(metrics && { metrics: apiRequestMetrics(metrics, apiName) }),
  });

  return {
    services,
    dispatcher,
    async shardsLoaded() {
      await Promise.all(loading);
    },
    close() {
      groups.close();
      partitions.wakeAll();
      return Promise.resolve();
    },
  };
}
