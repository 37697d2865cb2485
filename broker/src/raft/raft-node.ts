import { RaftLog } from "./raft-log.ts";
import { VoterHistory, sameVoters, staticVoter } from "./voter-history.ts";
import type {
  ElectionState,
  Envelope,
  LogEntry,
  NodeId,
  OffsetAndEpoch,
  RaftAction,
  RaftConfig,
  RaftError,
  RaftMessage,
  RaftRecord,
  Rng,
  Role,
  Snapshot,
  Voter,
  VoterChangeResult,
  VoterSetState,
} from "./types.ts";

// One node of a KRaft quorum as a pure state machine (ADR 22). The driver calls start/tick/receive/flushed/propose
// with the current time of its clock and carries out the returned actions in order, holding every `send` until the
// durable writes before it are fsynced. No I/O, clock or randomness of its own, so a simulation replays it exactly.
// The rules are KRaft's: KIP-595 as apache/kafka's raft module implements it (read at 1eb7644), and KIP-996 pre-vote
// as the KIP describes it (that commit predates it).

/** Kafka's check-quorum factor: a leader resigns after 1.5 × fetch timeout without fetches from a majority. */
const CHECK_QUORUM_FACTOR = 1.5;
/** First step of the exponential backoff after a lost election. */
const ELECTION_BACKOFF_BASE_MS = 50;
const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/** Kafka's LeaderState.isReplicaCaughtUp: a replica to be added must have caught up and fetched within an hour. */
const ADD_VOTER_FETCH_WINDOW_MS = 60 * 60 * 1000;

/** What the core needs to know of the driver's snapshot format: the voter set a snapshot states (KIP-853). */
export interface SnapshotFormat {
  /** The kraft.version and voters a snapshot holds, or null when it holds neither. */
  voters(data: Uint8Array): VoterSetState | null;
}

const NO_VOTERS_IN_SNAPSHOTS: SnapshotFormat = { voters: () => null };

/** A snapshot being fetched from the leader, chunk by chunk (KIP-630's FetchSnapshot). */
interface SnapshotFetch {
  readonly id: OffsetAndEpoch;
  position: number;
  readonly chunks: Uint8Array[];
}

interface Inflight {
  readonly correlationId: number;
  readonly deadline: number;
}

interface Ballot {
  /** The voters of this round (the set in effect when it started) and how many grants win it. */
  readonly voters: ReadonlySet<NodeId>;
  readonly majority: number;
  /** Requests of this round still unanswered, by correlation id → voter. */
  readonly outstanding: Map<number, NodeId>;
  readonly granted: Set<NodeId>;
  readonly rejected: Set<NodeId>;
  readonly deadline: number;
}

interface ReplicaProgress {
  /** The replica's fetch offset: its durable log end, since it fsyncs before fetching again. -1 until it fetches. */
  endOffset: number;
  /** Whether it has acknowledged this epoch (by BeginQuorumEpoch answer or by fetching). */
  acknowledged: boolean;
  /** When it last fetched (-1: never), and the leader's log end then. */
  lastFetchTime: number;
  leaderEndAtLastFetch: number;
  /** When it was last known to hold everything the leader had (-1: never), for DescribeQuorum. */
  lastCaughtUpTime: number;
  /** The high watermark of the last Fetch answer it was sent (-1: none yet). */
  highWatermarkSent: number;
  /** The directory id its fetches carry (null: none sent). */
  directoryId: string | null;
}

function newProgress(acknowledged: boolean): ReplicaProgress {
  return {
    endOffset: -1,
    acknowledged,
    lastFetchTime: -1,
    leaderEndAtLastFetch: -1,
    lastCaughtUpTime: -1,
    highWatermarkSent: -1,
    directoryId: null,
  };
}

/** A replica's progress as DescribeQuorum reports it. */
export interface ReplicaStatus {
  readonly directoryId: string | null;
  readonly endOffset: number;
  readonly lastFetchTime: number;
  readonly lastCaughtUpTime: number;
}

interface ParkedFetch {
  readonly from: NodeId;
  readonly correlationId: number;
  readonly fetchOffset: number;
  readonly deadline: number;
}

type RoleState =
  | { readonly kind: "unattached"; readonly electionDeadline: number; fetch: Inflight | null; retryAt: number }
  | { readonly kind: "prospective"; readonly ballot: Ballot }
  | { readonly kind: "candidate"; readonly ballot: Ballot; backoffUntil: number | null }
  | {
      readonly kind: "follower";
      readonly leaderId: NodeId;
      fetchDeadline: number;
      /** Whether a fetch from this leader succeeded since we started following it (KIP-996 refuses pre-votes then). */
      fetchedOk: boolean;
      fetch: Inflight | null;
      retryAt: number;
      /** Set while fetching a snapshot instead of log entries. */
      snapshotFetch: SnapshotFetch | null;
    }
  | {
      readonly kind: "leader";
      /** The log end when this node became leader: nothing commits until an entry past it (its own epoch) does. */
      readonly epochStartOffset: number;
      readonly replicas: Map<NodeId, ReplicaProgress>;
      /** Other voters that fetched since the check-quorum timer last restarted. */
      readonly fetchedSinceCheck: Set<NodeId>;
      checkQuorumDeadline: number;
      beginQuorumResendAt: number;
      readonly parked: Map<NodeId, ParkedFetch>;
    }
  | { readonly kind: "resigned"; readonly electionDeadline: number };

/** What a node says about itself, for DescribeQuorum and for the simulation's checks. */
export interface RaftStatus {
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly voter: boolean;
  readonly epoch: number;
  readonly leaderId: NodeId | null;
  readonly votedId: NodeId | null;
  readonly highWatermark: number;
  /**
   * The newest high watermark a leader of this node's epochs has reported (its own as leader). A follower's
   * `highWatermark` stops at its log end; this one does not, so a node catching up knows where "caught up" is.
   */
  readonly leaderHighWatermark: number;
  readonly logEndOffset: number;
  readonly lastEpoch: number;
  /** The log start: 0, or the end offset of the snapshot the log was trimmed to. */
  readonly logStartOffset: number;
  /** As leader: each voter's and observer's fetch progress. */
  readonly replicas: ReadonlyMap<NodeId, ReplicaStatus>;
  /** The voter set in effect (the static voters, or the latest VotersRecord, committed or not). */
  readonly voters: readonly Voter[];
  /** The finalized kraft.version: 1 with dynamic voters (KIP-853), 0 with static ones. */
  readonly kraftVersion: number;
}

export class RaftNode {
  private election: ElectionState;
  private role: RoleState;
  private readonly log: RaftLog;
  /** The newest snapshot (taken here or installed from the leader); the log starts at its end. */
  private snapshot: Snapshot | null;
  private highWatermark: number;
  /** Whether a commit was reported since start (the high watermark a snapshot starts with is not yet confirmed). */
  private highWatermarkKnown = false;
  /** The largest high watermark a leader's fetch answer carried. */
  private heardHighWatermark = 0;
  /** Log end offset known to be fsynced. */
  private durableEnd: number;
  private readonly pendingFlushes = new Map<number, number>();
  private flushSeq = 0;
  private nextCorrelationId: number;
  /** Lost elections in a row, for the exponential backoff. */
  private electionRetries = 0;
  /**
   * The leader that said with EndQuorumEpoch that it stepped down, and its epoch. A fetch answer it sent before it
   * resigned can arrive after that notice (another connection); it must not make this follower wait a full fetch
   * timeout on a leader that is gone, nor refuse pre-votes on its account.
   */
  private endedLeader: { readonly epoch: number; readonly leaderId: NodeId } | null = null;
  private readonly voterHistory: VoterHistory;
  private out: RaftAction[] = [];
  private now = 0;

