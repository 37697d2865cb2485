// The cluster's metadata as every node sees it once it has applied the committed metadata log (ADR 22; Kafka's
// MetadataImage): an immutable value, replaced as a whole by MetadataDelta.apply, so a reader holding one image sees a
// consistent cluster even while the next one is built. Handlers will answer Metadata, DescribeCluster,
// DescribeConfigs, FindCoordinator, ... from it.

/** Kafka's ConfigResource.Type ids as ConfigRecord carries them. */
export const ConfigResourceType = { TOPIC: 2, BROKER: 4 } as const;

export interface PartitionRegistration {
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly removingReplicas: readonly number[];
  readonly addingReplicas: readonly number[];
  /** -1 when the partition has no leader. */
  readonly leader: number;
  /** 1 while recovering from an unclean election (KIP-704). */
  readonly leaderRecoveryState: number;
  readonly leaderEpoch: number;
  /** Bumped by every change of the partition. */
  readonly partitionEpoch: number;
  readonly eligibleLeaderReplicas: readonly number[];
  readonly lastKnownElr: readonly number[];
  /**
   * The log directory (its `directory.id`) of each replica, in replica order (KIP-858): UNASSIGNED_DIRECTORY until the
   * replica's broker has told the controller where it placed it. Absent where no record set them (treated as
   * unassigned).
   */
  readonly directories?: readonly string[];
}

/** Kafka's DirectoryId.UNASSIGNED: the replica's broker has not said (or need not say) which dir holds it. */
export const UNASSIGNED_DIRECTORY = "00000000-0000-0000-0000-000000000000";
/** Kafka's DirectoryId.LOST: the replica's dir is gone; such a replica is never online. */
export const LOST_DIRECTORY = "00000000-0000-0000-0000-000000000001";
/** Kafka's DirectoryId.MIGRATING: the replica's dir is not known yet (registered before directories existed). */
export const MIGRATING_DIRECTORY = "00000000-0000-0000-0000-000000000002";

/** The directory of `brokerId`'s replica of the partition: UNASSIGNED_DIRECTORY when not known. */
export function replicaDirectory(p: PartitionRegistration, brokerId: number): string {
  const i = p.replicas.indexOf(brokerId);
  return (i < 0 ? undefined : p.directories?.[i]) ?? UNASSIGNED_DIRECTORY;
}

/**
 * Whether `directory` is online on the broker (Kafka's DirectoryId.isOnline): an unassigned or migrating replica
 * counts as online, a lost one never; otherwise the broker's registration must list the dir among its online ones.
 * A registration that lists none (written before log dirs were kept) counts every dir as online.
 */
export function directoryOnline(broker: BrokerRegistration | undefined, directory: string): boolean {
  if (broker === undefined) return false;
  if (directory === UNASSIGNED_DIRECTORY || directory === MIGRATING_DIRECTORY) return true;
  if (directory === LOST_DIRECTORY) return false;
  const dirs = broker.logDirs ?? [];
  return dirs.length === 0 || dirs.includes(directory);
}

export interface TopicImage {
  readonly name: string;
  /** Canonical UUID string. */
  readonly id: string;
  readonly partitions: ReadonlyMap<number, PartitionRegistration>;
}

export interface BrokerEndpoint {
  readonly listener: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: number;
}

export interface BrokerRegistration {
  readonly id: number;
  /** The offset of its registration record: a new registration gets a new epoch. */
  readonly epoch: bigint;
  readonly incarnationId: string;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
  /**
   * Its online log dirs' ids (KIP-858): the dirs it registered with, less those it has since reported offline.
   * Absent or empty where the records did not say.
   */
  readonly logDirs?: readonly string[];
  /** The feature levels it said it supports when it registered; absent where no registration record built it. */
  readonly supportedFeatures?: ReadonlyMap<string, { readonly min: number; readonly max: number }>;
}

/** A controller as its RegisterControllerRecord (KIP-919) describes it: voters and observers alike register. */
export interface ControllerRegistration {
  readonly id: number;
  readonly incarnationId: string;
  readonly endpoints: readonly BrokerEndpoint[];
}

export interface MetadataImage {
  /** Offset and epoch of the last record applied (-1 before any). */
  readonly provenance: { readonly offset: number; readonly epoch: number };
  /** Finalized feature levels, metadata.version among them. */
  readonly features: ReadonlyMap<string, number>;
  readonly brokers: ReadonlyMap<number, BrokerRegistration>;
  readonly controllers: ReadonlyMap<number, ControllerRegistration>;
  readonly topicsById: ReadonlyMap<string, TopicImage>;
  readonly topicIdsByName: ReadonlyMap<string, string>;
  /** Config overrides by resource key (`configKey`). */
  readonly configs: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** The first producer id not yet handed out in any block. */
  readonly nextProducerId: bigint;
}

export const EMPTY_IMAGE: MetadataImage = {
  provenance: { offset: -1, epoch: -1 },
  features: new Map(),
  brokers: new Map(),
  controllers: new Map(),
  topicsById: new Map(),
  topicIdsByName: new Map(),
  configs: new Map(),
  nextProducerId: 0n,
};

export function configKey(resourceType: number, resourceName: string): string {
  return `${resourceType}/${resourceName}`;
}

export function topicByName(image: MetadataImage, name: string): TopicImage | undefined {
  const id = image.topicIdsByName.get(name);
  return id === undefined ? undefined : image.topicsById.get(id);
}
