// Fetch (key 1), versions 4-17.
// Sessionless: every answer carries session id 0, which clients accept and which makes them send full requests.
// Each partition returns whole batches starting with the batch that holds the fetch offset; the first non-empty
// partition may exceed the byte limits by one batch (KIP-74) so a consumer always makes progress. Every requested
// partition appears in the response, as Java requires of a full response. When fewer than min_bytes are available the
// request waits up to max_wait_ms for an append to any requested partition. v13+ names topics by id.
// A partition listed more than once is answered once, as Kafka's broker does (it keys the request by partition): in
// the place of its first mention, with the fetch position of its last. The response never exceeds the broker's
// fetch.max.bytes, whatever max_bytes asks for, also as Kafka does; so no request can ask for more than one copy of
// a partition's data, nor more than that limit in total.
// Records are returned as views of pooled read buffers, which go to the socket by reference (not copied into the
// encoded response) and are released once written.
// Leadership and leader epochs come from the metadata image: a partition this broker does not lead (for a read any
// replica may serve: holds no replica of) is NOT_LEADER_OR_FOLLOWER, a currentLeaderEpoch below the image's is
// FENCED_LEADER_EPOCH and above it UNKNOWN_LEADER_EPOCH; the first two carry the current leader (KIP-951, v12+) and
// its endpoint (v16+). A fetch waiting for data ends as soon as this node stops leading one of its partitions, which
// then answers NOT_LEADER_OR_FOLLOWER; for a read any replica may serve, as soon as it stops holding a replica
// (NOT_LEADER_OR_FOLLOWER) or the leader epoch the client named moves on (FENCED_LEADER_EPOCH).
// Fetch from follower (KIP-392), as Kafka's ReplicaManager: a consumer from v11 may read from any replica of the
// partition, after the same leader-epoch check; a follower serves it below the high watermark its leader last sent,
// and answers OFFSET_OUT_OF_RANGE outside its own log. A leader whose replica.selector.class picks another replica
// for the consumer's RackId answers that replica as PreferredReadReplica, with no records, at once. Consumers before
// v11 and followers read only from the leader.
// Consumers (replica id -1) read below the high watermark. A follower (ReplicaState.replicaId >= 0 from v15, the
// replica id field before) reads up to the log end: the partition layer checks it is an assigned replica, answers a
// diverging epoch when its last fetched epoch shows its log diverged (KIP-320), and records its position, which
// may move the high watermark and the ISR (ADR 24).
// Replication throttles (KIP-73), as Kafka's leader applies them: a follower outside the partition's ISR fetching a
// partition that leader.replication.throttled.replicas names for this broker gets no records for it while the leader
// throttle's rate is exceeded (the partition still answers, with its offsets), and such partitions count nothing
// towards min_bytes. Once the response is final, the records of every throttled partition in it, in-sync followers'
// included, are counted against the throttle.
// A read that fails answers its partition alone, as Kafka's readFromLog does, and the rest of the response goes out
// normally: retention moving the log start past the fetch offset during the read is OFFSET_OUT_OF_RANGE, a failing
// disk KAFKA_STORAGE_ERROR, anything else UNKNOWN_SERVER_ERROR (logged). Nothing a read throws closes the connection.
import type { Logger } from "pino";
import {
  LogClosedError,
  OffsetOutOfRangeError,
  StorageError,
  type PartitionLog,
  type ReadResult,
} from "../log/index.ts";
import { endpointOf, nodeEndpoints, partitionAccess, topicByName } from "../metadata/image/index.ts";
import {
  ApiKey,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  ZERO_UUID,
  type FetchRequestFetchPartition,
  type FetchRequestFetchTopic,
  type FetchResponseFetchableTopicResponse,
  type FetchResponsePartitionData,
} from "../protocol/index.ts";
import { partitionKey, type FollowerFetchOutcome, type ReplicaRole } from "../partitions/partition-manager.ts";
import { preferredReadReplica } from "../replication/replica-selector.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

const EMPTY = Buffer.alloc(0);

