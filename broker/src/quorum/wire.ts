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
  KRaftVersionRecord,
  LeaderChangeMessage,
  VoteRequest,
  VotersRecord,
  ZERO_UUID,
  VoteResponse,
  decodeControlRecordKey,
  decodeRecordBatch,
  encodeControlRecordKey,
  encodeRecordBatch,
  splitBatches,
} from "../protocol/index.ts";
import type { LogEntry, RaftError, RaftMessage, RaftRecord, Voter, VoterSetState } from "../raft/index.ts";

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
                  ...(message.replicaDirectoryId !== undefined
                    ? { replicaDirectoryId: message.replicaDirectoryId }
                    : {}),
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
          maxBytes: message.maxBytes ?? ctx.snapshotMaxBytes ?? FetchSnapshotRequest.create().maxBytes,
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
          ...(p.replicaDirectoryId !== undefined && p.replicaDirectoryId !== ZERO_UUID
            ? { replicaDirectoryId: p.replicaDirectoryId }
            : {}),
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
          maxBytes: wire.request.maxBytes,
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
  const control = first.record.kind !== "data";
  if (batch.some((e) => (e.record.kind !== "data") !== control || e.epoch !== first.epoch)) {
    throw new Error(`batch at ${first.offset} mixes control and data records or epochs`);
  }
  return encodeRecordBatch({
    baseOffset: BigInt(first.offset),
    partitionLeaderEpoch: first.epoch,
    control,
    records: batch.map((e) =>
      e.record.kind === "data" ? { key: null, value: e.record.data } : controlRecord(e.record),
    ),
  });
}

/** A control record's key and value, as Kafka writes LeaderChangeMessage, KRaftVersionRecord and VotersRecord. */
export function controlRecord(record: Exclude<RaftRecord, { kind: "data" }>): { key: Buffer; value: Buffer } {
  switch (record.kind) {
    case "leaderChange":
      return {
        key: encodeControlRecordKey(ControlRecordType.LEADER_CHANGE),
        value: LeaderChangeMessage.encode(
          {
            version: 0,
            leaderId: record.leaderId,
            voters: record.voters.map((voterId) => ({ voterId })),
            grantingVoters: [],
          },
          0,
        ),
      };
    case "kraftVersion":
      return {
        key: encodeControlRecordKey(ControlRecordType.KRAFT_VERSION),
        value: KRaftVersionRecord.encode({ version: 0, kRaftVersion: record.version }, 0),
      };
    case "voters":
      return {
        key: encodeControlRecordKey(ControlRecordType.KRAFT_VOTERS),
        value: VotersRecord.encode(
          {
            version: 0,
            voters: record.voters.map((v) => ({
              voterId: v.id,
              voterDirectoryId: v.directoryId ?? ZERO_UUID,
              endpoints: v.endpoints.map((e) => ({ ...e })),
              kRaftVersionFeature: { minSupportedVersion: v.kraftVersion.min, maxSupportedVersion: v.kraftVersion.max },
            })),
          },
          0,
        ),
      };
  }
}

/** A VotersRecord's voters in the core's terms (the zero UUID is an unknown directory id). */
export function votersOf(record: VotersRecord): Voter[] {
  return record.voters.map((v) => ({
    id: v.voterId,
    directoryId: v.voterDirectoryId === ZERO_UUID ? null : v.voterDirectoryId,
    endpoints: v.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port })),
    kraftVersion: { min: v.kRaftVersionFeature.minSupportedVersion, max: v.kRaftVersionFeature.maxSupportedVersion },
  }));
}

/**
 * A control record the core models, from its type and value; null for the snapshot header and footer (framing, not
 * log content). Any other type is refused rather than silently dropped.
 */
export function decodeControlRecord(type: number, value: Buffer | null, offset: number): RaftRecord | null {
  if (value === null) throw new DecodeError(`control record at offset ${offset} has no value`, 0);
  switch (type) {
    case ControlRecordType.LEADER_CHANGE: {
      const change = LeaderChangeMessage.decode(value, 0);
      return { kind: "leaderChange", leaderId: change.leaderId, voters: change.voters.map((v) => v.voterId) };
    }
    case ControlRecordType.KRAFT_VERSION:
      return { kind: "kraftVersion", version: KRaftVersionRecord.decode(value, 0).kRaftVersion };
    case ControlRecordType.KRAFT_VOTERS:
      return { kind: "voters", voters: votersOf(VotersRecord.decode(value, 0)) };
    case ControlRecordType.SNAPSHOT_HEADER:
    case ControlRecordType.SNAPSHOT_FOOTER:
      return null;
    default:
      throw new DecodeError(`control record type ${type} at offset ${offset} is not supported`, 0);
  }
}

/** The kraft.version and voters among a snapshot's control records (null when it holds neither). */
export function voterSetOf(records: readonly RaftRecord[]): VoterSetState | null {
  let kraftVersion: number | null = null;
  let voters: readonly Voter[] | null = null;
  for (const r of records) {
    if (r.kind === "kraftVersion") kraftVersion = r.version;
    else if (r.kind === "voters") voters = r.voters;
  }
  return kraftVersion === null && voters === null ? null : { kraftVersion: kraftVersion ?? 0, voters };
}

/**
 * Batches back into entries. A control record of a type the log does not hold (snapshot header/footer, or one the
 * core does not model) is refused rather than silently dropped.
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
      const record = decodeControlRecord(type, r.value, offset);
      if (record === null) throw new DecodeError(`control record type ${type} at offset ${offset} in the log`, 0);
      entries.push({ offset, epoch, lastInBatch, record });
    });
  }
  return entries;
}
