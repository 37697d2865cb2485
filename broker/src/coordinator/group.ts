import { Reader } from "../protocol/primitives/index.ts";
import type { Cancel } from "./scheduler.ts";
import type { GroupProtocol, GroupState, JoinGroupResult, SyncGroupResult } from "./types.ts";

const EMPTY = Buffer.alloc(0);

/** One member of a classic group and the requests it has parked at the coordinator. */
export class Member {
  assignment: Buffer = EMPTY;
  /** Resolves the member's parked JoinGroup; null while none is parked. */
  joinWaiter: ((result: JoinGroupResult) => void) | null = null;
  /** Resolves the member's parked SyncGroup; null while none is parked. */
  syncWaiter: ((result: SyncGroupResult) => void) | null = null;
  /**
   * A member added by the rebalance in progress. It cannot heartbeat before its join completes, so it is expired by
   * the new-member join timeout rather than kept alive by the rebalance.
   */
  isNew = false;
  heartbeatCancel: Cancel | null = null;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    public protocolType: string,
    public protocols: readonly GroupProtocol[],
  ) {}

  get awaitingJoin(): boolean {
    return this.joinWaiter !== null;
  }

  get awaitingSync(): boolean {
    return this.syncWaiter !== null;
  }

  metadataFor(protocolName: string): Buffer {
    return this.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY;
  }

  /** Same protocols with the same metadata, in the same order: rejoining with them changes nothing. */
  matches(protocols: readonly GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => {
      const mine = this.protocols[i];
      return mine !== undefined && mine.name === p.name && mine.metadata.equals(p.metadata);
    });
  }

  /** The member's most preferred protocol among the candidates. */
  vote(candidates: ReadonlySet<string>): string {
    const choice = this.protocols.find((p) => candidates.has(p.name));
    if (choice === undefined) throw new Error(`member ${this.memberId} supports none of the candidate protocols`);
    return choice.name;
  }

  resolveJoin(result: JoinGroupResult): boolean {
    const waiter = this.joinWaiter;
    if (waiter === null) return false;
    this.joinWaiter = null;
    waiter(result);
    return true;
  }

  resolveSync(result: SyncGroupResult): boolean {
    const waiter = this.syncWaiter;
    if (waiter === null) return false;
    this.syncWaiter = null;
    waiter(result);
    return true;
  }
}

export interface StoredOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  expireTimestamp: number | null;
}

export function partitionKey(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}

/** Membership, generation and offsets of one classic group; the protocol logic lives in the coordinator. */
export class ClassicGroup {
  state: GroupState = "Empty";
  stateTimestamp: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → current member id. */
  readonly staticMembers = new Map<string, string>();
  /** Members told MEMBER_ID_REQUIRED and not yet back, with their session expiry. */
  readonly pendingMembers = new Map<string, Cancel>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  /** Protocol name → how many members support it, so the common protocols are cheap to check. */
  private readonly protocolSupport = new Map<string, number>();
  /** Set when a member joins during the first rebalance, to extend the initial rebalance delay. */
  newMemberAdded = false;
  /** The rebalance (join phase) deadline; null when no rebalance is pending. */
  joinTimer: Cancel | null = null;
  /** True while the initial rebalance delay holds the join phase open regardless of who has joined. */
  inInitialDelay = false;
  syncTimer: Cancel | null = null;

  /**
   * Topics the members of a "consumer" group subscribe to, read from their subscriptions when a generation starts;
   * null when unknown (another protocol type, or metadata that does not parse). Offset expiry uses it.
   */
  subscribedTopics: Set<string> | null = null;

