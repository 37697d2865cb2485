import type { Logger } from "pino";
import type { EffectiveConfigs } from "../metadata/effective-configs.ts";
import {
  ConfigResourceType,
  configKey,
  EMPTY_IMAGE,
  MIGRATING_DIRECTORY,
  replicaDirectory,
  UNASSIGNED_DIRECTORY,
  topicByName,
  type MetadataChanges,
  type MetadataImage,
  type PartitionRegistration,
} from "../metadata/image/index.ts";
import type { MetadataPublisher } from "../metadata/metadata-source.ts";
import type { ReplicaFetcherManager } from "../replication/fetcher/fetcher-manager.ts";
import { LEADER_RECOVERING } from "../replication/leader-state.ts";
import type { DirectoryAssignments } from "./directory-assignments.ts";
import type { PartitionManager, ReplicationView } from "./partition-manager.ts";

// Applies each published image to this node's partition logs (ADR 22; Kafka's ReplicaManager.applyDelta): opens or
// creates the log of every partition this node is now a replica of, records whether it leads and in which leader
// epoch, deletes the logs of partitions deleted or reassigned away, and keeps each log's settings in line with its
// topic's configs. The first image also deletes logs on disk that it does not place on this node (left by a crash
// mid-delete, or by a reassignment while the node was down). Partitions this node follows go to the replica fetchers
// with their leader and leader epoch, unless their leader is still RECOVERING after an unclean election (KIP-704);
// a partition it now leads, or no longer holds, leaves them first, so no fetched data lands in a log after that.
// Each replica's log dir goes to the directory assignments (KIP-858), which tell the controller where it is.

/** What the publisher asks of the replica fetchers. */
export type FollowerFetchers = Pick<ReplicaFetcherManager, "setBrokers" | "follow" | "remove">;

/** Logs opened or created at once by one image: enough to keep libuv's 4 threads busy, few enough to stay fair. */
const LOG_OPEN_CONCURRENCY = 8;

/** Runs `fn` on every item, at most `limit` at a time; rejects with the first failure once the workers have stopped. */
async function eachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
}

export class PartitionPublisher {
  private previous: MetadataImage = EMPTY_IMAGE;
  private first = true;

  constructor(
    private readonly nodeId: number,
    private readonly partitions: PartitionManager,
    private readonly configs: EffectiveConfigs,
    private readonly logger: Logger,
    private readonly fetchers?: FollowerFetchers,
    private readonly directories?: DirectoryAssignments,
  ) {
    // Partitions of an offline log dir stop fetching from their leaders: nothing fetched could be stored.
    partitions.onLogDirOffline((_logDir, offline) => {
      for (const { topic, partition } of offline) {
        void this.fetchers
          ?.remove(topic, partition)
          .catch((err: unknown) => this.logger.error({ err, topic, partition }, "Could not stop fetching"));
      }
    });
  }

  readonly publish: MetadataPublisher = async (image: MetadataImage, changes: MetadataChanges) => {
    const nodeId = this.nodeId;
    if (this.first) {
      await this.partitions.removeUnknown(
        (topic, partition) => topicByName(image, topic)?.partitions.get(partition)?.replicas.includes(nodeId) ?? false,
      );
    }
    this.partitions.setReplicationView(replicationView(image, this.configs));
    const local = changes.localChanges(nodeId);
    this.fetchers?.setBrokers(image.brokers);
    for (const { topicName, partition } of local.deleted) {
      await this.fetchers?.remove(topicName, partition);
      await this.partitions.deletePartition(topicName, partition);
      this.logger.info({ topic: topicName, partition }, "Deleted the log of a partition no longer on this node");
    }
    // Partitions are independent: their logs are opened or created several at a time, so that one log's file system
    // round trips (each a trip through libuv's thread pool, several of them fsyncs) overlap with another's. A
    // CreateTopics of 100 topics waits for this on the broker that forwarded it.
    await eachConcurrently(local.leaders, LOG_OPEN_CONCURRENCY, async (leader) => {
      const { topicName, partition, registration } = leader;
      if (this.inOfflineDir(topicName, partition, registration)) {
        // The controller elects no replica whose dir its registration lacks; an image that still names this one (sent
        // before the registration) is answered with KAFKA_STORAGE_ERROR until the next.
        this.logger.error({ topic: topicName, partition }, "Named leader of a partition whose log dir is offline");
        await this.fetchers?.remove(topicName, partition);
        this.partitions.becomeFollower(topicName, partition, registration.leaderEpoch, registration.leader);
        return;
      }
      await this.partitions.createPartition(topicName, partition, this.configs.logConfigFor(image, topicName));
      this.placed(leader);
      await this.fetchers?.remove(topicName, partition);
      await this.partitions.becomeLeader(topicName, partition, registration);
    });
    await eachConcurrently(local.followers, LOG_OPEN_CONCURRENCY, async (follower) => {
      const { topicId, topicName, partition, registration } = follower;
      if (this.inOfflineDir(topicName, partition, registration)) {
        await this.fetchers?.remove(topicName, partition);
        this.partitions.becomeFollower(topicName, partition, registration.leaderEpoch, registration.leader);
        return;
      }
      await this.partitions.createPartition(topicName, partition, this.configs.logConfigFor(image, topicName));
      this.placed(follower);
      this.partitions.becomeFollower(topicName, partition, registration.leaderEpoch, registration.leader);
      if (this.partitions.offlineError(topicName, partition) !== undefined) return;
      if (registration.leaderRecoveryState === LEADER_RECOVERING) {
        // KIP-704: a leader elected uncleanly is not fetched from until it reports RECOVERED (a later image).
        await this.fetchers?.remove(topicName, partition);
        return;
      }
      await this.fetchers?.follow({
        topicId,
        topic: topicName,
        partition,
        leaderId: registration.leader,
        leaderEpoch: registration.leaderEpoch,
      });
    });
    // ISR changes of partitions led here in the same leader epoch (AlterPartition results, or the controller's own).
    // An image whose topics did not change shares the previous image's map: nothing to look at then.
    const topicsChanged = image.topicsById !== this.previous.topicsById;
    for (const led of topicsChanged ? this.partitions.ledPartitions() : []) {
      const registration = topicByName(image, led.topic)?.partitions.get(led.partition);
      if (registration && registration.leader === nodeId && registration.partitionEpoch > led.partitionEpoch)
        this.partitions.updateLeadership(led.topic, led.partition, registration);
    }
    // A follower the HW waited for (caught up, about to join the ISR) may have been fenced.
    if (image.brokers !== this.previous.brokers) this.partitions.brokersChanged();
    if (!this.first) this.reconfigure(image);
    this.previous = image;
    this.first = false;
  };

