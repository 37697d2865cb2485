import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { deadGroup } from "./admin.ts";
import type { GroupCoordinatorConfig } from "./config.ts";
import { ErrorCode } from "./errors.ts";
import { computeLag } from "./lag.ts";
import type { LogEndOffsets, PartitionLag } from "./lag.ts";
import { offsetsPartitionFor } from "./partitioner.ts";
import { systemScheduler } from "./scheduler.ts";
import type { Scheduler } from "./scheduler.ts";
import { joinError, syncError } from "./shard-context.ts";
import { GroupCoordinatorShard } from "./shard.ts";
import type { GroupStore } from "./store.ts";
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
  OffsetFetchRequest,
  OffsetFetchResult,
  SyncGroupRequest,
  SyncGroupResult,
} from "./types.ts";

/**
 * The ownership input of the group coordinator: which `__consumer_offsets` partitions this broker leads. Kafka's
 * broker calls its group coordinator's onElection / onResignation from the metadata publisher when the partition's
 * leadership moves to or away from it; so does Tributary's (`startBroker` feeds each metadata image's local changes
 * through `applyOffsetsLeadership`).
 */
export interface OffsetsPartitionOwnership {
  /**
   * This broker leads `partition` in `leaderEpoch`: its groups are loaded by replaying the partition, once the writes
   * of a shard unloaded from it before have settled. An epoch at or below the last one seen for the partition changes
   * nothing (the load already done or under way counts). Resolves true once the shard serves, false if the load
   * failed (logged; the partition then answers NOT_COORDINATOR until elected again) or was ended by a resignation.
   * Never rejects.
   */
  onElection(partition: number, leaderEpoch: number): Promise<boolean>;
  /**
   * This broker no longer leads `partition`; `leaderEpoch` is the partition's new leader epoch, or null when the topic
   * is gone. The shard is unloaded unless it was loaded for that epoch or a newer one: parked joins and syncs answer
   * NOT_COORDINATOR, and so does every later request for its groups.
   */
  onResignation(partition: number, leaderEpoch: number | null): void;
}

export interface GroupCoordinatorManagerOptions {
  /**
   * Partitions of `__consumer_offsets`: what the topic has (an existing topic keeps its count), or null while the topic
   * does not exist yet (it is created on the first FindCoordinator for a group, as in Kafka); then `setPartitionCount`
   * fixes it for the run once the topic appears.
   */
  partitionCount: number | null;
  /** The store over one `__consumer_offsets` partition, for a shard loaded at `leaderEpoch`. */
  openStore: (partition: number, leaderEpoch: number) => GroupStore;
  logger: Logger;
  scheduler?: Scheduler;
  config?: Partial<GroupCoordinatorConfig>;
  /** Makes the random part of new member ids; tests pin it. */
  newUuid?: () => string;
}

interface OwnedPartition {
  readonly shard: GroupCoordinatorShard;
  readonly leaderEpoch: number;
  readonly loaded: Promise<boolean>;
}

/**
 * The group coordinator of this broker: one `GroupCoordinatorShard` per `__consumer_offsets` partition it leads.
 * Each request goes to the shard of its group's partition (`offsetsPartitionFor`); a group whose partition this
 * broker does not lead answers NOT_COORDINATOR, and one whose shard is still loading COORDINATOR_LOAD_IN_PROGRESS,
 * as Kafka's coordinator runtime does. ListGroups gathers every shard; DescribeGroups and DeleteGroups answer each
 * group from its own shard.
 */
export class GroupCoordinatorManager implements OffsetsPartitionOwnership {
  private count: number | null = null;
  private readonly owned = new Map<number, OwnedPartition>();
  /** Unloaded shards' writes still in flight, per partition: a new load waits for them, as Kafka orders per partition. */
  private readonly draining = new Map<number, Promise<void>>();
  private readonly openStore: GroupCoordinatorManagerOptions["openStore"];
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  private readonly config: Partial<GroupCoordinatorConfig>;
  private readonly newUuid: () => string;
  private closed = false;

  constructor(options: GroupCoordinatorManagerOptions) {
    this.openStore = options.openStore;
    this.log = options.logger;
    if (options.partitionCount !== null) this.setPartitionCount(options.partitionCount);
    this.scheduler = options.scheduler ?? systemScheduler;
    this.config = options.config ?? {};
    this.newUuid = options.newUuid ?? randomUUID;
  }

