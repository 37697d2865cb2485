import { ErrorCode, storeErrorCode } from "./errors.ts";
import { ClassicGroup, partitionKey } from "./group.ts";
import type { StoredOffset } from "./group.ts";
import type { UncommittedTail } from "./loading.ts";
import type { Membership } from "./membership.ts";
import { encodeGroupMetadataKey, encodeOffsetCommitKey, encodeOffsetCommitValue } from "./records.ts";
import { ShardPart } from "./shard-context.ts";
import type { ShardContext } from "./shard-context.ts";
import type { GroupStoreRecord } from "./store.ts";
import type {
  CommittedOffset,
  OffsetCommitPartitionResult,
  OffsetCommitRequest,
  OffsetFetchPartitionResult,
  OffsetFetchRequest,
  OffsetFetchResult,
} from "./types.ts";

/**
 * Committed offsets of the groups of one shard: OffsetCommit, OffsetFetch, OffsetDelete and retention. A commit checks
 * the member through `Membership` and proves it alive. Callers have checked that the shard is active.
 */
export class Offsets extends ShardPart {
  constructor(
    context: ShardContext,
    private readonly membership: Membership,
    private readonly tail: UncommittedTail,
  ) {
    super(context);
  }

  /**
   * OffsetCommit. Resolves once the accepted offsets are committed (the HW passed them), with an error code per
   * partition in request order. A generation of -1 with no member id is a standalone commit, accepted while the
   * group is Empty or unknown.
   */
  async commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitPartitionResult[]> {
    const all = (errorCode: number): OffsetCommitPartitionResult[] =>
      request.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode }));
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      // A group the coordinator does not know can only be a simple consumer's, or a very stale member's.
      if (request.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
      group = this.newGroup(request.groupId);
    }
    const invalid = this.validateOffsetCommit(group, request);
    if (invalid !== null) {
      this.membership.dropIfUnused(group);
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
        if (member !== undefined) this.membership.scheduleHeartbeat(group, member);
        break;
      }
      case "Empty":
      case "Dead":
        break;
    }
    return this.storeOffsets(group, request);
  }

  /** A group that only has offsets so far (a simple consumer's). */
  private newGroup(groupId: string): ClassicGroup {
    const group = new ClassicGroup(groupId, this.scheduler.now());
    this.groups.set(groupId, group);
    return group;
  }

  private validateOffsetCommit(group: ClassicGroup, request: OffsetCommitRequest): number | null {
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (request.generationId >= 0 || request.memberId !== "" || request.groupInstanceId !== null) {
      return (
        this.membership.validateCurrentMember(group, request.memberId, request.groupInstanceId) ??
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
      this.membership.dropIfUnused(group);
      return results;
    }
    const records = accepted.map((a) => ({
      key: encodeOffsetCommitKey(group.groupId, a.topic, a.partition),
      value: encodeOffsetCommitValue(a.value),
    }));
    for (const a of accepted) group.pendingOffsetCommits.set(a.key, (group.pendingOffsetCommits.get(a.key) ?? 0) + 1);
    const unapplied = () => {
      for (const a of accepted) {
        const entry = group.unappliedOffsetWrites.get(a.key);
        if (entry !== undefined && --entry.writes === 0) group.unappliedOffsetWrites.delete(a.key);
      }
    };
    for (const a of accepted) {
      const entry = group.unappliedOffsetWrites.get(a.key);
      if (entry === undefined)
        group.unappliedOffsetWrites.set(a.key, { topic: a.topic, partition: a.partition, writes: 1 });
      else entry.writes += 1;
    }
    try {
      // Visible to OffsetFetch only once the HW passed them (CommittedView), never from this shard's log alone.
      const apply = () => {
        unapplied();
        // Changes apply in log order. A DeleteGroups (or expiry) whose tombstones precede these records in the log
        // has removed the group by now: the commit starts it afresh, with only these offsets, as a replay of the log
        // does and as Kafka serves a commit to a deleted group. (Its tombstones covered the older offsets.)
        const target = this.groups.get(group.groupId) ?? this.newGroup(group.groupId);
        for (const a of accepted) target.offsets.set(a.key, { topic: a.topic, partition: a.partition, value: a.value });
      };
      await this.committed.write(records, apply, unapplied);
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
      this.membership.dropIfUnused(group);
    }
    return results;
  }

  /**
   * OffsetFetch for one group. Partitions without a committed offset answer offset -1 and metadata "". With
   * requireStable, a partition whose commit is not committed yet answers UNSTABLE_OFFSET_COMMIT.
   */
  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResult {
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
    const now = this.scheduler.now();
    const writes: Promise<void>[] = [];
    let removed = 0;
    for (const group of [...this.groups.values()]) {
      // Its uncommitted records may still change what it has; it is looked at again on the next run.
      if (this.tail.has(group.groupId)) continue;
      const expired: string[] = [];
      const tombstones: GroupStoreRecord[] = [];
      const base = this.expiryBase(group);
      if (base !== null) {
        for (const [key, entry] of group.offsets) {
          if (group.unappliedOffsetWrites.has(key)) continue;
          if (group.is("Stable") && group.subscribedTopics?.has(entry.topic) === true) continue;
          const { expireTimestamp, commitTimestamp } = entry.value;
          const isExpired =
            expireTimestamp !== null
              ? now >= expireTimestamp
              : now - (base === "commit" ? commitTimestamp : base) >= this.config.offsetsRetentionMs;
          if (!isExpired) continue;
          expired.push(key);
          tombstones.push({ key: encodeOffsetCommitKey(group.groupId, entry.topic, entry.partition), value: null });
        }
      }
      // Nor while a commit written before the tombstones may still apply: it would outlive them in the log.
      const unused = () =>
        group.is("Empty") && group.unappliedOffsetWrites.size === 0 && group.pendingMembers.size === 0;
      const expiresGroup = group.offsets.size === expired.length && unused();
      if (expiresGroup) tombstones.push({ key: encodeGroupMetadataKey(group.groupId), value: null });
      if (tombstones.length === 0) continue;
      removed += expired.length;
      // The offsets (and the group) go once the tombstones are committed; a failed write leaves them served.
      const write = this.committed.write(tombstones, () => {
        for (const key of expired) group.offsets.delete(key);
        // A member may have joined meanwhile; then the group stays (its next metadata record supersedes the tombstone).
        if (expiresGroup && group.offsets.size === 0 && unused() && this.groups.get(group.groupId) === group) {
          this.membership.unload(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
          this.groups.delete(group.groupId);
          this.log.info({ groupId: group.groupId }, "expired empty group");
        }
      });
      writes.push(write);
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

  /**
   * OffsetDelete: removes committed offsets of an Empty group, or of topics a Stable consumer group no longer
   * subscribes to (GROUP_SUBSCRIBED_TO_TOPIC for the others), as Kafka does; NON_EMPTY_GROUP for a group mid-rebalance.
   */
  async deleteOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<{ errorCode: number; partitions: { topic: string; partition: number; errorCode: number }[] }> {
    const group = this.groups.get(groupId);
    if (group === undefined || group.is("Dead")) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, partitions: [] };
    const subscribed = group.is("Empty") ? null : group.subscribedTopics;
    if (!group.is("Empty") && (!group.is("Stable") || subscribed === null)) {
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, partitions: [] };
    }
    const tombstones: GroupStoreRecord[] = [];
    const deleted: string[] = [];
    const results = partitions.map(({ topic, partition }) => {
      if (subscribed?.has(topic) === true) return { topic, partition, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
      const key = partitionKey(topic, partition);
      if (group.offsets.has(key) && !deleted.includes(key)) {
        deleted.push(key);
        tombstones.push({ key: encodeOffsetCommitKey(groupId, topic, partition), value: null });
      }
      return { topic, partition, errorCode: ErrorCode.NONE };
    });
    if (tombstones.length > 0) {
      try {
        await this.committed.write(tombstones, () => {
          for (const key of deleted) group.offsets.delete(key);
        });
      } catch (err) {
        this.log.warn({ err, groupId }, "could not store an offset deletion");
        return { errorCode: storeErrorCode(err), partitions: [] };
      }
    }
    return { errorCode: ErrorCode.NONE, partitions: results };
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
}
