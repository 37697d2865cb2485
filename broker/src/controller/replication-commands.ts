import type { Logger } from "pino";
import type { MetadataImage, PartitionRegistration } from "../metadata/image/index.ts";
import {
  AlterPartitionReassignmentsResponse,
  AlterPartitionResponse,
  ElectLeadersResponse,
  ListPartitionReassignmentsResponse,
  ErrorCode,
  ZERO_UUID,
  type AlterPartitionReassignmentsRequest,
  type AlterPartitionRequest,
  type AlterPartitionRequestBrokerState,
  type AlterPartitionResponsePartitionData,
  type ElectLeadersRequest,
  type ElectLeadersResponsePartitionResult,
  type MetadataRecordAndVersion,
} from "../protocol/index.ts";
import {
  buildPartitionChange,
  changedLeader,
  LeaderRecoveryState,
  NO_LEADER,
  partitionsWhere,
  type PartitionRef,
  type PolicyOf,
} from "./partition-changes.ts";

// The controller's replication commands (Kafka's ReplicationControlManager): what they decide from the controller's
// view. Pure; QuorumController proposes the records and answers once they commit.

export interface ReplicationView {
  readonly view: MetadataImage;
  /** Registered, unfenced and not in controlled shutdown (Kafka's ClusterControlManager.isActive). */
  readonly usable: (id: number) => boolean;
  /** The topic's election and ELR settings (partition-changes.ts TopicPolicy). */
  readonly policyOf: PolicyOf;
  readonly logger: Logger;
}

export interface Decision<T> {
  readonly records: MetadataRecordAndVersion[];
  readonly response: T;
  /** Completes the response from the view once the records are applied to it. */
  readonly complete?: (view: MetadataImage) => void;
}

/** Kafka's Replicas.validateIsr: no negative id, no duplicate, every member a replica. */
function validIsr(replicas: readonly number[], isr: readonly number[]): boolean {
  return isr.every((id) => id >= 0 && replicas.includes(id)) && new Set(isr).size === isr.length && replicas.length > 0;
}

/** Why an ISR member may not join: KIP-903's checks (Kafka's ineligibleReplicasForIsr). */
function ineligibility(view: MetadataImage, member: AlterPartitionRequestBrokerState): string | undefined {
  const id = member.brokerId ?? 0;
  const reg = view.brokers.get(id);
  if (reg === undefined) return `${id} not registered`;
  if (reg.inControlledShutdown) return `${id} shutting down`;
  if (reg.fenced) return `${id} fenced`;
  const epoch = member.brokerEpoch ?? -1n;
  // -1: the sender does not check broker epochs (AlterPartition before v3).
  if (epoch !== -1n && epoch !== reg.epoch) {
    return `${id} broker epoch mismatch: requested=${epoch} VS expected=${reg.epoch}`;
  }
  return undefined;
}