  /** Partitions of `__consumer_offsets`, null while the topic does not exist. */
  get partitionCount(): number | null {
    return this.count;
  }

  /**
   * The topic exists with `count` partitions. The first count is kept for the run: a group's partition is its id's
   * hash modulo the count, so changing it under running groups would strand them (Kafka also fixes it at startup).
   */
  setPartitionCount(count: number): void {
    if (!Number.isInteger(count) || count < 1) {
      throw new Error(`__consumer_offsets must have at least one partition, not ${count}`);
    }
    if (this.count === null) this.count = count;
    else if (this.count !== count) {
      this.log.warn({ partitionCount: this.count, ignored: count }, "kept the partition count of __consumer_offsets");
    }
  }

  /**
   * The `__consumer_offsets` partition that holds `groupId`, or null while the topic does not exist; FindCoordinator
   * answers with that partition's leader.
   */
  partitionFor(groupId: string): number | null {
    return this.count === null ? null : offsetsPartitionFor(groupId, this.count);
  }

  /** The partitions this broker leads, with the state of each shard. */
  ownedPartitions(): { partition: number; leaderEpoch: number; status: "loading" | "active" }[] {
    return [...this.owned]
      .map(([partition, { shard, leaderEpoch }]) => ({
        partition,
        leaderEpoch,
        status: shard.status === "active" ? ("active" as const) : ("loading" as const),
      }))
      .sort((a, b) => a.partition - b.partition);
  }

  // ---------------------------------------------------------------- ownership

