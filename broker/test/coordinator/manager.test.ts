import { describe, expect, it } from "vitest";
import {
  ErrorCode,
  GroupCoordinatorManager,
  InMemoryGroupStore,
  decodeKey,
  offsetsPartitionFor,
} from "../../src/coordinator/index.ts";
import type { GroupStore, ReplayedRecord } from "../../src/coordinator/index.ts";
import {
  ManualScheduler,
  flush,
  isSettled,
  joinRequest,
  silentLogger,
  stableGroup,
  standaloneCommit,
} from "./helpers.ts";

// The group coordinator of a broker: one shard per __consumer_offsets partition it leads, requests routed by the
// group's partition, shards loaded and unloaded as leadership moves.

const PARTITIONS = 4;

/** A group id that lands on `partition` of PARTITIONS (or `count`) partitions. */
function groupOn(partition: number, prefix = "group", count = PARTITIONS): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (offsetsPartitionFor(id, count) === partition) return id;
  }
}

/** A store whose replay waits until `release()`, and can be told to fail it. */
class GatedStore extends InMemoryGroupStore {
  private opened: () => void = () => undefined;
  private readonly gate = new Promise<void>((resolve) => (this.opened = resolve));
  failReplay = false;

  release(): void {
    this.opened();
  }

  override async *replay(): AsyncIterable<ReplayedRecord> {
    await this.gate;
    if (this.failReplay) throw new Error("the log could not be read");
    yield* super.replay();
  }
}

function setup(options: { stores?: Map<number, GroupStore> } = {}) {
  const stores = options.stores ?? new Map<number, GroupStore>();
  const scheduler = new ManualScheduler();
  let n = 0;
  const manager = new GroupCoordinatorManager({
    partitionCount: PARTITIONS,
    openStore: (partition) => {
      let store = stores.get(partition);
      if (store === undefined) {
        store = new InMemoryGroupStore();
        stores.set(partition, store);
      }
      return store;
    },
    logger: silentLogger,
    scheduler,
    config: { initialRebalanceDelayMs: 0 },
    newUuid: () => `uuid${++n}`,
  });
  return { manager, scheduler, stores };
}

async function electAll(manager: GroupCoordinatorManager, partitions: readonly number[], epoch = 0): Promise<void> {
  const loaded = await Promise.all(partitions.map((p) => manager.onElection(p, epoch)));
  expect(loaded.every(Boolean)).toBe(true);
}

function groupsIn(store: GroupStore | undefined): Set<string | undefined> {
  const records = store instanceof InMemoryGroupStore ? store.records : [];
  return new Set(records.map((r) => decodeKey(r.key)?.groupId));
}