  /**
   * This node's replica has no log open here and lives in an offline log dir: one found there at start-up, or one the
   * image places in a dir of this broker that is offline or that it does not have (a dir whose meta.properties could
   * not be read) while some dir is offline. It is marked offline rather than created empty in another dir (Kafka
   * creates no log for an existing replica while a dir is offline): a copy there would fetch from the leader and rejoin
   * the ISR, and the dir's own copy would clash with it once the dir works again. A replica the image has not placed
   * (UNASSIGNED) is created as before, in an online dir.
   */
  private inOfflineDir(topic: string, partition: number, registration: PartitionRegistration): boolean {
    if (this.partitions.logDirOf(topic, partition) !== undefined) return false;
    if (this.partitions.offlineError(topic, partition) !== undefined) return true;
    const offline = this.partitions.offlineLogDirs();
    if (offline.length === 0) return false;
    const assigned = replicaDirectory(registration, this.nodeId);
    if (assigned === UNASSIGNED_DIRECTORY || assigned === MIGRATING_DIRECTORY) return false;
    const logDir = this.directories?.logDirOf(assigned);
    if (logDir !== undefined && !offline.includes(logDir)) return false;
    this.logger.warn(
      { topic, partition, directoryId: assigned, logDir },
      "A replica of this broker is in an offline log dir: not served, and not created in another",
    );
    this.partitions.markReplicaOffline(topic, partition);
    return true;
  }

  /** Tells the directory assignments which log dir holds this node's replica, and where the image has it. */
  private placed(ref: {
    topicId: string;
    topicName: string;
    partition: number;
    registration: PartitionRegistration;
  }): void {
    const logDir = this.partitions.logDirOf(ref.topicName, ref.partition);
    if (logDir === undefined) return;
    this.directories?.place(ref.topicId, ref.partition, logDir, replicaDirectory(ref.registration, this.nodeId));
  }

  /** Pushes changed topic or broker configs to the logs of this node's partitions. */
  private reconfigure(image: MetadataImage): void {
    const changed = (key: string) => image.configs.get(key) !== this.previous.configs.get(key);
    const brokerChanged =
      changed(configKey(ConfigResourceType.BROKER, "")) ||
      changed(configKey(ConfigResourceType.BROKER, String(this.nodeId)));
    for (const topic of image.topicsById.values()) {
      if (!brokerChanged && !changed(configKey(ConfigResourceType.TOPIC, topic.name))) continue;
      const logConfig = this.configs.logConfigFor(image, topic.name);
      for (const [partition, registration] of topic.partitions) {
        if (registration.replicas.includes(this.nodeId)) this.partitions.setConfig(topic.name, partition, logConfig);
      }
    }
  }
}

/** Replication's view of `image`: its registered brokers, and min.insync.replicas per topic (looked up once each). */
function replicationView(image: MetadataImage, configs: EffectiveConfigs): ReplicationView {
  const minIsr = new Map<string, number>();
  return {
    brokers: (id) => image.brokers.get(id),
    topicId: (topic) => image.topicIdsByName.get(topic),
    minInsyncReplicas: (topic) => {
      let value = minIsr.get(topic);
      if (value === undefined) {
        value = Number(configs.configValue(image, topic, "min.insync.replicas"));
        minIsr.set(topic, value);
      }
      return value;
    },
  };
}
