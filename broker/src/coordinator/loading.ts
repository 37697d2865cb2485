import { ClassicGroup, Member, partitionKey } from "./group.ts";
import type { StoredOffset } from "./group.ts";
import type { Membership } from "./membership.ts";
import { ErrorCode } from "./errors.ts";
import { decodeGroupMetadataValue, decodeKey, decodeOffsetCommitValue } from "./records.ts";
import type { GroupMetadataValue, OffsetCommitKey, RecordKey } from "./records.ts";
import { ShardPart } from "./shard-context.ts";
import type { ShardContext } from "./shard-context.ts";

type OffsetsByKey = Map<string, { topic: string; partition: number; value: StoredOffset }>;

/**
 * The groups a load found records of above the high watermark, and how many, until the HW passes them. Such a group
 * answers COORDINATOR_LOAD_IN_PROGRESS to everything, OffsetFetch included, until then: its records there may be
 * truncated away (an unreplicated generation or commit must not be served), or may be committed already under the
 * previous leader, which then answered them (serving the older state below this node's HW would go backwards).
 */
export class UncommittedTail {
  private readonly byGroup = new Map<string, number>();

  has(groupId: string): boolean {
    return this.byGroup.has(groupId);
  }

  get empty(): boolean {
    return this.byGroup.size === 0;
  }

  add(groupId: string): void {
    this.byGroup.set(groupId, (this.byGroup.get(groupId) ?? 0) + 1);
  }

  /** One of the group's records was committed; true when it was the group's last one. */
  remove(groupId: string): boolean {
    const left = (this.byGroup.get(groupId) ?? 1) - 1;
    if (left > 0) {
      this.byGroup.set(groupId, left);
      return false;
    }
    return this.byGroup.delete(groupId);
  }

  clear(): void {
    this.byGroup.clear();
  }
}

/**
 * Loading a shard: replays its `__consumer_offsets` partition (the store) into groups, as Kafka's
 * GroupMetadataManager does when a broker becomes the partition's leader. Only records below the high watermark are
 * loaded as they are; the ones above it (not known to be committed: an earlier leader's, or this node's own unreplicated
 * writes) go to the committed view and apply when the HW passes them, or never if the log is truncated under another
 * leader.
 */
export class GroupLoader extends ShardPart {
  constructor(
    context: ShardContext,
    private readonly membership: Membership,
    private readonly tail: UncommittedTail,
  ) {
    super(context);
  }

  /**
   * Replays the store into the shard's groups and answers how many records it read, and how many of them were above
   * the high watermark; null, with no group loaded, when `cancelled()` turned true meanwhile (the partition was
   * unloaded while it loaded).
   */
  async load(cancelled: () => boolean): Promise<{ records: number; uncommitted: number } | null> {
    const groupValues = new Map<string, GroupMetadataValue>();
    const offsets = new Map<string, OffsetsByKey>();
    const uncommitted: { key: RecordKey; value: Buffer | null; nextOffset: bigint }[] = [];
    const highWatermark = this.store.highWatermark();
    let records = 0;
    for await (const record of this.store.replay()) {
      if (cancelled()) return null;
      records += 1;
      try {
        const key = decodeKey(record.key);
        if (key === null) continue;
        if (record.nextOffset <= highWatermark) this.replayRecord(key, record.value, groupValues, offsets);
        else uncommitted.push({ key, value: record.value, nextOffset: record.nextOffset });
      } catch (err) {
        this.log.error({ err }, "skipping an unreadable __consumer_offsets record");
      }
    }
    if (cancelled()) return null;
    for (const { key } of uncommitted) this.tail.add(key.groupId);
    // Tombstones can leave a group with an empty offset map; such a group was deleted or expired.
    const withOffsets = [...offsets].filter(([, entries]) => entries.size > 0).map(([groupId]) => groupId);
    for (const groupId of new Set([...groupValues.keys(), ...withOffsets])) {
      const group = this.loadGroup(groupId, groupValues.get(groupId));
      for (const [key, entry] of offsets.get(groupId) ?? []) group.offsets.set(key, entry);
    }
    for (const record of uncommitted) this.committed.defer(record.nextOffset, () => this.applyCommitted(record));
    return { records, uncommitted: uncommitted.length };
  }

  private replayRecord(
    key: RecordKey,
    value: Buffer | null,
    groupValues: Map<string, GroupMetadataValue>,
    offsets: Map<string, OffsetsByKey>,
  ): void {
    if (key.kind === "group") {
      if (value === null) groupValues.delete(key.groupId);
      else groupValues.set(key.groupId, decodeGroupMetadataValue(value));
      return;
    }
    const pkey = partitionKey(key.topic, key.partition);
    if (value === null) {
      offsets.get(key.groupId)?.delete(pkey);
      return;
    }
    let group = offsets.get(key.groupId);
    if (group === undefined) {
      group = new Map();
      offsets.set(key.groupId, group);
    }
    group.set(pkey, { topic: key.topic, partition: key.partition, value: decodeOffsetCommitValue(value) });
  }

  /** A record of the load's uncommitted tail was committed: the group takes it as a load would have. */
  private applyCommitted(record: { key: RecordKey; value: Buffer | null }): void {
    const { key, value } = record;
    const last = this.tail.remove(key.groupId);
    try {
      if (key.kind === "group")
        this.replaceGroup(key.groupId, value === null ? undefined : decodeGroupMetadataValue(value));
      else this.applyOffset(key, value);
    } catch (err) {
      this.log.error({ err, groupId: key.groupId }, "skipping an unreadable __consumer_offsets record");
    }
    const group = this.groups.get(key.groupId);
    if (!last) return;
    this.log.info({ groupId: key.groupId }, "the group's records above the HW at load are committed; serving it");
    // Its members' sessions start once the group is served, as they do after a load.
    if (group !== undefined) {
      for (const member of group.members.values()) this.membership.scheduleHeartbeat(group, member);
    }
  }

  private replaceGroup(groupId: string, value: GroupMetadataValue | undefined): void {
    const old = this.groups.get(groupId);
    // It served no member while its tail was pending; this only stops its timers.
    if (old !== undefined) this.membership.unload(old, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    this.groups.delete(groupId);
    if (value === undefined && (old?.offsets.size ?? 0) === 0) return;
    const group = this.loadGroup(groupId, value);
    for (const [key, entry] of old?.offsets ?? []) group.offsets.set(key, entry);
  }

  private applyOffset(key: OffsetCommitKey, value: Buffer | null): void {
    const pkey = partitionKey(key.topic, key.partition);
    const existing = this.groups.get(key.groupId);
    if (value === null) {
      existing?.offsets.delete(pkey);
      if (existing !== undefined && existing.protocolType === null && existing.offsets.size === 0) {
        this.groups.delete(key.groupId);
      }
      return;
    }
    const group = existing ?? this.loadGroup(key.groupId, undefined);
    group.offsets.set(pkey, { topic: key.topic, partition: key.partition, value: decodeOffsetCommitValue(value) });
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
      // A group with uncommitted records starts its sessions once they are committed (applyCommitted).
      if (!this.tail.has(groupId)) this.membership.scheduleHeartbeat(group, member);
    }
    group.protocolType = value.protocolType === "" ? null : value.protocolType;
    if (value.leader !== null && group.has(value.leader)) group.leaderId = value.leader;
    group.transitionTo(group.members.size > 0 ? "Stable" : "Empty", value.currentStateTimestamp);
    group.subscribedTopics = group.computeSubscribedTopics();
    return group;
  }
}
