import type { ControllerResult, QuorumController } from "../../controller/index.ts";
import type {
  AddRaftVoterRequest,
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  DescribeQuorumResponse,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  RemoveRaftVoterRequest,
  UpdateRaftVoterRequest,
  UpdateRaftVoterResponse,
  VoteRequest,
  VoteResponse,
} from "../../protocol/index.ts";

/** How a voter change ended: an error code (0 when done) and Kafka's error message. */
export interface VoterChangeAnswer {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

/** A controller (voter) and its controller-listener address. */
export interface ControllerEndpoint {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

/**
 * What the controller listener's handlers need of the metadata quorum (implemented in quorum/). Quorum requests
 * resolve to the raft core's answer, or null when none came in time (the peer then retries on its own timers).
 */
export interface QuorumPort {
  vote(request: VoteRequest): Promise<VoteResponse | null>;
  beginQuorumEpoch(request: BeginQuorumEpochRequest): Promise<BeginQuorumEpochResponse | null>;
  endQuorumEpoch(request: EndQuorumEpochRequest): Promise<EndQuorumEpochResponse | null>;
  fetch(request: FetchRequest): Promise<FetchResponse | null>;
  fetchSnapshot(request: FetchSnapshotRequest): Promise<FetchSnapshotResponse | null>;
  /** KIP-853 voter changes, answered once the leader's VotersRecord commits (update: once appended). */
  addRaftVoter(request: AddRaftVoterRequest): Promise<VoterChangeAnswer>;
  removeRaftVoter(request: RemoveRaftVoterRequest): Promise<VoterChangeAnswer>;
  updateRaftVoter(request: UpdateRaftVoterRequest): Promise<UpdateRaftVoterResponse>;
  /** The answer to DescribeQuorum: the quorum as the leader sees it, or NOT_LEADER_OR_FOLLOWER elsewhere. */
  describeQuorum(): DescribeQuorumResponse;
  readonly clusterId: string;
  /**
   * The controllers DescribeCluster lists, at their controller-listener addresses: every registered one, observers
   * included (KIP-919), and the voters not registered yet.
   */
  controllers(): readonly ControllerEndpoint[];
  /** The active controller (the quorum leader) if known. */
  activeController(): number | null;
}

/**
 * The active controller's commands as the controller listener's handlers reach them (implemented in quorum/).
 * `run` decides a command on the controller's view, proposes its records and resolves with the answer once they have
 * committed; it rejects with NotControllerError when this node is not, or stops being, the active controller.
 */
export interface ControllerCommands {
  run<T>(decide: (controller: QuorumController) => ControllerResult<T>): Promise<T>;
  /**
   * The connection brokers heartbeat on, from `peerHost`, was lost (ADR 26): their sessions end after the grace, or at
   * once where nothing listens any more at that address (ADR 32). Rejects with NotControllerError when not active.
   */
  heartbeatConnectionLost(connectionId: string, peerHost: string): Promise<void>;
  readonly isActive: boolean;
  /** The finalized feature levels this node has committed, and their epoch (the image's offset; -1 before any). */
  finalizedFeatures(): { epoch: bigint; levels: ReadonlyMap<string, number> };
}
