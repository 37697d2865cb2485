import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { ErrorCode, storeErrorCode } from "./errors.ts";
import { ClassicGroup, Member, partitionKey } from "./group.ts";
import type { StoredOffset } from "./group.ts";
import { computeLag } from "./lag.ts";
import type { LogEndOffsets, PartitionLag } from "./lag.ts";
import {
  decodeGroupMetadataValue,
  decodeKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
} from "./records.ts";
import type { GroupMetadataValue } from "./records.ts";
import { systemScheduler } from "./scheduler.ts";
import type { Cancel, Scheduler } from "./scheduler.ts";
import type { GroupStore, GroupStoreRecord } from "./store.ts";
import type {
  CommittedOffset,
  DeleteGroupResult,
  GroupDescription,
  HeartbeatRequest,
  JoinGroupRequest,
  JoinGroupResult,
  LeaveGroupRequest,
  LeaveGroupResult,
  ListGroupsRequest,
  ListedGroup,
  OffsetCommitPartitionResult,
  OffsetCommitRequest,
  OffsetFetchPartitionResult,
  OffsetFetchRequest,
  OffsetFetchResult,
  SyncGroupRequest,
  SyncGroupResult,
} from "./types.ts";

/** The broker settings the coordinator obeys, under Kafka's names and with Kafka's defaults. */
export interface GroupCoordinatorConfig {
  /** group.min.session.timeout.ms */
  minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms */
  maxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms */
  initialRebalanceDelayMs: number;
  /** offsets.retention.minutes × 60000 */
  offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number;
  /** offset.metadata.max.bytes (compared, as Kafka does, with the string's length) */
  offsetMetadataMaxBytes: number;
  /** How long a new member's JoinGroup may stay parked before the member is dropped (Kafka: 5 minutes). */
  newMemberJoinTimeoutMs: number;
}

export const defaultGroupCoordinatorConfig: Readonly<GroupCoordinatorConfig> = {
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetMetadataMaxBytes: 4096,
  newMemberJoinTimeoutMs: 300_000,
};

export interface GroupCoordinatorOptions {
  store: GroupStore;
  logger: Logger;
  scheduler?: Scheduler;
  config?: Partial<GroupCoordinatorConfig>;
  /** Makes the random part of new member ids; tests pin it. */
  newUuid?: () => string;
}

type Status = "loading" | "active" | "stopped";

const EMPTY = Buffer.alloc(0);

function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: "",
    skipAssignment: false,
    memberId,
    members: [],
  };
}

