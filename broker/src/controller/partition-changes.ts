import { PartitionChangeRecord, type MetadataRecordAndVersion } from "../protocol/index.ts";
import {
  replicaDirectory,
  UNASSIGNED_DIRECTORY,
  type MetadataImage,
  type PartitionRegistration,
} from "../metadata/image/index.ts";
import { RECORD_VERSION } from "./features.ts";
import { record } from "./records.ts";

// Partition changes (Kafka's PartitionChangeBuilder). A change starts from the partition's registration and targets
// (ISR, replicas, reassignment sets, recovery state), completes a reassignment whose target replicas are all in the
// ISR, tracks eligible leader replicas when they are on, elects a leader, and becomes one PartitionChangeRecord
// holding only what differs, or nothing.
//
// Election: a current leader that is a valid leader and acceptable (registered, unfenced, not shutting down, its
// replica's log dir online) stays;
// otherwise the first valid, acceptable replica in replica order; a PREFERRED election tries the first replica before
// the current leader. Valid means in the target ISR or, when the ISR is empty, in the ELR; a leader taken from the ELR
// makes the ISR itself alone and leaves the ELR. With no such replica and ELR on, the partition's last known leader
// (LastKnownElr, set when the ISR emptied) leads if it is the only entry there, still a replica and acceptable, as an
// unclean election (Kafka's "balanced recovery"). Then an UNCLEAN election (the topic's unclean.leader.election.enable)
// takes the first acceptable replica. An unclean election sets the ISR to the new leader alone and marks it
// RECOVERING (KIP-704); otherwise the partition has no leader (-1).
//
// Eligible leader replicas (KIP-966), when on: while the target ISR is smaller than the topic's min ISR, the members
// leaving the ISR (the current ISR and ELR, minus the target ISR and minus a broker that shut down uncleanly) are the
// ELR, where an ELR that stood beside an ISR already at min ISR (stale: min ISR fell) is not carried on; once the ISR
// reaches min ISR, also by an election from the ELR, or after an unclean election, the ELR is empty. The ISR may then
// become empty. Without ELR it never does: when the last member leaves it stays, so only it can lead again (Kafka's
// "last replica standing"). LastKnownElr holds the leader at the moment the ISR emptied, and is cleared once there is
// a leader.

export const NO_LEADER = -1;
/** PartitionChangeRecord's "leader unchanged". */
const NO_LEADER_CHANGE = -2;
/** KIP-704 leader recovery states. */
export const LeaderRecoveryState = { RECOVERED: 0, RECOVERING: 1 } as const;
export { UNASSIGNED_DIRECTORY };

export type Election = "PREFERRED" | "ONLINE" | "UNCLEAN";

/** What a topic's partition changes depend on besides the partition: its election and its ELR settings. */
export interface TopicPolicy {
  readonly election: Election;
  /** The topic's effective min ISR (min(min.insync.replicas, replication factor)) when ELR is on; absent when off. */
  readonly elrMinIsr?: number;
  /** The PartitionChangeRecord version the finalized metadata.version writes; RECORD_VERSION.partitionChange if absent. */
  readonly recordVersion?: number;
  /**
   * Whether a broker's log dir is online (KIP-858; Kafka's ClusterControlManager.hasOnlineDir): a replica in a dir its
   * broker reported offline may not lead. Every dir counts as online if absent.
   */
  readonly directoryOnline?: (brokerId: number, directory: string) => boolean;
  /** The directory a replica newly assigned to a broker starts with (Kafka's defaultDir); UNASSIGNED if absent. */
  readonly defaultDirectory?: (brokerId: number) => string;
}

export interface PartitionRef {
  readonly topicId: string;
  readonly partition: number;
  readonly registration: PartitionRegistration;
}

export interface PartitionChangeSpec extends PartitionRef, Partial<TopicPolicy> {
  /** Whether a broker may lead (Kafka's LeaderAcceptor: registered, unfenced, not in controlled shutdown). */
  readonly acceptable: (id: number) => boolean;
  /** A broker that came back from an unclean shutdown: it leaves the ELR (KIP-966). */
  readonly uncleanShutdown?: number;
  readonly isr?: readonly number[];
  readonly replicas?: readonly number[];
  readonly removing?: readonly number[];
  readonly adding?: readonly number[];
  readonly leaderRecoveryState?: number;
  /** The directory a broker says holds its replica (AssignReplicasToDirs; Kafka's setDirectory). */
  readonly directory?: { readonly brokerId: number; readonly id: string };
}