  /**
   * @param durable what survived on disk: the election state (null for a fresh node), the newest snapshot (if any)
   *   and the log entries from its end on, all of which the driver has fsynced. A snapshot holds committed entries
   *   only, so the high watermark starts at its end.
   */
  constructor(
    private readonly config: RaftConfig,
    private readonly rng: Rng,
    durable: {
      readonly election: ElectionState | null;
      readonly log: readonly LogEntry[];
      readonly snapshot?: Snapshot | null;
    },
    private readonly snapshotFormat: SnapshotFormat = NO_VOTERS_IN_SNAPSHOTS,
  ) {
    this.election = durable.election ?? { epoch: 0, leaderId: null, votedId: null };
    this.snapshot = durable.snapshot ?? null;
    this.log = new RaftLog(this.snapshot?.id, durable.log);
    this.voterHistory = new VoterHistory(config.voters.map(staticVoter));
    if (this.snapshot !== null) {
      this.voterHistory.reset(snapshotFormat.voters(this.snapshot.data), this.snapshot.id.offset);
    }
    this.voterHistory.append(durable.log);
    this.highWatermark = this.log.startOffset;
    this.durableEnd = this.log.endOffset;
    this.role = { kind: "unattached", electionDeadline: Infinity, fetch: null, retryAt: 0 };
    // A late answer to a request of this node's previous life must not match a new request.
    this.nextCorrelationId = 1 + rng.nextInt(2 ** 30);
  }

  get nodeId(): NodeId {
    return this.config.nodeId;
  }

  get isVoter(): boolean {
    return this.isVoterId(this.config.nodeId);
  }

  /**
   * Whether this node runs for election: as a voter, and also while a voter set that had it is not known to be
   * replaced by a committed one (the Raft thesis, §4.2.2: a removed server may hold the most complete log of those that
   * can still decide, so it must be able to run until its removal commits). Only a voter counts its own vote.
   */
  private get mayCampaign(): boolean {
    return this.isVoter || this.voterHistory.votesSince(this.highWatermark - 1, this.nodeId);
  }

  private voterIds(): NodeId[] {
    return this.voterHistory.current.map((v) => v.id);
  }

  private isVoterId(id: NodeId): boolean {
    return this.voterHistory.current.some((v) => v.id === id);
  }

  private get majority(): number {
    return Math.floor(this.voterHistory.current.length / 2) + 1;
  }

  /** KIP-853: the voter set lives in the log (kraft.version 1) rather than in the configuration. */
  private get dynamicVoters(): boolean {
    return this.voterHistory.kraftVersion >= 1;
  }

  /** The kraft.version and voters in effect at `offset`, for a snapshot whose last entry is there. */
  voterSetAt(offset: number): VoterSetState {
    return this.voterHistory.at(offset);
  }

  status(): RaftStatus {
    const replicas = new Map<NodeId, ReplicaStatus>();
    if (this.role.kind === "leader") {
      for (const [id, p] of this.role.replicas) {
        replicas.set(id, {
          directoryId: p.directoryId,
          endOffset: p.endOffset,
          lastFetchTime: p.lastFetchTime,
          lastCaughtUpTime: p.lastCaughtUpTime,
        });
      }
    }
    return {
      nodeId: this.nodeId,
      role: this.role.kind,
      voter: this.isVoter,
      epoch: this.election.epoch,
      leaderId: this.knownLeader(),
      votedId: this.election.votedId,
      highWatermark: this.highWatermark,
      leaderHighWatermark: Math.max(this.heardHighWatermark, this.highWatermark),
      logEndOffset: this.log.endOffset,
      lastEpoch: this.log.lastEpoch,
      logStartOffset: this.log.startOffset,
      replicas,
      voters: this.voterHistory.current,
      kraftVersion: this.voterHistory.kraftVersion,
    };
  }

  /** The leader this node names in answers: itself only while leading, nobody once it stopped. */
  private knownLeader(): NodeId | null {
    if (this.role.kind === "leader") return this.nodeId;
    return this.election.leaderId === this.nodeId ? null : this.election.leaderId;
  }

  /** Entries in [from, to) that the log holds (none below its start), for applying committed ones. */
  entries(from: number, to: number): LogEntry[] {
    return this.log.read(from, to - from);
  }

  /** The newest snapshot: the state below the log start. */
  latestSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  /** The epoch of the entry at `offset`, where the log or its snapshot knows it. */
  epochAt(offset: number): number | undefined {
    return this.log.epochAt(offset);
  }

  /**
   * Resumes from the durable state. A node that was leader comes back resigned (it may not lead the same epoch twice
   * from a log it may have lost the tail of); one that knew a leader follows it; otherwise it waits for an election.
   * A single voter skips the wait.
   */
  start(now: number): RaftAction[] {
    return this.run(now, () => {
      this.emitVoters();
      const { leaderId, epoch } = this.election;
      if (leaderId === this.nodeId) this.becomeResigned([]);
      else if (leaderId !== null) this.becomeFollower(epoch, leaderId);
      else this.becomeUnattached(epoch, this.election.votedId);
      // The only voter has nobody to wait for: it elects itself at once, as Kafka's QuorumState does.
      if (this.isVoter && this.voterIds().length === 1 && this.role.kind !== "leader") this.startElection();
    });
  }

  tick(now: number): RaftAction[] {
    return this.run(now, () => this.onTick());
  }

  receive(envelope: Envelope, now: number): RaftAction[] {
    return this.run(now, () => this.onMessage(envelope));
  }

  /**
   * The driver saw its connection to `peer` close (the peer's end closed or reset it). A follower of that leader sends
   * its fetch again at once, on a new connection, and runs for election if no fetch succeeds within a random half to
   * whole `leaderConnectionLossGraceMs`, rather than the whole fetch timeout; until a fetch succeeds it no longer refuses
   * pre-votes on that leader's account. A live leader answers the new fetch, and pre-vote (which the leader and every
   * voter still hearing it refuse) keeps a lost connection to a live leader from disrupting it (ADR 29).
   */
  leaderConnectionLost(peer: NodeId, now: number): RaftAction[] {
    return this.run(now, () => {
      const role = this.role;
      if (role.kind !== "follower" || role.leaderId !== peer) return;
      const grace = Math.min(
        this.config.leaderConnectionLossGraceMs ?? this.config.fetchTimeoutMs,
        this.config.fetchTimeoutMs,
      );
      // Uniform in [grace/2, grace): every follower of a dead leader sees the loss at the same moment, and equal waits
      // would have them run at once and split the vote (Raft randomizes election timeouts for the same reason).
      const half = Math.ceil(grace / 2);
      role.fetchDeadline = Math.min(role.fetchDeadline, this.now + half + this.rng.nextInt(Math.max(1, grace - half)));
      role.fetchedOk = false;
      // The fetch in flight went down with the connection: ask again (the driver opens a new one).
      if (role.fetch !== null) {
        role.fetch = null;
        role.retryAt = this.now;
      }
      this.maybeFetch(role);
    });
  }

