import { topicByName, type MetadataImage } from "../metadata/image/index.ts";
import type { OffsetsPartitionOwnership } from "./manager.ts";
import { OFFSETS_TOPIC } from "./offsets-topic.ts";

interface PartitionChange {
  readonly topicName: string;
  readonly partition: number;
}

/**
 * What this node must do about the partitions one metadata delta touched; the fields the group coordinator reads from
 * `LocalChanges` (metadata/image/metadata-delta.ts, Kafka's TopicsDelta.localChanges), which is assignable to it.
 */
export interface LeadershipChanges {
  /** Replicas this node no longer holds: the partition was deleted or reassigned away. */
  readonly deleted: readonly PartitionChange[];
  /** Partitions this node now leads, at the registration's leader epoch. */
  readonly leaders: readonly (PartitionChange & { readonly registration: { readonly leaderEpoch: number } })[];
  /** Partitions this node now follows; the registration's leader epoch is the new leader's. */
  readonly followers: readonly (PartitionChange & { readonly registration: { readonly leaderEpoch: number } })[];
}

/**
 * Hands the `__consumer_offsets` part of a delta's local changes to the group coordinator, as Kafka's
 * BrokerMetadataPublisher.updateCoordinator does: a replica gone resigns with no epoch, a partition led is elected at
 * its leader epoch, a partition followed resigns at the new leader's epoch. Other topics are ignored. Answers the loads
 * it started (each resolves true once its shard serves), for callers that wait for them.
 */
export function applyOffsetsLeadership(
  changes: LeadershipChanges,
  ownership: OffsetsPartitionOwnership,
): Promise<boolean>[] {
  const offsets = <T extends PartitionChange>(list: readonly T[]) => list.filter((c) => c.topicName === OFFSETS_TOPIC);
  for (const { partition } of offsets(changes.deleted)) ownership.onResignation(partition, null);
  const loads = offsets(changes.leaders).map(({ partition, registration }) =>
    ownership.onElection(partition, registration.leaderEpoch),
  );
  for (const { partition, registration } of offsets(changes.followers)) {
    ownership.onResignation(partition, registration.leaderEpoch);
  }
  return loads;
}

/**
 * The `__consumer_offsets` partitions `image` says `nodeId` leads, as the changes from an empty image: what a
 * coordinator that starts after an image was published must load before following later deltas.
 */
export function offsetsLeadershipIn(image: MetadataImage, nodeId: number): LeadershipChanges {
  const topic = topicByName(image, OFFSETS_TOPIC);
  const leaders = [...(topic?.partitions ?? [])]
    .filter(([, registration]) => registration.leader === nodeId)
    .map(([partition, registration]) => ({ topicName: OFFSETS_TOPIC, partition, registration }));
  return { deleted: [], leaders, followers: [] };
}
