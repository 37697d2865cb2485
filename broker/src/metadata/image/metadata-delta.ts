import {
  MetadataRecordType,
  type BrokerRegistrationChangeRecord,
  type ConfigRecord,
  type FeatureLevelRecord,
  type FenceBrokerRecord,
  type MetadataRecordAndVersion,
  type PartitionChangeRecord,
  type PartitionRecord,
  type ProducerIdsRecord,
  type RegisterBrokerRecord,
  type RegisterControllerRecord,
  type RemoveTopicRecord,
  type TopicRecord,
  type UnfenceBrokerRecord,
  type UnregisterBrokerRecord,
} from "../../protocol/index.ts";
import {
  ConfigResourceType,
  configKey,
  EMPTY_IMAGE,
  type BrokerRegistration,
  type ControllerRegistration,
  type MetadataImage,
  type PartitionRegistration,
  type TopicImage,
  UNASSIGNED_DIRECTORY,
} from "./metadata-image.ts";

// Committed metadata records applied on top of an image (Kafka's MetadataDelta): replay them in log order, then
// `apply()` gives the next image and what changed. Only committed records may be replayed, on every node alike, so
// every node derives the same image from the same log prefix.

/** Kafka's "no change" markers in PartitionChangeRecord and BrokerRegistrationChangeRecord. */
const NO_LEADER_CHANGE = -2;
const NO_RECOVERY_STATE_CHANGE = -1;

/**
 * Records that do not change the image yet (ACLs, SCRAM credentials, delegation tokens, client quotas, ZooKeeper
 * migration, transaction markers): accepted and ignored until their features exist.
 */
const IGNORED: ReadonlySet<number> = new Set([
  MetadataRecordType.NoOpRecord,
  MetadataRecordType.AccessControlEntryRecord,
  MetadataRecordType.RemoveAccessControlEntryRecord,
  MetadataRecordType.UserScramCredentialRecord,
  MetadataRecordType.RemoveUserScramCredentialRecord,
  MetadataRecordType.DelegationTokenRecord,
  MetadataRecordType.RemoveDelegationTokenRecord,
  MetadataRecordType.ClientQuotaRecord,
  MetadataRecordType.ZkMigrationStateRecord,
  MetadataRecordType.BeginTransactionRecord,
  MetadataRecordType.EndTransactionRecord,
  MetadataRecordType.AbortTransactionRecord,
]);

/** A record that contradicts the image (a partition of an unknown topic, a fence of a stale broker epoch, ...). */
export class MetadataReplayError extends Error {
  override readonly name = "MetadataReplayError";
}

export interface PartitionRef {
  readonly topicId: string;
  readonly topicName: string;
  readonly partition: number;
}

/** What one node must do about the partitions a delta touched (Kafka's TopicsDelta.localChanges). */
export interface LocalChanges {
  /** Replicas this node no longer holds: the partition was deleted or reassigned away. */
  readonly deleted: readonly PartitionRef[];
  /** Partitions this node now leads (newly, or with a new leader epoch). */
  readonly leaders: readonly (PartitionRef & { readonly registration: PartitionRegistration })[];
  /** Partitions this node now follows. */
  readonly followers: readonly (PartitionRef & { readonly registration: PartitionRegistration })[];
}

export interface MetadataChanges {
  readonly topicsCreated: readonly string[];
  readonly topicsDeleted: readonly string[];
  localChanges(nodeId: number): LocalChanges;
}

export class MetadataDelta {
  /** Topics touched by this delta: the new state, or null when deleted. */
  private readonly topics = new Map<string, TopicImage | null>();
  private readonly brokers = new Map<number, BrokerRegistration | null>();
  private readonly controllers = new Map<number, ControllerRegistration | null>();
  private readonly features = new Map<string, number | null>();
  private readonly configs = new Map<string, Map<string, string> | null>();
  private nextProducerId: bigint;
  private provenance: { offset: number; epoch: number };
  /** Topics created by this delta, by name (a lookup by name must not scan every topic the delta touched). */
  private readonly createdByName = new Map<string, string>();
  /**
   * Partition maps this delta made and no image holds yet, by topic id: further partition records of the topic go
   * into them in place, rather than copying the topic's partitions once per record. Cleared by `apply`.
   */
  private readonly ownPartitions = new Map<string, Map<number, PartitionRegistration>>();

