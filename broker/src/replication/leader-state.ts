// What the leader of one partition knows about its followers and its ISR (ADR 24; Kafka's Partition and Replica on
// the leader side). Pure: the clock, the leader's own log end and the brokers' registrations are passed in, nothing
// here does I/O or keeps timers. The partition manager owns one per partition this node leads, feeds it follower
// fetches and metadata images, writes the high watermarks it computes into the log, and sends the ISR changes it
// proposes to the controller.

import { ErrorCode } from "../protocol/errors.ts";

/** A follower offset not known yet (Kafka's UnknownOffset): no fetch seen since this leader took over. */
export const UNKNOWN_OFFSET = -1n;
/** The broker epoch of a fetch that carries none (Fetch before v15, which has no ReplicaState). */
export const NO_BROKER_EPOCH = -1n;

/** What the leader knows about one follower, updated by its fetches. */
export interface FollowerState {
  /** The follower's log end offset: the offset of its latest fetch. UNKNOWN_OFFSET until it fetches. */
  readonly logEndOffset: bigint;
  /** The follower's log start offset, as its latest fetch carried it (for follower reads, KIP-392); UNKNOWN_OFFSET. */
  readonly logStartOffset: bigint;
  /** The last time the follower was known to have everything the leader had (see `recordFetch`). */
  readonly lastCaughtUpTimeMs: number;
  /** The leader's log end offset when the follower last fetched. */
  readonly lastFetchLeaderEndOffset: bigint;
  readonly lastFetchTimeMs: number;
  /** The broker epoch the follower's latest fetch carried; undefined before its first fetch. */
  readonly brokerEpoch: bigint | undefined;
}

/** A broker as the metadata image knows it, for ISR eligibility (KIP-903). */
export interface BrokerStatus {
  readonly epoch: bigint;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
}

/** The registered broker `id`, or undefined if it is not registered. */
export type BrokerLookup = (id: number) => BrokerStatus | undefined;

/** KIP-704's leader recovery state as the image has it: RECOVERING after an unclean election. */
export const LEADER_RECOVERING = 1;

/** The partition as the metadata image has it (the fields the leader needs). */
export interface PartitionAssignment {
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /** 0 RECOVERED (the default), 1 RECOVERING (KIP-704). */
  readonly leaderRecoveryState?: number;
}

/**
 * What an ISR change asks: add a caught-up follower, drop lagging ones, or (KIP-704) only mark the partition
 * RECOVERED, the ISR unchanged, once a leader elected uncleanly has recovered.
 */
export type IsrChangeKind = "expand" | "shrink" | "recover";

/** An ISR change sent to the controller and not yet seen committed in the image. */
export interface PendingIsrChange {
  readonly kind: IsrChangeKind;
  /** The ISR asked for. */
  readonly isr: readonly number[];
  /** The partition epoch it was proposed against. */
  readonly partitionEpoch: number;
}

/** An AlterPartition item for one partition: what the leader asks the controller to commit. */
export interface IsrProposal {
  readonly kind: IsrChangeKind;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /** The new ISR with each member's broker epoch (the fetch's, -1 if unknown; AlterPartition v3). */
  readonly newIsr: readonly { readonly brokerId: number; readonly brokerEpoch: bigint }[];
}

/** How a follower's fetch was taken. */
export type FetchVerdict =
  | { readonly ok: true; readonly endChanged: boolean }
  /** Not an assigned replica of the partition (Kafka answers UNKNOWN_LEADER_EPOCH or NOT_LEADER_OR_FOLLOWER). */
  | { readonly ok: false; readonly reason: "not-a-replica" }
  /** A fetch from an older incarnation of the broker (its epoch is below the registered one): NOT_LEADER_OR_FOLLOWER. */
  | { readonly ok: false; readonly reason: "stale-broker-epoch" };

export interface LeaderStateOptions {
  readonly localId: number;
  readonly assignment: PartitionAssignment;
  /** Where this leader's epoch starts in its log (the log end offset when it became leader). */
  readonly leaderEpochStartOffset: bigint;
  /** The log's high watermark when this node became leader (its checkpoint): the HW never goes below it. */
  readonly highWatermark: bigint;
  readonly nowMs: number;
  /** replica.lag.time.max.ms */
  readonly replicaLagTimeMaxMs: number;
}

export class LeaderState {
  readonly localId: number;
  readonly leaderEpoch: number;
  readonly leaderEpochStartOffset: bigint;
  private replicaIds: readonly number[];
  private committed: readonly number[];
  private epoch: number;
  private pendingChange: PendingIsrChange | undefined;
  private recoveringState: boolean;
  private hw: bigint;
  private readonly followerStates = new Map<number, FollowerState>();
  private readonly lagMaxMs: number;

