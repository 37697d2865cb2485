import type { Logger } from "pino";
import type { BrokerConfig } from "../config/broker-config.ts";
import type { EnsureOffsetsTopic, GroupCoordinatorManager } from "../coordinator/index.ts";
import type { EffectiveConfigs } from "../metadata/effective-configs.ts";
import type { MetadataView } from "../metadata/metadata-source.ts";
import type { PartitionManager } from "../partitions/partition-manager.ts";
import type { ProducerIdAllocator } from "../partitions/producer-ids.ts";
import type { ReplicationThrottles } from "../replication/throttles.ts";
import type { MessageCodec } from "../protocol/index.ts";
import type { RequestContext } from "./handler.ts";

/** A client's admin write to be answered by the active controller (KIP-590). */
export interface ForwardedRequest<Req, Res> {
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
  /** The client's version: the controller answers at the same one. */
  readonly version: number;
  readonly body: Req;
  readonly context: RequestContext;
  /** How long to keep trying to reach an active controller. */
  readonly timeoutMs: number;
}

/** The controller's answer, or the error to give the client for every item (REQUEST_TIMED_OUT when none answered). */
export type ForwardOutcome<Res> = { readonly response: Res } | { readonly errorCode: number };

export interface ControllerForwarder {
  forward<Req, Res>(forwarded: ForwardedRequest<Req, Res>): Promise<ForwardOutcome<Res>>;
}

/** A topic the broker itself asks the active controller for (auto-creation, `__consumer_offsets`). */
export interface NewTopic {
  readonly name: string;
  /** -1: the controller's default (num.partitions; offsets.topic.num.partitions for `__consumer_offsets`). */
  readonly numPartitions: number;
  /** -1: the controller's default. */
  readonly replicationFactor: number;
  readonly configs: ReadonlyMap<string, string>;
}

/**
 * Creates a topic through the active controller (Kafka's AutoTopicCreationManager), resolving once this broker's
 * image has it, with the controller's error code (TOPIC_ALREADY_EXISTS when someone was first) or REQUEST_TIMED_OUT.
 */
export type TopicCreator = (topic: NewTopic) => Promise<{ errorCode: number; errorMessage: string | null }>;

/** A broker as clients reach it on one listener. */
export interface BrokerEndpoint {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** Where consumer fetches were served (KIP-392); the broker's metrics implement it. */
export interface FetchMetrics {
  /** Record bytes returned to a consumer by this node as the partition's leader or as its follower. */
  consumerBytes(servedAs: "leader" | "follower", bytes: number): void;
  /** A consumer's partition the leader answered with a preferred read replica instead of records. */
  preferredReadReplica(): void;
}

/** The domain services request handlers work with; startBroker (broker.ts) builds them, for main.ts and in-process tests. */
export interface BrokerServices {
  readonly config: BrokerConfig;
  readonly clusterId: string;
  /** The published metadata image and this node's id: what handlers answer cluster, topic and leader questions from. */
  readonly metadata: MetadataView;
  /** Effective config values given an image (topic overrides and dynamic broker configs come from its configs). */
  readonly configs: EffectiveConfigs;
  /** Admin writes go to the active controller (KIP-590). */
  readonly forwarder: ControllerForwarder;
  /** Metadata's auto-creation of topics. */
  readonly createTopic: TopicCreator;
  readonly partitions: PartitionManager;
  /** The replication throttles (KIP-73): the leader side bounds what followers outside the ISR are sent. */
  readonly throttles: ReplicationThrottles;
  /** The group coordinator shards of the `__consumer_offsets` partitions this broker leads. */
  readonly groups: GroupCoordinatorManager;
  /** Starts creating `__consumer_offsets` unless it exists or is being created (FindCoordinator's first need). */
  readonly ensureOffsetsTopic: EnsureOffsetsTopic;
  /**
   * The broker that leads a `__consumer_offsets` partition, as reached on listener `listenerName`; null when the
   * partition has no live leader (FindCoordinator then answers COORDINATOR_NOT_AVAILABLE). startBroker answers from
   * the published metadata image.
   */
  readonly offsetsPartitionLeader: (partition: number, listenerName: string) => BrokerEndpoint | null;
  readonly producerIds: ProducerIdAllocator;
  readonly fetchMetrics: FetchMetrics;
  readonly logger: Logger;
  readonly clock: () => number;
}