  constructor(private readonly base: MetadataImage) {
    this.nextProducerId = base.nextProducerId;
    this.provenance = base.provenance;
  }

  /**
   * A delta that replaces `base` with what a snapshot's records build (Kafka's snapshot load): everything in `base`
   * starts out removed, the records put back what the snapshot holds, and the changes are reported against `base`.
   */
  static replacing(base: MetadataImage): MetadataDelta {
    const delta = new MetadataDelta(base);
    for (const id of base.topicsById.keys()) delta.topics.set(id, null);
    for (const id of base.brokers.keys()) delta.brokers.set(id, null);
    for (const id of base.controllers.keys()) delta.controllers.set(id, null);
    for (const name of base.features.keys()) delta.features.set(name, null);
    for (const key of base.configs.keys()) delta.configs.set(key, null);
    delta.nextProducerId = 0n;
    return delta;
  }

  private topic(id: string): TopicImage | undefined {
    const changed = this.topics.get(id);
    if (changed === null) return undefined;
    return changed ?? this.base.topicsById.get(id);
  }

  private topicIdByName(name: string): string | undefined {
    const created = this.createdByName.get(name);
    if (created !== undefined && this.topics.get(created)) return created;
    const id = this.base.topicIdsByName.get(name);
    return id !== undefined && this.topics.get(id) !== null ? id : undefined;
  }

  private broker(id: number): BrokerRegistration | undefined {
    const changed = this.brokers.get(id);
    if (changed === null) return undefined;
    return changed ?? this.base.brokers.get(id);
  }

  private configsOf(key: string): Map<string, string> {
    let current = this.configs.get(key);
    if (current === undefined || current === null) {
      current = new Map(current === null ? [] : (this.base.configs.get(key) ?? []));
      this.configs.set(key, current);
    }
    return current;
  }

  /** Applies one committed record at `offset` of leader epoch `epoch`. */
  replay(r: MetadataRecordAndVersion, offset: number, epoch: number): void {
    this.provenance = { offset, epoch };
    switch (r.type) {
      case MetadataRecordType.TopicRecord:
        return this.replayTopic(r.record as TopicRecord);
      case MetadataRecordType.PartitionRecord:
        return this.replayPartition(r.record as PartitionRecord);
      case MetadataRecordType.PartitionChangeRecord:
        return this.replayPartitionChange(r.record as PartitionChangeRecord);
      case MetadataRecordType.RemoveTopicRecord:
        return this.replayRemoveTopic(r.record as RemoveTopicRecord);
      case MetadataRecordType.RegisterBrokerRecord:
        return this.replayRegisterBroker(r.record as RegisterBrokerRecord);
      case MetadataRecordType.RegisterControllerRecord: {
        // A controller registers again under a new incarnation at every start; the latest record is the one in force.
        const c = r.record as RegisterControllerRecord;
        this.controllers.set(c.controllerId, {
          id: c.controllerId,
          incarnationId: c.incarnationId,
          endpoints: c.endPoints.map((e) => ({
            listener: e.name,
            host: e.host,
            port: e.port,
            securityProtocol: e.securityProtocol,
          })),
        });
        return;
      }
      case MetadataRecordType.UnregisterBrokerRecord: {
        const u = r.record as UnregisterBrokerRecord;
        this.requireBroker(u.brokerId, u.brokerEpoch, "UnregisterBrokerRecord");
        this.brokers.set(u.brokerId, null);
        return;
      }
      case MetadataRecordType.FenceBrokerRecord: {
        const f = r.record as FenceBrokerRecord;
        this.brokers.set(f.id, { ...this.requireBroker(f.id, f.epoch, "FenceBrokerRecord"), fenced: true });
        return;
      }
      case MetadataRecordType.UnfenceBrokerRecord: {
        const u = r.record as UnfenceBrokerRecord;
        this.brokers.set(u.id, { ...this.requireBroker(u.id, u.epoch, "UnfenceBrokerRecord"), fenced: false });
        return;
      }
      case MetadataRecordType.BrokerRegistrationChangeRecord:
        return this.replayBrokerChange(r.record as BrokerRegistrationChangeRecord);
      case MetadataRecordType.ConfigRecord: {
        const c = r.record as ConfigRecord;
        const configs = this.configsOf(configKey(c.resourceType, c.resourceName));
        if (c.value === null) configs.delete(c.name);
        else configs.set(c.name, c.value);
        return;
      }
      case MetadataRecordType.FeatureLevelRecord: {
        const f = r.record as FeatureLevelRecord;
        // Level 0 removes the feature, as in Kafka.
        this.features.set(f.name, f.featureLevel === 0 ? null : f.featureLevel);
        return;
      }
      case MetadataRecordType.ProducerIdsRecord: {
        const p = r.record as ProducerIdsRecord;
        if (p.nextProducerId < this.nextProducerId) {
          throw new MetadataReplayError(`ProducerIdsRecord moves the next producer id back to ${p.nextProducerId}`);
        }
        this.nextProducerId = p.nextProducerId;
        return;
      }
      default:
        if (!IGNORED.has(r.type)) throw new MetadataReplayError(`metadata record type ${r.type} is not known`);
    }
  }