  /**
   * The driver's attempt to open a new connection to `peer` was refused (ECONNREFUSED: the peer's kernel says nothing
   * listens at its address, so its process is gone, or not back yet). A close alone may be an idle timeout or a reset
   * on the way; a refused connect is not, so a follower of that peer that has not fetched from it since (a lost
   * connection, or since it began following) runs for election almost at once instead of after the connection-loss
   * grace: after its rank among the other voters (by id, the peer left out) times `leaderConnectionRefusedStepMs`,
   * plus a random part of up to a sixth of a step. Every survivor of a dead leader learns it at about the same moment;
   * ranks keep them from running together and splitting the vote, which a random wait of this size would not: the
   * next one runs only if the first has not bumped the epoch a step later (ADR 32). Only the
   * time changes: the election is the ordinary pre-vote and vote, which voters still hearing a live leader refuse.
   */
  leaderConnectionRefused(peer: NodeId, now: number): RaftAction[] {
    return this.run(now, () => {
      const role = this.role;
      const step = this.config.leaderConnectionRefusedStepMs;
      if (step === undefined || role.kind !== "follower" || role.leaderId !== peer || role.fetchedOk) return;
      const others = this.voterIds()
        .filter((id) => id !== peer)
        .sort((a, b) => a - b);
      const rank = others.indexOf(this.nodeId);
      const position = rank < 0 ? others.length : rank;
      role.fetchDeadline = Math.min(
        role.fetchDeadline,
        this.now + position * step + this.rng.nextInt(Math.max(1, Math.floor(step / 6))),
      );
    });
  }

  /** The driver finished the fsync asked for by `flushLog` with this sequence number. */
  flushed(seq: number, now: number): RaftAction[] {
    return this.run(now, () => {
      const end = this.pendingFlushes.get(seq);
      if (end === undefined) return;
      for (const s of [...this.pendingFlushes.keys()]) if (s <= seq) this.pendingFlushes.delete(s);
      this.durableEnd = Math.max(this.durableEnd, end);
      if (this.role.kind === "leader") this.maybeAdvanceLeaderHighWatermark(this.role);
    });
  }

  /**
   * Appends records as one batch, as leader: they are replicated and committed together. Returns the offsets they got,
   * or null when this node is not the leader (or there is nothing to append).
   */
  propose(records: readonly Uint8Array[], now: number): { offsets: number[] | null; actions: RaftAction[] } {
    let offsets: number[] | null = null;
    const actions = this.run(now, () => {
      const role = this.role;
      if (role.kind !== "leader") return;
      if (records.length === 0) return;
      offsets = this.appendAsLeader(records.map((data) => ({ kind: "data", data })));
      this.requestFlush();
      this.completeParkedFetches(role, false);
    });
    return { offsets, actions };
  }

  /**
   * KIP-853's AddRaftVoter, as leader: appends a VotersRecord with `voter` added, in effect at once; the change is done
   * when the record's offset commits. Kafka's checks, in its order: one change at a time (the last VotersRecord must
   * have committed, and the leader must have committed in its epoch), kraft.version 1, a new id, and a replica that
   * has caught up with this leader (it fetched as an observer). Kafka also asks the new voter for its ApiVersions to
   * learn its kraft.version range; here the range comes with the request's caller.
   */
  addVoter(voter: Voter, now: number): { result: VoterChangeResult; actions: RaftAction[] } {
    return this.changeVoters(now, (role, voters) => {
      if (voters.some((v) => v.id === voter.id)) {
        return { error: "DUPLICATE_VOTER", message: `node ${voter.id} is already a voter` };
      }
      const p = role.replicas.get(voter.id);
      const caughtUp =
        p !== undefined && p.lastCaughtUpTime >= 0 && p.lastFetchTime > this.now - ADD_VOTER_FETCH_WINDOW_MS;
      if (!caughtUp) {
        return {
          error: "REQUEST_TIMED_OUT",
          message: `node ${voter.id} has not caught up with the leader's log (it must fetch as an observer first)`,
        };
      }
      const kraft = this.voterHistory.kraftVersion;
      if (voter.kraftVersion.min > kraft || voter.kraftVersion.max < kraft) {
        return { error: "INVALID_REQUEST", message: `node ${voter.id} does not support kraft.version ${kraft}` };
      }
      return [...voters, voter];
    });
  }

  /**
   * KIP-853's RemoveRaftVoter, as leader: appends a VotersRecord without the voter (matched by id and, when both
   * sides know it, directory id). A leader that removes itself leads on until the removal commits, then resigns.
   */
  removeVoter(
    id: NodeId,
    directoryId: string | null,
    now: number,
  ): { result: VoterChangeResult; actions: RaftAction[] } {
    return this.changeVoters(now, (_role, voters) => {
      const rest = voters.filter((v) => !matchesKey(v, id, directoryId));
      if (rest.length === voters.length || rest.length === 0) {
        return {
          error: "VOTER_NOT_FOUND",
          message: `node ${id} (directory ${directoryId ?? "-"}) is not a voter to remove`,
        };
      }
      return rest;
    });
  }

  /** KIP-853's UpdateRaftVoter, as leader: a voter's new endpoints and kraft.version range, in a VotersRecord. */
  updateVoter(voter: Voter, now: number): { result: VoterChangeResult; actions: RaftAction[] } {
    return this.changeVoters(now, (_role, voters) => {
      const kraft = this.voterHistory.kraftVersion;
      if (voter.kraftVersion.min > kraft || voter.kraftVersion.max < kraft) {
        return { error: "INVALID_REQUEST", message: `node ${voter.id} does not support kraft.version ${kraft}` };
      }
      if (!voters.some((v) => matchesKey(v, voter.id, voter.directoryId))) {
        return { error: "VOTER_NOT_FOUND", message: `node ${voter.id} is not a voter` };
      }
      return voters.map((v) => (matchesKey(v, voter.id, voter.directoryId) ? voter : v));
    });
  }

  private changeVoters(
    now: number,
    next: (
      role: Extract<RoleState, { kind: "leader" }>,
      voters: readonly Voter[],
    ) => readonly Voter[] | { error: Exclude<VoterChangeResult["error"], null>; message: string },
  ): { result: VoterChangeResult; actions: RaftAction[] } {
    let result: VoterChangeResult = { error: "NOT_LEADER_OR_FOLLOWER", message: "this node is not the leader" };
    const actions = this.run(now, () => {
      const role = this.role;
      if (role.kind !== "leader") return;
      if (this.highWatermark <= role.epochStartOffset) {
        result = { error: "REQUEST_TIMED_OUT", message: "the leader has not committed an entry of its epoch yet" };
        return;
      }
      if (!this.dynamicVoters) {
        result = {
          error: "UNSUPPORTED_VERSION",
          message: "kraft.version is 0: the voters are static (controller.quorum.voters)",
        };
        return;
      }
      const at = this.voterHistory.currentOffset;
      if (at === null || at >= this.highWatermark) {
        result = { error: "REQUEST_TIMED_OUT", message: `the previous voter change (offset ${at}) has not committed` };
        return;
      }
      const voters = next(role, this.voterHistory.current);
      if ("error" in voters) {
        result = voters;
        return;
      }
      const [offset] = this.appendAsLeader([{ kind: "voters", voters }]);
      for (const v of voters) {
        if (v.id !== this.nodeId && !role.replicas.has(v.id)) role.replicas.set(v.id, newProgress(false));
      }
      this.requestFlush();
      this.completeParkedFetches(role, false);
      // A smaller voter set may commit what a lagging removed voter held back.
      this.maybeAdvanceLeaderHighWatermark(role);
      result = { error: null, offset: offset ?? -1 };
    });
    return { result, actions };
  }

