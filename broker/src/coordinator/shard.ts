import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { GroupAdmin, deadGroup } from "./admin.ts";
import { defaultGroupCoordinatorConfig } from "./config.ts";
import type { GroupCoordinatorConfig } from "./config.ts";
import { ErrorCode } from "./errors.ts";
import type { ClassicGroup } from "./group.ts";
import { CommittedView } from "./committed.ts";
import { computeLag } from "./lag.ts";
import type { LogEndOffsets, PartitionLag } from "./lag.ts";
import { GroupLoader, UncommittedTail } from "./loading.ts";
import { Membership } from "./membership.ts";
import { Offsets } from "./offsets.ts";
import { systemScheduler } from "./scheduler.ts";
import type { Cancel, Scheduler } from "./scheduler.ts";
import { joinError, syncError } from "./shard-context.ts";
import type { ShardContext } from "./shard-context.ts";
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

export interface GroupCoordinatorShardOptions {
  /** The shard's `__consumer_offsets` partition. */
  store: GroupStore;
  logger: Logger;
  scheduler?: Scheduler;
  config?: Partial<GroupCoordinatorConfig>;
  /** Makes the random part of new member ids; tests pin it. */
  newUuid?: () => string;
}

export type ShardStatus = "loading" | "active" | "stopped";

/**
 * Kafka's classic group coordinator (GroupCoordinator / ClassicGroup semantics) for the groups of one
 * `__consumer_offsets` partition, over domain types: request handlers translate the wire messages, and
 * `GroupCoordinatorManager` routes each group to its shard. Offsets and group metadata are written to the shard's
 * `GroupStore` in `__consumer_offsets` formats and read back by `start()`.
 *
 * One lifecycle per leadership: `start()` loads, `shutdown()` unloads; a partition led again gets a new shard. Calls
 * made before `start()` has finished answer COORDINATOR_LOAD_IN_PROGRESS; after `shutdown()`,
 * COORDINATOR_NOT_AVAILABLE.
 */
export class GroupCoordinatorShard {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  private readonly config: GroupCoordinatorConfig;
  private readonly membership: Membership;
  private readonly offsets: Offsets;
  private readonly admin: GroupAdmin;
  private readonly loader: GroupLoader;
  private readonly committed: CommittedView;
  private readonly tail = new UncommittedTail();
  private state: ShardStatus = "loading";
  private retentionTimer: Cancel | null = null;
  /** Appends not settled yet, so an unloaded shard can tell when its last write is in the log. */
  private readonly writes = new Set<Promise<unknown>>();

  constructor(options: GroupCoordinatorShardOptions) {
    this.log = options.logger;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.config = { ...defaultGroupCoordinatorConfig, ...options.config };
    const store = this.tracked(options.store);
    this.committed = new CommittedView(store);
    const context: ShardContext = {
      groups: this.groups,
      store,
      committed: this.committed,
      log: this.log,
      scheduler: this.scheduler,
      config: this.config,
      newUuid: options.newUuid ?? randomUUID,
    };
    this.membership = new Membership(context);
    this.offsets = new Offsets(context, this.membership, this.tail);
    this.admin = new GroupAdmin(context, this.membership);
    this.loader = new GroupLoader(context, this.membership, this.tail);
  }

  get status(): ShardStatus {
    return this.state;
  }

  /**
   * Resolves once every append the shard started has settled. After `shutdown()` it starts none, so a shard loaded
   * for the same partition afterwards replays everything this one wrote.
   */
  async drained(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  private tracked(store: GroupStore): GroupStore {
    return {
      write: (records) => {
        const write = store.write(records);
        this.writes.add(write);
        const settle = () => this.writes.delete(write);
        write.then(settle, settle);
        return write;
      },
      replicated: (offset) => store.replicated(offset),
      highWatermark: () => store.highWatermark(),
      untilCommitted: (offset, signal) => store.untilCommitted(offset, signal),
      replay: () => store.replay(),
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Replays the store into memory, then serves requests and starts the periodic offset expiry. A `shutdown()` while
   * it loads ends the load: nothing is served, and `start()` resolves.
   */
  async start(): Promise<void> {
    if (this.state !== "loading") throw new Error("the group coordinator can start only once");
    const loaded = await this.loader.load(() => this.state === "stopped");
    if (loaded === null) return;
    this.state = "active";
    this.scheduleRetentionCheck();
    this.log.info({ groups: this.groups.size, ...loaded }, "group coordinator loaded");
  }

  /**
   * Stops every timer and answers every parked JoinGroup and SyncGroup with NOT_COORDINATOR, so clients look for the
   * coordinator again; later calls answer COORDINATOR_NOT_AVAILABLE.
   */
  shutdown(): void {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.retentionTimer?.();
    this.retentionTimer = null;
    // Whatever is not committed now is for the partition's next leader to keep or truncate.
    this.committed.close();
    this.tail.clear();
    for (const group of this.groups.values()) this.membership.unload(group, ErrorCode.NOT_COORDINATOR);
    this.groups.clear();
  }

  /**
   * Why a request for `groupId` cannot be served now: the shard is loading or stopped, or the load found records of
   * the group above the high watermark that are not committed yet (`UncommittedTail`): until they are, its state is
   * not known for sure.
   */
  private inactiveError(groupId?: string): number | null {
    if (this.state === "loading") return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (this.state === "stopped") return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (groupId !== undefined && this.tail.has(groupId)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return null;
  }

  private scheduleRetentionCheck(): void {
    this.retentionTimer = this.scheduler.schedule(this.config.offsetsRetentionCheckIntervalMs, () => {
      // Re-armed at once: a run drops what expired before it awaits the store, so runs never trip over each other.
      this.scheduleRetentionCheck();
      this.expireOffsets().catch((err: unknown) => this.log.warn({ err }, "offset expiry failed"));
    });
  }

  // ---------------------------------------------------------------- membership

  /**
   * JoinGroup. Resolves when the member's join phase ends: at once for errors, MEMBER_ID_REQUIRED and rejoins that
   * change nothing; otherwise when the rebalance completes (everyone rejoined, or the rebalance timeout passed).
   */
  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    const inactive = this.inactiveError(request.groupId);
    if (inactive !== null) return Promise.resolve(joinError(request.memberId, inactive));
    return this.membership.joinGroup(request);
  }

  /**
   * SyncGroup. The leader's assignments are stored and handed to every member; followers that sync first wait for
   * them. Resolves with the member's assignment or an error.
   */
  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResult> {
    const inactive = this.inactiveError(request.groupId);
    if (inactive !== null) return Promise.resolve(syncError(inactive));
    return this.membership.syncGroup(request);
  }

  /** Heartbeat. REBALANCE_IN_PROGRESS tells a member of a rebalancing group to rejoin. */
  heartbeat(request: HeartbeatRequest): { errorCode: number } {
    const inactive = this.inactiveError(request.groupId);
    if (inactive !== null) return { errorCode: inactive };
    return this.membership.heartbeat(request);
  }

  /**
   * LeaveGroup, for one member (v0-2) or a batch (v3+) with an error per member. A member id of "" with an instance
   * id removes that static member whatever its current id.
   */
  leaveGroup(request: LeaveGroupRequest): LeaveGroupResult {
    const inactive = this.inactiveError(request.groupId);
    if (inactive !== null) return { errorCode: inactive, members: [] };
    return this.membership.leaveGroup(request);
  }

  // ---------------------------------------------------------------- offsets

  /**
   * OffsetCommit. Resolves once the accepted offsets are committed (the HW passed them), with an error code per
   * partition in request order. A generation of -1 with no member id is a standalone commit, accepted while the
   * group is Empty or unknown.
   */
  commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitPartitionResult[]> {
    const inactive = this.inactiveError(request.groupId);
    if (inactive !== null) {
      return Promise.resolve(
        request.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode: inactive })),
      );
    }
    return this.offsets.commitOffsets(request);
  }

