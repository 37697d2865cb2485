import type { Logger } from "pino";
import type { BrokerConfig } from "../config/broker-config.ts";
import type { GroupCoordinatorManager } from "../coordinator/index.ts";
import type { TopicAdmin } from "../metadata/topic-admin.ts";
import type { TopicRegistry } from "../metadata/topic-registry.ts";
import type { PartitionManager } from "../partitions/partition-manager.ts";
import type { ProducerIdAllocator } from "../partitions/producer-ids.ts";

/** A broker as clients reach it on one listener. */
export interface BrokerEndpoint {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** The domain services request handlers work with; startBroker (broker.ts) builds them, for main.ts and in-process tests. */
export interface BrokerServices {
  readonly config: BrokerConfig;
  readonly clusterId: string;
  readonly topics: TopicRegistry;
  readonly admin: TopicAdmin;
  readonly partitions: PartitionManager;
  /** The group coordinator shards of the `__consumer_offsets` partitions this broker leads. */
  readonly groups: GroupCoordinatorManager;
  /**
   * The broker that leads a `__consumer_offsets` partition, as reached on listener `listenerName`; null when the
   * partition has no live leader (FindCoordinator then answers COORDINATOR_NOT_AVAILABLE). startBroker answers this
   * node for every partition until leadership comes from the MetadataImage.
   */
  readonly offsetsPartitionLeader: (partition: number, listenerName: string) => BrokerEndpoint | null;
  readonly producerIds: ProducerIdAllocator;
  readonly logger: Logger;
  readonly clock: () => number;
}
