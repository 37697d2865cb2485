/** The five classic group states, spelled as Kafka spells them in DescribeGroups and ListGroups. */
export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead";

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupRequest {
  groupId: string;
  /** "" for a member that does not have an id yet. */
  memberId: string;
  /** group.instance.id (JoinGroup v5+), null for dynamic members. */
  groupInstanceId: string | null;
  protocolType: string;
  /** In the member's order of preference. */
  protocols: readonly GroupProtocol[];
  sessionTimeoutMs: number;
  /** JoinGroup v0 has no rebalance timeout: pass -1 and the session timeout is used (as Kafka does). */
  rebalanceTimeoutMs: number;
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+: an unknown member first gets MEMBER_ID_REQUIRED with its new id and must join again with it. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader of a stable group may be told to skip the assignment (KIP-814). */
  supportSkippingAssignment?: boolean;
  reason?: string | null;
}

export interface JoinGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinGroupResult {
  errorCode: number;
  /** -1 with an error. */
  generationId: number;
  protocolType: string | null;
  /** null with an error or for an empty group; JoinGroup v0-6 send "" for null. */
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  /** Filled for the leader only. */
  members: JoinGroupMember[];
}

export interface MemberAssignment {
  memberId: string;
  assignment: Buffer;
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** SyncGroup v5+; null (older versions) skips the check. */
  protocolType: string | null;
  /** SyncGroup v5+; null (older versions) skips the check. */
  protocolName: string | null;
  /** Only the leader's are used. */
  assignments: readonly MemberAssignment[];
}

export interface SyncGroupResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeavingMember {
  /** "" to remove a static member by its instance id alone (admin removal, LeaveGroup v3+). */
  memberId: string;
  groupInstanceId: string | null;
  reason?: string | null;
}

export interface LeaveGroupRequest {
  groupId: string;
  /** LeaveGroup v0-2 carry exactly one member with groupInstanceId null. */
  members: readonly LeavingMember[];
}

export interface LeaveGroupResult {
  /** Group-level error; for v0-2 a handler uses the single member's error when this is NONE. */
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export interface OffsetCommitPartition {
  topic: string;
  partition: number;
  offset: bigint;
  /** -1 when unknown (OffsetCommit v0-5). */
  leaderEpoch: number;
  metadata: string | null;
}

export interface OffsetCommitRequest {
  groupId: string;
  /** -1 for a standalone (simple consumer) commit, accepted while the group is Empty or unknown. */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-4; absent or -1 means the broker's offsets.retention.minutes. */
  retentionTimeMs?: bigint | number;
  offsets: readonly OffsetCommitPartition[];
}

export interface OffsetCommitPartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
}

export interface OffsetFetchRequest {
  groupId: string;
  /** null fetches every committed offset of the group. */
  topics: readonly { topic: string; partitions: readonly number[] }[] | null;
  requireStable: boolean;
}

export interface OffsetFetchPartitionResult {
  topic: string;
  partition: number;
  /** -1 when nothing is committed. */
  offset: bigint;
  leaderEpoch: number;
  /** "" when nothing is committed. */
  metadata: string;
  errorCode: number;
}

export interface OffsetFetchResult {
  errorCode: number;
  partitions: OffsetFetchPartitionResult[];
}

export interface DescribedMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Empty unless the group is Stable (as in Kafka). */
  metadata: Buffer;
  /** Empty unless the group is Stable (as in Kafka). */
  assignment: Buffer;
}

export interface GroupDescription {
  groupId: string;
  errorCode: number;
  groupState: GroupState;
  protocolType: string;
  /** The selected protocol while Stable, otherwise "". */
  protocolData: string;
  members: DescribedMember[];
}

export interface ListGroupsRequest {
  /** ListGroups v4+; compared case-insensitively; empty or absent lists every state. */
  statesFilter?: readonly string[];
  /** ListGroups v5+; compared case-insensitively; only "classic" groups exist here. */
  typesFilter?: readonly string[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: GroupState;
  groupType: "classic";
}

export interface DeleteGroupResult {
  groupId: string;
  errorCode: number;
}

export interface CommittedOffset {
  groupId: string;
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Set only by OffsetCommit v2-4 retention times. */
  expireTimestamp: number | null;
}
