/** The broker settings the coordinator obeys, under Kafka's names and with Kafka's defaults. */
export interface GroupCoordinatorConfig {
  /** group.min.session.timeout.ms */
  minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms */
  maxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms */
  initialRebalanceDelayMs: number;
  /** offsets.retention.minutes × 60000 */
  offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number;
  /** offset.metadata.max.bytes (compared, as Kafka does, with the string's length) */
  offsetMetadataMaxBytes: number;
  /** How long a new member's JoinGroup may stay parked before the member is dropped (Kafka: 5 minutes). */
  newMemberJoinTimeoutMs: number;
}

export const defaultGroupCoordinatorConfig: Readonly<GroupCoordinatorConfig> = {
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetMetadataMaxBytes: 4096,
  newMemberJoinTimeoutMs: 300_000,
};