  readonly offsets = new Map<string, { topic: string; partition: number; value: StoredOffset }>();
  /** Partitions with a commit being written, for OffsetFetch requireStable. */
  readonly pendingOffsetCommits = new Map<string, number>();
  /**
   * Partitions with commits written to the log (or on their way there) whose change has not applied yet, committed
   * or not: they precede anything written after them in the log, so DeleteGroups tombstones them too.
   */
  readonly unappliedOffsetWrites = new Map<string, { topic: string; partition: number; writes: number }>();

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.stateTimestamp = now;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, now: number): void {
    this.state = state;
    this.stateTimestamp = now;
  }

  get canRebalance(): boolean {
    return this.state === "Stable" || this.state === "CompletingRebalance" || this.state === "Empty";
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  add(member: Member): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    this.countProtocols(member, 1);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.leaderId ??= member.memberId;
  }

  remove(memberId: string): Member | undefined {
    const member = this.members.get(memberId);
    if (member === undefined) return undefined;
    this.members.delete(memberId);
    this.countProtocols(member, -1);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    this.pendingSyncMembers.delete(memberId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return member;
  }

  updateProtocols(member: Member, protocols: readonly GroupProtocol[]): void {
    this.countProtocols(member, -1);
    member.protocols = protocols;
    this.countProtocols(member, 1);
  }

  /** A static member's new id takes over the old member's place (including leadership) with all its state. */
  replaceStaticMember(member: Member, newMemberId: string): void {
    const oldMemberId = member.memberId;
    this.members.delete(oldMemberId);
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, newMemberId);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
  }

  private countProtocols(member: Member, delta: number): void {
    for (const p of member.protocols) {
      const count = (this.protocolSupport.get(p.name) ?? 0) + delta;
      if (count === 0) this.protocolSupport.delete(p.name);
      else this.protocolSupport.set(p.name, count);
    }
  }

  /** Whether a member with this type and these protocols may be in the group. */
  supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocols.length > 0;
    return (
      this.protocolType === protocolType &&
      protocols.some((p) => (this.protocolSupport.get(p.name) ?? 0) === this.members.size)
    );
  }

  private candidateProtocols(): Set<string> {
    const all = new Set<string>();
    for (const [name, count] of this.protocolSupport) if (count === this.members.size) all.add(name);
    return all;
  }

  /**
   * Kafka's vote: every member votes for its most preferred protocol among those all members support; the most votes
   * win. Kafka leaves ties to hash order; here the tie goes to the protocol the leader prefers, so the choice is
   * deterministic.
   */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const choice = member.vote(candidates);
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId);
    const preference = (leader ?? this.members.values().next().value)?.protocols.map((p) => p.name) ?? [];
    let best: string | null = null;
    let bestVotes = -1;
    for (const name of preference) {
      const count = votes.get(name) ?? 0;
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    if (best === null) throw new Error(`group ${this.groupId} has no protocol in common`);
    return best;
  }

  /** Every member has a parked JoinGroup and no member is still to come back after MEMBER_ID_REQUIRED. */
  get allMembersJoined(): boolean {
    for (const member of this.members.values()) if (!member.awaitingJoin) return false;
    return this.pendingMembers.size === 0;
  }

  /** The largest rebalance timeout among the members bounds the join and sync phases. */
  get rebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }

  /** If the leader did not rejoin, any member that did takes over; false when nobody rejoined. */
  electJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    if (this.members.get(this.leaderId)?.awaitingJoin === true) return true;
    for (const member of this.members.values()) {
      if (member.awaitingJoin) {
        this.leaderId = member.memberId;
        return true;
      }
    }
    return false;
  }

  initNextGeneration(now: number): void {
    this.generationId += 1;
    this.pendingSyncMembers.clear();
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.transitionTo("CompletingRebalance", now);
    } else {
      this.protocolName = null;
      this.transitionTo("Empty", now);
    }
    this.subscribedTopics = this.computeSubscribedTopics();
  }

  /** The union of the members' ConsumerProtocolSubscription topics (every version starts with them). */
  computeSubscribedTopics(): Set<string> | null {
    if (this.protocolType !== "consumer" || this.protocolName === null || this.members.size === 0) return null;
    const topics = new Set<string>();
    try {
      for (const member of this.members.values()) {
        const r = new Reader(member.metadataFor(this.protocolName));
        r.int16();
        const count = r.arrayLength();
        for (let i = 0; i < count; i++) topics.add(r.string());
      }
    } catch {
      return null;
    }
    return topics;
  }

  memberMetadata(): { memberId: string; groupInstanceId: string | null; metadata: Buffer }[] {
    const protocol = this.protocolName ?? "";
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadataFor(protocol),
    }));
  }
}
