import {
  ApiKey,
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  ControlRecordType,
  DecodeError,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  LeaderChangeMessage,
  VoteRequest,
  VoteResponse,
  decodeControlRecordKey,
  decodeRecordBatch,
  encodeControlRecordKey,
  encodeRecordBatch,
  splitBatches,
} from "../protocol/index.ts";
import type { LogEntry, RaftError, RaftMessage } from "../raft/index.ts";

// The raft core's messages as Kafka's KRaft RPCs (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch on partition 0 of
// `__cluster_metadata`) and its log entries as record batches: data entries are records whose value is the metadata
// record frame the controller wrote, a leader-change entry is a control batch holding a LeaderChangeMessage. Pure;
// the quorum driver does the sockets, versions and cluster-id checks.

export const METADATA_TOPIC = "__cluster_metadata";
/** Kafka's Uuid.METADATA_TOPIC_ID (0, 1), "AAAAAAAAAAAAAAAAAAAAAQ" in base64url. */
export const METADATA_TOPIC_ID = "00000000-0000-0000-0000-000000000001";
export const METADATA_PARTITION = 0;

const RAFT_ERRORS: readonly RaftError[] = [
  "NONE",
  "FENCED_LEADER_EPOCH",
  "UNKNOWN_LEADER_EPOCH",
  "NOT_LEADER_OR_FOLLOWER",
  "INCONSISTENT_VOTER_SET",
  "INVALID_REQUEST",
  "SNAPSHOT_NOT_FOUND",
  "POSITION_OUT_OF_RANGE",
];

function errorCodeOf(error: RaftError): number {
  return ErrorCode[error];
}

/** Codes the core does not know (INCONSISTENT_CLUSTER_ID, UNKNOWN_SERVER_ERROR, ...) become INVALID_REQUEST. */
function raftErrorOf(code: number): RaftError {
  return RAFT_ERRORS.find((e) => ErrorCode[e] === code) ?? "INVALID_REQUEST";
}

const nullable = (id: number): number | null => (id < 0 ? null : id);

/** The `topics` field of Vote/BeginQuorumEpoch/EndQuorumEpoch: partition 0 of the metadata topic, alone. */
function onMetadataPartition<P extends object>(
  partition: P,
): { topicName: string; partitions: (P & { partitionIndex: number })[] }[] {
  return [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, ...partition }] }];
}
const orNone = (id: number | null): number => id ?? -1;

/** A wire request of one of the quorum APIs, ready for its codec. */
export type WireRequest =
  | { readonly apiKey: typeof ApiKey.Vote; readonly request: VoteRequest }
  | { readonly apiKey: typeof ApiKey.BeginQuorumEpoch; readonly request: BeginQuorumEpochRequest }
  | { readonly apiKey: typeof ApiKey.EndQuorumEpoch; readonly request: EndQuorumEpochRequest }
  | { readonly apiKey: typeof ApiKey.Fetch; readonly request: FetchRequest }
  | { readonly apiKey: typeof ApiKey.FetchSnapshot; readonly request: FetchSnapshotRequest };

export type WireResponse =
  | { readonly apiKey: typeof ApiKey.Vote; readonly response: VoteResponse }
  | { readonly apiKey: typeof ApiKey.BeginQuorumEpoch; readonly response: BeginQuorumEpochResponse }
  | { readonly apiKey: typeof ApiKey.EndQuorumEpoch; readonly response: EndQuorumEpochResponse }
  | { readonly apiKey: typeof ApiKey.Fetch; readonly response: FetchResponse }
  | { readonly apiKey: typeof ApiKey.FetchSnapshot; readonly response: FetchSnapshotResponse };

export interface RequestContext {
  readonly clusterId: string;
  /** The node the request goes to (Kafka's VoterId). */
  readonly destination: number;
  /** How long the leader may hold a Fetch that has nothing new. */
  readonly fetchMaxWaitMs: number;
  /** The most snapshot bytes a FetchSnapshot asks for. */
  readonly snapshotMaxBytes?: number;
}

/** Vote v2 (KIP-996) is the first with the PreVote flag. */
const PRE_VOTE_MIN_VERSION = 2;

/**
 * The request for `message` at `version` of its API. A pre-vote below Vote v2 would reach the peer as a real vote
 * (bumping its epoch, spending its vote), so it is refused: the driver must ask peers that lack v2 for real votes.
 */