  constructor(options: LeaderStateOptions) {
    const { assignment } = options;
    this.localId = options.localId;
    this.leaderEpoch = assignment.leaderEpoch;
    this.leaderEpochStartOffset = options.leaderEpochStartOffset;
    this.replicaIds = [...assignment.replicas];
    this.committed = withLeader([...assignment.isr], this.localId);
    this.epoch = assignment.partitionEpoch;
    this.recoveringState = assignment.leaderRecoveryState === LEADER_RECOVERING;
    this.hw = options.highWatermark;
    this.lagMaxMs = options.replicaLagTimeMaxMs;
    // A new leader counts its ISR as caught up now, and everyone else as never caught up (Kafka's
    // resetReplicaState): otherwise healthy followers would be shrunk out on the first write, and followers outside
    // the ISR would hold the high watermark back.
    for (const id of this.replicaIds) {
      if (id === this.localId) continue;
      this.followerStates.set(id, freshFollower(this.committed.includes(id) ? options.nowMs : 0));
    }
  }

  get replicas(): readonly number[] {
    return this.replicaIds;
  }

  /** The ISR last seen committed in the metadata image. */
  get committedIsr(): readonly number[] {
    return this.committed;
  }

  get partitionEpoch(): number {
    return this.epoch;
  }

  get pending(): PendingIsrChange | undefined {
    return this.pendingChange;
  }

  /** The image still has this partition RECOVERING (KIP-704): its followers do not fetch until it says RECOVERED. */
  get recovering(): boolean {
    return this.recoveringState;
  }

  get highWatermark(): bigint {
    return this.hw;
  }

  /** The committed ISR plus a pending expansion's new member: who the high watermark waits for. */
  maximalIsr(): readonly number[] {
    return this.pendingChange?.kind === "expand" ? this.pendingChange.isr : this.committed;
  }

  /** The committed ISR minus a pending shrink's leavers: who acks=all's min ISR check counts. */
  minimalIsr(): readonly number[] {
    return this.pendingChange?.kind === "shrink" ? this.pendingChange.isr : this.committed;
  }

  /** min.insync.replicas as it applies here: never more than the replication factor (Kafka's effectiveMinIsr). */
  effectiveMinIsr(minInsyncReplicas: number): number {
    return Math.min(minInsyncReplicas, this.replicaIds.length);
  }

  /** The committed ISR is smaller than min.insync.replicas; the high watermark does not move (KAFKA-15583). */
  isUnderMinIsr(minInsyncReplicas: number): boolean {
    return this.committed.length < this.effectiveMinIsr(minInsyncReplicas);
  }

  follower(id: number): FollowerState | undefined {
    return this.followerStates.get(id);
  }

  /**
   * A fetch from replica `id` at `fetchOffset`, received at `nowMs` while the leader's log ended at `leaderEndOffset`.
   * The follower counts as caught up now if it asked for everything the leader had; else as caught up at its previous
   * fetch if it now asks for everything the leader had then (so a follower of a busy leader, always a little behind,
   * still counts as in sync). `registeredEpoch` is the broker's epoch in the image: a fetch carrying an older one
   * comes from a previous incarnation and changes nothing.
   */
  recordFetch(
    id: number,
    fetch: {
      readonly fetchOffset: bigint;
      /** The follower's log start offset, when its fetch carried one. */
      readonly logStartOffset?: bigint;
      readonly leaderEndOffset: bigint;
      readonly nowMs: number;
      readonly brokerEpoch: bigint;
      readonly registeredEpoch: bigint | undefined;
    },
  ): FetchVerdict {
    const current = this.followerStates.get(id);
    if (current === undefined) return { ok: false, reason: "not-a-replica" };
    if (
      fetch.brokerEpoch !== NO_BROKER_EPOCH &&
      fetch.registeredEpoch !== undefined &&
      fetch.registeredEpoch > fetch.brokerEpoch
    ) {
      return { ok: false, reason: "stale-broker-epoch" };
    }
    let lastCaughtUpTimeMs = current.lastCaughtUpTimeMs;
    if (fetch.fetchOffset >= fetch.leaderEndOffset) {
      lastCaughtUpTimeMs = Math.max(lastCaughtUpTimeMs, fetch.nowMs);
    } else if (fetch.fetchOffset >= current.lastFetchLeaderEndOffset) {
      lastCaughtUpTimeMs = Math.max(lastCaughtUpTimeMs, current.lastFetchTimeMs);
    }
    this.followerStates.set(id, {
      logEndOffset: fetch.fetchOffset,
      logStartOffset: fetch.logStartOffset ?? current.logStartOffset,
      lastCaughtUpTimeMs,
      lastFetchLeaderEndOffset:
        fetch.leaderEndOffset > current.lastFetchLeaderEndOffset
          ? fetch.leaderEndOffset
          : current.lastFetchLeaderEndOffset,
      lastFetchTimeMs: fetch.nowMs,
      brokerEpoch: fetch.brokerEpoch,
    });
    return { ok: true, endChanged: fetch.fetchOffset !== current.logEndOffset };
  }

