import type { Logger } from "pino";
import type { BrokerConfig } from "../config/broker-config.ts";
import type { GroupCoordinator } from "../coordinator/index.ts";
import type { TopicAdmin } from "../metadata/topic-admin.ts";
import type { TopicRegistry } from "../metadata/topic-registry.ts";
import type { PartitionManager } from "../partitions/partition-manager.ts";
import type { ProducerIdAllocator } from "../partitions/producer-ids.ts";

/** The domain services request handlers work with; startBroker (broker.ts) builds them, for main.ts and in-process tests. */
export interface BrokerServices {
  readonly config: BrokerConfig;
  readonly clusterId: string;
  readonly topics: TopicRegistry;
  readonly admin: TopicAdmin;
  readonly partitions: PartitionManager;
  readonly groups: GroupCoordinator;
  readonly producerIds: ProducerIdAllocator;
  readonly logger: Logger;
  readonly clock: () => number;
}