  /**
   * The driver made `snapshot` durable: the committed state below `snapshot.id.offset` (at most the high watermark,
   * with `id.epoch` the epoch of the entry before it). The log is trimmed to it and followers further behind fetch it.
   * An older snapshot than the newest is ignored.
   */
  snapshotTaken(snapshot: Snapshot, now: number): RaftAction[] {
    return this.run(now, () => {
      const { id } = snapshot;
      if (id.offset <= this.log.startOffset) return;
      if (id.offset > this.highWatermark) {
        throw new Error(`snapshot at ${id.offset} is past the high watermark ${this.highWatermark}`);
      }
      this.log.trimTo(id);
      this.voterHistory.trim(id.offset);
      this.snapshot = snapshot;
      this.emit({ type: "trimLog", startOffset: id.offset });
    });
  }

  private run(now: number, body: () => void): RaftAction[] {
    if (now < this.now) throw new Error(`clock went back from ${this.now} to ${now}`);
    this.now = now;
    this.out = [];
    body();
    const out = this.out;
    this.out = [];
    return out;
  }

  // ---- timers ----

  private onTick(): void {
    const role = this.role;
    switch (role.kind) {
      case "unattached":
        if (!this.mayCampaign) this.maybeDiscoverLeader(role);
        else if (this.now >= role.electionDeadline) this.startElection();
        return;
      case "prospective":
        if (this.now >= role.ballot.deadline) this.prospectiveFailed();
        return;
      case "candidate":
        if (role.backoffUntil !== null) {
          if (this.now >= role.backoffUntil) this.becomeProspective();
        } else if (this.now >= role.ballot.deadline) {
          role.backoffUntil = this.now + this.electionBackoff();
        }
        return;
      case "follower":
        if (this.now >= role.fetchDeadline) {
          if (this.mayCampaign) this.startElection();
          else this.becomeUnattached(this.election.epoch, this.election.votedId, false);
          return;
        }
        if (role.fetch !== null && this.now >= role.fetch.deadline) role.fetch = null;
        this.maybeFetch(role);
        return;
      case "leader":
        this.leaderTick(role);
        return;
      case "resigned":
        // A leader that resigned because it was removed from the voter set stays on as an observer. It may not
        // campaign, so it has no election timeout to wait out: it looks for the new leader at once, and meanwhile
        // names no leader rather than itself.
        if (this.now < role.electionDeadline && this.mayCampaign) return;
        if (this.mayCampaign) this.startElection();
        else this.becomeUnattached(this.election.epoch, this.election.votedId);
        return;
    }
  }

  private leaderTick(role: Extract<RoleState, { kind: "leader" }>): void {
    if (this.now >= role.checkQuorumDeadline) {
      // Alone in the voter set, the leader is its own majority: it has nobody to lose contact with.
      if (this.fetchedVoters(role) < this.checkQuorumNeeds()) {
        this.resign(role);
        return;
      }
      role.checkQuorumDeadline = this.now + this.config.fetchTimeoutMs * CHECK_QUORUM_FACTOR;
    }
    for (const parked of [...role.parked.values()]) {
      if (this.now >= parked.deadline) this.answerFetch(role, parked.from, parked.correlationId, parked.fetchOffset);
    }
    if (this.now >= role.beginQuorumResendAt) {
      role.beginQuorumResendAt = this.now + this.config.fetchTimeoutMs / 2;
      for (const id of this.voterIds()) {
        if (id !== this.nodeId && !(role.replicas.get(id)?.acknowledged ?? false)) this.sendBeginQuorumEpoch(id);
      }
    }
  }

  // ---- transitions ----

  private persist(state: ElectionState): void {
    if (state.epoch < this.election.epoch)
      throw new Error(`epoch would go back ${this.election.epoch} → ${state.epoch}`);
    const same =
      state.epoch === this.election.epoch &&
      state.leaderId === this.election.leaderId &&
      state.votedId === this.election.votedId;
    this.election = state;
    if (!same) this.emit({ type: "persistElection", state });
  }

  private announce(): void {
    const leaderId = this.role.kind === "leader" ? this.nodeId : this.election.leaderId;
    this.emit({ type: "roleChanged", role: this.role.kind, epoch: this.election.epoch, leaderId });
  }

  private becomeUnattached(epoch: number, votedId: NodeId | null, announce = true): void {
    this.persist({ epoch, leaderId: null, votedId });
    this.role = {
      kind: "unattached",
      electionDeadline: this.mayCampaign ? this.now + this.randomElectionTimeout() : Infinity,
      fetch: null,
      retryAt: this.now,
    };
    if (announce) this.announce();
    if (!this.mayCampaign) this.maybeDiscoverLeader(this.role);
  }

  private becomeFollower(epoch: number, leaderId: NodeId): void {
    const votedId = epoch === this.election.epoch ? this.election.votedId : null;
    this.persist({ epoch, leaderId, votedId });
    this.electionRetries = 0;
    const role: RoleState = {
      kind: "follower",
      leaderId,
      // Back to a leader that already resigned (a pre-vote failed): only an election backoff before trying again.
      fetchDeadline:
        this.now + (this.leaderEnded(epoch, leaderId) ? this.electionBackoff() : this.config.fetchTimeoutMs),
      fetchedOk: false,
      fetch: null,
      retryAt: this.now,
      snapshotFetch: null,
    };
    this.role = role;
    this.announce();
    this.maybeFetch(role);
  }

  private startElection(): void {
    if (this.config.preVote) this.becomeProspective();
    else this.becomeCandidate();
  }

  /** KIP-996: ask for pre-votes at epoch + 1 without bumping or persisting anything. */
  private becomeProspective(): void {
    const ballot = this.newBallot();
    this.role = { kind: "prospective", ballot };
    this.announce();
    if (ballot.granted.size >= ballot.majority) {
      this.becomeCandidate();
      return;
    }
    this.requestVotes(ballot, this.election.epoch + 1, true);
  }

  private prospectiveFailed(): void {
    this.electionRetries++;
    const { epoch, leaderId, votedId } = this.election;
    if (leaderId !== null && leaderId !== this.nodeId) {
      // The others still hear the leader we lost: follow it again rather than disrupt.
      this.becomeFollower(epoch, leaderId);
      return;
    }
    this.persist({ epoch, leaderId: null, votedId });
    this.role = {
      kind: "unattached",
      electionDeadline: this.now + this.electionBackoff(),
      fetch: null,
      retryAt: this.now,
    };
    this.announce();
  }

  private becomeCandidate(): void {
    this.persist({ epoch: this.election.epoch + 1, leaderId: null, votedId: this.nodeId });
    const ballot = this.newBallot();
    this.role = { kind: "candidate", ballot, backoffUntil: null };
    this.announce();
    if (ballot.granted.size >= ballot.majority) {
      this.becomeLeader();
      return;
    }
    this.requestVotes(ballot, this.election.epoch, false);
  }

  private becomeLeader(): void {
    this.persist({ epoch: this.election.epoch, leaderId: this.nodeId, votedId: this.election.votedId });
    this.electionRetries = 0;
    const replicas = new Map<NodeId, ReplicaProgress>();
    const voters = this.voterIds();
    for (const id of voters) {
      if (id !== this.nodeId) replicas.set(id, newProgress(false));
    }
    const role: RoleState = {
      kind: "leader",
      epochStartOffset: this.log.endOffset,
      replicas,
      fetchedSinceCheck: new Set(),
      checkQuorumDeadline: this.now + this.config.fetchTimeoutMs * CHECK_QUORUM_FACTOR,
      beginQuorumResendAt: this.now + this.config.fetchTimeoutMs / 2,
      parked: new Map(),
    };
    this.role = role;
    this.announce();
    const records: RaftRecord[] = [{ kind: "leaderChange", leaderId: this.nodeId, voters }];
    // KIP-853: voters known only from the bootstrap snapshot go into the log with the leader's first batch (Kafka's
    // appendStartOfEpochControlRecords), so every replica fetches them and later changes follow a logged set.
    if (this.dynamicVoters && this.voterHistory.currentOffset === -1) {
      records.push({ kind: "kraftVersion", version: this.voterHistory.kraftVersion });
      records.push({ kind: "voters", voters: this.voterHistory.current });
    }
    this.appendAsLeader(records);
    this.requestFlush();
    for (const id of voters) if (id !== this.nodeId) this.sendBeginQuorumEpoch(id);
  }