  private replayTopic(t: TopicRecord): void {
    if (this.topic(t.topicId) !== undefined) throw new MetadataReplayError(`topic id ${t.topicId} exists already`);
    if (this.topicIdByName(t.name) !== undefined) throw new MetadataReplayError(`topic ${t.name} exists already`);
    const partitions = new Map<number, PartitionRegistration>();
    this.ownPartitions.set(t.topicId, partitions);
    this.topics.set(t.topicId, { name: t.name, id: t.topicId, partitions });
    this.createdByName.set(t.name, t.topicId);
  }

  private requireTopic(id: string, what: string): TopicImage {
    const topic = this.topic(id);
    if (topic === undefined) throw new MetadataReplayError(`${what} for unknown topic id ${id}`);
    return topic;
  }

  private withPartition(topic: TopicImage, partition: number, registration: PartitionRegistration): void {
    let partitions = this.ownPartitions.get(topic.id);
    if (partitions === undefined || partitions !== topic.partitions) {
      partitions = new Map(topic.partitions);
      this.ownPartitions.set(topic.id, partitions);
      this.topics.set(topic.id, { ...topic, partitions });
    }
    partitions.set(partition, registration);
  }

  private replayPartition(p: PartitionRecord): void {
    const topic = this.requireTopic(p.topicId, "PartitionRecord");
    this.withPartition(topic, p.partitionId, {
      replicas: p.replicas,
      isr: p.isr,
      removingReplicas: p.removingReplicas,
      addingReplicas: p.addingReplicas,
      leader: p.leader,
      leaderRecoveryState: p.leaderRecoveryState ?? 0,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      eligibleLeaderReplicas: p.eligibleLeaderReplicas ?? [],
      lastKnownElr: p.lastKnownElr ?? [],
      ...assignedDirectories(p.directories),
    });
  }

  /** Every change bumps the partition epoch; the leader epoch moves only when the record sets a leader. */
  private replayPartitionChange(c: PartitionChangeRecord): void {
    const topic = this.requireTopic(c.topicId, "PartitionChangeRecord");
    const current = topic.partitions.get(c.partitionId);
    if (current === undefined) {
      throw new MetadataReplayError(`PartitionChangeRecord for unknown partition ${topic.name}-${c.partitionId}`);
    }
    const leaderChanged = c.leader !== undefined && c.leader !== NO_LEADER_CHANGE;
    const recovery = c.leaderRecoveryState;
    this.withPartition(topic, c.partitionId, {
      replicas: c.replicas ?? current.replicas,
      isr: c.isr ?? current.isr,
      removingReplicas: c.removingReplicas ?? current.removingReplicas,
      addingReplicas: c.addingReplicas ?? current.addingReplicas,
      leader: leaderChanged ? (c.leader ?? current.leader) : current.leader,
      leaderRecoveryState:
        recovery === undefined || recovery === NO_RECOVERY_STATE_CHANGE ? current.leaderRecoveryState : recovery,
      leaderEpoch: leaderChanged ? current.leaderEpoch + 1 : current.leaderEpoch,
      partitionEpoch: current.partitionEpoch + 1,
      eligibleLeaderReplicas: c.eligibleLeaderReplicas ?? current.eligibleLeaderReplicas,
      lastKnownElr: c.lastKnownElr ?? current.lastKnownElr,
      ...assignedDirectories(c.directories ?? current.directories),
    });
  }