export function toWireRequest(message: RaftMessage, ctx: RequestContext, version: number): WireRequest {
  switch (message.type) {
    case "VoteRequest":
      if (message.preVote && version < PRE_VOTE_MIN_VERSION) {
        throw new Error(`a pre-vote needs Vote v${PRE_VOTE_MIN_VERSION}, the peer speaks v${version}`);
      }
      return {
        apiKey: ApiKey.Vote,
        request: {
          ...VoteRequest.create(),
          clusterId: ctx.clusterId,
          voterId: ctx.destination,
          topics: onMetadataPartition({
            replicaEpoch: message.epoch,
            replicaId: message.candidateId,
            lastOffsetEpoch: message.lastEpoch,
            lastOffset: BigInt(message.lastOffset),
            preVote: message.preVote,
          }),
        },
      };
    case "BeginQuorumEpochRequest":
      return {
        apiKey: ApiKey.BeginQuorumEpoch,
        request: {
          ...BeginQuorumEpochRequest.create(),
          clusterId: ctx.clusterId,
          voterId: ctx.destination,
          topics: onMetadataPartition({ leaderId: message.leaderId, leaderEpoch: message.epoch }),
        },
      };
    case "EndQuorumEpochRequest":
      return {
        apiKey: ApiKey.EndQuorumEpoch,
        request: {
          ...EndQuorumEpochRequest.create(),
          clusterId: ctx.clusterId,
          topics: onMetadataPartition({
            leaderId: message.leaderId,
            leaderEpoch: message.epoch,
            // v0 carries ids, v1 (KIP-853) replica keys; each version writes the field it has.
            preferredSuccessors: [...message.preferredSuccessors],
            preferredCandidates: message.preferredSuccessors.map((candidateId) => ({ candidateId })),
          }),
        },
      };
    case "FetchRequest":
      return {
        apiKey: ApiKey.Fetch,
        request: {
          ...FetchRequest.create(),
          clusterId: ctx.clusterId,
          replicaId: message.replicaId,
          replicaState: { replicaId: message.replicaId, replicaEpoch: -1n },
          maxWaitMs: ctx.fetchMaxWaitMs,
          minBytes: 0,
          topics: [
            {
              topic: METADATA_TOPIC,
              topicId: METADATA_TOPIC_ID,
              partitions: [
                {
                  partition: METADATA_PARTITION,
                  currentLeaderEpoch: message.epoch,
                  fetchOffset: BigInt(message.fetchOffset),
                  lastFetchedEpoch: message.lastFetchedEpoch,
                  logStartOffset: -1n,
                  partitionMaxBytes: 0,
                },
              ],
            },
          ],
        },
      };
    case "FetchSnapshotRequest":
      return {
        apiKey: ApiKey.FetchSnapshot,
        request: {
          ...FetchSnapshotRequest.create(),
          clusterId: ctx.clusterId,
          replicaId: message.replicaId,
          maxBytes: ctx.snapshotMaxBytes ?? FetchSnapshotRequest.create().maxBytes,
          topics: [
            {
              name: METADATA_TOPIC,
              partitions: [
                {
                  partition: METADATA_PARTITION,
                  currentLeaderEpoch: message.epoch,
                  snapshotId: { endOffset: BigInt(message.snapshotId.offset), epoch: message.snapshotId.epoch },
                  position: BigInt(message.position),
                },
              ],
            },
          ],
        },
      };
    default:
      throw new Error(`${message.type} is an answer, not a request`);
  }
}

/** The one partition a quorum request must address; anything else is refused as Kafka does (INVALID_REQUEST). */
function single<T extends { partitionIndex?: number; partition?: number }>(
  topics: readonly { topicName?: string; topic?: string; topicId?: string; partitions: readonly T[] }[],
): T {
  const topic = topics[0];
  const partition = topic?.partitions[0];
  const named = topic?.topicName ?? topic?.topic;
  // Fetch from v13 on names the topic by id only; the other quorum requests by name.
  const rightTopic = named === METADATA_TOPIC || ((named ?? "") === "" && topic?.topicId === METADATA_TOPIC_ID);
  if (topics.length !== 1 || topic?.partitions.length !== 1 || partition === undefined || !rightTopic) {
    throw new DecodeError(`a quorum request must address ${METADATA_TOPIC}-${METADATA_PARTITION} alone`, 0);
  }
  if ((partition.partitionIndex ?? partition.partition) !== METADATA_PARTITION) {
    throw new DecodeError(`a quorum request must address ${METADATA_TOPIC}-${METADATA_PARTITION} alone`, 0);
  }
  return partition;
}