  /** Check-quorum failed: step down, and tell the voters who should try first (most up to date first). */
  private resign(role: Extract<RoleState, { kind: "leader" }>): void {
    const successors = [...role.replicas.entries()]
      .filter(([id]) => this.isVoterId(id))
      .sort((a, b) => b[1].endOffset - a[1].endOffset || a[0] - b[0])
      .map(([id]) => id);
    for (const parked of role.parked.values()) {
      this.reply(parked.from, parked.correlationId, this.fetchError("NOT_LEADER_OR_FOLLOWER"));
    }
    this.becomeResigned(successors);
  }

  private becomeResigned(successors: readonly NodeId[]): void {
    this.role = { kind: "resigned", electionDeadline: this.now + this.randomElectionTimeout() };
    this.announce();
    for (const id of successors) {
      this.send(id, {
        type: "EndQuorumEpochRequest",
        epoch: this.election.epoch,
        leaderId: this.nodeId,
        preferredSuccessors: successors,
      });
    }
  }

  /** A message carried a newer epoch: move to it, following its leader if the message names one. */
  private observeEpoch(epoch: number, leaderId: NodeId | null): void {
    if (leaderId !== null && leaderId !== this.nodeId) this.becomeFollower(epoch, leaderId);
    else this.becomeUnattached(epoch, null);
  }

  // ---- elections ----

  private newBallot(): Ballot {
    const granted = new Set<NodeId>();
    if (this.isVoter) granted.add(this.nodeId);
    return {
      voters: new Set(this.voterIds()),
      majority: this.majority,
      outstanding: new Map(),
      granted,
      rejected: new Set(),
      deadline: this.now + this.randomElectionTimeout(),
    };
  }

  private requestVotes(ballot: Ballot, epoch: number, preVote: boolean): void {
    for (const id of ballot.voters) {
      if (id === this.nodeId) continue;
      const correlationId = this.send(id, {
        type: "VoteRequest",
        epoch,
        candidateId: this.nodeId,
        lastEpoch: this.log.lastEpoch,
        lastOffset: this.log.endOffset,
        preVote,
      });
      ballot.outstanding.set(correlationId, id);
    }
  }

  private randomElectionTimeout(): number {
    const t = this.config.electionTimeoutMs;
    return t + this.rng.nextInt(t);
  }

  private electionBackoff(): number {
    const cap = Math.min(this.config.electionBackoffMaxMs, ELECTION_BACKOFF_BASE_MS * 2 ** this.electionRetries);
    return 1 + this.rng.nextInt(Math.max(1, cap));
  }

  private logIsUpToDate(lastEpoch: number, lastOffset: number): boolean {
    if (this.config.unsafe?.grantVotesIgnoringLog) return true;
    if (lastEpoch !== this.log.lastEpoch) return lastEpoch > this.log.lastEpoch;
    return lastOffset >= this.log.endOffset;
  }

  private onVoteRequest(from: NodeId, correlationId: number, m: Extract<RaftMessage, { type: "VoteRequest" }>): void {
    const answer = (granted: boolean, error: RaftError): void =>
      this.reply(from, correlationId, {
        type: "VoteResponse",
        epoch: this.election.epoch,
        leaderId: this.knownLeader(),
        granted,
        preVote: m.preVote,
        error,
      });
    // Static voters refuse strangers. With dynamic voters (KIP-853) a replica answers whoever asks, as Kafka does: a
    // voter just added may not have fetched the record that made it one, and the candidate counts only its own voters.
    if (!this.dynamicVoters && (!this.isVoter || !this.isVoterId(m.candidateId))) {
      return answer(false, "INCONSISTENT_VOTER_SET");
    }
    if (m.lastOffset < 0 || m.lastEpoch < 0 || m.lastEpoch >= m.epoch) return answer(false, "INVALID_REQUEST");
    if (m.epoch < this.election.epoch) return answer(false, "FENCED_LEADER_EPOCH");
    const upToDate = this.logIsUpToDate(m.lastEpoch, m.lastOffset);

    if (m.preVote) {
      // A pre-vote changes nothing here. It is refused by a leader, and by a follower that still hears its leader.
      const role = this.role;
      const hearsLeader = role.kind === "leader" || (role.kind === "follower" && role.fetchedOk);
      const granted = m.epoch > this.election.epoch && upToDate && !hearsLeader;
      return answer(granted, "NONE");
    }

    if (m.epoch > this.election.epoch) this.becomeUnattached(m.epoch, null);
    const { leaderId, votedId } = this.election;
    const granted = leaderId === null && (votedId === null || votedId === m.candidateId) && upToDate;
    if (granted && votedId === null) {
      this.persist({ epoch: m.epoch, leaderId: null, votedId: m.candidateId });
      // Having voted, wait a full election timeout for that candidate before running ourselves.
      this.role = {
        kind: "unattached",
        electionDeadline: this.now + this.randomElectionTimeout(),
        fetch: null,
        retryAt: this.now,
      };
    }
    answer(granted, "NONE");
  }

  private onVoteResponse(from: NodeId, correlationId: number, m: Extract<RaftMessage, { type: "VoteResponse" }>): void {
    if (m.epoch > this.election.epoch) {
      this.observeEpoch(m.epoch, m.leaderId);
      return;
    }
    const role = this.role;
    if (role.kind !== "prospective" && role.kind !== "candidate") return;
    if (role.kind === "candidate" && role.backoffUntil !== null) return;
    if (role.ballot.outstanding.get(correlationId) !== from) return;
    role.ballot.outstanding.delete(correlationId);
    if (m.preVote !== (role.kind === "prospective")) return;
    const granted = m.error === "NONE" && m.granted;
    if (
      role.kind === "prospective" &&
      !granted &&
      m.epoch === this.election.epoch &&
      m.leaderId !== null &&
      m.leaderId !== this.nodeId &&
      m.leaderId !== this.election.leaderId
    ) {
      // KIP-996: a prospective node that learns of a leader of its epoch it did not know follows it. (The leader it
      // lost does not count: that is why it is asking.)
      this.becomeFollower(this.election.epoch, m.leaderId);
      return;
    }
    if (!role.ballot.voters.has(from)) return;
    if (granted) role.ballot.granted.add(from);
    else role.ballot.rejected.add(from);

    if (role.ballot.granted.size >= role.ballot.majority) {
      if (role.kind === "prospective") this.becomeCandidate();
      else this.becomeLeader();
    } else if (role.ballot.rejected.size > role.ballot.voters.size - role.ballot.majority) {
      if (role.kind === "prospective") this.prospectiveFailed();
      else {
        this.electionRetries++;
        role.backoffUntil = this.now + this.electionBackoff();
      }
    }
  }

  // ---- leader announcements ----

  private sendBeginQuorumEpoch(to: NodeId): void {
    this.send(to, { type: "BeginQuorumEpochRequest", epoch: this.election.epoch, leaderId: this.nodeId });
  }

