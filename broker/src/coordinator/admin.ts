import { ErrorCode, storeErrorCode } from "./errors.ts";
import type { Membership } from "./membership.ts";
import { encodeGroupMetadataKey, encodeOffsetCommitKey } from "./records.ts";
import { EMPTY, ShardPart } from "./shard-context.ts";
import type { ShardContext } from "./shard-context.ts";
import type { GroupStoreRecord } from "./store.ts";
import type { DeleteGroupResult, GroupDescription, ListGroupsRequest, ListedGroup } from "./types.ts";

/** How DescribeGroups answers a group it cannot describe: Dead, with `errorCode` (NONE for an unknown group). */
export function deadGroup(groupId: string, errorCode: number): GroupDescription {
  return { groupId, errorCode, groupState: "Dead", protocolType: "", protocolData: "", members: [] };
}

/** DescribeGroups, ListGroups and DeleteGroups over the groups of one shard. Callers have checked that it is active. */
export class GroupAdmin extends ShardPart {
  constructor(
    context: ShardContext,
    private readonly membership: Membership,
  ) {
    super(context);
  }

  /** DeleteGroups: only Empty groups go (NON_EMPTY_GROUP otherwise), with their offsets, tombstoned in the store. */
  async deleteGroups(groupIds: readonly string[]): Promise<DeleteGroupResult[]> {
    const writes: Promise<void>[] = [];
    const results = groupIds.map((groupId): DeleteGroupResult => {
      if (groupId === "") return { groupId, errorCode: ErrorCode.INVALID_GROUP_ID };
      const group = this.groups.get(groupId);
      if (group === undefined || group.is("Dead")) return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
      if (!group.is("Empty")) return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
      // Every offset the group has in the log goes, as Kafka's deleteAllOffsets tombstones its latest state: the
      // committed ones and those written before these tombstones but not applied yet (a commit in flight, or one that
      // missed the ISR in time and may still be committed). A replay of the log then finds none of them either.
      const tombstones: GroupStoreRecord[] = [];
      const deleted = new Set<string>();
      for (const [key, entry] of [...group.offsets, ...group.unappliedOffsetWrites]) {
        if (deleted.has(key)) continue;
        deleted.add(key);
        tombstones.push({ key: encodeOffsetCommitKey(groupId, entry.topic, entry.partition), value: null });
      }
      tombstones.push({ key: encodeGroupMetadataKey(groupId), value: null });
      const result = { groupId, errorCode: ErrorCode.NONE as number };
      // The group and its offsets are served until the tombstones are committed, and stay if they never are.
      const write = this.committed.write(tombstones, () => {
        for (const key of deleted) group.offsets.delete(key);
        // A member that joined meanwhile keeps the group; its next metadata record supersedes the tombstone.
        if (!group.is("Empty") || this.groups.get(groupId) !== group) return;
        this.membership.unload(group, ErrorCode.UNKNOWN_MEMBER_ID);
        this.groups.delete(groupId);
        this.log.info({ groupId }, "group deleted");
      });
      writes.push(
        write.catch((err: unknown) => {
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
    return groupIds.map((groupId): GroupDescription => {
      const group = this.groups.get(groupId);
      if (group === undefined) return deadGroup(groupId, ErrorCode.NONE);
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
}