interface Slot {
  topic: string;
  request: FetchRequestFetchPartition;
  log: PartitionLog | undefined;
  response: FetchResponsePartitionData;
  /** A follower's read: up to the log end rather than the high watermark. */
  replica: boolean;
  /** A follower's read of a partition the leader throttle names here. */
  throttled: boolean;
  /** That follower is in the partition's ISR: never held back by the throttle. */
  inSync: boolean;
  /** Whether this node leads the partition, as a leader-only read requires; a consumer from v11 reads any replica. */
  leaderOnly: boolean;
  /** A consumer's read served by this node as the partition's follower (KIP-392), for the metrics. */
  followerRead: boolean;
}

function emptyPartition(partitionIndex: number, errorCode: number): FetchResponsePartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: EMPTY,
  };
}

/** KIP-951: the current leader in partition errors from v12, the leaders' endpoints in the response from v16. */
const LEADER_HINT_VERSION = 12;
const NODE_ENDPOINTS_VERSION = 16;
/** KIP-903: the follower's id and broker epoch move into ReplicaState. */
const REPLICA_STATE_VERSION = 15;
/** KIP-392: consumers name their rack and may read from any replica, which a leader may point them to. */
const FOLLOWER_READS_VERSION = 11;

export function fetchHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.Fetch,
    minVersion: 4,
    maxVersion: 17,
    request: FetchRequest,
    response: FetchResponse,
    async handle(request, context) {
      const byId = context.apiVersion >= 13;
      const withState = context.apiVersion >= REPLICA_STATE_VERSION;
      const replicaId = (withState ? request.replicaState?.replicaId : request.replicaId) ?? -1;
      const brokerEpoch = (withState ? request.replicaState?.replicaEpoch : undefined) ?? -1n;
      // Kafka's FetchParams.fetchOnlyLeader: followers, and consumers before v11, which carry no client metadata.
      const consumerFromAnyReplica = replicaId < 0 && context.apiVersion >= FOLLOWER_READS_VERSION;
      const clientRack = consumerFromAnyReplica ? (request.rackId ?? "") : "";
      const nodeId = services.metadata.nodeId;
      // A partition a follower's fetch must answer now: a diverging epoch or an error.
      let answerNow = false;
      // Map.set keeps a key's first position and takes its last value.
      const wanted = new Map<string, { topic: FetchRequestFetchTopic; partition: FetchRequestFetchPartition }>();
      for (const t of request.topics) {
        const topicKey = byId ? (t.topicId ?? ZERO_UUID) : (t.topic ?? "");
        for (const p of t.partitions) wanted.set(`${topicKey}\u0000${p.partition}`, { topic: t, partition: p });
      }
      const slots: Slot[] = [];
      const responses: FetchResponseFetchableTopicResponse[] = [];
      let previous: FetchRequestFetchTopic | undefined;
      const image = services.metadata.image;
      const hinted = new Set<number>();
      const throttle = services.throttles.leader;
      for (const { topic: t, partition: p } of wanted.values()) {
        const topic = byId ? image.topicsById.get(t.topicId ?? ZERO_UUID) : topicByName(image, t.topic ?? "");
        const unknownError = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        const access = partitionAccess(
          image,
          nodeId,
          topic,
          p.partition,
          p.currentLeaderEpoch,
          !consumerFromAnyReplica,
        );
        const log = topic && access.ok ? services.partitions.log(topic.name, p.partition) : undefined;
        let errorCode: number = log ? ErrorCode.NONE : unknownError;
        if (!access.ok && access.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) errorCode = access.errorCode;
        // A log in an offline log dir is served to nobody, consumer or follower (KAFKA_STORAGE_ERROR, as in Kafka).
        // A replica whose dir failed at start-up has no log here at all: KAFKA_STORAGE_ERROR too.
        if (topic && access.ok && (errorCode === ErrorCode.NONE || log === undefined))
          errorCode = services.partitions.offlineError(topic.name, p.partition)?.errorCode ?? errorCode;
        let outcome: FollowerFetchOutcome = { kind: "read" };
        if (errorCode === ErrorCode.NONE && topic && log && replicaId >= 0) {
          outcome = services.partitions.followerFetch(topic.name, p.partition, {
            replicaId,
            brokerEpoch,
            fetchOffset: p.fetchOffset,
            logStartOffset: p.logStartOffset ?? -1n,
            lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
            hasLeaderEpoch: (p.currentLeaderEpoch ?? -1) >= 0,
          });
          if (outcome.kind === "error") errorCode = outcome.errorCode;
          answerNow ||= outcome.kind !== "read";
        }
        const response = emptyPartition(p.partition, errorCode);
        if (!access.ok && access.leader && context.apiVersion >= LEADER_HINT_VERSION) {
          response.currentLeader = access.leader;
          hinted.add(access.leader.leaderId);
        }
        if (outcome.kind === "diverging" && log) {
          response.divergingEpoch = { epoch: outcome.epoch, endOffset: outcome.endOffset };
          response.highWatermark = log.highWatermark;
          response.lastStableOffset = log.highWatermark;
          response.logStartOffset = log.logStartOffset;
        }
        // A leader that finds the consumer a replica in its rack answers with it and no records (Kafka skips the read).
        const preferred =
          errorCode === ErrorCode.NONE && topic && log && consumerFromAnyReplica && access.ok
            ? preferredReplicaFor(services, topic.name, p, access.registration.leader, clientRack, context.listenerName)
            : undefined;
        if (preferred !== undefined && log) {
          response.preferredReadReplica = preferred;
          response.highWatermark = log.highWatermark;
          response.lastStableOffset = log.highWatermark;
          response.logStartOffset = log.logStartOffset;
          answerNow = true;
          services.fetchMetrics.preferredReadReplica();
        } else if (errorCode === ErrorCode.NONE && topic && outcome.kind === "read") {
          const replica = replicaId >= 0;
          const throttled = replica && throttle.isThrottled(topic.name, p.partition);
          const inSync =
            throttled && services.partitions.leaderState(topic.name, p.partition)?.committedIsr.includes(replicaId);
          slots.push({
            topic: topic.name,
            request: p,
            log,
            response,
            replica,
            throttled,
            inSync: inSync === true,
            leaderOnly: !consumerFromAnyReplica,
            followerRead: access.ok && access.registration.leader !== nodeId,
          });
        }
        // Consecutive partitions of one topic share a topic entry, as in Kafka's responses.
        const last = responses[responses.length - 1];
        if (last !== undefined && previous !== undefined && sameTopic(previous, t, byId))
          last.partitions.push(response);
        else {
          responses.push({
            topic: t.topic ?? topic?.name ?? "",
            topicId: t.topicId ?? topic?.id ?? ZERO_UUID,
            partitions: [response],
          });
        }
        previous = t;
      }

      const deadline = Date.now() + Math.max(0, request.maxWaitMs);
      const asked = request.maxBytes !== undefined && request.maxBytes > 0 ? request.maxBytes : 0x7fffffff;
      const responseLimit = Math.min(asked, services.config.fetchMaxBytes);
      let reads: ReadResult[] = [];
      const releaseAll = () => {
        for (const read of reads) read.release();
        reads = [];
      };
      context.onResponseSent(releaseAll);
      let heldBack = 0;
      for (;;) {
        releaseAll();
        const { bytes, failed, ...read } = await readSlots(slots, responseLimit, reads, {
          closedError: (topic, partition) => services.partitions.closedLogError(topic, partition),
          role: (topic, partition) => services.partitions.role(topic, partition),
          overThrottle: () => throttle.isExceeded(),
          logger: context.logger,
        });
        heldBack = read.heldBack;
        const remaining = deadline - Date.now();
        if (
          failed ||
          answerNow ||
          bytes >= request.minBytes ||
          remaining <= 0 ||
          context.signal.aborted ||
          slots.length === 0
        )
          break;
        const keys = new Set(slots.map((s) => partitionKey(s.topic, s.request.partition)));
        await services.partitions.waitForData(keys, remaining, context.signal);
      }
      for (const read of reads) context.sendByReference(read.records);
      throttle.heldBack(heldBack);
      throttle.record(slots.reduce((sum, s) => sum + (s.throttled ? (s.response.records?.length ?? 0) : 0), 0));
      for (const slot of slots) {
        const bytes = slot.response.records?.length ?? 0;
        if (!slot.replica && bytes > 0)
          services.fetchMetrics.consumerBytes(slot.followerRead ? "follower" : "leader", bytes);
      }
      return {
        ...FetchResponse.create(),
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        sessionId: 0,
        responses,
        nodeEndpoints:
          context.apiVersion >= NODE_ENDPOINTS_VERSION ? nodeEndpoints(image, hinted, context.listenerName) : [],
      };
    },
  });
}

