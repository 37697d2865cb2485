// The Raft core's vocabulary: what it is told (inputs), what it asks its driver to do (actions), and the messages it
// exchanges. These are domain types; the quorum driver maps them to Kafka's wire messages (Vote, BeginQuorumEpoch,
// EndQuorumEpoch, Fetch) and the simulation delivers them as they are.

export type NodeId = number;

/** An offset in the metadata log and the leader epoch of the entry just before it (or of the entry at it). */
export interface OffsetAndEpoch {
  readonly offset: number;
  readonly epoch: number;
}

/**
 * What a node persists about elections, Kafka's QuorumStateData: the epoch, the leader it knows for that epoch, and
 * the candidate it voted for in that epoch. It must be durable before any message that depends on it leaves.
 */
export interface ElectionState {
  readonly epoch: number;
  readonly leaderId: NodeId | null;
  readonly votedId: NodeId | null;
}

/**
 * A snapshot of the committed state (KIP-630): everything below `id.offset`, whose last entry has epoch `id.epoch`.
 * The bytes are the state machine's business (Kafka's checkpoint file in production); the core only stores and ships
 * them.
 */
export interface Snapshot {
  readonly id: OffsetAndEpoch;
  readonly data: Uint8Array;
}

/** Where a voter listens (KIP-853): a listener name and address, as VotersRecord and AddRaftVoter carry them. */
export interface VoterEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/**
 * A voter (KIP-853's VoterNode): its replica key (node id and the directory id of its metadata log directory), where
 * it listens, and the kraft.version range it supports. Static voters (`controller.quorum.voters`) have no directory
 * id (null) and no endpoints here (the configuration has them).
 */
export interface Voter {
  readonly id: NodeId;
  /** The directory id as a UUID string (the protocol's form), or null when unknown (static voters). */
  readonly directoryId: string | null;
  readonly endpoints: readonly VoterEndpoint[];
  readonly kraftVersion: { readonly min: number; readonly max: number };
}

/** The voters in effect and the kraft.version, as a snapshot (or the static configuration) states them. */
export interface VoterSetState {
  readonly kraftVersion: number;
  /** Null when the snapshot holds no VotersRecord (kraft.version 0: the static voters apply). */
  readonly voters: readonly Voter[] | null;
}

/**
 * The record a log entry holds: application data, or a control record: the leader change a new leader writes at
 * once, and KIP-853's kraft.version and voter set, in effect from the offset they are appended at.
 */
export type RaftRecord =
  | { readonly kind: "data"; readonly data: Uint8Array }
  | { readonly kind: "leaderChange"; readonly leaderId: NodeId; readonly voters: readonly NodeId[] }
  | { readonly kind: "kraftVersion"; readonly version: number }
  | { readonly kind: "voters"; readonly voters: readonly Voter[] };

/** Whether a record is a control record (Kafka writes those in control batches, never mixed with data). */
export function isControlRecord(record: RaftRecord): boolean {
  return record.kind !== "data";
}

export interface LogEntry {
  readonly offset: number;
  readonly epoch: number;
  readonly record: RaftRecord;
  /**
   * Whether this entry ends the batch it was appended in. A batch (one proposal) is replicated and committed whole,
   * as Kafka's record batches are, so a controller's records for one command become visible together.
   */
  readonly lastInBatch: boolean;
}

/** Kafka's error names for the answers the quorum RPCs carry. */
export type RaftError =
  | "NONE"
  | "FENCED_LEADER_EPOCH"
  | "UNKNOWN_LEADER_EPOCH"
  | "NOT_LEADER_OR_FOLLOWER"
  | "INCONSISTENT_VOTER_SET"
  | "INVALID_REQUEST"
  | "SNAPSHOT_NOT_FOUND"
  | "POSITION_OUT_OF_RANGE";

/** The answers a voter change (AddRaftVoter, RemoveRaftVoter, UpdateRaftVoter) can get from the leader's core. */
export type VoterChangeError =
  | "NOT_LEADER_OR_FOLLOWER"
  | "REQUEST_TIMED_OUT"
  | "UNSUPPORTED_VERSION"
  | "DUPLICATE_VOTER"
  | "VOTER_NOT_FOUND"
  | "INVALID_REQUEST";

/** A voter change refused (with Kafka's error and why), or appended at `offset` (done once that offset commits). */
export type VoterChangeResult =
  { readonly error: VoterChangeError; readonly message: string } | { readonly error: null; readonly offset: number };