  /**
   * OffsetFetch for one group. Partitions without a committed offset answer offset -1 and metadata "". With
   * requireStable, a partition whose commit is not committed yet answers UNSTABLE_OFFSET_COMMIT.
   */
  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResult {
    const inactive = this.inactiveError(request.groupId);
    if (inactive !== null) return { errorCode: inactive, partitions: [] };
    return this.offsets.fetchOffsets(request);
  }

  /**
   * OffsetDelete: removes committed offsets of an Empty group, or of topics a Stable consumer group no longer
   * subscribes to (GROUP_SUBSCRIBED_TO_TOPIC for the others), as Kafka does; NON_EMPTY_GROUP for a group mid-rebalance.
   */
  deleteOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<{ errorCode: number; partitions: { topic: string; partition: number; errorCode: number }[] }> {
    const inactive = this.inactiveError(groupId);
    if (inactive !== null) return Promise.resolve({ errorCode: inactive, partitions: [] });
    return this.offsets.deleteOffsets(groupId, partitions);
  }

  /**
   * Drops expired offsets and Empty groups left without any, and writes their tombstones (see `Offsets`). Runs every
   * offsets.retention.check.interval.ms while the shard is active; returns how many offsets it removed.
   */
  expireOffsets(): Promise<number> {
    if (this.state !== "active") return Promise.resolve(0);
    return this.offsets.expireOffsets();
  }

  /** Every committed offset of every group, for metrics and the lag helper; none unless active. */
  committedOffsets(): CommittedOffset[] {
    return this.state === "active" ? this.offsets.committedOffsets() : [];
  }

  /** Consumer lag per group and partition, given the log end offsets (null for partitions that do not exist). */
  lag(logEndOffset: LogEndOffsets): PartitionLag[] {
    return computeLag(this.committedOffsets(), logEndOffset);
  }

  // ---------------------------------------------------------------- admin

  /** DeleteGroups: only Empty groups go (NON_EMPTY_GROUP otherwise), with their offsets, tombstoned in the store. */
  async deleteGroups(groupIds: readonly string[]): Promise<DeleteGroupResult[]> {
    const refused = groupIds.map((groupId) => this.inactiveError(groupId));
    const deleted = await this.admin.deleteGroups(groupIds.filter((_, i) => refused[i] === null));
    let next = 0;
    return groupIds.map((groupId, i) => {
      const errorCode = refused[i] ?? null;
      return errorCode === null ? (deleted[next++] ?? { groupId, errorCode: ErrorCode.NONE }) : { groupId, errorCode };
    });
  }

  /** DescribeGroups. An unknown group is described as Dead with no error, as Kafka does up to DescribeGroups v5. */
  describeGroups(groupIds: readonly string[]): GroupDescription[] {
    return groupIds.map((groupId) => {
      const inactive = this.inactiveError(groupId);
      if (inactive !== null) return deadGroup(groupId, inactive);
      return this.admin.describeGroups([groupId])[0] ?? deadGroup(groupId, ErrorCode.NONE);
    });
  }

  /** ListGroups, filtered by state and type (both case-insensitive) when the filters are not empty. */
  listGroups(request: ListGroupsRequest = {}): { errorCode: number; groups: ListedGroup[] } {
    // Groups with uncommitted records may be missing or stale: the list is not whole until they are committed.
    const inactive = this.inactiveError() ?? (this.tail.empty ? null : ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    if (inactive !== null) return { errorCode: inactive, groups: [] };
    return this.admin.listGroups(request);
  }
}