  private replayRemoveTopic(r: RemoveTopicRecord): void {
    const topic = this.requireTopic(r.topicId, "RemoveTopicRecord");
    this.topics.set(r.topicId, null);
    // A deleted topic's config overrides go with it.
    this.configs.set(configKey(ConfigResourceType.TOPIC, topic.name), null);
  }

  private replayRegisterBroker(b: RegisterBrokerRecord): void {
    this.brokers.set(b.brokerId, {
      id: b.brokerId,
      epoch: b.brokerEpoch,
      incarnationId: b.incarnationId,
      endpoints: b.endPoints.map((e) => ({
        listener: e.name,
        host: e.host,
        port: e.port,
        securityProtocol: e.securityProtocol,
      })),
      rack: b.rack,
      fenced: b.fenced,
      inControlledShutdown: b.inControlledShutdown ?? false,
      supportedFeatures: new Map(
        b.features.map((f) => [f.name, { min: f.minSupportedVersion, max: f.maxSupportedVersion }]),
      ),
      ...(b.logDirs !== undefined && b.logDirs.length > 0 ? { logDirs: [...b.logDirs].sort() } : {}),
    });
  }

  private replayBrokerChange(c: BrokerRegistrationChangeRecord): void {
    const current = this.requireBroker(c.brokerId, c.brokerEpoch, "BrokerRegistrationChangeRecord");
    // Fenced: -1 unfenced, 0 no change, 1 fenced. InControlledShutdown: 0 no change, 1 in controlled shutdown.
    const fenced = c.fenced === 1 ? true : c.fenced === -1 ? false : current.fenced;
    const inControlledShutdown = c.inControlledShutdown === 1 ? true : current.inControlledShutdown;
    // LogDirs (v2): the broker's online dirs from now on, when the record carries them (KIP-858).
    const logDirs = c.logDirs !== undefined && c.logDirs.length > 0 ? { logDirs: [...c.logDirs].sort() } : {};
    this.brokers.set(c.brokerId, { ...current, fenced, inControlledShutdown, ...logDirs });
  }

  private requireBroker(id: number, epoch: bigint, what: string): BrokerRegistration {
    const broker = this.broker(id);
    if (broker === undefined) throw new MetadataReplayError(`${what} for unregistered broker ${id}`);
    if (broker.epoch !== epoch) {
      throw new MetadataReplayError(`${what} for broker ${id} epoch ${epoch}, registered with epoch ${broker.epoch}`);
    }
    return broker;
  }