/** Kafka's validateAlterPartitionData, in its order: the first problem's error, or NONE. */
function alterPartitionProblem(
  view: MetadataImage,
  brokerId: number,
  p: PartitionRegistration | undefined,
  data: { leaderEpoch: number; partitionEpoch: number; leaderRecoveryState: number },
  members: readonly AlterPartitionRequestBrokerState[],
): { errorCode: number; reason: string } | null {
  if (p === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, reason: "unknown partition" };
  // Epochs newer than the controller's own: this node is probably no longer the active controller.
  if (data.leaderEpoch > p.leaderEpoch || data.partitionEpoch > p.partitionEpoch) {
    return { errorCode: ErrorCode.NOT_CONTROLLER, reason: "epochs newer than the controller's" };
  }
  if (data.leaderEpoch < p.leaderEpoch) {
    return { errorCode: ErrorCode.FENCED_LEADER_EPOCH, reason: `the leader epoch is ${p.leaderEpoch}` };
  }
  if (brokerId !== p.leader) {
    return { errorCode: ErrorCode.INVALID_REQUEST, reason: `the current leader is ${p.leader}` };
  }
  if (data.partitionEpoch < p.partitionEpoch) {
    return { errorCode: ErrorCode.INVALID_UPDATE_VERSION, reason: `the partition epoch is ${p.partitionEpoch}` };
  }
  const isr = members.map((m) => m.brokerId ?? 0);
  if (!validIsr(p.replicas, isr)) return { errorCode: ErrorCode.INVALID_REQUEST, reason: "invalid ISR" };
  if (!isr.includes(p.leader)) {
    return { errorCode: ErrorCode.INVALID_REQUEST, reason: "the ISR does not include the leader" };
  }
  if (data.leaderRecoveryState === LeaderRecoveryState.RECOVERING && isr.length > 1) {
    return { errorCode: ErrorCode.INVALID_REQUEST, reason: "more than one ISR member while the leader recovers" };
  }
  if (
    p.leaderRecoveryState === LeaderRecoveryState.RECOVERED &&
    data.leaderRecoveryState === LeaderRecoveryState.RECOVERING
  ) {
    return { errorCode: ErrorCode.INVALID_REQUEST, reason: "the leader recovery state cannot go back to RECOVERING" };
  }
  const ineligible = members.map((m) => ineligibility(view, m)).filter((r) => r !== undefined);
  if (ineligible.length > 0) {
    return { errorCode: ErrorCode.INELIGIBLE_REPLICA, reason: `ineligible replicas: ${ineligible.join(", ")}` };
  }
  return null;
}

/**
 * AlterPartition (API 56, v2+ by topic id; v3 with each member's broker epoch): a partition leader's ISR change,
 * validated as Kafka's ReplicationControlManager does and committed as a PartitionChangeRecord; each partition is
 * answered with its committed state. A change that completes a reassignment and moves the leader away from the sender
 * is committed and answered NEW_LEADER_ELECTED, so the old leader waits for the image.
 */
export function decideAlterPartition(
  ctx: ReplicationView,
  request: AlterPartitionRequest,
  apiVersion: number,
): Decision<AlterPartitionResponse> {
  const { view, logger } = ctx;
  const response = AlterPartitionResponse.create();
  const reg = view.brokers.get(request.brokerId);
  if (reg === undefined || reg.epoch !== request.brokerEpoch) {
    logger.info(
      { brokerId: request.brokerId, brokerEpoch: request.brokerEpoch, registered: reg?.epoch ?? null },
      "Refused AlterPartition from a stale broker epoch",
    );
    return { records: [], response: { ...response, errorCode: ErrorCode.STALE_BROKER_EPOCH } };
  }
  const records: MetadataRecordAndVersion[] = [];
  const answered: { entry: AlterPartitionResponsePartitionData; topicId: string }[] = [];
  for (const t of request.topics) {
    const topicId = apiVersion > 1 ? (t.topicId ?? ZERO_UUID) : view.topicIdsByName.get(t.topicName ?? "");
    const topic = topicId === undefined || topicId === ZERO_UUID ? undefined : view.topicsById.get(topicId);
    const partitions: AlterPartitionResponsePartitionData[] = [];
    response.topics.push({ topicName: t.topicName ?? "", topicId: t.topicId ?? ZERO_UUID, partitions });
    if (topic === undefined) {
      const errorCode = apiVersion > 1 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      for (const p of t.partitions) partitions.push({ ...blank(p.partitionIndex), errorCode });
      logger.info({ topicId: t.topicId, topic: t.topicName }, "Refused AlterPartition for an unknown topic");
      continue;
    }
    for (const data of t.partitions) {
      const members: AlterPartitionRequestBrokerState[] =
        apiVersion >= 3
          ? (data.newIsrWithEpochs ?? [])
          : (data.newIsr ?? []).map((brokerId) => ({ brokerId, brokerEpoch: -1n }));
      const current = topic.partitions.get(data.partitionIndex);
      const recovery = data.leaderRecoveryState ?? LeaderRecoveryState.RECOVERED;
      const problem = alterPartitionProblem(
        view,
        request.brokerId,
        current,
        { leaderEpoch: data.leaderEpoch, partitionEpoch: data.partitionEpoch, leaderRecoveryState: recovery },
        members,
      );
      if (problem !== null || current === undefined) {
        const errorCode = problem?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        logger.info(
          { brokerId: request.brokerId, topic: topic.name, partition: data.partitionIndex, errorCode },
          `Refused AlterPartition: ${problem?.reason ?? "unknown partition"}`,
        );
        partitions.push({ ...blank(data.partitionIndex), errorCode });
        continue;
      }
      const change = buildPartitionChange({
        topicId: topic.id,
        partition: data.partitionIndex,
        registration: current,
        acceptable: ctx.usable,
        ...ctx.policyOf(topic.id),
        isr: members.map((m) => m.brokerId ?? 0),
        leaderRecoveryState: recovery,
      });
      const entry = blank(data.partitionIndex);
      partitions.push(entry);
      if (change) {
        records.push(change);
        const leader = changedLeader(change);
        if (leader !== undefined && leader !== request.brokerId) {
          // Completing a reassignment moved the leadership: the sender must wait for the new image.
          entry.errorCode = apiVersion > 1 ? ErrorCode.NEW_LEADER_ELECTED : ErrorCode.FENCED_LEADER_EPOCH;
          logger.info(
            { brokerId: request.brokerId, topic: topic.name, partition: data.partitionIndex, leader },
            "AlterPartition completed a reassignment that moved the leader",
          );
          continue;
        }
      }
      answered.push({ entry, topicId: topic.id });
    }
  }
  return {
    records,
    response,
    complete(after) {
      for (const { entry, topicId } of answered) {
        const p = after.topicsById.get(topicId)?.partitions.get(entry.partitionIndex);
        if (p === undefined) continue;
        entry.leaderId = p.leader;
        entry.leaderEpoch = p.leaderEpoch;
        entry.isr = [...p.isr];
        entry.leaderRecoveryState = p.leaderRecoveryState;
        entry.partitionEpoch = p.partitionEpoch;
      }
    },
  };
}