/**
 * The replica a consumer should read `p` from instead of this node, when this node leads it and replica.selector.class
 * picks another (KIP-392); undefined to read here.
 */
function preferredReplicaFor(
  services: BrokerServices,
  topic: string,
  p: FetchRequestFetchPartition,
  leaderId: number,
  clientRack: string,
  listenerName: string,
): number | undefined {
  const { config, metadata, partitions } = services;
  if (config.replicaSelector === "leader" || clientRack === "" || leaderId !== metadata.nodeId) return undefined;
  const followers = partitions.followerViews(topic, p.partition);
  if (followers === undefined) return undefined;
  const image = metadata.image;
  // Clients reach a replica only through a live broker's endpoint on their own listener.
  const rackOf = (id: number) => {
    const broker = image.brokers.get(id);
    return broker !== undefined && !broker.fenced && endpointOf(broker, listenerName) !== undefined
      ? broker.rack
      : undefined;
  };
  return preferredReadReplica({
    selector: config.replicaSelector,
    clientRack,
    fetchOffset: p.fetchOffset,
    leaderRack: image.brokers.get(leaderId)?.rack ?? null,
    followers: followers.map((f) => ({ ...f, rack: rackOf(f.id) })),
    nowMs: services.clock(),
  });
}

function sameTopic(a: FetchRequestFetchTopic, b: FetchRequestFetchTopic, byId: boolean): boolean {
  return byId ? a.topicId === b.topicId : a.topic === b.topic;
}

