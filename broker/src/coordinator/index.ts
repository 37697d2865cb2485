/**
 * The classic consumer group coordinator: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * DescribeGroups, ListGroups and DeleteGroups with Kafka's semantics, over plain domain objects. Request handlers
 * translate wire messages to these calls and the results back; every result carries Kafka error codes (`ErrorCode`).
 * Offsets and group metadata persist through a `GroupStore` in `__consumer_offsets` record formats.
 */
export { GroupCoordinator, defaultGroupCoordinatorConfig } from "./coordinator.ts";
export type { GroupCoordinatorConfig, GroupCoordinatorOptions } from "./coordinator.ts";
export { ErrorCode, GroupStoreError } from "./errors.ts";
export { computeLag } from "./lag.ts";
export type { LogEndOffsets, PartitionLag } from "./lag.ts";
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
export { FileGroupStore, InMemoryGroupStore } from "./store.ts";
export type { GroupStore, GroupStoreRecord } from "./store.ts";
export type * from "./types.ts";
