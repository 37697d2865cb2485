import { PartitionChangeRecord, ZERO_UUID, type MetadataRecordAndVersion } from "../protocol/index.ts";
import type { MetadataImage, PartitionRegistration } from "../metadata/image/index.ts";
import { RECORD_VERSION } from "./features.ts";
import { record } from "./records.ts";

// Partition changes (Kafka's PartitionChangeBuilder, with eligible leader replicas off: the supported metadata.version
// levels predate KIP-966). A change starts from the partition's registration and targets (ISR, replicas, reassignment
// sets, recovery state), completes a reassignment whose target replicas are all in the ISR, elects a leader, and
// becomes one PartitionChangeRecord holding only what differs, or nothing.
//
// Election: a current leader that is in the target ISR and acceptable (registered, unfenced, not shutting down) stays;
// otherwise the first replica (in replica order) that is in the target ISR and acceptable; a PREFERRED election tries
// the first replica before the current leader. With no such replica an UNCLEAN election (the topic's
// unclean.leader.election.enable) takes the first acceptable replica, sets the ISR to it alone and marks the leader
// RECOVERING (KIP-704); otherwise the partition has no leader (-1). Without eligible leader replicas the ISR is never
// emptied: when the last member leaves it stays, so only it can lead again (Kafka's "last replica standing").

export const NO_LEADER = -1;
/** PartitionChangeRecord's "leader unchanged". */
const NO_LEADER_CHANGE = -2;
/** KIP-704 leader recovery states. */
export const LeaderRecoveryState = { RECOVERED: 0, RECOVERING: 1 } as const;
/** Kafka's DirectoryId.UNASSIGNED: the broker picks the directory of the replica itself. */
export const UNASSIGNED_DIRECTORY = ZERO_UUID;

export type Election = "PREFERRED" | "ONLINE" | "UNCLEAN";

export interface PartitionRef {
  readonly topicId: string;
  readonly partition: number;
  readonly registration: PartitionRegistration;
}

export interface PartitionChangeSpec extends PartitionRef {
  /** Whether a broker may lead (Kafka's LeaderAcceptor: registered, unfenced, not in controlled shutdown). */
  readonly acceptable: (id: number) => boolean;
  readonly election?: Election;
  readonly isr?: readonly number[];
  readonly replicas?: readonly number[];
  readonly removing?: readonly number[];
  readonly adding?: readonly number[];
  readonly leaderRecoveryState?: number;
}

const sameList = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const containsAll = (a: readonly number[], b: readonly number[]) => b.every((x) => a.includes(x));

/** Kafka's PartitionReassignmentReplicas.maybeCompleteReassignment: the replicas and ISR once a reassignment is done. */
function completedReassignment(
  replicas: readonly number[],
  isr: readonly number[],
  removing: readonly number[],
  adding: readonly number[],
): { replicas: number[]; isr: number[] } | null {
  if (removing.length === 0 && adding.length === 0) return null;
  let newIsr = [...isr];
  let newReplicas = [...replicas];
  if (removing.length > 0) {
    newIsr = isr.filter((r) => !removing.includes(r));
    if (newIsr.length === 0) return null;
    newReplicas = replicas.filter((r) => !removing.includes(r));
    if (newReplicas.length === 0) return null;
  }
  return containsAll(newIsr, newReplicas) ? { replicas: newReplicas, isr: newIsr } : null;
}