/** A received quorum request as the core's message, with the cluster id it names for the driver to check. */
export function fromWireRequest(wire: WireRequest): { clusterId: string | null; message: RaftMessage } {
  switch (wire.apiKey) {
    case ApiKey.Vote: {
      const p = single(wire.request.topics);
      return {
        clusterId: wire.request.clusterId,
        message: {
          type: "VoteRequest",
          epoch: p.replicaEpoch,
          candidateId: p.replicaId,
          lastEpoch: p.lastOffsetEpoch,
          lastOffset: Number(p.lastOffset),
          preVote: p.preVote ?? false,
        },
      };
    }
    case ApiKey.BeginQuorumEpoch: {
      const p = single(wire.request.topics);
      return {
        clusterId: wire.request.clusterId,
        message: { type: "BeginQuorumEpochRequest", epoch: p.leaderEpoch, leaderId: p.leaderId },
      };
    }
    case ApiKey.EndQuorumEpoch: {
      const p = single(wire.request.topics);
      const successors =
        p.preferredCandidates !== undefined && p.preferredCandidates.length > 0
          ? p.preferredCandidates.map((c) => c.candidateId ?? -1)
          : (p.preferredSuccessors ?? []);
      return {
        clusterId: wire.request.clusterId,
        message: {
          type: "EndQuorumEpochRequest",
          epoch: p.leaderEpoch,
          leaderId: p.leaderId,
          preferredSuccessors: successors,
        },
      };
    }
    case ApiKey.Fetch: {
      const p = single(wire.request.topics);
      return {
        clusterId: wire.request.clusterId ?? null,
        message: {
          type: "FetchRequest",
          epoch: p.currentLeaderEpoch ?? -1,
          replicaId: wire.request.replicaState?.replicaId ?? wire.request.replicaId ?? -1,
          fetchOffset: Number(p.fetchOffset),
          lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
        },
      };
    }
    case ApiKey.FetchSnapshot: {
      const topics = wire.request.topics;
      const p = topics[0]?.partitions[0];
      if (topics.length !== 1 || topics[0]?.name !== METADATA_TOPIC || topics[0].partitions.length !== 1 || !p) {
        throw new DecodeError(`a quorum request must address ${METADATA_TOPIC}-${METADATA_PARTITION} alone`, 0);
      }
      if (p.partition !== METADATA_PARTITION) {
        throw new DecodeError(`a quorum request must address ${METADATA_TOPIC}-${METADATA_PARTITION} alone`, 0);
      }
      return {
        clusterId: wire.request.clusterId ?? null,
        message: {
          type: "FetchSnapshotRequest",
          epoch: p.currentLeaderEpoch,
          replicaId: wire.request.replicaId,
          snapshotId: { offset: Number(p.snapshotId.endOffset), epoch: p.snapshotId.epoch },
          position: Number(p.position),
        },
      };
    }
  }
}