function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/**
 * Kafka's classic group coordinator (GroupCoordinator / ClassicGroup semantics) for every group of this broker, over
 * domain types: request handlers translate the wire messages. Offsets and group metadata are written to a
 * `GroupStore` in `__consumer_offsets` formats and read back by `start()`.
 *
 * Calls made before `start()` has finished answer COORDINATOR_LOAD_IN_PROGRESS; after `shutdown()`,
 * COORDINATOR_NOT_AVAILABLE.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly store: GroupStore;
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  private readonly config: GroupCoordinatorConfig;
  private readonly newUuid: () => string;
  private status: Status = "loading";
  private retentionTimer: Cancel | null = null;

  constructor(options: GroupCoordinatorOptions) {
    this.store = options.store;
    this.log = options.logger;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.config = { ...defaultGroupCoordinatorConfig, ...options.config };
    this.newUuid = options.newUuid ?? randomUUID;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Replays the store into memory, then serves requests and starts the periodic offset expiry. */
  async start(): Promise<void> {
    if (this.status !== "loading") throw new Error("the group coordinator can start only once");
    const groupValues = new Map<string, GroupMetadataValue>();
    const offsets = new Map<string, Map<string, { topic: string; partition: number; value: StoredOffset }>>();
    let records = 0;
    for await (const record of this.store.replay()) {
      records += 1;
      try {
        this.replayRecord(record, groupValues, offsets);
      } catch (err) {
        this.log.error({ err }, "skipping an unreadable __consumer_offsets record");
      }
    }
    // Tombstones can leave a group with an empty offset map; such a group was deleted or expired.
    const withOffsets = [...offsets].filter(([, entries]) => entries.size > 0).map(([groupId]) => groupId);
    for (const groupId of new Set([...groupValues.keys(), ...withOffsets])) {
      const group = this.loadGroup(groupId, groupValues.get(groupId));
      for (const [key, entry] of offsets.get(groupId) ?? []) group.offsets.set(key, entry);
    }
    this.status = "active";
    this.scheduleRetentionCheck();
    this.log.info({ groups: this.groups.size, records }, "group coordinator loaded");
  }

  /**
   * Stops every timer and answers every parked JoinGroup and SyncGroup with NOT_COORDINATOR, so clients look for the
   * coordinator again; later calls answer COORDINATOR_NOT_AVAILABLE.
   */
  shutdown(): void {
    if (this.status === "stopped") return;
    this.status = "stopped";
    this.retentionTimer?.();
    this.retentionTimer = null;
    for (const group of this.groups.values()) this.unload(group, ErrorCode.NOT_COORDINATOR);
    this.groups.clear();
  }

  private replayRecord(
    record: GroupStoreRecord,
    groupValues: Map<string, GroupMetadataValue>,
    offsets: Map<string, Map<string, { topic: string; partition: number; value: StoredOffset }>>,
  ): void {
    const key = decodeKey(record.key);
    if (key === null) return;
    if (key.kind === "group") {
      if (record.value === null) groupValues.delete(key.groupId);
      else groupValues.set(key.groupId, decodeGroupMetadataValue(record.value));
      return;
    }
    const pkey = partitionKey(key.topic, key.partition);
    if (record.value === null) {
      offsets.get(key.groupId)?.delete(pkey);
      return;
    }
    let group = offsets.get(key.groupId);
    if (group === undefined) {
      group = new Map<string, { topic: string; partition: number; value: StoredOffset }>();
      offsets.set(key.groupId, group);
    }
    group.set(pkey, { topic: key.topic, partition: key.partition, value: decodeOffsetCommitValue(record.value) });
  }

  /** As Kafka loads a group: Stable with its stored members if it has any, whose sessions then start afresh. */
  private loadGroup(groupId: string, value: GroupMetadataValue | undefined): ClassicGroup {
    const group = new ClassicGroup(groupId, this.scheduler.now());
    this.groups.set(groupId, group);
    if (value === undefined) return group;
    group.generationId = value.generationId;
    group.protocolType = value.protocolType === "" ? null : value.protocolType;
    group.protocolName = value.protocolName;
    for (const m of value.members) {
      const protocols = [{ name: value.protocolName ?? "", metadata: m.subscription }];
      const member = new Member(
        m.memberId,
        m.groupInstanceId,
        m.clientId,
        m.clientHost,
        m.rebalanceTimeoutMs,
        m.sessionTimeoutMs,
        value.protocolType,
        protocols,
      );
      member.assignment = m.assignment;
      group.add(member);
      this.scheduleHeartbeat(group, member);
    }
    group.protocolType = value.protocolType === "" ? null : value.protocolType;
    if (value.leader !== null && group.has(value.leader)) group.leaderId = value.leader;
    group.transitionTo(group.members.size > 0 ? "Stable" : "Empty", value.currentStateTimestamp);
    group.subscribedTopics = group.computeSubscribedTopics();
    return group;
  }

  private inactiveError(): number | null {
    if (this.status === "loading") return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (this.status === "stopped") return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return null;
  }

  /** Answers what is parked, stops the group's timers and marks it Dead. */
  private unload(group: ClassicGroup, errorCode: number): void {
    group.joinTimer?.();
    group.joinTimer = null;
    group.syncTimer?.();
    group.syncTimer = null;
    for (const cancel of group.pendingMembers.values()) cancel();
    group.pendingMembers.clear();
    for (const member of group.members.values()) {
      member.heartbeatCancel?.();
      member.heartbeatCancel = null;
      member.resolveJoin(joinError(member.memberId, errorCode));
      member.resolveSync(syncError(errorCode));
    }
    group.transitionTo("Dead", this.scheduler.now());
  }

  // ---------------------------------------------------------------- JoinGroup

  /**
   * JoinGroup. Resolves when the member's join phase ends: at once for errors, MEMBER_ID_REQUIRED and rejoins that
   * change nothing; otherwise when the rebalance completes (everyone rejoined, or the rebalance timeout passed).
   */
  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    const inactive = this.inactiveError();
    if (inactive !== null) return Promise.resolve(joinError(request.memberId, inactive));
    if (request.groupId === "") return Promise.resolve(joinError(request.memberId, ErrorCode.INVALID_GROUP_ID));
    if (
      request.sessionTimeoutMs < this.config.minSessionTimeoutMs ||
      request.sessionTimeoutMs > this.config.maxSessionTimeoutMs
    ) {
      return Promise.resolve(joinError(request.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = request.memberId === "";
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      if (!isUnknownMember) return Promise.resolve(joinError(request.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      group = new ClassicGroup(request.groupId, this.scheduler.now());
      this.groups.set(request.groupId, group);
    }
    const joining = group;
    return new Promise<JoinGroupResult>((resolve) => {
      if (isUnknownMember) this.joinNewMember(joining, request, resolve);
      else this.joinCurrentMember(joining, request, resolve);
      this.dropIfUnused(joining);
    });
  }

  private rebalanceTimeoutOf(request: JoinGroupRequest): number {
    return request.rebalanceTimeoutMs < 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs;
  }

  private joinNewMember(
    group: ClassicGroup,
    request: JoinGroupRequest,
    resolve: (result: JoinGroupResult) => void,
  ): void {
    if (group.is("Dead")) return resolve(joinError("", ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(request.protocolType, request.protocols)) {
      return resolve(joinError("", ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const memberId = `${request.clientId}-${this.newUuid()}`;
    if (request.groupInstanceId !== null) {
      const existing = group.staticMembers.get(request.groupInstanceId);
      const member = existing === undefined ? undefined : group.members.get(existing);
      if (member === undefined) this.addMemberAndRebalance(group, memberId, request, resolve);
      else this.replaceStaticMember(group, member, memberId, request, resolve);
      return;
    }
    if (request.requireKnownMemberId) {
      // KIP-394: the id is remembered for one session timeout; the rebalance waits for the member to come back with it.
      const cancel = this.scheduler.schedule(request.sessionTimeoutMs, () => {
        this.log.info({ groupId: group.groupId, memberId }, "pending member expired before rejoining");
        this.removePendingMember(group, memberId);
      });
      group.pendingMembers.set(memberId, cancel);
      return resolve(joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED));
    }
    this.addMemberAndRebalance(group, memberId, request, resolve);
  }

  private joinCurrentMember(
    group: ClassicGroup,
    request: JoinGroupRequest,
    resolve: (result: JoinGroupResult) => void,
  ): void {
    const memberId = request.memberId;
    if (group.is("Dead")) return resolve(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(request.protocolType, request.protocols)) {
      return resolve(joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    if (group.pendingMembers.has(memberId)) {
      // Static members never get MEMBER_ID_REQUIRED, so an instance id here means a confused client.
      if (request.groupInstanceId !== null) return resolve(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      return this.addMemberAndRebalance(group, memberId, request, resolve);
    }
    const invalid = this.validateCurrentMember(group, memberId, request.groupInstanceId);
    if (invalid !== null) return resolve(joinError(memberId, invalid));
    const member = group.members.get(memberId);
    if (member === undefined) return resolve(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    switch (group.state) {
      case "PreparingRebalance":
        return this.updateMemberAndRebalance(group, member, request, resolve);
      case "CompletingRebalance":
        // A retried JoinGroup of this generation gets the same answer again.
        if (member.matches(request.protocols)) return resolve(this.currentJoinResult(group, member, false));
        return this.updateMemberAndRebalance(group, member, request, resolve);
      case "Stable":
        // The leader rejoins to make the group reassign (e.g. new topics matched its subscription).
        if (group.isLeader(memberId) || !member.matches(request.protocols)) {
          return this.updateMemberAndRebalance(group, member, request, resolve);
        }
        return resolve(this.currentJoinResult(group, member, false));
      case "Empty":
      case "Dead":
        return resolve(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private currentJoinResult(group: ClassicGroup, member: Member, skipAssignment: boolean): JoinGroupResult {
    const isLeader = group.isLeader(member.memberId);
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? "",
      skipAssignment: skipAssignment && isLeader,
      memberId: member.memberId,
      members: isLeader ? group.memberMetadata() : [],
    };
  }

  private addMemberAndRebalance(
    group: ClassicGroup,
    memberId: string,
    request: JoinGroupRequest,
    resolve: (result: JoinGroupResult) => void,
  ): void {
    const member = new Member(
      memberId,
      request.groupInstanceId,
      request.clientId,
      request.clientHost,
      this.rebalanceTimeoutOf(request),
      request.sessionTimeoutMs,
      request.protocolType,
      request.protocols,
    );
    member.isNew = true;
    member.joinWaiter = resolve;
    if (group.is("PreparingRebalance") && group.generationId === 0) group.newMemberAdded = true;
    group.add(member);
    const pending = group.pendingMembers.get(memberId);
    if (pending !== undefined) {
      pending();
      group.pendingMembers.delete(memberId);
    }
    // A new member cannot heartbeat while its join is parked; this bounds how long a vanished client stays.
    this.scheduleHeartbeat(group, member, this.config.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(group, `member ${memberId} joined`);
    this.tryCompleteJoin(group);
  }

  private updateMemberAndRebalance(
    group: ClassicGroup,
    member: Member,
    request: JoinGroupRequest,
    resolve: (result: JoinGroupResult) => void,
  ): void {
    // Only one JoinGroup per member can be parked; an older one belongs to a request the client gave up on.
    member.resolveJoin(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    this.updateMember(group, member, request);
    member.joinWaiter = resolve;
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined`);
    this.tryCompleteJoin(group);
  }

  private updateMember(group: ClassicGroup, member: Member, request: JoinGroupRequest): void {
    group.updateProtocols(member, request.protocols);
    member.rebalanceTimeoutMs = this.rebalanceTimeoutOf(request);
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
  }

  /**
   * A static member came back under a new member id (a restarted client). It takes over the old member's place; the
   * old id is fenced. A stable group whose protocol choice stays the same keeps its generation and assignment.
   */
  private replaceStaticMember(
    group: ClassicGroup,
    member: Member,
    newMemberId: string,
    request: JoinGroupRequest,
    resolve: (result: JoinGroupResult) => void,
  ): void {
    const oldMemberId = member.memberId;
    member.resolveJoin(joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    member.resolveSync(syncError(ErrorCode.FENCED_INSTANCE_ID));
    group.replaceStaticMember(member, newMemberId);
    this.updateMember(group, member, request);
    member.joinWaiter = resolve;
    this.scheduleHeartbeat(group, member);
    this.log.info(
      { groupId: group.groupId, groupInstanceId: request.groupInstanceId, oldMemberId, newMemberId },
      "static member replaced",
    );
    switch (group.state) {
      case "Stable": {
        if (group.protocolName !== group.selectProtocol()) {
          this.maybePrepareRebalance(group, `static member ${newMemberId} changed the group's protocol`);
          return;
        }
        const generationId = group.generationId;
        const skip = request.supportSkippingAssignment === true;
        this.persistGroup(group, true).then(
          () => {
            // A rebalance that began meanwhile answers the parked join itself.
            if (group.is("Stable") && group.generationId === generationId) {
              member.resolveJoin(this.currentJoinResult(group, member, skip));
            }
          },
          (err: unknown) => {
            this.log.warn({ err, groupId: group.groupId }, "could not store the replaced static member");
            member.resolveJoin(joinError(newMemberId, storeErrorCode(err)));
          },
        );
        return;
      }
      case "CompletingRebalance":
        // The leader may be assigning to the old member id; a fresh rebalance gets the new id an assignment.
        this.prepareRebalance(group, `static member ${newMemberId} rejoined during the sync phase`);
        return;
      case "PreparingRebalance":
        this.tryCompleteJoin(group);
        return;
      case "Empty":
      case "Dead":
        // A group with members is never Empty, and a Dead group was refused before.
        throw new Error(`static member replaced in a ${group.state} group`);
    }
  }

  private maybePrepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.canRebalance) this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.is("CompletingRebalance")) this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    group.syncTimer?.();
    group.syncTimer = null;
    const wasEmpty = group.is("Empty");
    group.transitionTo("PreparingRebalance", this.scheduler.now());
    this.log.info({ groupId: group.groupId, generationId: group.generationId, reason }, "preparing to rebalance group");
    const delay = this.config.initialRebalanceDelayMs;
    if (wasEmpty && delay > 0) {
      group.inInitialDelay = true;
      this.scheduleInitialDelay(group, delay, Math.max(group.rebalanceTimeoutMs - delay, 0));
      return;
    }
    group.joinTimer = this.scheduler.schedule(group.rebalanceTimeoutMs, () => this.completeJoin(group));
    this.tryCompleteJoin(group);
  }

  /**
   * group.initial.rebalance.delay.ms: the first rebalance of an empty group waits, and each member that joins in the
   * meantime extends the wait by another delay, never past the rebalance timeout (Kafka's InitialDelayedJoin).
   */
  private scheduleInitialDelay(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    group.joinTimer = this.scheduler.schedule(delayMs, () => {
      group.joinTimer = null;
      if (group.newMemberAdded && remainingMs !== 0) {
        group.newMemberAdded = false;
        const nextDelay = Math.min(this.config.initialRebalanceDelayMs, remainingMs);
        this.scheduleInitialDelay(group, nextDelay, Math.max(remainingMs - delayMs, 0));
        return;
      }
      this.completeJoin(group);
    });
  }

  private tryCompleteJoin(group: ClassicGroup): void {
    if (group.is("PreparingRebalance") && !group.inInitialDelay && group.allMembersJoined) this.completeJoin(group);
  }

  /** The join phase ends: members that did not rejoin in time are dropped and the next generation starts. */
  private completeJoin(group: ClassicGroup): void {
    group.joinTimer?.();
    group.joinTimer = null;
    group.inInitialDelay = false;
    if (!group.is("PreparingRebalance")) return;
    for (const member of [...group.members.values()]) {
      // Static members are kept: their session timeout decides, so a slow restart does not cost a rebalance.
      if (!member.awaitingJoin && member.groupInstanceId === null) {
        this.log.info({ groupId: group.groupId, memberId: member.memberId }, "member did not rejoin in time");
        this.dropMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID);
      }
    }
    if (!group.electJoinedLeader() && group.members.size > 0) {
      // Only static members that have not rejoined are left; wait for them or for their session timeouts.
      group.joinTimer = this.scheduler.schedule(group.rebalanceTimeoutMs, () => this.completeJoin(group));
      return;
    }
    group.initNextGeneration(this.scheduler.now());
    if (group.is("Empty")) {
      this.log.info({ groupId: group.groupId, generationId: group.generationId }, "group is now empty");
      this.persistGroup(group, false).catch((err: unknown) => {
        this.log.warn({ err, groupId: group.groupId }, "could not store the empty group");
      });
      return;
    }
    this.log.info(
      {
        groupId: group.groupId,
        generationId: group.generationId,
        protocolName: group.protocolName,
        members: group.members.size,
      },
      "group rebalanced",
    );
    for (const member of group.members.values()) {
      member.resolveJoin(this.currentJoinResult(group, member, false));
      this.scheduleHeartbeat(group, member);
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
    }
    this.schedulePendingSync(group);
  }

  /** Members that do not send SyncGroup within the rebalance timeout are dropped and the group rebalances. */
  private schedulePendingSync(group: ClassicGroup): void {
    group.syncTimer?.();
    const generationId = group.generationId;
    group.syncTimer = this.scheduler.schedule(group.rebalanceTimeoutMs, () => {
      group.syncTimer = null;
      if (!(group.is("CompletingRebalance") || group.is("Stable")) || group.generationId !== generationId) return;
      if (group.pendingSyncMembers.size === 0) return;
      for (const memberId of [...group.pendingSyncMembers]) {
        const member = group.members.get(memberId);
        this.log.info({ groupId: group.groupId, memberId }, "member did not sync in time");
        if (member !== undefined) this.dropMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID);
      }
      this.prepareRebalance(group, "members did not sync in time");
    });
  }

  private removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0) {
      group.syncTimer?.();
      group.syncTimer = null;
    }
  }

  private removePendingMember(group: ClassicGroup, memberId: string): void {
    const cancel = group.pendingMembers.get(memberId);
    if (cancel === undefined) return;
    cancel();
    group.pendingMembers.delete(memberId);
    this.tryCompleteJoin(group);
    this.dropIfUnused(group);
  }

  /** Takes a member out without starting a rebalance; whatever it had parked is answered with `errorCode`. */
  private dropMember(group: ClassicGroup, member: Member, errorCode: number): void {
    member.heartbeatCancel?.();
    member.heartbeatCancel = null;
    member.resolveJoin(joinError(member.memberId, errorCode));
    member.resolveSync(syncError(errorCode));
    group.remove(member.memberId);
  }

  /** A member left or timed out: the rest of the group rebalances without it. */
  private removeMemberAndUpdateGroup(group: ClassicGroup, member: Member, reason: string): void {
    this.dropMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID);
    switch (group.state) {
      case "Stable":
      case "CompletingRebalance":
        this.maybePrepareRebalance(group, reason);
        return;
      case "PreparingRebalance":
        this.tryCompleteJoin(group);
        return;
      case "Empty":
      case "Dead":
        return;
    }
  }

  /** A group that a failed first join created and nothing else uses is forgotten, so it never shows in ListGroups. */
  private dropIfUnused(group: ClassicGroup): void {
    if (
      group.is("Empty") &&
      group.generationId === 0 &&
      group.members.size === 0 &&
      group.pendingMembers.size === 0 &&
      group.offsets.size === 0 &&
      group.pendingOffsetCommits.size === 0 &&
      this.groups.get(group.groupId) === group
    ) {
      this.groups.delete(group.groupId);
    }
  }

  private validateCurrentMember(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number | null {
    if (groupInstanceId !== null) {
      const current = group.staticMembers.get(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    return group.has(memberId) ? null : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  // ---------------------------------------------------------------- sessions

  /**
   * (Re)arms the member's session. When it fires, a member parked in a rebalance is kept (the rebalance and sync
   * timeouts bound it), except a new member, which cannot heartbeat yet and has only the new-member join timeout.
   */
  private scheduleHeartbeat(group: ClassicGroup, member: Member, timeoutMs = member.sessionTimeoutMs): void {
    member.heartbeatCancel?.();
    member.heartbeatCancel = this.scheduler.schedule(timeoutMs, () => {
      member.heartbeatCancel = null;
      if (group.is("Dead") || group.members.get(member.memberId) !== member) return;
      if (!member.isNew && (member.awaitingJoin || member.awaitingSync)) {
        this.scheduleHeartbeat(group, member);
        return;
      }
      this.log.info({ groupId: group.groupId, memberId: member.memberId }, "member session expired");
      this.removeMemberAndUpdateGroup(group, member, `member ${member.memberId} session expired`);
    });
  }

  // ---------------------------------------------------------------- SyncGroup

  /**
   * SyncGroup. The leader's assignments are stored and handed to every member; followers that sync first wait for
   * them. Resolves with the member's assignment or an error.
   */
  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResult> {
    const inactive = this.inactiveError();
    if (inactive !== null) return Promise.resolve(syncError(inactive));
    if (request.groupId === "") return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    const group = this.groups.get(request.groupId);
    if (group === undefined) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is("Dead")) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const invalid =
      this.validateCurrentMember(group, request.memberId, request.groupInstanceId) ??
      (request.generationId !== group.generationId ? ErrorCode.ILLEGAL_GENERATION : null) ??
      ((request.protocolType !== null && request.protocolType !== group.protocolType) ||
      (request.protocolName !== null && request.protocolName !== group.protocolName)
        ? ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        : null);
    if (invalid !== null) return Promise.resolve(syncError(invalid));
    const member = group.members.get(request.memberId);
    if (member === undefined) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    switch (group.state) {
      case "Empty":
      case "Dead":
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case "PreparingRebalance":
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case "Stable":
        this.removePendingSyncMember(group, member.memberId);
        this.scheduleHeartbeat(group, member);
        return Promise.resolve({
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        });
      case "CompletingRebalance":
        return new Promise<SyncGroupResult>((resolve) => {
          member.resolveSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
          member.syncWaiter = resolve;
          this.removePendingSyncMember(group, member.memberId);
          if (group.isLeader(member.memberId)) this.completeSync(group, request.assignments);
        });
    }
  }

  private completeSync(group: ClassicGroup, assignments: SyncGroupRequest["assignments"]): void {
    const byMember = new Map<string, Buffer>();
    for (const a of assignments) byMember.set(a.memberId, a.assignment);
    const generationId = group.generationId;
    const assignmentOf = (memberId: string): Buffer => byMember.get(memberId) ?? EMPTY;
    this.appendGroup(group, assignmentOf).then(
      () => {
        if (!group.is("CompletingRebalance") || group.generationId !== generationId) return;
        for (const member of group.members.values()) member.assignment = assignmentOf(member.memberId);
        group.transitionTo("Stable", this.scheduler.now());
        this.propagateAssignment(group, ErrorCode.NONE);
        this.log.info({ groupId: group.groupId, generationId }, "group stable");
      },
      (err: unknown) => {
        this.log.warn({ err, groupId: group.groupId }, "could not store the group assignment");
        if (!group.is("CompletingRebalance") || group.generationId !== generationId) return;
        this.resetAndPropagateAssignmentError(group, storeErrorCode(err));
        this.maybePrepareRebalance(group, "storing the assignment failed");
      },
    );
  }

  private resetAndPropagateAssignmentError(group: ClassicGroup, errorCode: number): void {
    for (const member of group.members.values()) member.assignment = EMPTY;
    this.propagateAssignment(group, errorCode);
  }

  private propagateAssignment(group: ClassicGroup, errorCode: number): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const member of group.members.values()) {
      const answered = member.resolveSync({
        errorCode,
        protocolType: ok ? group.protocolType : null,
        protocolName: ok ? group.protocolName : null,
        assignment: member.assignment,
      });
      // Its session was on hold while it waited; it starts again now.
      if (answered) this.scheduleHeartbeat(group, member);
    }
  }

  // ---------------------------------------------------------------- Heartbeat and LeaveGroup

  /** Heartbeat. REBALANCE_IN_PROGRESS tells a member of a rebalancing group to rejoin. */
  heartbeat(request: HeartbeatRequest): { errorCode: number } {
    const inactive = this.inactiveError();
    if (inactive !== null) return { errorCode: inactive };
    if (request.groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID };
    const group = this.groups.get(request.groupId);
    if (group === undefined) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
    if (group.is("Dead")) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    const invalid =
      this.validateCurrentMember(group, request.memberId, request.groupInstanceId) ??
      (request.generationId !== group.generationId ? ErrorCode.ILLEGAL_GENERATION : null);
    if (invalid !== null) return { errorCode: invalid };
    const member = group.members.get(request.memberId);
    if (member === undefined || group.is("Empty")) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
    this.scheduleHeartbeat(group, member);
    return { errorCode: group.is("PreparingRebalance") ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE };
  }

  /**
   * LeaveGroup, for one member (v0-2) or a batch (v3+) with an error per member. A member id of "" with an instance
   * id removes that static member whatever its current id.
   */
  leaveGroup(request: LeaveGroupRequest): LeaveGroupResult {
    const each = (errorCode: number): LeaveGroupResult["members"] =>
      request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode }));
    const inactive = this.inactiveError();
    if (inactive !== null) return { errorCode: inactive, members: [] };
    if (request.groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const group = this.groups.get(request.groupId);
    if (group === undefined) return { errorCode: ErrorCode.NONE, members: each(ErrorCode.UNKNOWN_MEMBER_ID) };
    if (group.is("Dead")) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = request.members.map((leaving) => {
      const result = { memberId: leaving.memberId, groupInstanceId: leaving.groupInstanceId };
      const reason = `member left${leaving.reason ? `: ${leaving.reason}` : ""}`;
      if (leaving.memberId === "") {
        const currentId =
          leaving.groupInstanceId === null ? undefined : group.staticMembers.get(leaving.groupInstanceId);
        const member = currentId === undefined ? undefined : group.members.get(currentId);
        if (member === undefined) return { ...result, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
        this.removeMemberAndUpdateGroup(group, member, reason);
        return { ...result, errorCode: ErrorCode.NONE };
      }
      if (group.pendingMembers.has(leaving.memberId)) {
        this.removePendingMember(group, leaving.memberId);
        return { ...result, errorCode: ErrorCode.NONE };
      }
      const invalid = this.validateCurrentMember(group, leaving.memberId, leaving.groupInstanceId);
      const member = group.members.get(leaving.memberId);
      if (invalid !== null || member === undefined) {
        return { ...result, errorCode: invalid ?? ErrorCode.UNKNOWN_MEMBER_ID };
      }
      this.log.info({ groupId: group.groupId, memberId: member.memberId, reason: leaving.reason }, "member left");
      this.removeMemberAndUpdateGroup(group, member, reason);
      return { ...result, errorCode: ErrorCode.NONE };
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  // ---------------------------------------------------------------- offsets

  /**
   * OffsetCommit. Resolves once the accepted offsets are in the store, with an error code per partition in request
   * order. A generation of -1 with no member id is a standalone commit, accepted while the group is Empty or unknown.
   */
  async commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitPartitionResult[]> {
    const all = (errorCode: number): OffsetCommitPartitionResult[] =>
      request.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode }));
    const inactive = this.inactiveError();
    if (inactive !== null) return all(inactive);
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      // A group the coordinator does not know can only be a simple consumer's, or a very stale member's.
      if (request.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
      group = new ClassicGroup(request.groupId, this.scheduler.now());
      this.groups.set(request.groupId, group);
    }
    const invalid = this.validateOffsetCommit(group, request);
    if (invalid !== null) {
      this.dropIfUnused(group);
      return all(invalid);
    }
    switch (group.state) {
      case "CompletingRebalance":
        // The member has its new generation but no assignment yet; committing now would use the old one.
        return all(ErrorCode.REBALANCE_IN_PROGRESS);
      case "Stable":
      case "PreparingRebalance": {
        // A commit proves the member alive; the rebalance reaches it through its next heartbeat.
        const member = group.members.get(request.memberId);
        if (member !== undefined) this.scheduleHeartbeat(group, member);
        break;
      }
      case "Empty":
      case "Dead":
        break;
    }
    return this.storeOffsets(group, request);
  }

  private validateOffsetCommit(group: ClassicGroup, request: OffsetCommitRequest): number | null {
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (request.generationId >= 0 || request.memberId !== "" || request.groupInstanceId !== null) {
      return (
        this.validateCurrentMember(group, request.memberId, request.groupInstanceId) ??
        (request.generationId !== group.generationId ? ErrorCode.ILLEGAL_GENERATION : null)
      );
    }
    // Without a member identity, offsets may only be written for a group nobody is a member of.
    return group.is("Empty") ? null : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private async storeOffsets(
    group: ClassicGroup,
    request: OffsetCommitRequest,
  ): Promise<OffsetCommitPartitionResult[]> {
    const now = this.scheduler.now();
    const retention = request.retentionTimeMs === undefined ? -1 : Number(request.retentionTimeMs);
    const expireTimestamp = retention === -1 ? null : now + retention;
    const results: OffsetCommitPartitionResult[] = [];
    const accepted: { index: number; key: string; topic: string; partition: number; value: StoredOffset }[] = [];
    for (const [index, o] of request.offsets.entries()) {
      const metadata = o.metadata ?? "";
      if (metadata.length > this.config.offsetMetadataMaxBytes) {
        results.push({ topic: o.topic, partition: o.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE });
        continue;
      }
      results.push({ topic: o.topic, partition: o.partition, errorCode: ErrorCode.NONE });
      const value = { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata, commitTimestamp: now, expireTimestamp };
      accepted.push({ index, key: partitionKey(o.topic, o.partition), topic: o.topic, partition: o.partition, value });
    }
    if (accepted.length === 0) {
      this.dropIfUnused(group);
      return results;
    }
    const records = accepted.map((a) => ({
      key: encodeOffsetCommitKey(group.groupId, a.topic, a.partition),
      value: encodeOffsetCommitValue(a.value),
    }));
    for (const a of accepted) group.pendingOffsetCommits.set(a.key, (group.pendingOffsetCommits.get(a.key) ?? 0) + 1);
    try {
      await this.store.append(records);
      // A group deleted while the write was in flight must not come back to life with these offsets.
      if (!group.is("Dead")) {
        for (const a of accepted) group.offsets.set(a.key, { topic: a.topic, partition: a.partition, value: a.value });
      }
    } catch (err) {
      this.log.warn({ err, groupId: group.groupId }, "could not store committed offsets");
      const errorCode = storeErrorCode(err);
      for (const a of accepted) {
        const result = results[a.index];
        if (result !== undefined) result.errorCode = errorCode;
      }
    } finally {
      for (const a of accepted) {
        const left = (group.pendingOffsetCommits.get(a.key) ?? 1) - 1;
        if (left === 0) group.pendingOffsetCommits.delete(a.key);
        else group.pendingOffsetCommits.set(a.key, left);
      }
      this.dropIfUnused(group);
    }
    return results;
  }

  /**
   * OffsetFetch for one group. Partitions without a committed offset answer offset -1 and metadata "". With
   * requireStable, a partition whose commit is still being written answers UNSTABLE_OFFSET_COMMIT.
   */
  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResult {
    const inactive = this.inactiveError();
    if (inactive !== null) return { errorCode: inactive, partitions: [] };
    const group = this.groups.get(request.groupId);
    const known = group !== undefined && !group.is("Dead");
    const requested: { topic: string; partition: number }[] = [];
    if (request.topics !== null) {
      for (const t of request.topics)
        for (const partition of t.partitions) requested.push({ topic: t.topic, partition });
    } else if (known) {
      for (const entry of group.offsets.values()) requested.push({ topic: entry.topic, partition: entry.partition });
    }
    const partitions = requested.map(({ topic, partition }): OffsetFetchPartitionResult => {
      const key = partitionKey(topic, partition);
      const none = { topic, partition, offset: -1n, leaderEpoch: -1, metadata: "", errorCode: ErrorCode.NONE };
      if (!known) return none;
      if (request.requireStable && group.pendingOffsetCommits.has(key)) {
        return { ...none, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
      }
      const stored = group.offsets.get(key)?.value;
      if (stored === undefined) return none;
      return { ...none, offset: stored.offset, leaderEpoch: stored.leaderEpoch, metadata: stored.metadata };
    });
    return { errorCode: ErrorCode.NONE, partitions };
  }

  /**
   * Drops expired offsets (offsets.retention.minutes, as Kafka measures it: from when the group became Empty, or from
   * the commit for groups that only store offsets, or at a commit's own expiry) and forgets Empty groups left without
   * offsets; writes the tombstones. Runs every offsets.retention.check.interval.ms after start(); returns how many
   * offsets it removed.
   */
  async expireOffsets(): Promise<number> {
    if (this.status !== "active") return 0;
    const now = this.scheduler.now();
    const writes: Promise<void>[] = [];
    let removed = 0;
    for (const group of [...this.groups.values()]) {
      const tombstones: GroupStoreRecord[] = [];
      const base = this.expiryBase(group);
      if (base !== null) {
        for (const [key, entry] of [...group.offsets]) {
          if (group.pendingOffsetCommits.has(key)) continue;
          if (group.is("Stable") && group.subscribedTopics?.has(entry.topic) === true) continue;
          const { expireTimestamp, commitTimestamp } = entry.value;
          const expired =
            expireTimestamp !== null
              ? now >= expireTimestamp
              : now - (base === "commit" ? commitTimestamp : base) >= this.config.offsetsRetentionMs;
          if (!expired) continue;
          group.offsets.delete(key);
          removed += 1;
          tombstones.push({ key: encodeOffsetCommitKey(group.groupId, entry.topic, entry.partition), value: null });
        }
      }
      if (
        group.is("Empty") &&
        group.offsets.size === 0 &&
        group.pendingOffsetCommits.size === 0 &&
        group.pendingMembers.size === 0
      ) {
        this.unload(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
        this.groups.delete(group.groupId);
        tombstones.push({ key: encodeGroupMetadataKey(group.groupId), value: null });
        this.log.info({ groupId: group.groupId }, "expired empty group");
      }
      if (tombstones.length > 0) writes.push(this.store.append(tombstones));
    }
    await Promise.all(writes);
    return removed;
  }

  /**
   * What an offset's age counts from, as in Kafka: the time the group became Empty; or each offset's commit, for a
   * group that only stores offsets and for the topics a Stable consumer group no longer subscribes to. Other groups
   * with members keep their offsets.
   */
  private expiryBase(group: ClassicGroup): number | "commit" | null {
    if (group.protocolType === null) return "commit";
    if (group.is("Empty")) return group.stateTimestamp >= 0 ? group.stateTimestamp : "commit";
    if (group.is("Stable") && group.subscribedTopics !== null) return "commit";
    return null;
  }

  private scheduleRetentionCheck(): void {
    this.retentionTimer = this.scheduler.schedule(this.config.offsetsRetentionCheckIntervalMs, () => {
      // Re-armed at once: a run drops what expired before it awaits the store, so runs never trip over each other.
      this.scheduleRetentionCheck();
      this.expireOffsets().catch((err: unknown) => this.log.warn({ err }, "offset expiry failed"));
    });
  }

  // ---------------------------------------------------------------- admin

  /**
   * OffsetDelete: removes committed offsets of an Empty group, or of topics a Stable consumer group no longer
   * subscribes to (GROUP_SUBSCRIBED_TO_TOPIC for the others), as Kafka does; NON_EMPTY_GROUP for a group mid-rebalance.
   */
  async deleteOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<{ errorCode: number; partitions: { topic: string; partition: number; errorCode: number }[] }> {
    const inactive = this.inactiveError();
    if (inactive !== null) return { errorCode: inactive, partitions: [] };
    const group = this.groups.get(groupId);
    if (group === undefined || group.is("Dead")) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, partitions: [] };
    const subscribed = group.is("Empty") ? null : group.subscribedTopics;
    if (!group.is("Empty") && (!group.is("Stable") || subscribed === null)) {
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, partitions: [] };
    }
    const tombstones: GroupStoreRecord[] = [];
    const results = partitions.map(({ topic, partition }) => {
      if (subscribed?.has(topic) === true) return { topic, partition, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
      const key = partitionKey(topic, partition);
      if (group.offsets.delete(key))
        tombstones.push({ key: encodeOffsetCommitKey(groupId, topic, partition), value: null });
      return { topic, partition, errorCode: ErrorCode.NONE };
    });
    if (tombstones.length > 0) {
      try {
        await this.store.append(tombstones);
      } catch (err) {
        this.log.warn({ err, groupId }, "could not store an offset deletion");
        return { errorCode: storeErrorCode(err), partitions: [] };
      }
    }
    return { errorCode: ErrorCode.NONE, partitions: results };
  }

  /** DeleteGroups: only Empty groups go (NON_EMPTY_GROUP otherwise), with their offsets, tombstoned in the store. */
  async deleteGroups(groupIds: readonly string[]): Promise<DeleteGroupResult[]> {
    const inactive = this.inactiveError();
    if (inactive !== null) return groupIds.map((groupId) => ({ groupId, errorCode: inactive }));
    const writes: Promise<void>[] = [];
    const results = groupIds.map((groupId): DeleteGroupResult => {
      if (groupId === "") return { groupId, errorCode: ErrorCode.INVALID_GROUP_ID };
      const group = this.groups.get(groupId);
      if (group === undefined || group.is("Dead")) return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
      if (!group.is("Empty")) return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
      this.unload(group, ErrorCode.UNKNOWN_MEMBER_ID);
      this.groups.delete(groupId);
      const tombstones: GroupStoreRecord[] = [];
      for (const entry of group.offsets.values()) {
        tombstones.push({ key: encodeOffsetCommitKey(groupId, entry.topic, entry.partition), value: null });
      }
      tombstones.push({ key: encodeGroupMetadataKey(groupId), value: null });
      this.log.info({ groupId }, "group deleted");
      const result = { groupId, errorCode: ErrorCode.NONE as number };
      writes.push(
        this.store.append(tombstones).catch((err: unknown) => {
          // The group is gone from memory but may come back after a restart; say so rather than claim success.
          this.log.warn({ err, groupId }, "could not store a group deletion");
          result.errorCode = storeErrorCode(err);
        }),
      );
      return result;
    });
    await Promise.all(writes);
    return results;
  }

  /** DescribeGroups. An unknown group is described as Dead with no error, as Kafka does up to DescribeGroups v5. */
  describeGroups(groupIds: readonly string[]): GroupDescription[] {
    const inactive = this.inactiveError();
    return groupIds.map((groupId): GroupDescription => {
      const dead = { groupId, groupState: "Dead" as const, protocolType: "", protocolData: "", members: [] };
      if (inactive !== null) return { ...dead, errorCode: inactive };
      const group = this.groups.get(groupId);
      if (group === undefined) return { ...dead, errorCode: ErrorCode.NONE };
      const stable = group.is("Stable");
      const protocol = group.protocolName ?? "";
      return {
        groupId,
        errorCode: ErrorCode.NONE,
        groupState: group.state,
        protocolType: group.protocolType ?? "",
        protocolData: stable ? protocol : "",
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          metadata: stable ? m.metadataFor(protocol) : EMPTY,
          assignment: stable ? m.assignment : EMPTY,
        })),
      };
    });
  }

  /** ListGroups, filtered by state and type (both case-insensitive) when the filters are not empty. */
  listGroups(request: ListGroupsRequest = {}): { errorCode: number; groups: ListedGroup[] } {
    const inactive = this.inactiveError();
    if (inactive !== null) return { errorCode: inactive, groups: [] };
    const states = new Set((request.statesFilter ?? []).map((s) => s.toLowerCase()));
    const types = new Set((request.typesFilter ?? []).map((t) => t.toLowerCase()));
    if (types.size > 0 && !types.has("classic")) return { errorCode: ErrorCode.NONE, groups: [] };
    const groups: ListedGroup[] = [];
    for (const group of this.groups.values()) {
      if (group.is("Dead")) continue;
      if (states.size > 0 && !states.has(group.state.toLowerCase())) continue;
      groups.push({
        groupId: group.groupId,
        protocolType: group.protocolType ?? "",
        groupState: group.state,
        groupType: "classic",
      });
    }
    return { errorCode: ErrorCode.NONE, groups };
  }

  /** Every committed offset of every group, for metrics and the lag helper. */
  committedOffsets(): CommittedOffset[] {
    const all: CommittedOffset[] = [];
    for (const group of this.groups.values()) {
      for (const { topic, partition, value } of group.offsets.values()) {
        all.push({ groupId: group.groupId, topic, partition, ...value });
      }
    }
    return all;
  }

  /** Consumer lag per group and partition, given the log end offsets (null for partitions that do not exist). */
  lag(logEndOffset: LogEndOffsets): PartitionLag[] {
    return computeLag(this.committedOffsets(), logEndOffset);
  }

  // ---------------------------------------------------------------- persistence

  /** Stores the group's metadata; `withAssignments` keeps the members' current assignments. */
  private persistGroup(group: ClassicGroup, withAssignments: boolean): Promise<void> {
    return this.appendGroup(group, (memberId) =>
      withAssignments ? (group.members.get(memberId)?.assignment ?? EMPTY) : EMPTY,
    );
  }

  private appendGroup(group: ClassicGroup, assignmentOf: (memberId: string) => Buffer): Promise<void> {
    const protocol = group.protocolName ?? "";
    const value = encodeGroupMetadataValue({
      protocolType: group.protocolType ?? "",
      generationId: group.generationId,
      protocolName: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: group.stateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: m.metadataFor(protocol),
        assignment: assignmentOf(m.memberId),
      })),
    });
    return this.store.append([{ key: encodeGroupMetadataKey(group.groupId), value }]);
  }
}
