import { ClassicGroup, Member, partitionKey } from "./group.ts";
import type { StoredOffset } from "./group.ts";
import type { Membership } from "./membership.ts";
import { decodeGroupMetadataValue, decodeKey, decodeOffsetCommitValue } from "./records.ts";
import type { GroupMetadataValue } from "./records.ts";
import { ShardPart } from "./shard-context.ts";
import type { ShardContext } from "./shard-context.ts";
import type { GroupStoreRecord } from "./store.ts";

type OffsetsByKey = Map<string, { topic: string; partition: number; value: StoredOffset }>;

/**
 * Loading a shard: replays its `__consumer_offsets` partition (the store) into groups, as Kafka's
 * GroupMetadataManager does when a broker becomes the partition's leader.
 */
export class GroupLoader extends ShardPart {
  constructor(
    context: ShardContext,
    private readonly membership: Membership,
  ) {
    super(context);
  }

  /**
   * Replays the store into the shard's groups and answers how many records it read; null, with no group loaded, when
   * `cancelled()` turned true meanwhile (the partition was unloaded while it loaded).
   */
  async load(cancelled: () => boolean): Promise<number | null> {
    const groupValues = new Map<string, GroupMetadataValue>();
    const offsets = new Map<string, OffsetsByKey>();
    let records = 0;
    for await (const record of this.store.replay()) {
      if (cancelled()) return null;
      records += 1;
      try {
        this.replayRecord(record, groupValues, offsets);
      } catch (err) {
        this.log.error({ err }, "skipping an unreadable __consumer_offsets record");
      }
    }
    if (cancelled()) return null;
    // Tombstones can leave a group with an empty offset map; such a group was deleted or expired.
    const withOffsets = [...offsets].filter(([, entries]) => entries.size > 0).map(([groupId]) => groupId);
    for (const groupId of new Set([...groupValues.keys(), ...withOffsets])) {
      const group = this.loadGroup(groupId, groupValues.get(groupId));
      for (const [key, entry] of offsets.get(groupId) ?? []) group.offsets.set(key, entry);
    }
    return records;
  }

  private replayRecord(
    record: GroupStoreRecord,
    groupValues: Map<string, GroupMetadataValue>,
    offsets: Map<string, OffsetsByKey>,
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
      group = new Map();
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
      this.membership.scheduleHeartbeat(group, member);
    }
    group.protocolType = value.protocolType === "" ? null : value.protocolType;
    if (value.leader !== null && group.has(value.leader)) group.leaderId = value.leader;
    group.transitionTo(group.members.size > 0 ? "Stable" : "Empty", value.currentStateTimestamp);
    group.subscribedTopics = group.computeSubscribedTopics();
    return group;
  }
}
