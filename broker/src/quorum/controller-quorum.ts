import type { ControllerEndpoint, QuorumPort } from "../handlers/controller/services.ts";
import {
  ApiKey,
  DescribeQuorumResponse,
  ErrorCode,
  type BeginQuorumEpochRequest,
  type BeginQuorumEpochResponse,
  type EndQuorumEpochRequest,
  type EndQuorumEpochResponse,
  type FetchRequest,
  type FetchResponse,
  type FetchSnapshotRequest,
  type FetchSnapshotResponse,
  type VoteRequest,
  type VoteResponse,
} from "../protocol/index.ts";
import type { NodeId, RaftStatus } from "../raft/index.ts";
import type { NetworkTransport } from "./network-transport.ts";
import type { QuorumDriver } from "./quorum-driver.ts";
import { METADATA_PARTITION, METADATA_TOPIC } from "./wire.ts";

// The metadata quorum as the controller listener's handlers see it (QuorumPort): quorum requests go to the core
// through the transport, DescribeQuorum and DescribeCluster are answered from the core's status.

export interface DescribeQuorumOptions {
  readonly voters: readonly NodeId[];
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
  const replica = (id: NodeId) => {
    if (id === status.nodeId) {
      return {
        replicaId: id,
        logEndOffset: BigInt(status.logEndOffset),
        lastFetchTimestamp: time(options.now),
        lastCaughtUpTimestamp: time(options.now),
      };
    }
    const progress = status.replicas.get(id);
    return {
      replicaId: id,
      logEndOffset: BigInt(progress?.endOffset ?? -1),
      lastFetchTimestamp: time(progress?.lastFetchTime ?? -1),
      lastCaughtUpTimestamp: time(progress?.lastCaughtUpTime ?? -1),
    };
  };
  const observers = [...status.replicas.keys()].filter((id) => !options.voters.includes(id)).sort((a, b) => a - b);
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
            currentVoters: leading ? options.voters.map(replica) : [],
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
    private readonly endpoints: readonly ControllerEndpoint[],
    private readonly listenerName: string,
  ) {}

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
    return describeQuorumResponse(this.driver.status(), {
      voters: this.endpoints.map((e) => e.id),
      wallClockOf: (t) => this.driver.wallClockOf(t),
      now: this.driver.now(),
      listenerName: this.listenerName,
      controllers: this.endpoints,
    });
  }

  controllers(): readonly ControllerEndpoint[] {
    return this.endpoints;
  }

  activeController(): NodeId | null {
    return this.driver.status().leaderId;
  }
}