/** The PartitionChangeRecord that moves the partition to the spec's targets, or null when nothing changes. */
export function buildPartitionChange(spec: PartitionChangeSpec): MetadataRecordAndVersion | null {
  const p = spec.registration;
  let isr = spec.isr ?? p.isr;
  let replicas = spec.replicas ?? p.replicas;
  let removing = spec.removing ?? p.removingReplicas;
  let adding = spec.adding ?? p.addingReplicas;
  const targetRecovery = spec.leaderRecoveryState ?? p.leaderRecoveryState;
  const election = spec.election ?? "ONLINE";

  const completed = completedReassignment(replicas, isr, removing, adding);
  if (completed) {
    ({ isr, replicas } = completed);
    removing = [];
    adding = [];
  }

  const fields: Partial<PartitionChangeRecord> = {};
  const valid = (id: number) => isr.includes(id) && spec.acceptable(id);
  let leader = NO_LEADER;
  let unclean = false;
  const preferred = replicas[0];
  if (election === "PREFERRED" && preferred !== undefined && valid(preferred)) leader = preferred;
  else if (valid(p.leader)) leader = p.leader;
  else {
    const clean = replicas.find(valid);
    if (clean !== undefined) leader = clean;
    else if (election === "UNCLEAN") {
      const any = replicas.find((id) => spec.acceptable(id));
      if (any !== undefined) {
        leader = any;
        unclean = true;
      }
    }
  }
  if (leader !== p.leader) {
    fields.leader = leader;
    if (unclean) {
      // The new leader may lack acknowledged records; the ISR restarts from it alone.
      fields.isr = [leader];
      if (p.leaderRecoveryState !== LeaderRecoveryState.RECOVERING) {
        fields.leaderRecoveryState = LeaderRecoveryState.RECOVERING;
      }
    }
  }
  // A replica leaving the assignment must see a new leader epoch even when the leader stays.
  if (fields.leader === undefined && !containsAll(replicas, p.replicas)) fields.leader = p.leader;
  if (fields.isr === undefined && isr.length > 0 && !sameList(isr, p.isr)) fields.isr = [...isr];
  if (replicas.length > 0 && !sameList(replicas, p.replicas)) {
    fields.replicas = [...replicas];
    // The image does not track replicas' directories; every replica's broker keeps or picks its own.
    fields.directories = replicas.map(() => UNASSIGNED_DIRECTORY);
  }
  if (!sameList(removing, p.removingReplicas)) fields.removingReplicas = [...removing];
  if (!sameList(adding, p.addingReplicas)) fields.addingReplicas = [...adding];
  if (targetRecovery !== p.leaderRecoveryState) fields.leaderRecoveryState = targetRecovery;
  if (Object.keys(fields).length === 0) return null;
  return record(
    PartitionChangeRecord,
    { topicId: spec.topicId, partitionId: spec.partition, leader: NO_LEADER_CHANGE, ...fields },
    RECORD_VERSION.partitionChange,
  );
}

/** The leader a PartitionChangeRecord sets, or undefined when it leaves the leader as it was. */
export function changedLeader(change: MetadataRecordAndVersion): number | undefined {
  const leader = (change.record as PartitionChangeRecord).leader;
  return leader === NO_LEADER_CHANGE ? undefined : leader;
}

export function partitionsWhere(image: MetadataImage, test: (p: PartitionRegistration) => boolean): PartitionRef[] {
  const out: PartitionRef[] = [];
  for (const topic of image.topicsById.values()) {
    for (const [partition, registration] of topic.partitions) {
      if (test(registration)) out.push({ topicId: topic.id, partition, registration });
    }
  }
  return out;
}

/** Which election a topic's partitions get when their leader goes: UNCLEAN where unclean.leader.election.enable. */
export type ElectionOf = (topicId: string) => Election;

/**
 * Takes `brokerId` out of ISRs and leaderships (fencing, controlled shutdown, a new incarnation; Kafka's
 * generateLeaderAndIsrUpdates with a broker to remove); `usable` says which other brokers may lead.
 */
export function removeBrokerFromPartitions(
  image: MetadataImage,
  brokerId: number,
  usable: (id: number) => boolean,
  electionOf: ElectionOf,
): MetadataRecordAndVersion[] {
  return changesWhere(
    image,
    (p) => p.isr.includes(brokerId) || p.leader === brokerId,
    (ref) => ({
      acceptable: (id) => id !== brokerId && usable(id),
      election: electionOf(ref.topicId),
      isr: ref.registration.isr.filter((id) => id !== brokerId),
    }),
  );
}

/** The changes of the partitions that pass `test`, each built from `targets`. */
function changesWhere(
  image: MetadataImage,
  test: (p: PartitionRegistration) => boolean,
  targets: (ref: PartitionRef) => Omit<PartitionChangeSpec, keyof PartitionRef>,
): MetadataRecordAndVersion[] {
  const records: MetadataRecordAndVersion[] = [];
  for (const ref of partitionsWhere(image, test)) {
    const change = buildPartitionChange({ ...ref, ...targets(ref) });
    if (change) records.push(change);
  }
  return records;
}

/**
 * Leaderless partitions when `brokerId` becomes usable (unfencing; Kafka's generateLeaderAndIsrUpdates with a broker
 * to add): it leads those whose ISR holds it and, where the topic allows unclean elections, those it is a replica of.
 * `usable` says which other brokers may lead; `brokerId` itself counts as usable though the view still has it fenced.
 */
export function electLeaderlessPartitions(
  image: MetadataImage,
  brokerId: number,
  usable: (id: number) => boolean,
  electionOf: ElectionOf,
): MetadataRecordAndVersion[] {
  return changesWhere(
    image,
    (p) => p.leader === NO_LEADER,
    (ref) => ({ acceptable: (id) => id === brokerId || usable(id), election: electionOf(ref.topicId) }),
  );
}

/** Whether `brokerId` leads any partition. */
export function leadsAny(image: MetadataImage, brokerId: number): boolean {
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions.values()) if (p.leader === brokerId) return true;
  }
  return false;
}