const sameList = <T>(a: readonly T[], b: readonly T[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const ascending = (a: number, b: number) => a - b;
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
  const elrOn = spec.elrMinIsr !== undefined;

  const completed = completedReassignment(replicas, isr, removing, adding);
  if (completed) {
    ({ isr, replicas } = completed);
    removing = [];
    adding = [];
  }

  // Kafka's maybePopulateTargetElr.
  let elr: readonly number[] = p.eligibleLeaderReplicas;
  if (spec.elrMinIsr !== undefined) {
    if (isr.length >= spec.elrMinIsr) elr = [];
    else {
      // An ELR kept beside an ISR at min ISR is stale: the topic's effective min ISR fell (a reassignment shrank its
      // partition 0) after it formed, and records acknowledged since by the ISR alone may be missing from its members.
      // Unlike Kafka, which carries it on, it does not survive the next change.
      const current = p.isr.length >= spec.elrMinIsr ? [] : elr;
      const leaving = new Set([...current, ...p.isr]);
      // Only replicas: Kafka keeps a replica that a completed reassignment removed, which could never lead.
      elr = [...leaving]
        .filter((id) => replicas.includes(id) && !isr.includes(id) && id !== spec.uncleanShutdown)
        .sort(ascending);
    }
  }

  const fields: Partial<PartitionChangeRecord> = {};
  // Kafka's LeaderAcceptor: usable, and its replica's log dir online.
  const acceptable = (id: number) =>
    spec.acceptable(id) && (spec.directoryOnline?.(id, replicaDirectory(p, id)) ?? true);
  const valid = (id: number) => (isr.includes(id) || (isr.length === 0 && elr.includes(id))) && acceptable(id);
  const lastKnown = p.lastKnownElr;
  // Only while it is still a replica: a cancelled reassignment may have removed it, leaving lastKnownElr behind.
  const lastKnownLeader =
    elrOn &&
    elr.length === 0 &&
    isr.length === 0 &&
    lastKnown.length === 1 &&
    replicas.includes(lastKnown[0] ?? -1) &&
    acceptable(lastKnown[0] ?? -1)
      ? lastKnown[0]
      : undefined;
  let leader = NO_LEADER;
  let unclean = false;
  const preferred = replicas[0];
  if (election === "PREFERRED" && preferred !== undefined && valid(preferred)) leader = preferred;
  else if (valid(p.leader)) leader = p.leader;
  else {
    const clean = replicas.find(valid);
    if (clean !== undefined) leader = clean;
    else if (lastKnownLeader !== undefined) {
      leader = lastKnownLeader;
      unclean = true;
    } else if (election === "UNCLEAN") {
      const any = replicas.find(acceptable);
      if (any !== undefined) {
        leader = any;
        unclean = true;
      }
    }
  }
  if (leader !== p.leader) {
    fields.leader = leader;
    if (elr.includes(leader)) {
      // A clean election from the ELR: the ELR member held every acknowledged record, so it is the ISR now.
      isr = [leader];
      // KIP-966: no ELR once the ISR is at min ISR (Kafka's builder checks only before the election).
      elr = spec.elrMinIsr !== undefined && isr.length >= spec.elrMinIsr ? [] : elr.filter((id) => id !== leader);
    }
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
  // Kafka's maybeUpdateRecordElr: an unclean election or ELR being off leaves no ELR.
  if (fields.isr !== undefined || !elrOn) elr = [];
  if (!sameList(elr, p.eligibleLeaderReplicas)) fields.eligibleLeaderReplicas = [...elr];
  if (fields.isr === undefined && (isr.length > 0 || elrOn) && !sameList(isr, p.isr)) fields.isr = [...isr];
  // Kafka's maybeUpdateLastKnownLeader: remember who led when the ISR emptied; forget it once a leader exists.
  if (elrOn) {
    const newLeader = fields.leader ?? NO_LEADER_CHANGE;
    if (fields.isr?.length === 0 && p.leader !== NO_LEADER && !sameList(lastKnown, [p.leader])) {
      fields.lastKnownElr = [p.leader];
    } else if ((newLeader >= 0 || (p.leader !== NO_LEADER && newLeader !== NO_LEADER)) && lastKnown.length > 0) {
      fields.lastKnownElr = [];
    }
  }
  const replicasChanged = replicas.length > 0 && !sameList(replicas, p.replicas);
  if (replicasChanged) fields.replicas = [...replicas];
  // Each replica's directory (KIP-858): the one its broker reported, else the one it had, else a new replica's default.
  const directoryOf = (id: number) =>
    spec.directory?.brokerId === id
      ? spec.directory.id
      : p.replicas.includes(id)
        ? replicaDirectory(p, id)
        : (spec.defaultDirectory?.(id) ?? UNASSIGNED_DIRECTORY);
  const directories = (replicasChanged ? replicas : p.replicas).map(directoryOf);
  const currentDirectories = p.replicas.map((id) => replicaDirectory(p, id));
  if (replicasChanged || !sameList(directories, currentDirectories)) fields.directories = directories;
  if (!sameList(removing, p.removingReplicas)) fields.removingReplicas = [...removing];
  if (!sameList(adding, p.addingReplicas)) fields.addingReplicas = [...adding];
  if (targetRecovery !== p.leaderRecoveryState && fields.leaderRecoveryState === undefined) {
    fields.leaderRecoveryState = targetRecovery;
  }
  if (Object.keys(fields).length === 0) return null;
  return record(
    PartitionChangeRecord,
    { topicId: spec.topicId, partitionId: spec.partition, leader: NO_LEADER_CHANGE, ...fields },
    spec.recordVersion ?? RECORD_VERSION.partitionChange,
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

/** The policy of a topic's partitions: the election when their leader goes (UNCLEAN where unclean elections are on). */
export type PolicyOf = (topicId: string) => TopicPolicy;

/**
 * Takes `brokerId` out of ISRs and leaderships (fencing, controlled shutdown, a new incarnation after a clean
 * shutdown; Kafka's generateLeaderAndIsrUpdates with a broker to remove); `usable` says which other brokers may lead.
 * With `uncleanShutdown` (a new incarnation that did not shut down cleanly, with ELR on: Kafka's
 * handleBrokerUncleanShutdown) the broker also leaves every ELR.
 */
export function removeBrokerFromPartitions(
  image: MetadataImage,
  brokerId: number,
  usable: (id: number) => boolean,
  policyOf: PolicyOf,
  uncleanShutdown = false,
  only: (p: PartitionRegistration) => boolean = () => true,
): MetadataRecordAndVersion[] {
  return changesWhere(
    image,
    (p) =>
      (p.isr.includes(brokerId) ||
        p.leader === brokerId ||
        (uncleanShutdown && p.eligibleLeaderReplicas.includes(brokerId))) &&
      only(p),
    (ref) => ({
      acceptable: (id) => id !== brokerId && usable(id),
      ...policyOf(ref.topicId),
      isr: ref.registration.isr.filter((id) => id !== brokerId),
      ...(uncleanShutdown ? { uncleanShutdown: brokerId } : {}),
    }),
  );
}

/**
 * Takes `brokerId`'s replicas in the log dirs `offlineDirs` out of ISRs and leaderships (KIP-858; Kafka's
 * handleDirectoriesOffline): the partitions its other dirs hold are left as they are. Replicas whose directory is not
 * known (UNASSIGNED) stay: their broker has not said where they are.
 */
export function removeOfflineDirReplicas(
  image: MetadataImage,
  brokerId: number,
  offlineDirs: readonly string[],
  usable: (id: number) => boolean,
  policyOf: PolicyOf,
): MetadataRecordAndVersion[] {
  return removeBrokerFromPartitions(image, brokerId, usable, policyOf, false, (p) =>
    offlineDirs.includes(replicaDirectory(p, brokerId)),
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
 * to add): it leads those whose ISR holds it (or, with an empty ISR, whose ELR does) and, where the topic allows
 * unclean elections, those it is a replica of. `usable` says which other brokers may lead; `brokerId` itself counts as
 * usable though the view still has it fenced.
 */
export function electLeaderlessPartitions(
  image: MetadataImage,
  brokerId: number,
  usable: (id: number) => boolean,
  policyOf: PolicyOf,
): MetadataRecordAndVersion[] {
  return changesWhere(
    image,
    (p) => p.leader === NO_LEADER,
    (ref) => ({ acceptable: (id) => id === brokerId || usable(id), ...policyOf(ref.topicId) }),
  );
}

/**
 * Clears the ELR and LastKnownElr of the partitions that have them (of one topic, or of all when `topicId` is
 * undefined): after a min.insync.replicas change, and when ELR is turned off. Kafka 4.1+ writes one ClearElrRecord
 * for this; that record is newer than the vendored metadata JSON, so a PartitionChangeRecord per partition says the
 * same to every reader.
 */
export function clearElrs(
  image: MetadataImage,
  topicId: string | undefined,
  recordVersion: number,
): MetadataRecordAndVersion[] {
  const records: MetadataRecordAndVersion[] = [];
  for (const ref of partitionsWhere(image, (p) => p.eligibleLeaderReplicas.length > 0 || p.lastKnownElr.length > 0)) {
    if (topicId !== undefined && ref.topicId !== topicId) continue;
    const fields: Partial<PartitionChangeRecord> = {};
    if (ref.registration.eligibleLeaderReplicas.length > 0) fields.eligibleLeaderReplicas = [];
    if (ref.registration.lastKnownElr.length > 0) fields.lastKnownElr = [];
    records.push(
      record(
        PartitionChangeRecord,
        { topicId: ref.topicId, partitionId: ref.partition, leader: NO_LEADER_CHANGE, ...fields },
        recordVersion,
      ),
    );
  }
  return records;
}

/** Whether `brokerId` leads any partition. */
export function leadsAny(image: MetadataImage, brokerId: number): boolean {
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions.values()) if (p.leader === brokerId) return true;
  }
  return false;
}