export function toWireResponse(message: RaftMessage): WireResponse {
  switch (message.type) {
    case "VoteResponse":
      return {
        apiKey: ApiKey.Vote,
        response: {
          ...VoteResponse.create(),
          topics: onMetadataPartition({
            errorCode: errorCodeOf(message.error),
            leaderId: orNone(message.leaderId),
            leaderEpoch: message.epoch,
            voteGranted: message.granted,
          }),
        },
      };
    case "BeginQuorumEpochResponse":
    case "EndQuorumEpochResponse": {
      const topics = onMetadataPartition({
        errorCode: errorCodeOf(message.error),
        leaderId: orNone(message.leaderId),
        leaderEpoch: message.epoch,
      });
      return message.type === "BeginQuorumEpochResponse"
        ? { apiKey: ApiKey.BeginQuorumEpoch, response: { ...BeginQuorumEpochResponse.create(), topics } }
        : { apiKey: ApiKey.EndQuorumEpoch, response: { ...EndQuorumEpochResponse.create(), topics } };
    }
    case "FetchResponse":
      return {
        apiKey: ApiKey.Fetch,
        response: {
          ...FetchResponse.create(),
          responses: [
            {
              topic: METADATA_TOPIC,
              topicId: METADATA_TOPIC_ID,
              partitions: [
                {
                  partitionIndex: METADATA_PARTITION,
                  errorCode: errorCodeOf(message.error),
                  highWatermark: BigInt(message.highWatermark),
                  lastStableOffset: -1n,
                  logStartOffset: 0n,
                  currentLeader: { leaderId: orNone(message.leaderId), leaderEpoch: message.epoch },
                  ...(message.divergingEpoch !== null
                    ? {
                        divergingEpoch: {
                          epoch: message.divergingEpoch.epoch,
                          endOffset: BigInt(message.divergingEpoch.offset),
                        },
                      }
                    : {}),
                  ...(message.snapshotId !== null
                    ? {
                        snapshotId: {
                          epoch: message.snapshotId.epoch,
                          endOffset: BigInt(message.snapshotId.offset),
                        },
                      }
                    : {}),
                  records: encodeEntries(message.entries),
                },
              ],
            },
          ],
        },
      };
    case "FetchSnapshotResponse":
      return {
        apiKey: ApiKey.FetchSnapshot,
        response: {
          ...FetchSnapshotResponse.create(),
          topics: [
            {
              name: METADATA_TOPIC,
              partitions: [
                {
                  index: METADATA_PARTITION,
                  errorCode: errorCodeOf(message.error),
                  snapshotId: { endOffset: BigInt(message.snapshotId.offset), epoch: message.snapshotId.epoch },
                  currentLeader: { leaderId: orNone(message.leaderId), leaderEpoch: message.epoch },
                  size: BigInt(message.size),
                  position: BigInt(message.position),
                  unalignedRecords: Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength),
                },
              ],
            },
          ],
        },
      };
    default:
      throw new Error(`${message.type} is a request, not an answer`);
  }
}

/** A received answer as the core's message; `request` is what it answers (Vote answers do not say pre-vote or not). */
export function fromWireResponse(wire: WireResponse, request: RaftMessage): RaftMessage {
  const topLevel = wire.response.errorCode ?? 0;
  switch (wire.apiKey) {
    case ApiKey.Vote: {
      const p = wire.response.topics[0]?.partitions[0];
      return {
        type: "VoteResponse",
        epoch: p?.leaderEpoch ?? -1,
        leaderId: nullable(p?.leaderId ?? -1),
        granted: topLevel === 0 && (p?.voteGranted ?? false),
        preVote: request.type === "VoteRequest" && request.preVote,
        error: raftErrorOf(topLevel !== 0 ? topLevel : (p?.errorCode ?? ErrorCode.INVALID_REQUEST)),
      };
    }
    case ApiKey.BeginQuorumEpoch:
    case ApiKey.EndQuorumEpoch: {
      const p = wire.response.topics[0]?.partitions[0];
      return {
        type: wire.apiKey === ApiKey.BeginQuorumEpoch ? "BeginQuorumEpochResponse" : "EndQuorumEpochResponse",
        epoch: p?.leaderEpoch ?? -1,
        leaderId: nullable(p?.leaderId ?? -1),
        error: raftErrorOf(topLevel !== 0 ? topLevel : (p?.errorCode ?? ErrorCode.INVALID_REQUEST)),
      };
    }
    case ApiKey.Fetch: {
      const p = wire.response.responses[0]?.partitions[0];
      const diverging = p?.divergingEpoch;
      const hasDiverging =
        diverging !== undefined && ((diverging.epoch ?? -1) >= 0 || (diverging.endOffset ?? -1n) >= 0n);
      const snapshot = p?.snapshotId;
      return {
        type: "FetchResponse",
        epoch: p?.currentLeader?.leaderEpoch ?? -1,
        leaderId: nullable(p?.currentLeader?.leaderId ?? -1),
        error: raftErrorOf(topLevel !== 0 ? topLevel : (p?.errorCode ?? ErrorCode.INVALID_REQUEST)),
        highWatermark: Number(p?.highWatermark ?? -1n),
        entries: p?.records ? decodeEntries(p.records) : [],
        divergingEpoch: hasDiverging
          ? { epoch: diverging.epoch ?? -1, offset: Number(diverging.endOffset ?? -1n) }
          : null,
        snapshotId:
          snapshot !== undefined && (snapshot.epoch ?? -1) >= 0 && (snapshot.endOffset ?? -1n) >= 0n
            ? { epoch: snapshot.epoch ?? -1, offset: Number(snapshot.endOffset ?? -1n) }
            : null,
      };
    }
    case ApiKey.FetchSnapshot: {
      const p = wire.response.topics[0]?.partitions[0];
      const leader = p?.currentLeader;
      const asked = request.type === "FetchSnapshotRequest" ? request.snapshotId : { offset: -1, epoch: -1 };
      return {
        type: "FetchSnapshotResponse",
        // An error answer may leave CurrentLeader out; it then speaks of the epoch we asked in.
        epoch: leader?.leaderEpoch ?? (request.type === "FetchSnapshotRequest" ? request.epoch : -1),
        leaderId: nullable(leader?.leaderId ?? -1),
        error: raftErrorOf(topLevel !== 0 ? topLevel : (p?.errorCode ?? ErrorCode.INVALID_REQUEST)),
        snapshotId: p ? { offset: Number(p.snapshotId.endOffset), epoch: p.snapshotId.epoch } : asked,
        size: Number(p?.size ?? 0n),
        position: Number(p?.position ?? -1n),
        data: p?.unalignedRecords ?? Buffer.alloc(0),
      };
    }
  }
}

