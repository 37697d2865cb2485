import type { Logger } from "pino";
import type { BrokerConfig } from "./config/broker-config.ts";
import {
  applyOffsetsLeadership,
  GroupCoordinatorManager,
  OFFSETS_TOPIC,
  offsetsLeadershipIn,
  offsetsTopicSpec,
  type EnsureOffsetsTopic,
} from "./coordinator/index.ts";
import { createDispatcher, type Dispatcher } from "./handlers/dispatcher.ts";

import { createHandlers } from "./handlers/registry.ts";
import type { BrokerServices } from "./handlers/services.ts";
import { LogManager } from "./log/index.ts";
import { EffectiveConfigs } from "./metadata/effective-configs.ts";
import { leaderEndpoint } from "./metadata/image/index.ts";
import { MetadataView } from "./metadata/metadata-source.ts";
import { SingleNodeMetadataSource } from "./metadata/single-node-source.ts";
import { TopicAdmin } from "./metadata/topic-admin.ts";
import { TopicRegistry } from "./metadata/topic-registry.ts";
import { LogGroupStore } from "./partitions/offsets-store.ts";
import { PartitionManager } from "./partitions/partition-manager.ts";
import { PartitionPublisher } from "./partitions/partition-publisher.ts";
import { ProducerIdAllocator, type ProducerIdBlockSource } from "./partitions/producer-ids.ts";
import { API_CODECS } from "./protocol/index.ts";
import { METADATA_LOG_DIR } from "./quorum/metadata-log.ts";
import { apiRequestMetrics, type BrokerMetrics } from "./runtime/metrics.ts";

export interface Broker {
  readonly services: BrokerServices;
  readonly dispatcher: Dispatcher;
  /** Stops the coordinator, wakes long-polls and closes every log cleanly (the clean-shutdown marker skips recovery). */
  close(): Promise<void>;
}

export interface BrokerOptions {
  config: BrokerConfig;
  /** The formatted storage's cluster id (node/start-node.ts formats a single voter's dirs first). */
  clusterId: string;
  /** Where InitProducerId's id blocks come from: the active controller (AllocateProducerIds). */
  producerIdBlocks: ProducerIdBlockSource;
  logger: Logger;
  metrics?: BrokerMetrics;
  clock?: () => number;
}

/** Builds the broker's domain services on the first log dir and wires them to the request handlers. */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const { config, logger } = options;
  const clock = options.clock ?? Date.now;
  const metadataDir = config.logDirs[0];
  if (metadataDir === undefined) throw new Error("log.dirs is empty");
  const topics = await TopicRegistry.open({ dir: metadataDir, clusterId: options.clusterId, logger });
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
    clock,
    retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
    foreignDirs: [METADATA_LOG_DIR],
  });
  const partitions = new PartitionManager(logs, logger.child({ component: "partitions" }));
  const configs = new EffectiveConfigs(config);
  // Everything below reads metadata images only. The interim single-node source turns the registry into them until
  // the controller quorum's MetadataLoader takes its place. The partition publisher acts on an image before the
  // handlers' view sees it, so a partition is answered for only once its log is open.
  const source = new SingleNodeMetadataSource(topics, config);
  const view = new MetadataView(config.nodeId);
  source.subscribe(
    new PartitionPublisher(config.nodeId, partitions, configs, logger.child({ component: "partitions" })).publish,
  );
  source.subscribe(view.publish);
  await source.sync();
  const admin = new TopicAdmin(config, topics, source, configs, logger.child({ component: "admin" }));

  // __consumer_offsets is created only through this function (the coordinator's EnsureOffsetsTopic port): TopicAdmin on
  // this single node; the controller, once topic creation is a controller command (ADR 22).
  const ensureOffsetsTopic: EnsureOffsetsTopic = async (spec) => {
    const existing = topics.get(OFFSETS_TOPIC);
    if (existing) return existing.partitions;
    const created = await admin.createTopic({
      name: OFFSETS_TOPIC,
      numPartitions: spec.numPartitions,
      // A single node is the only replica of every partition until replication exists (issue 12).
      replicationFactor: 1,
      configs: new Map(spec.configs),
      validateOnly: false,
    });
    if (!created.topic) throw new Error(`cannot create ${OFFSETS_TOPIC}: ${created.errorMessage ?? created.errorCode}`);
    return created.topic.partitions;
  };
  const groups = new GroupCoordinatorManager({
    partitionCount: await ensureOffsetsTopic(offsetsTopicSpec(config)),
    openStore: (partition, leaderEpoch) => {
      const log = partitions.log(OFFSETS_TOPIC, partition);
      if (!log) throw new Error(`${OFFSETS_TOPIC}-${partition} has no log`);
      return new LogGroupStore(log, clock, leaderEpoch);
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
  // (not awaited, so the chain goes on; their groups answer COORDINATOR_LOAD_IN_PROGRESS meanwhile).
  source.subscribe((_image, changes) => {
    void applyOffsetsLeadership(changes.localChanges(config.nodeId), groups);
  });
  const loaded = await Promise.all(applyOffsetsLeadership(offsetsLeadershipIn(source.image(), config.nodeId), groups));
  if (!loaded.every(Boolean)) throw new Error(`cannot load the groups of ${OFFSETS_TOPIC}: see the log`);

  const producerIds = new ProducerIdAllocator(options.producerIdBlocks, logger.child({ component: "producer-ids" }));
  const services: BrokerServices = {
    config,
    clusterId: topics.clusterId,
    metadata: view,
    configs,
    topics,
    admin,
    partitions,
    groups,
    offsetsPartitionLeader: (partition, listenerName) =>
      leaderEndpoint(view.image, OFFSETS_TOPIC, partition, listenerName),
    producerIds,
    logger,
    clock,
  };

  const metrics = options.metrics;
  if (metrics) {
    metrics.setPartitionStatsSource(() =>
      logs.partitions().map(({ topic, partition, log }) => ({ topic, partition, logSizeBytes: log.sizeBytes() })),
    );
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
    async close() {
      groups.close();
      partitions.wakeAll();
      await logs.close();
    },
  };
}