function blank(partitionIndex: number): AlterPartitionResponsePartitionData {
  return { partitionIndex, errorCode: ErrorCode.NONE, leaderId: 0, leaderEpoch: 0, isr: [], partitionEpoch: 0 };
}

/** Kafka's ElectionType ids. */
export const ElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;

/** Kafka's default messages of the errors an election answers with. */
const ELECTION_MESSAGES: ReadonlyMap<number, string> = new Map([
  [ErrorCode.ELECTION_NOT_NEEDED, "Leader election not needed for topic partition."],
  [ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, "The preferred leader was not available."],
  [ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, "Eligible topic partition leaders are not available."],
]);

interface ElectionOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

/** One partition's election (Kafka's ReplicationControlManager.electLeader). */
function electLeader(
  ctx: ReplicationView,
  topicName: string,
  partition: number,
  type: number,
  records: MetadataRecordAndVersion[],
): ElectionOutcome {
  const { view } = ctx;
  const topicId = view.topicIdsByName.get(topicName);
  const topic = topicId === undefined ? undefined : view.topicsById.get(topicId);
  if (topic === undefined) {
    return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such topic as ${topicName}` };
  }
  const p = topic.partitions.get(partition);
  if (p === undefined) {
    return {
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      errorMessage: `No such partition as ${topicName}-${partition}`,
    };
  }
  const preferred = type === ElectionType.PREFERRED;
  const fail = (errorCode: number) => ({ errorCode, errorMessage: ELECTION_MESSAGES.get(errorCode) ?? null });
  if ((preferred && p.leader === p.replicas[0]) || (!preferred && p.leader !== NO_LEADER)) {
    return fail(ErrorCode.ELECTION_NOT_NEEDED);
  }
  const change = buildPartitionChange({
    topicId: topic.id,
    partition,
    registration: p,
    acceptable: ctx.usable,
    ...ctx.policyOf(topic.id),
    election: preferred ? "PREFERRED" : "UNCLEAN",
  });
  if (change === null) {
    return fail(preferred ? ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE : ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE);
  }
  records.push(change);
  ctx.logger.info(
    { topic: topicName, partition, leader: changedLeader(change), type: preferred ? "PREFERRED" : "UNCLEAN" },
    "Elected a partition leader on request",
  );
  return { errorCode: ErrorCode.NONE, errorMessage: null };
}

/**
 * ElectLeaders (API 43, v0-2; v0 is always PREFERRED): per partition ELECTION_NOT_NEEDED when the preferred replica
 * already leads (PREFERRED) or there is a leader (UNCLEAN), UNKNOWN_TOPIC_OR_PARTITION, and when no change is possible
 * PREFERRED_LEADER_NOT_AVAILABLE / ELIGIBLE_LEADERS_NOT_AVAILABLE. A null partition list means every partition, and
 * then partitions that need no election are left out of the answer, as Kafka does.
 */
export function decideElectLeaders(
  ctx: ReplicationView,
  request: ElectLeadersRequest,
  apiVersion: number,
): Decision<ElectLeadersResponse> {
  const type = apiVersion >= 1 ? (request.electionType ?? ElectionType.PREFERRED) : ElectionType.PREFERRED;
  const response: ElectLeadersResponse = { ...ElectLeadersResponse.create(), errorCode: ErrorCode.NONE };
  if (type !== ElectionType.PREFERRED && type !== ElectionType.UNCLEAN) {
    const errorMessage = `Unknown election type ${type}`;
    response.errorCode = ErrorCode.INVALID_REQUEST;
    response.replicaElectionResults = (request.topicPartitions ?? []).map((t) => ({
      topic: t.topic,
      partitionResult: t.partitions.map((partitionId) => ({
        partitionId,
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage,
      })),
    }));
    return { records: [], response };
  }
  const records: MetadataRecordAndVersion[] = [];
  // A partition named twice is elected once and answered alike.
  const outcomes = new Map<string, ElectionOutcome>();
  const elect = (topic: string, partition: number) => {
    const key = `${topic}\u0000${partition}`;
    let outcome = outcomes.get(key);
    if (outcome === undefined) {
      outcome = electLeader(ctx, topic, partition, type, records);
      outcomes.set(key, outcome);
    }
    return outcome;
  };
  if (request.topicPartitions === null) {
    for (const topic of [...ctx.view.topicsById.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const partitionResult: ElectLeadersResponsePartitionResult[] = [];
      for (const partitionId of [...topic.partitions.keys()].sort((a, b) => a - b)) {
        const outcome = elect(topic.name, partitionId);
        if (outcome.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) partitionResult.push({ partitionId, ...outcome });
      }
      response.replicaElectionResults.push({ topic: topic.name, partitionResult });
    }
  } else {
    for (const t of request.topicPartitions) {
      response.replicaElectionResults.push({
        topic: t.topic,
        partitionResult: t.partitions.map((partitionId) => ({ partitionId, ...elect(t.topic, partitionId) })),
      });
    }
  }
  return { records, response };
}

/** Kafka's maxElectionsPerImbalance: elections one periodic pass may write; the rest wait for the next pass. */
export const MAX_ELECTIONS_PER_PASS = 1000;

/**
 * auto.leader.rebalance.enable's periodic pass: PREFERRED elections for partitions whose first replica does not lead,
 * counted per preferred broker and done only for brokers whose share of such partitions is above
 * leader.imbalance.per.broker.percentage (the rule of Kafka's ZooKeeper-era controller; its KRaft controller accepts
 * the key but elects wherever it can). A preferred replica that is not in the ISR or not usable is skipped by the
 * election itself, so leadership never goes back to a broker that has not caught up. The answer says whether the
 * pass stopped at `maxElections` with more to do.
 */
export function decideBalance(
  ctx: ReplicationView,
  imbalancePercentage: number,
  maxElections = MAX_ELECTIONS_PER_PASS,
): Decision<boolean> {
  const preferredCount = new Map<number, number>();
  const notLed = new Map<number, PartitionRef[]>();
  for (const topic of ctx.view.topicsById.values()) {
    for (const [partition, registration] of topic.partitions) {
      const preferred = registration.replicas[0];
      if (preferred === undefined) continue;
      preferredCount.set(preferred, (preferredCount.get(preferred) ?? 0) + 1);
      if (registration.leader !== preferred) {
        const list = notLed.get(preferred) ?? [];
        list.push({ topicId: topic.id, partition, registration });
        notLed.set(preferred, list);
      }
    }
  }
  const records: MetadataRecordAndVersion[] = [];
  for (const [broker, refs] of notLed) {
    const total = preferredCount.get(broker) ?? 0;
    if (refs.length * 100 <= imbalancePercentage * total) continue;
    for (const ref of refs) {
      if (records.length >= maxElections) return { records, response: true };
      const change = buildPartitionChange({
        ...ref,
        acceptable: ctx.usable,
        ...ctx.policyOf(ref.topicId),
        election: "PREFERRED",
      });
      if (change) records.push(change);
    }
  }
  if (records.length > 0) ctx.logger.info({ elections: records.length }, "Moved leaders back to preferred replicas");
  return { records, response: records.length >= maxElections };
}

/**
 * The periodic retry of unclean elections (Kafka's maybeElectUncleanLeaders, every unclean.leader.election.interval.ms):
 * leaderless partitions of topics that allow unclean elections get any usable replica, as soon as one is up.
 */
export function decideUncleanElections(ctx: ReplicationView, maxElections = MAX_ELECTIONS_PER_PASS): Decision<boolean> {
  const records: MetadataRecordAndVersion[] = [];
  for (const ref of partitionsWhere(ctx.view, (p) => p.leader === NO_LEADER)) {
    if (records.length >= maxElections) return { records, response: true };
    const policy = ctx.policyOf(ref.topicId);
    if (policy.election !== "UNCLEAN") continue;
    const change = buildPartitionChange({ ...ref, acceptable: ctx.usable, ...policy });
    if (change) records.push(change);
  }
  if (records.length > 0) ctx.logger.warn({ elections: records.length }, "Elected leaders outside the ISR (unclean)");
  return { records, response: records.length >= maxElections };
}

class ReassignmentError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Kafka's validateManualPartitionAssignment without a replication factor to match (KIP-860 allows a change). */
function assignmentProblem(view: MetadataImage, replicas: readonly number[]): string | undefined {
  if (replicas.length === 0) return "The manual partition assignment includes an empty replica list.";
  const sorted = [...replicas].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    const id = sorted[i] ?? 0;
    if (!view.brokers.has(id)) {
      return `The manual partition assignment includes broker ${id}, but no such broker is registered.`;
    }
    if (i > 0 && sorted[i - 1] === id) {
      return `The manual partition assignment includes the broker ${id} more than once.`;
    }
  }
  return undefined;
}

/** One partition of AlterPartitionReassignments: the change that starts, replaces or cancels its reassignment. */
function reassign(
  ctx: ReplicationView,
  topicName: string,
  partition: number,
  target: readonly number[] | null,
): MetadataRecordAndVersion | null {
  const topicId = ctx.view.topicIdsByName.get(topicName);
  const topic = topicId === undefined ? undefined : ctx.view.topicsById.get(topicId);
  if (topic === undefined) {
    throw new ReassignmentError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find a topic named ${topicName}.`);
  }
  const p = topic.partitions.get(partition);
  if (p === undefined) {
    throw new ReassignmentError(
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      `Unable to find partition ${topicName}:${partition}.`,
    );
  }
  const policy = ctx.policyOf(topic.id);
  const base = { topicId: topic.id, partition, registration: p, acceptable: ctx.usable, ...policy };
  if (target === null) {
    // Cancel (Kafka's PartitionReassignmentRevert): back to the original replicas, without the ones being added.
    if (p.addingReplicas.length === 0 && p.removingReplicas.length === 0) {
      throw new ReassignmentError(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, "No partition reassignment is in progress.");
    }
    const replicas = p.replicas.filter((id) => !p.addingReplicas.includes(id));
    let isr = p.isr.filter((id) => !p.addingReplicas.includes(id));
    const election = policy.election;
    if (isr.length === 0) {
      const first = replicas[0];
      if (first === undefined) {
        throw new ReassignmentError(
          ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          "Invalid replica assignment: addingReplicas contains all replicas.",
        );
      }
      if (election !== "UNCLEAN") {
        throw new ReassignmentError(
          ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          `Unable to revert partition assignment for ${topicName}:${partition} because it would require an unclean leader election.`,
        );
      }
      isr = [first];
    }
    return buildPartitionChange({ ...base, election, isr, replicas, removing: [], adding: [] });
  }
  const problem = assignmentProblem(ctx.view, target);
  if (problem !== undefined) throw new ReassignmentError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
  // Kafka's PartitionReassignmentReplicas: replicas = target then the removed ones; adding and removing sorted.
  const removing = p.replicas.filter((id) => !target.includes(id)).sort((a, b) => a - b);
  const adding = target.filter((id) => !p.replicas.includes(id)).sort((a, b) => a - b);
  const replicas = [...target, ...removing];
  // Kafka keeps the previous adding (or removing) set when the new one is empty, so a reassignment replacing an
  // ongoing one can list a replica as both adding and removing; here the new sets replace the old ones.
  const ongoing = p.addingReplicas.length > 0 || p.removingReplicas.length > 0;
  return buildPartitionChange({
    ...base,
    ...(replicas.length === p.replicas.length && replicas.every((id, i) => id === p.replicas[i]) ? {} : { replicas }),
    ...(removing.length > 0 || ongoing ? { removing } : {}),
    ...(adding.length > 0 || ongoing ? { adding } : {}),
  });
}