  onElection(partition: number, leaderEpoch: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.count === null || !Number.isInteger(partition) || partition < 0 || partition >= this.count) {
      this.log.warn(
        { partition, partitionCount: this.partitionCount },
        "ignored the election of an unknown offsets partition",
      );
      return Promise.resolve(false);
    }
    const current = this.owned.get(partition);
    if (current !== undefined) {
      if (leaderEpoch > current.leaderEpoch) this.owned.set(partition, { ...current, leaderEpoch });
      return current.loaded;
    }
    let store: GroupStore;
    try {
      store = this.openStore(partition, leaderEpoch);
    } catch (err) {
      this.log.error({ err, partition, leaderEpoch }, "could not open an offsets partition");
      return Promise.resolve(false);
    }
    const shard = new GroupCoordinatorShard({
      store,
      logger: this.log.child({ offsetsPartition: partition }),
      scheduler: this.scheduler,
      config: this.config,
      newUuid: this.newUuid,
    });
    const previousWrites = this.draining.get(partition) ?? Promise.resolve();
    const loaded = previousWrites
      .then(() => (shard.status === "stopped" ? undefined : shard.start()))
      .then(
        () => shard.status === "active",
        (err: unknown) => {
          this.log.error({ err, partition, leaderEpoch }, "could not load the groups of an offsets partition");
          shard.shutdown();
          if (this.owned.get(partition)?.shard === shard) this.owned.delete(partition);
          return false;
        },
      );
    this.owned.set(partition, { shard, leaderEpoch, loaded });
    this.log.info({ partition, leaderEpoch }, "loading the groups of an offsets partition");
    return loaded;
  }

  onResignation(partition: number, leaderEpoch: number | null): void {
    const current = this.owned.get(partition);
    if (current === undefined) return;
    if (leaderEpoch !== null && leaderEpoch <= current.leaderEpoch) {
      this.log.info({ partition, leaderEpoch, current: current.leaderEpoch }, "ignored a stale resignation");
      return;
    }
    this.owned.delete(partition);
    current.shard.shutdown();
    const drained = current.shard.drained();
    this.draining.set(partition, drained);
    void drained.then(() => {
      if (this.draining.get(partition) === drained) this.draining.delete(partition);
    });
    this.log.info({ partition, leaderEpoch }, "unloaded the groups of an offsets partition");
  }

  /** Unloads every shard (broker shutdown): parked requests answer NOT_COORDINATOR, and so does everything after. */
  close(): void {
    this.closed = true;
    for (const { shard } of this.owned.values()) shard.shutdown();
    this.owned.clear();
  }

  /** The shard that owns the group, or NOT_COORDINATOR (also while `__consumer_offsets` does not exist, as Kafka). */
  private shardFor(groupId: string): GroupCoordinatorShard | number {
    const partition = this.partitionFor(groupId);
    if (partition === null) return ErrorCode.NOT_COORDINATOR;
    return this.owned.get(partition)?.shard ?? ErrorCode.NOT_COORDINATOR;
  }

  // ---------------------------------------------------------------- membership (an empty group id is refused first)

  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    if (request.groupId === "") return Promise.resolve(joinError(request.memberId, ErrorCode.INVALID_GROUP_ID));
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return Promise.resolve(joinError(request.memberId, shard));
    return shard.joinGroup(request);
  }

  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResult> {
    if (request.groupId === "") return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return Promise.resolve(syncError(shard));
    return shard.syncGroup(request);
  }

  heartbeat(request: HeartbeatRequest): { errorCode: number } {
    if (request.groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID };
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return { errorCode: shard };
    return shard.heartbeat(request);
  }

  leaveGroup(request: LeaveGroupRequest): LeaveGroupResult {
    if (request.groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return { errorCode: shard, members: [] };
    return shard.leaveGroup(request);
  }

  // ---------------------------------------------------------------- offsets

  commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitPartitionResult[]> {
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") {
      return Promise.resolve(
        request.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode: shard })),
      );
    }
    return shard.commitOffsets(request);
  }

  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResult {
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return { errorCode: shard, partitions: [] };
    return shard.fetchOffsets(request);
  }

  deleteOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<{ errorCode: number; partitions: { topic: string; partition: number; errorCode: number }[] }> {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return Promise.resolve({ errorCode: shard, partitions: [] });
    return shard.deleteOffsets(groupId, partitions);
  }

  /** Every committed offset of every group this broker coordinates, for metrics. */
  committedOffsets(): CommittedOffset[] {
    return [...this.owned.values()].flatMap(({ shard }) => shard.committedOffsets());
  }

  /** Consumer lag per group and partition, given the log end offsets (null for partitions that do not exist). */
  lag(logEndOffset: LogEndOffsets): PartitionLag[] {
    return computeLag(this.committedOffsets(), logEndOffset);
  }

  // ---------------------------------------------------------------- admin

  /** DeleteGroups: each group by its own shard (NOT_COORDINATOR for groups of partitions led elsewhere), in order. */
  async deleteGroups(groupIds: readonly string[]): Promise<DeleteGroupResult[]> {
    const results: DeleteGroupResult[] = groupIds.map((groupId) => ({ groupId, errorCode: ErrorCode.NOT_COORDINATOR }));
    const byShard = new Map<GroupCoordinatorShard, { index: number; groupId: string }[]>();
    for (const [index, groupId] of groupIds.entries()) {
      const shard = this.shardFor(groupId);
      if (typeof shard === "number") continue;
      byShard.set(shard, [...(byShard.get(shard) ?? []), { index, groupId }]);
    }
    await Promise.all(
      [...byShard].map(async ([shard, asked]) => {
        const answered = await shard.deleteGroups(asked.map((a) => a.groupId));
        for (const [n, { index }] of asked.entries()) {
          const result = answered[n];
          if (result !== undefined) results[index] = result;
        }
      }),
    );
    return results;
  }

  /** DescribeGroups, each group by its own shard; a group of a partition led elsewhere answers NOT_COORDINATOR. */
  describeGroups(groupIds: readonly string[]): GroupDescription[] {
    return groupIds.map((groupId) => {
      const shard = this.shardFor(groupId);
      if (typeof shard === "number") return deadGroup(groupId, shard);
      return shard.describeGroups([groupId])[0] ?? deadGroup(groupId, ErrorCode.NONE);
    });
  }

  /**
   * ListGroups over every shard of this broker, as Kafka gathers its coordinator partitions: one shard still loading
   * makes the whole answer COORDINATOR_LOAD_IN_PROGRESS, so a client never takes a partial list for the full one.
   */
  listGroups(request: ListGroupsRequest = {}): { errorCode: number; groups: ListedGroup[] } {
    const groups: ListedGroup[] = [];
    for (const { shard } of this.owned.values()) {
      const listed = shard.listGroups(request);
      if (listed.errorCode !== ErrorCode.NONE) return { errorCode: listed.errorCode, groups: [] };
      groups.push(...listed.groups);
    }
    return { errorCode: ErrorCode.NONE, groups };
  }
}
