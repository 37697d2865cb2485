/**
 * The classic consumer group coordinator: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * DescribeGroups, ListGroups and DeleteGroups with Kafka's semantics, over plain domain objects. Request handlers
 * translate wire messages to these calls and the results back; every result carries Kafka error codes (`ErrorCode`).
 * `GroupCoordinatorManager` serves the groups of the `__consumer_offsets` partitions this broker leads, one
 * `GroupCoordinatorShard` per partition; offsets and group metadata persist through each shard's `GroupStore` in
 * `__consumer_offsets` record formats.
 */
export { defaultGroupCoordinatorConfig } from "./config.ts";
export type { GroupCoordinatorConfig } from "./config.ts";
export { ErrorCode, GroupStoreError } from "./errors.ts";
export { computeLag } from "./lag.ts";
export type { LogEndOffsets, PartitionLag } from "./lag.ts";
export { applyOffsetsLeadership, offsetsLeadershipIn } from "./leadership.ts";
export type { LeadershipChanges } from "./leadership.ts";
export { GroupCoordinatorManager } from "./manager.ts";
export type { GroupCoordinatorManagerOptions, OffsetsPartitionOwnership } from "./manager.ts";
export { OFFSETS_TOPIC, offsetsTopicCreator, offsetsTopicSpec } from "./offsets-topic.ts";
export type { EnsureOffsetsTopic, OffsetsTopicCreatorOptions, OffsetsTopicSpec } from "./offsets-topic.ts";
export { javaStringHashCode, offsetsPartitionFor } from "./partitioner.ts";
export {
  decodeGroupMetadataValue,
  decodeKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
} from "./records.ts";
export type {
  GroupMemberValue,
  GroupMetadataKey,
  GroupMetadataValue,
  OffsetCommitKey,
  OffsetCommitValue,
  RecordKey,
} from "./records.ts";
export { systemScheduler } from "./scheduler.ts";
export type { Cancel, Scheduler } from "./scheduler.ts";
export { GroupCoordinatorShard } from "./shard.ts";
export type { GroupCoordinatorShardOptions, ShardStatus } from "./shard.ts";
export { FileGroupStore, InMemoryGroupStore, appendCommitted } from "./store.ts";
export type { GroupStore, GroupStoreRecord, ReplayedRecord } from "./store.ts";
export type * from "./types.ts";