  /**
   * Moves the high watermark up to the smallest log end among the leader (its durable end) and the maximal ISR, also
   * waiting for followers outside the ISR that are caught up and eligible to join it (so the HW does not run past a
   * replica about to join). Never moves it down, and not at all while the committed ISR is smaller than
   * min.insync.replicas. Returns the new high watermark if it moved.
   */
  maybeAdvanceHighWatermark(
    leaderDurableEnd: bigint,
    nowMs: number,
    minInsyncReplicas: number,
    brokers: BrokerLookup,
  ): bigint | undefined {
    if (this.isUnderMinIsr(minInsyncReplicas)) return undefined;
    const maximal = this.maximalIsr();
    let candidate = leaderDurableEnd;
    for (const [id, state] of this.followerStates) {
      if (state.logEndOffset >= candidate) continue;
      if (maximal.includes(id) || (this.caughtUp(state, leaderDurableEnd, nowMs) && this.isrEligible(id, brokers))) {
        candidate = state.logEndOffset;
      }
    }
    if (candidate <= this.hw) return undefined;
    this.hw = candidate;
    return candidate;
  }

  /**
   * The followers of the committed ISR that are out of sync: behind the leader's end and not caught up for longer
   * than replica.lag.time.max.ms. Nothing while an ISR change is pending.
   */
  outOfSyncReplicas(leaderEndOffset: bigint, nowMs: number): number[] {
    if (this.pendingChange !== undefined) return [];
    return this.committed.filter((id) => {
      if (id === this.localId) return false;
      const state = this.followerStates.get(id);
      return state === undefined || !this.caughtUp(state, leaderEndOffset, nowMs);
    });
  }

  /** A shrink of the ISR to drop the out-of-sync followers, made pending; undefined if there is none to make. */
  proposeShrink(leaderEndOffset: bigint, nowMs: number, localBrokerEpoch: bigint): IsrProposal | undefined {
    const out = this.outOfSyncReplicas(leaderEndOffset, nowMs);
    if (out.length === 0) return undefined;
    return this.propose(
      "shrink",
      this.committed.filter((id) => !out.includes(id)),
      localBrokerEpoch,
    );
  }

  /**
   * An expansion of the ISR by follower `id`, made pending, if it has caught up: its log end is at least the high
   * watermark and the start of this leader's epoch, and it is registered, unfenced, not shutting down, and fetched
   * with its registered broker epoch (KIP-903). Undefined otherwise, or while another change is pending.
   */
  proposeExpansion(id: number, brokers: BrokerLookup, localBrokerEpoch: bigint): IsrProposal | undefined {
    if (this.pendingChange !== undefined || this.committed.includes(id)) return undefined;
    const state = this.followerStates.get(id);
    if (state === undefined) return undefined;
    if (state.logEndOffset < this.hw || state.logEndOffset < this.leaderEpochStartOffset) return undefined;
    if (!this.isrEligible(id, brokers)) return undefined;
    return this.propose("expand", [...this.committed, id], localBrokerEpoch);
  }

  /**
   * KIP-704: a partition led here after an unclean election is RECOVERING in the image until its leader says it has
   * recovered. This leader has once it leads: its log is loaded and its epoch started (Kafka's leader marks itself
   * RECOVERED in makeLeader too), so it proposes the committed ISR unchanged as RECOVERED. Undefined when the
   * partition is not RECOVERING or another change is pending.
   */
  proposeRecovered(localBrokerEpoch: bigint): IsrProposal | undefined {
    if (!this.recoveringState || this.pendingChange !== undefined) return undefined;
    return this.propose("recover", this.committed, localBrokerEpoch);
  }

