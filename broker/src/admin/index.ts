// @tributary/broker/admin: a Kafka admin client over the protocol library, for the operator, tests and tools.
export {
  AdminClient,
  splitAddress,
  type AdminClientOptions,
  type BrokerInfo,
  type ClusterMetadata,
  type ConfigChange,
  type ConfigEntry,
  type ConfigOp,
  type ConfigResource,
  type ConfigResourceType,
  type ConfigResult,
  type ConfigSource,
  type FeatureLevels,
  type FeatureUpdate,
  type CreatedTopic,
  type LogDirDescription,
  type NewTopic,
  type OngoingReassignment,
  type PartitionInfo,
  type PartitionRef,
  type PartitionResult,
  type QuorumDescription,
  type QuorumReplica,
  type Reassignment,
  type TopicDescription,
  type TopicLookup,
  type TopicResult,
} from "./client.ts";
export { AdminTimeoutError, BrokerConnectionError, KafkaError, UnsupportedApiError } from "./errors.ts";
export { ApiKey } from "../protocol/generated/index.ts";
export { ErrorCode } from "../protocol/errors.ts";
export { uuidToKafkaBase64 } from "../protocol/primitives/index.ts";