  private onBeginQuorumEpoch(
    from: NodeId,
    correlationId: number,
    m: Extract<RaftMessage, { type: "BeginQuorumEpochRequest" }>,
  ): void {
    if (m.epoch < this.election.epoch) {
      this.reply(from, correlationId, {
        type: "BeginQuorumEpochResponse",
        epoch: this.election.epoch,
        leaderId: this.knownLeader(),
        error: "FENCED_LEADER_EPOCH",
      });
      return;
    }
    const following = this.role.kind === "follower" && this.role.leaderId === m.leaderId;
    if (m.epoch > this.election.epoch || !following) {
      if (m.epoch === this.election.epoch && this.role.kind === "leader") {
        throw new Error(`two leaders in epoch ${m.epoch}: ${this.nodeId} and ${m.leaderId}`);
      }
      this.becomeFollower(m.epoch, m.leaderId);
    }
    this.reply(from, correlationId, {
      type: "BeginQuorumEpochResponse",
      epoch: this.election.epoch,
      leaderId: m.leaderId,
      error: "NONE",
    });
  }

  private onEndQuorumEpoch(
    from: NodeId,
    correlationId: number,
    m: Extract<RaftMessage, { type: "EndQuorumEpochRequest" }>,
  ): void {
    if (m.epoch >= this.election.epoch && m.leaderId !== this.nodeId) {
      this.endedLeader = { epoch: m.epoch, leaderId: m.leaderId };
      if (m.epoch > this.election.epoch) this.becomeFollower(m.epoch, m.leaderId);
      const role = this.role;
      if (role.kind === "follower" && role.leaderId === m.leaderId) {
        // Successors try in order of log freshness; everyone else waits a random backoff.
        const position = m.preferredSuccessors.indexOf(this.nodeId);
        const delay =
          position < 0
            ? this.rng.nextInt(this.config.electionBackoffMaxMs)
            : Math.min(this.config.electionBackoffMaxMs, position * ELECTION_BACKOFF_BASE_MS);
        role.fetchDeadline = Math.min(role.fetchDeadline, this.now + delay);
        // The leader said it is gone: pre-votes are no longer refused on its account.
        role.fetchedOk = false;
      }
    }
    this.reply(from, correlationId, {
      type: "EndQuorumEpochResponse",
      epoch: this.election.epoch,
      leaderId: this.knownLeader(),
      error: m.epoch < this.election.epoch ? "FENCED_LEADER_EPOCH" : "NONE",
    });
  }

  // ---- replication: the leader side ----

  /** Appends one batch at this leader's epoch; returns the offsets its records got. */
  private appendAsLeader(records: readonly RaftRecord[]): number[] {
    const start = this.log.endOffset;
    const epoch = this.election.epoch;
    const entries = records.map((record, i): LogEntry => ({
      offset: start + i,
      epoch,
      record,
      lastInBatch: i === records.length - 1,
    }));
    this.log.append(entries);
    this.emit({ type: "appendLog", entries });
    if (this.voterHistory.append(entries)) this.emitVoters();
    return entries.map((e) => e.offset);
  }

  private requestFlush(): void {
    const seq = ++this.flushSeq;
    this.pendingFlushes.set(seq, this.log.endOffset);
    this.emit({ type: "flushLog", seq });
  }

  private fetchError(error: RaftError): RaftMessage {
    return {
      type: "FetchResponse",
      epoch: this.election.epoch,
      leaderId: this.knownLeader(),
      error,
      highWatermark: -1,
      entries: [],
      divergingEpoch: null,
      snapshotId: null,
    };
  }

  private onFetchRequest(from: NodeId, correlationId: number, m: Extract<RaftMessage, { type: "FetchRequest" }>): void {
    const role = this.role;
    if (m.epoch < this.election.epoch) return this.reply(from, correlationId, this.fetchError("FENCED_LEADER_EPOCH"));
    if (m.epoch > this.election.epoch) return this.reply(from, correlationId, this.fetchError("UNKNOWN_LEADER_EPOCH"));
    if (role.kind !== "leader") return this.reply(from, correlationId, this.fetchError("NOT_LEADER_OR_FOLLOWER"));
    if (m.replicaId === this.nodeId || m.fetchOffset < 0) {
      return this.reply(from, correlationId, this.fetchError("INVALID_REQUEST"));
    }

    // Any fetch in this epoch shows the voter follows this leader, also one answered with a truncation or a snapshot
    // (Kafka updates check-quorum before validating the position).
    this.noteVoterContact(role, m.replicaId);
    const check = this.log.validateFetch(m.fetchOffset, m.lastFetchedEpoch);
    if (!check.valid) {
      this.reply(from, correlationId, {
        type: "FetchResponse",
        epoch: this.election.epoch,
        leaderId: this.nodeId,
        error: "NONE",
        highWatermark: this.highWatermark,
        entries: [],
        divergingEpoch: "diverging" in check ? check.diverging : null,
        snapshotId: "snapshot" in check ? check.snapshot : null,
      });
      return;
    }

    let progress = role.replicas.get(m.replicaId);
    if (progress === undefined) {
      progress = newProgress(true);
      role.replicas.set(m.replicaId, progress);
    }
    // Caught up: it holds the whole log now, or at least what the log held at its previous fetch (Kafka's rule).
    if (m.fetchOffset >= this.log.endOffset) progress.lastCaughtUpTime = this.now;
    else if (progress.lastFetchTime >= 0 && m.fetchOffset >= progress.leaderEndAtLastFetch) {
      progress.lastCaughtUpTime = Math.max(progress.lastCaughtUpTime, progress.lastFetchTime);
    }
    progress.endOffset = m.fetchOffset;
    progress.directoryId = m.replicaDirectoryId ?? progress.directoryId;
    progress.acknowledged = true;
    progress.lastFetchTime = this.now;
    progress.leaderEndAtLastFetch = this.log.endOffset;
    // A newer fetch from the same replica replaces a parked one (whose answer it no longer waits for).
    role.parked.delete(from);
    this.maybeAdvanceLeaderHighWatermark(role);
    // A replica that holds the whole log still waits for nothing if it has not heard the current high watermark: often
    // this very fetch advanced it. Parked, it would learn of the commit only when its wait expired (500 ms).
    if (
      m.fetchOffset < this.log.endOffset ||
      this.config.fetchMaxWaitMs <= 0 ||
      progress.highWatermarkSent < this.highWatermark
    ) {
      this.answerFetch(role, from, correlationId, m.fetchOffset);
    } else {
      role.parked.set(from, {
        from,
        correlationId,
        fetchOffset: m.fetchOffset,
        deadline: this.now + this.config.fetchMaxWaitMs,
      });
    }
  }

  private noteVoterContact(role: Extract<RoleState, { kind: "leader" }>, replicaId: NodeId): void {
    if (!this.isVoterId(replicaId)) return;
    role.fetchedSinceCheck.add(replicaId);
    if (this.fetchedVoters(role) >= this.checkQuorumNeeds()) {
      role.checkQuorumDeadline = this.now + this.config.fetchTimeoutMs * CHECK_QUORUM_FACTOR;
      role.fetchedSinceCheck.clear();
    }
  }

  /** Other voters heard from since the check-quorum timer restarted (the set may have changed meanwhile). */
  private fetchedVoters(role: Extract<RoleState, { kind: "leader" }>): number {
    let n = 0;
    for (const id of role.fetchedSinceCheck) if (this.isVoterId(id)) n++;
    return n;
  }

  /** Fetching voters a leader needs to stay: a majority, itself counted only while it is a voter (Kafka's rule). */
  private checkQuorumNeeds(): number {
    return this.majority - (this.isVoter ? 1 : 0);
  }