/** What a read asks of the partitions besides their logs. */
interface SlotChecks {
  /** The answer for a log that closed under the read: its topic deleted, or the broker shutting down. */
  readonly closedError: (topic: string, partition: number) => { errorCode: number };
  /** This node's current part in the partition: leadership and leader epochs may move while a fetch waits for data. */
  readonly role: (topic: string, partition: number) => ReplicaRole | undefined;
  /** Whether the leader replication throttle is exceeded now. */
  readonly overThrottle: () => boolean;
  /** Where a read failing for a reason no error code names is reported. */
  readonly logger: Logger;
}

/**
 * Whether a partition is still served as when the fetch arrived. A leader-only read needs this node to lead it; a read
 * any replica may serve needs it to hold a replica, with the client's leader epoch still current (as Kafka's
 * DelayedFetch re-checks it), so a consumer waiting on a follower or a former leader learns of the new epoch.
 */
function stillServed(role: ReplicaRole | undefined, leaderOnly: boolean, currentLeaderEpoch: number): number {
  if (role === undefined || (leaderOnly && !role.leader)) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  if (leaderOnly || currentLeaderEpoch < 0 || currentLeaderEpoch === role.leaderEpoch) return ErrorCode.NONE;
  return currentLeaderEpoch < role.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
}

/** A slot that has records to read: checked, its offsets answered, the read not yet made. */
interface Candidate {
  slot: Slot;
  log: PartitionLog;
  /** Consumers read below the high watermark, followers up to the log end. */
  maxOffset: bigint;
}

type Outcome = { ok: true; read: ReadResult } | { ok: false; err: unknown };

const settle = (read: Promise<ReadResult>): Promise<Outcome> =>
  read.then(
    (r): Outcome => ({ ok: true, read: r }),
    (err: unknown): Outcome => ({ ok: false, err }),
  );

/**
 * Reads every slot once within the response budget; returns the bytes read, whether a partition errored, and how
 * many throttled partitions were held back.
 * The answer is the one reading the partitions one after another gives (each limited by what is left of the budget,
 * only the first non-empty one allowed to exceed its limit by one batch), but the reads run at once: each starts with
 * the budget left if every read before it filled its partition limit. Taken in order, a read made with the limit the
 * sequence gives is used as it is (a batch beyond the limit that only the first non-empty partition may return is
 * dropped); one whose limit the sequence changed is read again, which only happens when a response reaches its
 * byte limit.
 */