/**
 * AlterPartitionReassignments (API 45, v0): per partition, start or replace a reassignment (replicas := target ∪
 * removing, with addingReplicas / removingReplicas; it completes on the AlterPartition whose ISR holds every target
 * replica, which then drops the removing ones and moves the leader if it was one of them), or cancel one (null
 * replicas). Each partition answers on its own; the records are committed together.
 */
export function decideAlterReassignments(
  ctx: ReplicationView,
  request: AlterPartitionReassignmentsRequest,
): Decision<AlterPartitionReassignmentsResponse> {
  const records: MetadataRecordAndVersion[] = [];
  const responses = request.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => {
      try {
        const change = reassign(ctx, t.name, p.partitionIndex, p.replicas);
        if (change) records.push(change);
        return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null };
      } catch (err) {
        if (!(err instanceof ReassignmentError)) throw err;
        ctx.logger.info(
          { topic: t.name, partition: p.partitionIndex, errorCode: err.errorCode },
          `Refused a partition reassignment: ${err.message}`,
        );
        return { partitionIndex: p.partitionIndex, errorCode: err.errorCode, errorMessage: err.message };
      }
    }),
  }));
  if (records.length > 0) ctx.logger.info({ changes: records.length }, "Altering partition reassignments");
  return {
    records,
    response: {
      ...AlterPartitionReassignmentsResponse.create(),
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      responses,
    },
  };
}