export type RaftMessage =
  | {
      readonly type: "VoteRequest";
      /** The epoch the candidate runs in; for a pre-vote, the epoch it would run in. */
      readonly epoch: number;
      readonly candidateId: NodeId;
      readonly lastEpoch: number;
      /** The candidate's log end offset. */
      readonly lastOffset: number;
      readonly preVote: boolean;
    }
  | {
      readonly type: "VoteResponse";
      readonly epoch: number;
      readonly leaderId: NodeId | null;
      readonly granted: boolean;
      readonly preVote: boolean;
      readonly error: RaftError;
    }
  | { readonly type: "BeginQuorumEpochRequest"; readonly epoch: number; readonly leaderId: NodeId }
  | {
      readonly type: "BeginQuorumEpochResponse";
      readonly epoch: number;
      readonly leaderId: NodeId | null;
      readonly error: RaftError;
    }
  | {
      readonly type: "EndQuorumEpochRequest";
      readonly epoch: number;
      readonly leaderId: NodeId;
      /** Voters ordered by how far their logs reached, most up to date first. */
      readonly preferredSuccessors: readonly NodeId[];
    }
  | {
      readonly type: "EndQuorumEpochResponse";
      readonly epoch: number;
      readonly leaderId: NodeId | null;
      readonly error: RaftError;
    }
  | {
      readonly type: "FetchRequest";
      /** The leader epoch the fetcher believes current (Kafka's CurrentLeaderEpoch). */
      readonly epoch: number;
      readonly replicaId: NodeId;
      readonly fetchOffset: number;
      /** Epoch of the entry before fetchOffset (0 for an empty log). */
      readonly lastFetchedEpoch: number;
      /** The fetcher's metadata directory id (KIP-853's replica key), when it has one. */
      readonly replicaDirectoryId?: string;
    }
  | {
      readonly type: "FetchResponse";
      readonly epoch: number;
      readonly leaderId: NodeId | null;
      readonly error: RaftError;
      readonly highWatermark: number;
      readonly entries: readonly LogEntry[];
      /** Set when the fetcher's log diverges: truncate to this (largest common epoch, its end offset) and fetch again. */
      readonly divergingEpoch: OffsetAndEpoch | null;
      /** Set when the fetch position is below the leader's log start: fetch this snapshot, then fetch from its end. */
      readonly snapshotId: OffsetAndEpoch | null;
    }
  | {
      readonly type: "FetchSnapshotRequest";
      readonly epoch: number;
      readonly replicaId: NodeId;
      readonly snapshotId: OffsetAndEpoch;
      /** Byte position in the snapshot to read from. */
      readonly position: number;
      /** The most bytes the fetcher takes in one answer (the request's MaxBytes); the leader's chunk size if absent. */
      readonly maxBytes?: number;
    }
  | {
      readonly type: "FetchSnapshotResponse";
      readonly epoch: number;
      readonly leaderId: NodeId | null;
      readonly error: RaftError;
      readonly snapshotId: OffsetAndEpoch;
      /** The snapshot's total size in bytes. */
      readonly size: number;
      readonly position: number;
      readonly data: Uint8Array;
    };

export interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Chosen by the requester; a response carries its request's id, so late or duplicated answers can be told apart. */
  readonly correlationId: number;
  readonly message: RaftMessage;
}

export type Role = "unattached" | "prospective" | "candidate" | "leader" | "follower" | "resigned";

/**
 * What the core asks its driver to do, in order. The one rule: a `send` may leave only once every earlier
 * `persistElection`, `truncateLog`, `appendLog` and `installSnapshot` is durable (fsynced). `flushLog` asks for an fsync of the log and a
 * later `flushed(seq)` call, so the leader counts only durable entries of its own towards the high watermark.
 */
export type RaftAction =
  | { readonly type: "persistElection"; readonly state: ElectionState }
  | { readonly type: "truncateLog"; readonly endOffset: number }
  | { readonly type: "appendLog"; readonly entries: readonly LogEntry[] }
  | { readonly type: "flushLog"; readonly seq: number }
  /**
   * A durable write: store the snapshot fetched from the leader and replace the whole log by an empty one starting at
   * its end. Everything below `snapshot.id.offset` is committed: the driver applies the snapshot in place of entries.
   */
  | { readonly type: "installSnapshot"; readonly snapshot: Snapshot }
  /** The log below `startOffset` is held by a durable snapshot: the driver may delete it. */
  | { readonly type: "trimLog"; readonly startOffset: number }
  | { readonly type: "send"; readonly envelope: Envelope }
  /** Entries below the high watermark are committed: the driver may apply them (read them with `entries`). */
  | { readonly type: "commit"; readonly highWatermark: number }
  | { readonly type: "roleChanged"; readonly role: Role; readonly epoch: number; readonly leaderId: NodeId | null }
  /** The voter set in effect changed (a VotersRecord appended, truncated away or installed with a snapshot). */
  | { readonly type: "votersChanged"; readonly voters: readonly Voter[]; readonly kraftVersion: number };