// ---- log entries as record batches ----

/** The core's batches in `entries`: each runs up to and including an entry marked lastInBatch (or the last entry). */
export function entryBatches(entries: readonly LogEntry[]): (readonly LogEntry[])[] {
  const batches: (readonly LogEntry[])[] = [];
  let start = 0;
  entries.forEach((entry, i) => {
    if (!entry.lastInBatch && i < entries.length - 1) return;
    batches.push(entries.slice(start, i + 1));
    start = i + 1;
  });
  return batches;
}

/** One record batch per core batch. */
export function encodeEntries(entries: readonly LogEntry[]): Buffer {
  return Buffer.concat(entryBatches(entries).map(encodeBatch));
}

function encodeBatch(batch: readonly LogEntry[]): Buffer {
  const first = batch[0];
  if (first === undefined) return Buffer.alloc(0);
  const control = first.record.kind === "leaderChange";
  if (batch.some((e) => (e.record.kind === "leaderChange") !== control || e.epoch !== first.epoch)) {
    throw new Error(`batch at ${first.offset} mixes control and data records or epochs`);
  }
  return encodeRecordBatch({
    baseOffset: BigInt(first.offset),
    partitionLeaderEpoch: first.epoch,
    control,
    records: batch.map((e) =>
      e.record.kind === "data"
        ? { key: null, value: e.record.data }
        : {
            key: encodeControlRecordKey(ControlRecordType.LEADER_CHANGE),
            value: LeaderChangeMessage.encode(
              {
                version: 0,
                leaderId: e.record.leaderId,
                voters: e.record.voters.map((voterId) => ({ voterId })),
                grantingVoters: [],
              },
              0,
            ),
          },
    ),
  });
}

/**
 * Batches back into entries. A control batch of a type the core does not model (snapshot header/footer, KRaft
 * version, voters) is refused until the core handles it, rather than silently dropped.
 */
export function decodeEntries(records: Buffer): LogEntry[] {
  const { batches } = splitBatches(records);
  const entries: LogEntry[] = [];
  for (const raw of batches) {
    const batch = decodeRecordBatch(raw);
    const epoch = batch.header.partitionLeaderEpoch;
    batch.records.forEach((r, i) => {
      const offset = Number(r.offset);
      const lastInBatch = i === batch.records.length - 1;
      if (!batch.control) {
        entries.push({ offset, epoch, lastInBatch, record: { kind: "data", data: r.value ?? Buffer.alloc(0) } });
        return;
      }
      const type = r.key === null ? -1 : decodeControlRecordKey(r.key);
      if (type !== ControlRecordType.LEADER_CHANGE || r.value === null) {
        throw new DecodeError(`control record type ${type} at offset ${offset} is not supported yet`, 0);
      }
      const change = LeaderChangeMessage.decode(r.value, 0);
      entries.push({
        offset,
        epoch,
        lastInBatch,
        record: { kind: "leaderChange", leaderId: change.leaderId, voters: change.voters.map((v) => v.voterId) },
      });
    });
  }
  return entries;
}
