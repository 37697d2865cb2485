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