  /** The next image, and what changed from the base. Maps nothing changed in are the base's own. */
  apply(): { image: MetadataImage; changes: MetadataChanges } {
    const base = this.base;
    // From here on images hold the partition maps: a record replayed after this copies them again.
    this.ownPartitions.clear();
    const topicsChanged = this.topics.size > 0;
    const topicsById = topicsChanged ? new Map(base.topicsById) : base.topicsById;
    const topicIdsByName = topicsChanged ? new Map(base.topicIdsByName) : base.topicIdsByName;
    const topicsCreated: string[] = [];
    const topicsDeleted: string[] = [];
    if (topicsChanged) {
      const ids = topicsById as Map<string, TopicImage>;
      const names = topicIdsByName as Map<string, string>;
      // Every old name goes before any new one is set: a name may pass from one touched topic to another.
      for (const id of this.topics.keys()) {
        const before = base.topicsById.get(id);
        if (before !== undefined) names.delete(before.name);
      }
      for (const [id, topic] of this.topics) {
        const before = base.topicsById.get(id);
        if (topic === null) {
          ids.delete(id);
          if (before !== undefined) topicsDeleted.push(before.name);
        } else {
          ids.set(id, topic);
          names.set(topic.name, id);
          if (before === undefined) topicsCreated.push(topic.name);
        }
      }
    }
    const brokers = merged(base.brokers, this.brokers, (b) => b === null);
    const controllers = merged(base.controllers, this.controllers, (c) => c === null);
    const features = merged(base.features, this.features, (level) => level === null);
    const configs = merged(base.configs, this.configs, (values) => values === null || values.size === 0);
    const image: MetadataImage = {
      provenance: this.provenance,
      features,
      brokers,
      controllers,
      topicsById,
      topicIdsByName,
      configs,
      nextProducerId: this.nextProducerId,
    };
    const touched = new Map(this.topics);
    return {
      image,
      changes: {
        topicsCreated,
        topicsDeleted,
        localChanges: (nodeId) => localChanges(base, touched, nodeId),
      },
    };
  }
}

/**
 * A partition's replica directories as the image keeps them: absent when none is assigned (the same meaning as a list
 * of UNASSIGNED_DIRECTORY), so an image replayed from a snapshot equals the one it was written from.
 */
function assignedDirectories(directories: readonly string[] | null | undefined): { directories?: readonly string[] } {
  return directories?.some((d) => d !== UNASSIGNED_DIRECTORY) === true ? { directories } : {};
}

/**
 * `base` with `changes` on top (an entry that `removes` is deleted), or `base` itself when there are no changes, so an
 * image shares every map a delta did not touch with the image before it.
 */
function merged<K, V, C extends V | null>(
  base: ReadonlyMap<K, V>,
  changes: ReadonlyMap<K, C>,
  removes: (change: C) => boolean,
): ReadonlyMap<K, V> {
  if (changes.size === 0) return base;
  const out = new Map(base);
  for (const [key, change] of changes) {
    if (removes(change)) out.delete(key);
    else out.set(key, change as V);
  }
  return out;
}

/**
 * The changes from the empty image to `image`: every topic created, every local replica new. What a publisher that
 * joins after images were published is handed with the current image (Kafka's loader does the same for a publisher
 * installed late), so it acts as if it had seen every image from the start.
 */
export function changesFromEmpty(image: MetadataImage): MetadataChanges {
  return {
    topicsCreated: [...image.topicsById.values()].map((t) => t.name),
    topicsDeleted: [],
    localChanges: (nodeId) => localChanges(EMPTY_IMAGE, image.topicsById, nodeId),
  };
}

function localChanges(
  base: MetadataImage,
  touched: ReadonlyMap<string, TopicImage | null>,
  nodeId: number,
): LocalChanges {
  const deleted: PartitionRef[] = [];
  const leaders: (PartitionRef & { registration: PartitionRegistration })[] = [];
  const followers: (PartitionRef & { registration: PartitionRegistration })[] = [];
  for (const [topicId, topic] of touched) {
    const before = base.topicsById.get(topicId);
    if (topic === null) {
      for (const [partition, p] of before?.partitions ?? []) {
        if (p.replicas.includes(nodeId)) deleted.push({ topicId, topicName: before?.name ?? "", partition });
      }
      continue;
    }
    for (const [partition, registration] of topic.partitions) {
      const previous = before?.partitions.get(partition);
      if (previous === registration) continue;
      const ref = { topicId, topicName: topic.name, partition };
      if (!registration.replicas.includes(nodeId)) {
        if (previous?.replicas.includes(nodeId)) deleted.push(ref);
      } else if (registration.leader === nodeId) {
        if (previous?.leader !== nodeId || previous.leaderEpoch !== registration.leaderEpoch) {
          leaders.push({ ...ref, registration });
        }
      } else {
        followers.push({ ...ref, registration });
      }
    }
  }
  return { deleted, leaders, followers };
}
