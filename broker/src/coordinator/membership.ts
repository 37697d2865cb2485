import { storeErrorCode, ErrorCode } from "./errors.ts";
import { ClassicGroup, Member } from "./group.ts";
import { encodeGroupMetadataKey, encodeGroupMetadataValue } from "./records.ts";
import { EMPTY, ShardPart, joinError, syncError } from "./shard-context.ts";
import type { ShardContext } from "./shard-context.ts";
import type {
  HeartbeatRequest,
  JoinGroupRequest,
  JoinGroupResult,
  LeaveGroupRequest,
  LeaveGroupResult,
  SyncGroupRequest,
  SyncGroupResult,
} from "./types.ts";

/**
 * Membership of the classic groups of one shard: JoinGroup, SyncGroup, Heartbeat and LeaveGroup, the rebalance state
 * machine and its timers (sessions, join phase, initial delay, pending sync), and the group metadata records it writes.
 * Callers have checked that the shard is active.
 */
export class Membership extends ShardPart {
  private readonly newUuid: () => string;

  constructor(context: ShardContext) {
    super(context);
    this.newUuid = context.newUuid;
  }

  /** Answers what is parked, stops the group's timers and marks it Dead. */
  unload(group: ClassicGroup, errorCode: number): void {
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
  dropIfUnused(group: ClassicGroup): void {
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

  validateCurrentMember(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number | null {
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
  scheduleHeartbeat(group: ClassicGroup, member: Member, timeoutMs = member.sessionTimeoutMs): void {
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
    // Membership changes are answered (SyncGroup, a replaced static member's JoinGroup) or made Stable by the callers
    // once this resolves, that is once the record is committed; nothing else waits for it.
    return this.committed.write([{ key: encodeGroupMetadataKey(group.groupId), value }], () => undefined);
  }
}