/** ListPartitionReassignments (API 46, v0): ongoing reassignments of the given partitions, or of every topic. */
export function listReassignments(
  view: MetadataImage,
  topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
): ListPartitionReassignmentsResponse {
  const wanted =
    topics === null
      ? [...view.topicsById.values()]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((t) => ({ topic: t, partitions: [...t.partitions.keys()].sort((a, b) => a - b) }))
      : topics.flatMap((t) => {
          const id = view.topicIdsByName.get(t.name);
          const topic = id === undefined ? undefined : view.topicsById.get(id);
          return topic === undefined ? [] : [{ topic, partitions: t.partitionIndexes }];
        });
  const out: ListPartitionReassignmentsResponse = {
    ...ListPartitionReassignmentsResponse.create(),
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    topics: [],
  };
  for (const { topic, partitions } of wanted) {
    const ongoing = partitions.flatMap((partitionIndex) => {
      const p = topic.partitions.get(partitionIndex);
      if (p === undefined || (p.addingReplicas.length === 0 && p.removingReplicas.length === 0)) return [];
      return [
        {
          partitionIndex,
          replicas: [...p.replicas],
          addingReplicas: [...p.addingReplicas],
          removingReplicas: [...p.removingReplicas],
        },
      ];
    });
    if (ongoing.length > 0) out.topics.push({ name: topic.name, partitions: ongoing });
  }
  return out;
}