  private answerFetch(
    role: Extract<RoleState, { kind: "leader" }>,
    to: NodeId,
    correlationId: number,
    fetchOffset: number,
  ): void {
    role.parked.delete(to);
    const progress = role.replicas.get(to);
    if (progress !== undefined) progress.highWatermarkSent = this.highWatermark;
    // A parked fetch may have fallen below the log start while it waited (a snapshot trimmed the log).
    const trimmed = fetchOffset < this.log.startOffset;
    this.reply(to, correlationId, {
      type: "FetchResponse",
      epoch: this.election.epoch,
      leaderId: this.nodeId,
      error: "NONE",
      highWatermark: this.highWatermark,
      entries: trimmed ? [] : this.log.readBatches(fetchOffset, this.config.maxFetchEntries),
      divergingEpoch: null,
      snapshotId: trimmed ? this.log.start : null,
    });
  }

  /** Serves a chunk of the newest snapshot (Kafka's handleFetchSnapshotRequest), from the leader only. */
  private onFetchSnapshotRequest(
    from: NodeId,
    correlationId: number,
    m: Extract<RaftMessage, { type: "FetchSnapshotRequest" }>,
  ): void {
    const role = this.role;
    const answer = (error: RaftError, position = m.position, data: Uint8Array = new Uint8Array(0)): void =>
      this.reply(from, correlationId, {
        type: "FetchSnapshotResponse",
        epoch: this.election.epoch,
        leaderId: this.knownLeader(),
        error,
        snapshotId: m.snapshotId,
        size: this.snapshot?.data.length ?? 0,
        position,
        data,
      });
    if (m.epoch < this.election.epoch) return answer("FENCED_LEADER_EPOCH");
    if (m.epoch > this.election.epoch) return answer("UNKNOWN_LEADER_EPOCH");
    if (role.kind !== "leader") return answer("NOT_LEADER_OR_FOLLOWER");
    if (m.replicaId === this.nodeId) return answer("INVALID_REQUEST");
    this.noteVoterContact(role, m.replicaId);
    const snapshot = this.snapshot;
    if (snapshot === null || snapshot.id.offset !== m.snapshotId.offset || snapshot.id.epoch !== m.snapshotId.epoch) {
      return answer("SNAPSHOT_NOT_FOUND");
    }
    if (m.position < 0 || m.position > snapshot.data.length) return answer("POSITION_OUT_OF_RANGE");
    // As Kafka: no more than the request's MaxBytes, and no more than this node's own chunk limit.
    const limit = this.config.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
    const chunk = Math.max(0, Math.min(limit, m.maxBytes ?? limit));
    answer("NONE", m.position, snapshot.data.subarray(m.position, m.position + chunk));
  }

  /** Answers parked fetches that now have something new: entries, or (if `highWatermarkMoved`) a new high watermark. */
  private completeParkedFetches(role: Extract<RoleState, { kind: "leader" }>, highWatermarkMoved: boolean): void {
    for (const parked of [...role.parked.values()]) {
      if (highWatermarkMoved || parked.fetchOffset < this.log.endOffset) {
        this.answerFetch(role, parked.from, parked.correlationId, parked.fetchOffset);
      }
    }
  }

  /**
   * KRaft's rule (LeaderState.maybeUpdateHighWatermark): the voters' durable end offsets sorted descending, at index
   * ⌊n/2⌋, if past the epoch start offset (an entry of this epoch is on a majority), and never backwards.
   */
  private maybeAdvanceLeaderHighWatermark(role: Extract<RoleState, { kind: "leader" }>): void {
    const voters = this.voterIds();
    const ends = voters
      .map((id) => (id === this.nodeId ? this.durableEnd : (role.replicas.get(id)?.endOffset ?? -1)))
      .sort((a, b) => b - a);
    const candidate = ends[Math.floor(voters.length / 2)] ?? -1;
    const ownEpochCommitted = candidate > role.epochStartOffset || this.config.unsafe?.skipOwnEpochCommitRule === true;
    if (ownEpochCommitted && candidate > this.highWatermark) {
      this.setHighWatermark(candidate);
      this.completeParkedFetches(role, true);
      // KIP-853: a leader removed from the voter set leads until its removal commits, then resigns.
      const votersAt = this.voterHistory.currentOffset;
      if (!this.isVoter && votersAt !== null && votersAt < this.highWatermark) this.resign(role);
    }
  }

  private setHighWatermark(hw: number): void {
    // A node that started from a snapshot reports once that the leader's high watermark reached it, so the driver
    // learns that the snapshot is current even when nothing commits after it.
    const confirmsSnapshot = !this.highWatermarkKnown && hw === this.highWatermark && hw > 0;
    if (hw <= this.highWatermark && !confirmsSnapshot) return;
    this.highWatermarkKnown = true;
    this.highWatermark = hw;
    this.emit({ type: "commit", highWatermark: hw });
  }

  // ---- replication: the follower side ----

  private maybeFetch(role: Extract<RoleState, { kind: "follower" }>): void {
    if (role.fetch !== null || this.now < role.retryAt) return;
    const sf = role.snapshotFetch;
    const request: RaftMessage =
      sf === null
        ? this.fetchRequest()
        : {
            type: "FetchSnapshotRequest",
            epoch: this.election.epoch,
            replicaId: this.nodeId,
            snapshotId: sf.id,
            position: sf.position,
          };
    const correlationId = this.send(role.leaderId, request);
    role.fetch = { correlationId, deadline: this.now + this.config.requestTimeoutMs };
  }

  private fetchRequest(): RaftMessage {
    return {
      type: "FetchRequest",
      epoch: this.election.epoch,
      replicaId: this.nodeId,
      fetchOffset: this.log.endOffset,
      lastFetchedEpoch: this.log.lastEpoch,
      ...(this.config.directoryId !== undefined ? { replicaDirectoryId: this.config.directoryId } : {}),
    };
  }

  /** An observer with no leader asks a random voter; the answer names the leader if that voter knows it. */
  private maybeDiscoverLeader(role: Extract<RoleState, { kind: "unattached" }>): void {
    if (role.fetch !== null && this.now < role.fetch.deadline) return;
    if (this.now < role.retryAt) return;
    // The bootstrap servers, and the voters the log names (a bootstrap list may name this very node, or old voters).
    const candidates = [...(this.config.bootstrapServers ?? []), ...this.voterIds()].filter((id) => id !== this.nodeId);
    const voter = candidates[this.rng.nextInt(candidates.length)];
    if (voter === undefined) return;
    const correlationId = this.send(voter, this.fetchRequest());
    role.fetch = { correlationId, deadline: this.now + this.config.requestTimeoutMs };
    role.retryAt = this.now + this.config.retryBackoffMs;
  }

  private onFetchResponse(
    from: NodeId,
    correlationId: number,
    m: Extract<RaftMessage, { type: "FetchResponse" }>,
  ): void {
    const role = this.role;
    if (role.kind === "unattached") {
      if (role.fetch?.correlationId !== correlationId) return;
      role.fetch = null;
      if (m.epoch > this.election.epoch) this.observeEpoch(m.epoch, m.leaderId);
      else if (m.epoch === this.election.epoch && m.leaderId !== null && m.leaderId !== this.nodeId) {
        this.becomeFollower(m.epoch, m.leaderId);
      }
      return;
    }
    if (m.epoch > this.election.epoch) {
      this.observeEpoch(m.epoch, m.leaderId);
      return;
    }
    if (role.kind !== "follower" || role.fetch?.correlationId !== correlationId || from !== role.leaderId) return;
    role.fetch = null;
    if (m.epoch < this.election.epoch || m.error !== "NONE") {
      role.retryAt = this.now + this.config.retryBackoffMs;
      return;
    }
    this.heardFromLeader(role);
    this.heardHighWatermark = Math.max(this.heardHighWatermark, m.highWatermark);

    if (m.snapshotId !== null) {
      // Below the leader's log start: fetch its snapshot, then fetch from the snapshot's end.
      role.snapshotFetch = { id: m.snapshotId, position: 0, chunks: [] };
    } else if (m.divergingEpoch !== null) {
      const point = this.log.truncationPoint(m.divergingEpoch);
      this.truncate(point);
    } else if (m.entries.length > 0) {
      const first = m.entries[0];
      // Only the answer to the fetch we sent (from our current end) may be appended.
      if (first?.offset !== this.log.endOffset) return;
      this.log.append(m.entries);
      this.emit({ type: "appendLog", entries: m.entries });
      if (this.voterHistory.append(m.entries)) this.emitVoters();
      this.requestFlush();
      this.setHighWatermark(Math.min(m.highWatermark, this.log.endOffset));
    } else {
      this.setHighWatermark(Math.min(m.highWatermark, this.log.endOffset));
    }
    // The next fetch leaves only after the appends above are durable: the leader may count its offset.
    this.maybeFetch(role);
  }