describe("GroupCoordinatorManager routing", () => {
  it("writes each group to the shard of its own partition", async () => {
    const { manager, stores } = setup();
    await electAll(manager, [0, 1, 2, 3]);
    const groups = [0, 1, 2, 3].map((p) => groupOn(p));
    for (const g of groups)
      expect((await manager.commitOffsets(standaloneCommit(g)))[0]?.errorCode).toBe(ErrorCode.NONE);
    for (const [p, g] of groups.entries()) {
      expect(manager.partitionFor(g)).toBe(p);
      expect(groupsIn(stores.get(p))).toEqual(new Set([g]));
      expect(manager.fetchOffsets({ groupId: g, topics: null, requireStable: false }).partitions).toEqual([
        expect.objectContaining({ topic: "t", partition: 0, offset: 5n }),
      ]);
    }
    expect(new Set(manager.listGroups().groups.map((g) => g.groupId))).toEqual(new Set(groups));
    expect(manager.committedOffsets().map((o) => o.groupId)).toEqual(expect.arrayContaining(groups));
  });

  it("answers NOT_COORDINATOR for groups of partitions this broker does not lead", async () => {
    const { manager } = setup();
    await electAll(manager, [0, 2]);
    const mine = groupOn(0);
    const theirs = groupOn(1);
    await manager.commitOffsets(standaloneCommit(mine));

    expect((await manager.joinGroup(joinRequest({ groupId: theirs }))).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    const sync = { groupId: theirs, generationId: 1, memberId: "m", groupInstanceId: null };
    expect(
      (await manager.syncGroup({ ...sync, protocolType: null, protocolName: null, assignments: [] })).errorCode,
    ).toBe(ErrorCode.NOT_COORDINATOR);
    expect(manager.heartbeat(sync).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(manager.leaveGroup({ groupId: theirs, members: [{ memberId: "m", groupInstanceId: null }] }).errorCode).toBe(
      ErrorCode.NOT_COORDINATOR,
    );
    expect(await manager.commitOffsets(standaloneCommit(theirs))).toEqual([
      { topic: "t", partition: 0, errorCode: ErrorCode.NOT_COORDINATOR },
    ]);
    expect(manager.fetchOffsets({ groupId: theirs, topics: null, requireStable: false }).errorCode).toBe(
      ErrorCode.NOT_COORDINATOR,
    );
    expect((await manager.deleteOffsets(theirs, [{ topic: "t", partition: 0 }])).errorCode).toBe(
      ErrorCode.NOT_COORDINATOR,
    );
    expect(manager.describeGroups([theirs, mine]).map((g) => [g.groupId, g.errorCode, g.groupState])).toEqual([
      [theirs, ErrorCode.NOT_COORDINATOR, "Dead"],
      [mine, ErrorCode.NONE, "Empty"],
    ]);
    // An empty group id is refused before routing, as Kafka does.
    expect((await manager.joinGroup(joinRequest({ groupId: "" }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(manager.listGroups().groups.map((g) => g.groupId)).toEqual([mine]);
  });

  it("deletes groups on several shards and answers in request order", async () => {
    const { manager, stores } = setup();
    await electAll(manager, [0, 1, 3]);
    const [a, b, c, d] = [groupOn(0), groupOn(1), groupOn(2), groupOn(3)];
    for (const g of [a, b, d]) await manager.commitOffsets(standaloneCommit(g));
    const results = await manager.deleteGroups([d, c, a, "missing-group", b]);
    expect(results).toEqual([
      { groupId: d, errorCode: ErrorCode.NONE },
      { groupId: c, errorCode: ErrorCode.NOT_COORDINATOR },
      { groupId: a, errorCode: ErrorCode.NONE },
      {
        groupId: "missing-group",
        errorCode:
          offsetsPartitionFor("missing-group", PARTITIONS) === 2
            ? ErrorCode.NOT_COORDINATOR
            : ErrorCode.GROUP_ID_NOT_FOUND,
      },
      { groupId: b, errorCode: ErrorCode.NONE },
    ]);
    expect(manager.listGroups().groups).toEqual([]);
    // Each deletion is tombstoned in its own partition.
    const last = (p: number) => (stores.get(p) as InMemoryGroupStore).records.at(-1);
    for (const p of [0, 1, 3]) expect(last(p)?.value).toBeNull();
  });
});

describe("GroupCoordinatorManager loading and unloading", () => {
  it("answers COORDINATOR_LOAD_IN_PROGRESS while a partition loads, then serves it", async () => {
    const gated = new GatedStore();
    const g = groupOn(1);
    const { manager } = setup({ stores: new Map<number, GroupStore>([[1, gated]]) });
    await electAll(manager, [0]);
    const loading = manager.onElection(1, 0);
    expect(await isSettled(loading)).toBe(false);
    expect(manager.ownedPartitions()).toEqual([
      { partition: 0, leaderEpoch: 0, status: "active" },
      { partition: 1, leaderEpoch: 0, status: "loading" },
    ]);
    expect((await manager.joinGroup(joinRequest({ groupId: g }))).errorCode).toBe(
      ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    );
    expect((await manager.commitOffsets(standaloneCommit(g)))[0]?.errorCode).toBe(
      ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    );
    expect(manager.describeGroups([g])[0]?.errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    // A list missing the loading partition's groups would look complete to the client: the whole answer waits.
    expect(manager.listGroups().errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);

    gated.release();
    expect(await loading).toBe(true);
    expect((await manager.commitOffsets(standaloneCommit(g)))[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(manager.listGroups().errorCode).toBe(ErrorCode.NONE);
  });

  it("unloads a partition on resignation: parked requests and later ones answer NOT_COORDINATOR", async () => {
    const { manager, scheduler } = setup();
    const g = groupOn(2);
    const other = groupOn(0);
    await electAll(manager, [0, 2]);
    const harness = { coordinator: manager };
    const { members, generationId } = await stableGroup(harness, 1, () => ({ groupId: g }));
    await manager.commitOffsets({ ...standaloneCommit(g, 9n), generationId, memberId: members[0] ?? "" });
    await manager.commitOffsets(standaloneCommit(other));
    // A newcomer's join stays parked until the first member rejoins.
    const parked = manager.joinGroup(joinRequest({ groupId: g }));
    await flush();
    expect(await isSettled(parked)).toBe(false);

    manager.onResignation(2, 1);

    expect((await parked).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    const member = { groupId: g, generationId, memberId: members[0] ?? "", groupInstanceId: null };
    expect(manager.heartbeat(member).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(manager.describeGroups([g])[0]?.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(manager.listGroups().groups.map((x) => x.groupId)).toEqual([other]);
    expect(manager.committedOffsets().map((o) => o.groupId)).toEqual([other]);
    expect(manager.ownedPartitions().map((p) => p.partition)).toEqual([0]);
    // Its members' sessions and the retention check are gone with it: only partition 0's retention timer is left.
    expect(scheduler.pendingTasks).toBe(1);
  });

  it("reloads a partition led again from its log: offsets and group metadata come back", async () => {
    const { manager } = setup();
    const g = groupOn(3);
    await electAll(manager, [3]);
    const { members, generationId, leader } = await stableGroup({ coordinator: manager }, 2, () => ({ groupId: g }));
    await manager.commitOffsets({ ...standaloneCommit(g, 77n), generationId, memberId: leader });
    const before = manager.describeGroups([g]);

    manager.onResignation(3, 1);
    expect(manager.describeGroups([g])[0]?.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(await manager.onElection(3, 2)).toBe(true);

    expect(manager.describeGroups([g])).toEqual(before);
    expect(before[0]?.groupState).toBe("Stable");
    expect(before[0]?.members.map((m) => m.memberId).sort()).toEqual([...members].sort());
    expect(manager.fetchOffsets({ groupId: g, topics: null, requireStable: false }).partitions).toEqual([
      expect.objectContaining({ offset: 77n }),
    ]);
    // The reloaded members carry on in their generation.
    expect(manager.heartbeat({ groupId: g, generationId, memberId: leader, groupInstanceId: null }).errorCode).toBe(
      ErrorCode.NONE,
    );
  });

  it("follows leader epochs: stale resignations are ignored, a deleted topic unloads", async () => {
    const { manager } = setup();
    const g = groupOn(1);
    expect(await manager.onElection(1, 5)).toBe(true);
    await manager.commitOffsets(standaloneCommit(g));
    // The same or an older epoch: the partition stays loaded, no second load.
    expect(await manager.onElection(1, 5)).toBe(true);
    manager.onResignation(1, 5);
    manager.onResignation(1, 3);
    expect(manager.fetchOffsets({ groupId: g, topics: null, requireStable: false }).errorCode).toBe(ErrorCode.NONE);
    // A newer election while loaded moves the epoch on; a resignation at that epoch is then stale too.
    expect(await manager.onElection(1, 7)).toBe(true);
    manager.onResignation(1, 6);
    expect(manager.ownedPartitions()).toEqual([{ partition: 1, leaderEpoch: 7, status: "active" }]);
    manager.onResignation(1, null);
    expect(manager.ownedPartitions()).toEqual([]);
    // Partitions that do not exist are never loaded.
    expect(await manager.onElection(PARTITIONS, 0)).toBe(false);
    expect(await manager.onElection(-1, 0)).toBe(false);
  });

  it("ends a load that a resignation overtakes, and serves nothing from it", async () => {
    const gated = new GatedStore();
    const g = groupOn(0);
    const { manager } = setup({ stores: new Map<number, GroupStore>([[0, gated]]) });
    const loading = manager.onElection(0, 0);
    manager.onResignation(0, 1);
    gated.release();
    expect(await loading).toBe(false);
    expect(manager.fetchOffsets({ groupId: g, topics: null, requireStable: false }).errorCode).toBe(
      ErrorCode.NOT_COORDINATOR,
    );
  });

  it("answers NOT_COORDINATOR for a partition whose load failed, until it is elected again", async () => {
    const stores = new Map<number, GroupStore>();
    const failing = new GatedStore();
    failing.failReplay = true;
    failing.release();
    stores.set(2, failing);
    const { manager } = setup({ stores });
    const g = groupOn(2);
    expect(await manager.onElection(2, 0)).toBe(false);
    expect(manager.heartbeat({ groupId: g, generationId: 1, memberId: "m", groupInstanceId: null }).errorCode).toBe(
      ErrorCode.NOT_COORDINATOR,
    );
    failing.failReplay = false;
    expect(await manager.onElection(2, 1)).toBe(true);
    expect((await manager.commitOffsets(standaloneCommit(g)))[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it("loads a partition again only after the unloaded shard's writes are in its log", async () => {
    const inner = new InMemoryGroupStore();
    let finishWrite: () => void = () => undefined;
    const slow: GroupStore = {
      // The first write is held, as a slow fsync would hold it; later ones go straight through.
      write: (records) =>
        new Promise<bigint>((resolve) => {
          finishWrite = () => void inner.write(records).then(resolve);
        }),
      replicated: (offset) => inner.replicated(offset),
      highWatermark: () => inner.highWatermark(),
      untilCommitted: (offset, signal) => inner.untilCommitted(offset, signal),
      replay: () => inner.replay(),
    };
    const { manager } = setup({ stores: new Map<number, GroupStore>([[1, slow]]) });
    const g = groupOn(1);
    await electAll(manager, [1]);
    const commit = manager.commitOffsets(standaloneCommit(g, 33n));
    await flush();
    manager.onResignation(1, 1);
    const reload = manager.onElection(1, 2);
    await flush();
    expect(await isSettled(reload)).toBe(false);
    expect(manager.fetchOffsets({ groupId: g, topics: null, requireStable: false }).errorCode).toBe(
      ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    );

    finishWrite();
    expect((await commit)[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(await reload).toBe(true);
    expect(manager.fetchOffsets({ groupId: g, topics: null, requireStable: false }).partitions).toEqual([
      expect.objectContaining({ offset: 33n }),
    ]);
  });

  it("close() unloads everything", async () => {
    const { manager, scheduler } = setup();
    await electAll(manager, [0, 1, 2, 3]);
    const g = groupOn(1);
    await stableGroup({ coordinator: manager }, 1, () => ({ groupId: g }));
    const parked = manager.joinGroup(joinRequest({ groupId: g }));
    await flush();
    expect(await isSettled(parked)).toBe(false);
    manager.close();
    expect((await parked).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(manager.ownedPartitions()).toEqual([]);
    expect(await manager.onElection(0, 1)).toBe(false);
    expect(scheduler.pendingTasks).toBe(0);
  });
});