async function readSlots(
  slots: Slot[],
  responseLimit: number,
  reads: ReadResult[],
  checks: SlotChecks,
): Promise<{ bytes: number; failed: boolean; heldBack: number }> {
  const { closedError } = checks;
  let failed = false;
  let heldBack = 0;
  const candidates: Candidate[] = [];
  for (const slot of slots) {
    const log = slot.log;
    if (!log) continue;
    const { request: p, response } = slot;
    if (log.isClosed) {
      Object.assign(response, emptyPartition(p.partition, closedError(slot.topic, p.partition).errorCode));
      failed = true;
      continue;
    }
    const roleError = stillServed(checks.role(slot.topic, p.partition), slot.leaderOnly, p.currentLeaderEpoch ?? -1);
    if (roleError !== ErrorCode.NONE) {
      Object.assign(response, emptyPartition(p.partition, roleError));
      failed = true;
      continue;
    }
    response.highWatermark = log.highWatermark;
    response.lastStableOffset = log.highWatermark;
    response.logStartOffset = log.logStartOffset;
    response.records = EMPTY;
    response.errorCode = ErrorCode.NONE;
    if (p.fetchOffset < log.logStartOffset || p.fetchOffset > log.logEndOffset) {
      response.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      failed = true;
      continue;
    }
    const maxOffset = slot.replica ? log.logEndOffset : log.highWatermark;
    if (p.fetchOffset !== maxOffset) candidates.push({ slot, log, maxOffset });
  }
  // Kafka reads and then drops a held-back partition's records; not reading them at all answers the same.
  const heldBackNow = (slot: Slot) => slot.throttled && !slot.inSync && checks.overThrottle();
  const read = (c: Candidate, limit: number, minOneBatch: boolean) =>
    c.log.read(c.slot.request.fetchOffset, limit, { maxOffset: c.maxOffset, minOneBatch });
  let reserved = 0;
  const early = candidates.map((c) => {
    const limit = Math.min(c.slot.request.partitionMaxBytes, responseLimit - reserved);
    if (limit <= 0 || heldBackNow(c.slot)) return undefined;
    reserved += limit;
    return { limit, outcome: settle(read(c, limit, true)) };
  });
  let budget = responseLimit;
  let bytes = 0;
  for (const [i, c] of candidates.entries()) {
    const made = early[i];
    const limit = Math.min(c.slot.request.partitionMaxBytes, budget);
    const wanted = limit > 0 && !heldBackNow(c.slot);
    if (limit > 0 && !wanted) heldBack++;
    const useMade = wanted && made?.limit === limit;
    if (made !== undefined && !useMade) void made.outcome.then(release);
    if (!wanted) continue;
    const outcome = useMade ? await made.outcome : await settle(read(c, limit, bytes === 0));
    if (!outcome.ok) {
      failed = true;
      answerReadError(c.slot, c.log, outcome.err, closedError, checks.logger);
      continue;
    }
    const result = outcome.read;
    // Read as the first non-empty partition, but another one came first: the sequence would have read nothing.
    if (bytes > 0 && result.records.length > limit) {
      result.release();
      continue;
    }
    reads.push(result);
    const { response } = c.slot;
    response.records = result.records;
    response.highWatermark = result.highWatermark;
    response.lastStableOffset = result.highWatermark;
    response.logStartOffset = result.logStartOffset;
    bytes += result.records.length;
    budget -= result.records.length;
  }
  return { bytes, failed, heldBack };
}

function release(outcome: Outcome): void {
  if (outcome.ok) outcome.read.release();
}

/** A partition whose read failed answers alone, as Kafka's readFromLog does; the rest of the response goes out. */
function answerReadError(
  slot: Slot,
  log: PartitionLog,
  err: unknown,
  closedError: SlotChecks["closedError"],
  logger: Logger,
): void {
  const { request: p, response } = slot;
  if (err instanceof OffsetOutOfRangeError) {
    // Retention (or DeleteRecords) moved the log start past the fetch offset while the read ran.
    response.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
    response.highWatermark = log.highWatermark;
    response.lastStableOffset = log.highWatermark;
    response.logStartOffset = log.logStartOffset;
    return;
  }
  let errorCode: number;
  if (err instanceof LogClosedError) errorCode = closedError(slot.topic, p.partition).errorCode;
  else if (err instanceof StorageError) errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
  else {
    logger.error({ err, topic: slot.topic, partition: p.partition }, "fetch read failed");
    errorCode = ErrorCode.UNKNOWN_SERVER_ERROR;
  }
  Object.assign(response, emptyPartition(p.partition, errorCode));
}