  /** A good fetch answer restarts the fetch timeout, unless the leader has since said it resigned. */
  private heardFromLeader(role: Extract<RoleState, { kind: "follower" }>): void {
    if (this.leaderEnded(this.election.epoch, role.leaderId)) return;
    role.fetchDeadline = this.now + this.config.fetchTimeoutMs;
    role.fetchedOk = true;
  }

  private leaderEnded(epoch: number, leaderId: NodeId): boolean {
    return this.endedLeader?.epoch === epoch && this.endedLeader.leaderId === leaderId;
  }

  private onFetchSnapshotResponse(
    from: NodeId,
    correlationId: number,
    m: Extract<RaftMessage, { type: "FetchSnapshotResponse" }>,
  ): void {
    if (m.epoch > this.election.epoch) {
      this.observeEpoch(m.epoch, m.leaderId);
      return;
    }
    const role = this.role;
    if (role.kind !== "follower" || role.fetch?.correlationId !== correlationId || from !== role.leaderId) return;
    role.fetch = null;
    const sf = role.snapshotFetch;
    if (m.epoch < this.election.epoch || m.error !== "NONE" || sf === null) {
      // A snapshot the leader replaced or a position it refuses: ask with Fetch again, which names its snapshot.
      if (m.error === "SNAPSHOT_NOT_FOUND" || m.error === "POSITION_OUT_OF_RANGE") role.snapshotFetch = null;
      role.retryAt = this.now + this.config.retryBackoffMs;
      return;
    }
    this.heardFromLeader(role);
    const sameSnapshot = m.snapshotId.offset === sf.id.offset && m.snapshotId.epoch === sf.id.epoch;
    if (sameSnapshot && m.position === sf.position && (m.data.length > 0 || m.position >= m.size)) {
      sf.chunks.push(m.data);
      sf.position += m.data.length;
      if (sf.position >= m.size) {
        role.snapshotFetch = null;
        this.installSnapshot(sf);
      }
    }
    this.maybeFetch(role);
  }

  /**
   * Replaces the log by a snapshot fetched whole from the leader (Kafka's truncateToLatestSnapshot): the driver
   * stores it durably and starts the log at its end; everything in it is committed.
   */
  private installSnapshot(sf: SnapshotFetch): void {
    const { id } = sf;
    // A snapshot holds committed entries only, so it never ends below what this node has committed; a stale one
    // (the leader's newer snapshot replaced it while we fetched) is dropped.
    if (id.offset < this.highWatermark || id.offset <= this.log.startOffset) return;
    const size = sf.chunks.reduce((n, c) => n + c.length, 0);
    const data = new Uint8Array(size);
    let at = 0;
    for (const c of sf.chunks) {
      data.set(c, at);
      at += c.length;
    }
    const snapshot: Snapshot = { id, data };
    this.snapshot = snapshot;
    this.log.reset(id);
    this.voterHistory.reset(this.snapshotFormat.voters(data), id.offset);
    this.emitVoters();
    this.durableEnd = Math.min(this.durableEnd, id.offset);
    for (const [seq, end] of this.pendingFlushes) this.pendingFlushes.set(seq, Math.min(end, id.offset));
    this.highWatermark = id.offset;
    this.emit({ type: "installSnapshot", snapshot });
    this.requestFlush();
  }

  private truncate(endOffset: number): void {
    if (endOffset >= this.log.endOffset) return;
    if (endOffset < this.highWatermark) {
      throw new Error(
        `node ${this.nodeId} asked to truncate to ${endOffset}, below its high watermark ${this.highWatermark}`,
      );
    }
    this.log.truncateTo(endOffset);
    if (this.voterHistory.truncate(endOffset)) this.emitVoters();
    this.durableEnd = Math.min(this.durableEnd, endOffset);
    for (const [seq, end] of this.pendingFlushes) this.pendingFlushes.set(seq, Math.min(end, endOffset));
    this.emit({ type: "truncateLog", endOffset });
  }

  // ---- messages ----

  private onMessage(envelope: Envelope): void {
    const { from, correlationId, message: m } = envelope;
    switch (m.type) {
      case "VoteRequest":
        return this.onVoteRequest(from, correlationId, m);
      case "VoteResponse":
        return this.onVoteResponse(from, correlationId, m);
      case "BeginQuorumEpochRequest":
        return this.onBeginQuorumEpoch(from, correlationId, m);
      case "EndQuorumEpochRequest":
        return this.onEndQuorumEpoch(from, correlationId, m);
      case "FetchRequest":
        return this.onFetchRequest(from, correlationId, m);
      case "FetchResponse":
        return this.onFetchResponse(from, correlationId, m);
      case "FetchSnapshotRequest":
        return this.onFetchSnapshotRequest(from, correlationId, m);
      case "FetchSnapshotResponse":
        return this.onFetchSnapshotResponse(from, correlationId, m);
      case "BeginQuorumEpochResponse":
      case "EndQuorumEpochResponse":
        if (m.epoch > this.election.epoch) this.observeEpoch(m.epoch, m.leaderId);
        else if (m.type === "BeginQuorumEpochResponse" && this.role.kind === "leader" && m.error === "NONE") {
          const progress = this.role.replicas.get(from);
          if (progress !== undefined && m.epoch === this.election.epoch) progress.acknowledged = true;
        }
        return;
    }
  }

  private emit(action: RaftAction): void {
    this.out.push(action);
  }

  private lastVotersEmitted: readonly Voter[] | null = null;

  /** Tells the driver the voter set in effect, when it differs from what it was last told. */
  private emitVoters(): void {
    const voters = this.voterHistory.current;
    if (this.lastVotersEmitted !== null && sameVoters(this.lastVotersEmitted, voters)) return;
    this.lastVotersEmitted = voters;
    this.emit({ type: "votersChanged", voters, kraftVersion: this.voterHistory.kraftVersion });
  }

  private send(to: NodeId, message: RaftMessage): number {
    const correlationId = this.nextCorrelationId++;
    this.emit({ type: "send", envelope: { from: this.nodeId, to, correlationId, message } });
    return correlationId;
  }

  private reply(to: NodeId, correlationId: number, message: RaftMessage): void {
    this.emit({ type: "send", envelope: { from: this.nodeId, to, correlationId, message } });
  }
}

/** Whether a voter has this replica key; a directory id unknown on either side matches any (Kafka's ReplicaKey). */
function matchesKey(voter: Voter, id: NodeId, directoryId: string | null): boolean {
  return voter.id === id && (voter.directoryId === null || directoryId === null || voter.directoryId === directoryId);
}