/** Randomness is injected, so a simulation replays exactly from its seed. */
export interface Rng {
  /** An integer uniform in [0, bound). */
  nextInt(bound: number): number;
}

export interface RaftConfig {
  readonly nodeId: NodeId;
  /**
   * The static voter set (`controller.quorum.voters`), in effect until the log or a snapshot holds a VotersRecord
   * (KIP-853); a node outside the voter set in effect is an observer. Empty with dynamic voters.
   */
  readonly voters: readonly NodeId[];
  /**
   * `controller.quorum.bootstrap.servers` as ids the driver maps to addresses (negative, as Kafka numbers them): an
   * observer with no known leader asks one of them, or one of the voters it knows, who leads.
   */
  readonly bootstrapServers?: readonly NodeId[];
  /** This node's metadata directory id (UUID form), sent with its fetches so the leader can report it. */
  readonly directoryId?: string;
  /** `controller.quorum.election.timeout.ms`: an election starts after a uniform [T, 2T) without a leader. */
  readonly electionTimeoutMs: number;
  /** `controller.quorum.fetch.timeout.ms`: a follower that hears nothing from its leader this long starts an election. */
  readonly fetchTimeoutMs: number;
  /**
   * How long a follower whose connection to its leader closed (`leaderConnectionLost`) waits at most for a fetch on a
   * new connection to succeed before it runs for election, instead of the whole fetch timeout: a random wait between
   * half of this and this (at most the fetch timeout; absent: the fetch timeout). A killed process's kernel closes its sockets at once; a paused or cut-off one closes nothing.
   */
  readonly leaderConnectionLossGraceMs?: number;
  /**
   * How far apart, by rank, followers run for election once a new connection to their leader was refused
   * (`leaderConnectionRefused`): the n-th other voter by id waits n steps plus up to a sixth of a step. Absent: a
   * refusal changes nothing.
   */
  readonly leaderConnectionRefusedStepMs?: number;
  /** `controller.quorum.election.backoff.max.ms`: upper bound of the randomised backoff after a lost election. */
  readonly electionBackoffMaxMs: number;
  /** `controller.quorum.request.timeout.ms`: an unanswered request is given up and sent again. */
  readonly requestTimeoutMs: number;
  /** How long the leader holds a Fetch that has nothing new (`replica.fetch.wait.max.ms`). */
  readonly fetchMaxWaitMs: number;
  /** The most entries one Fetch answer carries, rounded up to the end of a batch. */
  readonly maxFetchEntries: number;
  /** Pause before retrying a fetch that failed (no leader known, or an error). */
  readonly retryBackoffMs: number;
  /** KIP-996 pre-vote before a real election. */
  readonly preVote: boolean;
  /** The most snapshot bytes one FetchSnapshot answer carries (default 1 MiB). */
  readonly snapshotChunkBytes?: number;
  /**
   * Deliberately broken behaviour, for tests that prove the simulation's invariant checks can fail. Never set in
   * production code.
   */
  readonly unsafe?: {
    /** Let the high watermark cover older epochs' entries before one of the leader's own epoch is committed. */
    readonly skipOwnEpochCommitRule?: boolean;
    /** Grant votes without comparing logs. */
    readonly grantVotesIgnoringLog?: boolean;
  };
}

/**
 * Kafka's defaults (QuorumConfig; KafkaRaftClient's 500 ms fetch wait), a 1000-entry fetch cap (Kafka caps a fetch at
 * 8 MiB), and pre-vote on as in Kafka 4.0+.
 */
export const DEFAULT_RAFT_TIMING = {
  electionTimeoutMs: 1000,
  fetchTimeoutMs: 2000,
  electionBackoffMaxMs: 1000,
  requestTimeoutMs: 2000,
  fetchMaxWaitMs: 500,
  maxFetchEntries: 1000,
  retryBackoffMs: 20,
  preVote: true,
  // Waits of 500-1000 ms: a live leader answers a fetch on a new connection within about one fetch wait (ADR 29).
  leaderConnectionLossGraceMs: 1000,
  // The first survivor by id runs 0-50 ms after a refused connect, the next 300-350 ms: the survivors see the refusal
  // up to ~100 ms apart under load, and the first needs a pre-vote round trip more to bump the epoch (ADR 32).
  leaderConnectionRefusedStepMs: 300,
} as const;
