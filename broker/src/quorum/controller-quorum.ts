import type { ControllerEndpoint, QuorumPort, VoterChangeAnswer } from "../handlers/controller/services.ts";
import {
  ApiKey,
  DescribeQuorumResponse,
  ErrorCode,
  UpdateRaftVoterResponse,
  ZERO_UUID,
  type AddRaftVoterRequest,
  type BeginQuorumEpochRequest,
  type BeginQuorumEpochResponse,
  type EndQuorumEpochRequest,
  type EndQuorumEpochResponse,
  type FetchRequest,
  type FetchResponse,
  type FetchSnapshotRequest,
  type FetchSnapshotResponse,
  type RemoveRaftVoterRequest,
  type UpdateRaftVoterRequest,
  type VoteRequest,
  type VoteResponse,
} from "../protocol/index.ts";
import type { NodeId, RaftStatus, Voter, VoterEndpoint } from "../raft/index.ts";
import type { NetworkTransport } from "./network-transport.ts";
import type { QuorumDriver, VoterChangeOutcome } from "./quorum-driver.ts";
import { METADATA_PARTITION, METADATA_TOPIC } from "./wire.ts";

// The metadata quorum as the controller listener's handlers see it (QuorumPort): quorum requests go to the core
// through the transport, DescribeQuorum and DescribeCluster are answered from the core's status, and KIP-853's
// AddRaftVoter / RemoveRaftVoter / UpdateRaftVoter go to the driver (the leader's core decides).

/**
 * The kraft.version range a voter added by AddRaftVoter is taken to support. Kafka asks the new voter (ApiVersions)
 * for its range; a Tributary controller supports 0-1, and the peers' ApiVersions are not asked yet.
 */
const ADDED_VOTER_KRAFT_VERSIONS = { min: 0, max: 1 } as const;
/** How long RemoveRaftVoter waits for its record to commit (Kafka: the request timeout). */
const REMOVE_VOTER_TIMEOUT_MS = 30_000;

export interface DescribeQuorumOptions {
  /** The voters in effect (their ids and, with KIP-853, directory ids). */
  readonly voters: readonly Pick<Voter, "id" | "directoryId">[];
  /** Wall-clock ms of a core time. */
  readonly wallClockOf: (coreTime: number) => number;
  readonly now: number;
  readonly listenerName: string;
  readonly controllers: readonly ControllerEndpoint[];
}

/** Kafka's DescribeQuorum answer from a core's status: the full picture on the leader, NOT_LEADER_OR_FOLLOWER elsewhere. */
function describeQuorumResponse(status: RaftStatus, options: DescribeQuorumOptions): DescribeQuorumResponse {
  const time = (t: number): bigint => (t < 0 ? -1n : BigInt(options.wallClockOf(t)));
  const leading = status.role === "leader";
  // Voters by their VotersRecord entry, observers by what their fetches said (Fetch v17's ReplicaDirectoryId).
  const directoryOf = (id: NodeId): string =>
    options.voters.find((v) => v.id === id)?.directoryId ?? status.replicas.get(id)?.directoryId ?? ZERO_UUID;
  const replica = (id: NodeId) => {
    if (id === status.nodeId) {
      return {
        replicaId: id,
        replicaDirectoryId: directoryOf(id),
        logEndOffset: BigInt(status.logEndOffset),
        lastFetchTimestamp: time(options.now),
        lastCaughtUpTimestamp: time(options.now),
      };
    }
    const progress = status.replicas.get(id);
    return {
      replicaId: id,
      replicaDirectoryId: directoryOf(id),
      logEndOffset: BigInt(progress?.endOffset ?? -1),
      lastFetchTimestamp: time(progress?.lastFetchTime ?? -1),
      lastCaughtUpTimestamp: time(progress?.lastCaughtUpTime ?? -1),
    };
  };
  const voterIds = options.voters.map((v) => v.id);
  const observers = [...status.replicas.keys()].filter((id) => !voterIds.includes(id)).sort((a, b) => a - b);
  return {
    ...DescribeQuorumResponse.create(),
    topics: [
      {
        topicName: METADATA_TOPIC,
        partitions: [
          {
            partitionIndex: METADATA_PARTITION,
            errorCode: leading ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER,
            leaderId: status.leaderId ?? -1,
            leaderEpoch: status.epoch,
            highWatermark: leading ? BigInt(status.highWatermark) : -1n,
            currentVoters: leading ? voterIds.map(replica) : [],
            observers: leading ? observers.map(replica) : [],
          },
        ],
      },
    ],
    nodes: options.controllers.map((c) => ({
      nodeId: c.id,
      listeners: [{ name: options.listenerName, host: c.host, port: c.port }],
    })),
  };
}

export class ControllerQuorum implements QuorumPort {
  constructor(
    private readonly driver: QuorumDriver,
    private readonly transport: NetworkTransport,
    readonly clusterId: string,
    /** The controllers' addresses: fixed with static voters, the voter set's (KIP-853) with dynamic ones. */
    private readonly endpoints: readonly ControllerEndpoint[] | (() => readonly ControllerEndpoint[]),
    private readonly listenerName: string,
    /** What DescribeCluster lists: the registered controllers (KIP-919); the voters when not given. */
    private readonly registered?: () => readonly ControllerEndpoint[],
  ) {}