  /**
   * The controller's answer to the pending change proposed against `proposal`. OPERATION_NOT_ATTEMPTED and
   * INELIGIBLE_REPLICA say the change was not applied, so it is dropped and may be proposed again. The errors that
   * mean this leader's view is stale (fenced leader epoch, old partition epoch, unknown partition, invalid request,
   * new leader elected) keep it pending until the image shows the partition's new state. Success also waits for the
   * image: only a committed change is applied. Returns "retry" for other errors, which are transient.
   */
  proposalAnswered(proposal: IsrProposal, errorCode: number): "done" | "retry" {
    const pending = this.pendingChange;
    // An answer for a change this state no longer waits for (the image overtook it).
    if (pending === undefined || pending.partitionEpoch !== proposal.partitionEpoch || pending.kind !== proposal.kind)
      return "done";
    switch (errorCode) {
      case ErrorCode.NONE:
      case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      case ErrorCode.UNKNOWN_TOPIC_ID:
      case ErrorCode.FENCED_LEADER_EPOCH:
      case ErrorCode.INVALID_UPDATE_VERSION:
      case ErrorCode.INVALID_REQUEST:
      case ErrorCode.NEW_LEADER_ELECTED:
        return "done";
      case ErrorCode.OPERATION_NOT_ATTEMPTED:
      case ErrorCode.INELIGIBLE_REPLICA:
        this.pendingChange = undefined;
        return "done";
      default:
        return "retry";
    }
  }

  /**
   * The partition as a newer image has it, in the same leader epoch: its committed ISR, replicas and partition epoch.
   * An image older than what this state knows is ignored. A pending change is settled by any newer partition epoch,
   * whether it committed the change or something else (then the controller refuses the change as stale anyway).
   * Returns whether the state changed.
   */
  applyAssignment(assignment: PartitionAssignment): boolean {
    if (assignment.leaderEpoch !== this.leaderEpoch || assignment.partitionEpoch <= this.epoch) return false;
    this.epoch = assignment.partitionEpoch;
    this.committed = withLeader([...assignment.isr], this.localId);
    this.recoveringState = assignment.leaderRecoveryState === LEADER_RECOVERING;
    if (this.pendingChange !== undefined && this.pendingChange.partitionEpoch < assignment.partitionEpoch)
      this.pendingChange = undefined;
    this.replicaIds = [...assignment.replicas];
    for (const id of [...this.followerStates.keys()]) if (!this.replicaIds.includes(id)) this.followerStates.delete(id);
    for (const id of this.replicaIds) {
      if (id !== this.localId && !this.followerStates.has(id)) this.followerStates.set(id, freshFollower(0));
    }
    return true;
  }

  /** The leader's HW dropped with its log (a truncation below it, which a leader only sees from outside). */
  clampHighWatermark(logEndOffset: bigint): void {
    if (this.hw > logEndOffset) this.hw = logEndOffset;
  }

  private propose(kind: IsrChangeKind, isr: readonly number[], localBrokerEpoch: bigint): IsrProposal {
    this.pendingChange = { kind, isr, partitionEpoch: this.epoch };
    return {
      kind,
      leaderEpoch: this.leaderEpoch,
      partitionEpoch: this.epoch,
      newIsr: isr.map((brokerId) => ({
        brokerId,
        brokerEpoch:
          brokerId === this.localId
            ? localBrokerEpoch
            : (this.followerStates.get(brokerId)?.brokerEpoch ?? NO_BROKER_EPOCH),
      })),
    };
  }

  private caughtUp(state: FollowerState, leaderEndOffset: bigint, nowMs: number): boolean {
    return state.logEndOffset === leaderEndOffset || nowMs - state.lastCaughtUpTimeMs <= this.lagMaxMs;
  }

  /** KIP-903: only a live, registered broker whose fetches carry its current epoch (or none) may join the ISR. */
  private isrEligible(id: number, brokers: BrokerLookup): boolean {
    const broker = brokers(id);
    const fetched = this.followerStates.get(id)?.brokerEpoch;
    if (broker === undefined || fetched === undefined) return false;
    if (broker.fenced || broker.inControlledShutdown) return false;
    return fetched === NO_BROKER_EPOCH || fetched === broker.epoch;
  }
}

function freshFollower(lastCaughtUpTimeMs: number): FollowerState {
  return {
    logEndOffset: UNKNOWN_OFFSET,
    logStartOffset: UNKNOWN_OFFSET,
    lastCaughtUpTimeMs,
    lastFetchLeaderEndOffset: UNKNOWN_OFFSET,
    lastFetchTimeMs: 0,
    brokerEpoch: undefined,
  };
}

/** The ISR as the leader sees it always holds the leader (an image may briefly say otherwise during an election). */
function withLeader(isr: number[], leader: number): readonly number[] {
  return isr.includes(leader) ? isr : [leader, ...isr];
}