  private endpointList(): readonly ControllerEndpoint[] {
    return typeof this.endpoints === "function" ? this.endpoints() : this.endpoints;
  }

  /** A request naming another cluster is refused, as Kafka's quorum RPCs do. */
  private otherCluster(clusterId: string | null): VoterChangeAnswer | null {
    return clusterId !== null && clusterId !== this.clusterId
      ? { errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, errorMessage: `this is cluster ${this.clusterId}` }
      : null;
  }

  async addRaftVoter(request: AddRaftVoterRequest): Promise<VoterChangeAnswer> {
    const refused = this.otherCluster(request.clusterId);
    if (refused !== null) return refused;
    const endpoints = request.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port }));
    if (!endpoints.some((e) => e.name === this.listenerName)) {
      return {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `the new voter's listeners must include ${this.listenerName}, the quorum's listener`,
      };
    }
    const voter = voterOf(request.voterId, request.voterDirectoryId, endpoints, ADDED_VOTER_KRAFT_VERSIONS);
    return answerOf(await this.driver.addVoter(voter, Math.max(1, request.timeoutMs)));
  }

  async removeRaftVoter(request: RemoveRaftVoterRequest): Promise<VoterChangeAnswer> {
    const refused = this.otherCluster(request.clusterId);
    if (refused !== null) return refused;
    const directoryId = request.voterDirectoryId === ZERO_UUID ? null : request.voterDirectoryId;
    return answerOf(await this.driver.removeVoter(request.voterId, directoryId, REMOVE_VOTER_TIMEOUT_MS));
  }

  async updateRaftVoter(request: UpdateRaftVoterRequest): Promise<UpdateRaftVoterResponse> {
    const refused = this.otherCluster(request.clusterId);
    const status = this.driver.status();
    const leader = status.leaderId === null ? undefined : this.transport.address(status.leaderId);
    const currentLeader = {
      leaderId: status.leaderId ?? -1,
      leaderEpoch: status.epoch,
      host: leader?.host ?? "",
      port: leader?.port ?? 0,
    };
    if (refused !== null) return { ...UpdateRaftVoterResponse.create(), errorCode: refused.errorCode, currentLeader };
    if (request.currentLeaderEpoch >= 0 && request.currentLeaderEpoch !== status.epoch) {
      const errorCode =
        request.currentLeaderEpoch < status.epoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
      return { ...UpdateRaftVoterResponse.create(), errorCode, currentLeader };
    }
    const endpoints = request.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port }));
    const range = request.kRaftVersionFeature;
    const voter = voterOf(request.voterId, request.voterDirectoryId, endpoints, {
      min: range.minSupportedVersion,
      max: range.maxSupportedVersion,
    });
    const { errorCode } = answerOf(await this.driver.updateVoter(voter));
    return { ...UpdateRaftVoterResponse.create(), errorCode, currentLeader };
  }

  vote(request: VoteRequest): Promise<VoteResponse | null> {
    return this.transport.answer(ApiKey.Vote, request) as Promise<VoteResponse | null>;
  }

  beginQuorumEpoch(request: BeginQuorumEpochRequest): Promise<BeginQuorumEpochResponse | null> {
    return this.transport.answer(ApiKey.BeginQuorumEpoch, request) as Promise<BeginQuorumEpochResponse | null>;
  }

  endQuorumEpoch(request: EndQuorumEpochRequest): Promise<EndQuorumEpochResponse | null> {
    return this.transport.answer(ApiKey.EndQuorumEpoch, request) as Promise<EndQuorumEpochResponse | null>;
  }

  fetch(request: FetchRequest): Promise<FetchResponse | null> {
    return this.transport.answer(ApiKey.Fetch, request) as Promise<FetchResponse | null>;
  }

  fetchSnapshot(request: FetchSnapshotRequest): Promise<FetchSnapshotResponse | null> {
    return this.transport.answer(ApiKey.FetchSnapshot, request) as Promise<FetchSnapshotResponse | null>;
  }

  describeQuorum(): DescribeQuorumResponse {
    const status = this.driver.status();
    return describeQuorumResponse(status, {
      voters: status.voters,
      wallClockOf: (t) => this.driver.wallClockOf(t),
      now: this.driver.now(),
      listenerName: this.listenerName,
      controllers: this.endpointList(),
    });
  }

  controllers(): readonly ControllerEndpoint[] {
    return this.registered?.() ?? this.endpointList();
  }

  activeController(): NodeId | null {
    return this.driver.status().leaderId;
  }
}

function voterOf(
  id: NodeId,
  directoryId: string,
  endpoints: readonly VoterEndpoint[],
  kraftVersion: Voter["kraftVersion"],
): Voter {
  return { id, directoryId: directoryId === ZERO_UUID ? null : directoryId, endpoints, kraftVersion };
}

function answerOf(outcome: VoterChangeOutcome): VoterChangeAnswer {
  return outcome.error === null
    ? { errorCode: ErrorCode.NONE, errorMessage: null }
    : { errorCode: ErrorCode[outcome.error], errorMessage: outcome.message };
}
