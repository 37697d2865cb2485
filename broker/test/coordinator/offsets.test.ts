import { describe, expect, it } from "vitest";
import { ErrorCode, GroupStoreError, InMemoryGroupStore } from "../../src/coordinator/index.ts";
import type { GroupStoreRecord, OffsetCommitPartition, OffsetCommitRequest } from "../../src/coordinator/index.ts";
import { ManualScheduler, hex, isSettled, joinPair, joinRequest, stableGroup, startCoordinator } from "./helpers.ts";

function offset(topic: string, partition: number, value: bigint, metadata: string | null = "m"): OffsetCommitPartition {
  return { topic, partition, offset: value, leaderEpoch: 3, metadata };
}

function commit(overrides: Partial<OffsetCommitRequest>): OffsetCommitRequest {
  return { groupId: "g", generationId: -1, memberId: "", groupInstanceId: null, offsets: [], ...overrides };
}

function fetchAll(groupId = "g") {
  return { groupId, topics: null, requireStable: false };
}

/** A store whose writes reach the log only when the test says so, or fail without being written. */
class GatedStore extends InMemoryGroupStore {
  private gates: {
    records: readonly GroupStoreRecord[];
    resolve: (next: bigint) => void;
    reject: (e: unknown) => void;
  }[] = [];

  override write(records: readonly GroupStoreRecord[]): Promise<bigint> {
    return new Promise<bigint>((resolve, reject) => this.gates.push({ records, resolve, reject }));
  }

  async release(): Promise<void> {
    const gate = this.gates.shift();
    if (gate === undefined) throw new Error("no append waiting");
    gate.resolve(await super.write(gate.records));
  }

  fail(err: unknown): void {
    const gate = this.gates.shift();
    if (gate === undefined) throw new Error("no append waiting");
    gate.reject(err);
  }
}

describe("OffsetCommit and OffsetFetch", () => {
  it("accepts a standalone commit for an unknown group and fetches it back", async () => {
    const { coordinator } = await startCoordinator();
    const results = await coordinator.commitOffsets(
      commit({ offsets: [offset("t", 0, 42n, "hello"), offset("t", 1, 7n, null), offset("u", 0, 0n)] }),
    );
    expect(results).toEqual([
      { topic: "t", partition: 0, errorCode: 0 },
      { topic: "t", partition: 1, errorCode: 0 },
      { topic: "u", partition: 0, errorCode: 0 },
    ]);
    const fetched = coordinator.fetchOffsets({
      groupId: "g",
      topics: [
        { topic: "t", partitions: [0, 1, 2] },
        { topic: "nope", partitions: [0] },
      ],
      requireStable: true,
    });
    expect(fetched).toEqual({
      errorCode: 0,
      partitions: [
        { topic: "t", partition: 0, offset: 42n, leaderEpoch: 3, metadata: "hello", errorCode: 0 },
        { topic: "t", partition: 1, offset: 7n, leaderEpoch: 3, metadata: "", errorCode: 0 },
        { topic: "t", partition: 2, offset: -1n, leaderEpoch: -1, metadata: "", errorCode: 0 },
        { topic: "nope", partition: 0, offset: -1n, leaderEpoch: -1, metadata: "", errorCode: 0 },
      ],
    });
    expect(coordinator.fetchOffsets(fetchAll()).partitions.map((p) => `${p.topic}-${p.partition}=${p.offset}`)).toEqual(
      ["t-0=42", "t-1=7", "u-0=0"],
    );
    expect(coordinator.listGroups().groups).toEqual([
      { groupId: "g", protocolType: "", groupState: "Empty", groupType: "classic" },
    ]);
    expect(coordinator.fetchOffsets(fetchAll("unknown"))).toEqual({ errorCode: 0, partitions: [] });
  });

  it("validates the committer against the group", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    expect(
      (await coordinator.commitOffsets(commit({ generationId: 1, memberId: "m", offsets: [offset("t", 0, 1n)] })))[0],
    ).toMatchObject({ errorCode: ErrorCode.ILLEGAL_GENERATION });
    expect(
      (await coordinator.commitOffsets(commit({ memberId: "m", offsets: [offset("t", 0, 1n)] })))[0],
    ).toMatchObject({
      errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
    });
    // Refused commits leave no group behind.
    expect(coordinator.listGroups().groups).toEqual([]);

    const { members, generationId } = await stableGroup(h, 2, (i) => (i === 1 ? { groupInstanceId: "static" } : {}));
    const [a = "", b = ""] = members;
    const tryCommit = async (overrides: Partial<OffsetCommitRequest>) =>
      (await coordinator.commitOffsets(commit({ offsets: [offset("t", 0, 5n)], ...overrides })))[0]?.errorCode;

    expect(await tryCommit({ generationId, memberId: a })).toBe(0);
    expect(await tryCommit({ generationId: generationId - 1, memberId: a })).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await tryCommit({ generationId, memberId: "ghost" })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await tryCommit({})).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await tryCommit({ generationId, memberId: a, groupInstanceId: "static" })).toBe(
      ErrorCode.FENCED_INSTANCE_ID,
    );
    expect(await tryCommit({ generationId, memberId: b, groupInstanceId: "static" })).toBe(0);

    // While rebalancing, members of the current generation may still commit.
    const cJoin = coordinator.joinGroup(joinRequest());
    expect(await tryCommit({ generationId, memberId: a })).toBe(0);
    const joined = await Promise.all([
      cJoin,
      coordinator.joinGroup(joinRequest({ memberId: a })),
      coordinator.joinGroup(joinRequest({ memberId: b, groupInstanceId: "static" })),
    ]);
    // Between JoinGroup and SyncGroup a commit would use the old assignment.
    expect(await tryCommit({ generationId: generationId + 1, memberId: joined[1].memberId })).toBe(
      ErrorCode.REBALANCE_IN_PROGRESS,
    );
  });

  it("refuses oversized metadata per partition and stores the rest", async () => {
    const { coordinator } = await startCoordinator({ offsetMetadataMaxBytes: 4096 });
    const results = await coordinator.commitOffsets(
      commit({ offsets: [offset("t", 0, 1n, "x".repeat(4097)), offset("t", 1, 2n, "x".repeat(4096))] }),
    );
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE, 0]);
    expect(coordinator.fetchOffsets(fetchAll()).partitions.map((p) => p.partition)).toEqual([1]);
  });

  it("acknowledges a commit only once the store has it, and reports it unstable meanwhile", async () => {
    const store = new GatedStore();
    const { coordinator } = await startCoordinator({}, store);
    const first = coordinator.commitOffsets(commit({ offsets: [offset("t", 0, 10n)] }));
    await store.release();
    expect((await first)[0]?.errorCode).toBe(0);

    const second = coordinator.commitOffsets(commit({ offsets: [offset("t", 0, 20n)] }));
    expect(await isSettled(second)).toBe(false);
    const request = { groupId: "g", topics: [{ topic: "t", partitions: [0] }] };
    expect(coordinator.fetchOffsets({ ...request, requireStable: false }).partitions[0]?.offset).toBe(10n);
    expect(coordinator.fetchOffsets({ ...request, requireStable: true }).partitions[0]).toMatchObject({
      offset: -1n,
      errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
    });
    await store.release();
    expect((await second)[0]?.errorCode).toBe(0);
    expect(coordinator.fetchOffsets({ ...request, requireStable: true }).partitions[0]).toMatchObject({
      offset: 20n,
      errorCode: 0,
    });
  });

  it("reports a failed write and keeps the previous offset", async () => {
    const store = new GatedStore();
    const { coordinator } = await startCoordinator({}, store);
    const first = coordinator.commitOffsets(commit({ offsets: [offset("t", 0, 10n)] }));
    await store.release();
    await first;

    const failing = coordinator.commitOffsets(commit({ offsets: [offset("t", 0, 11n)] }));
    await isSettled(failing);
    store.fail(new Error("disk full"));
    expect((await failing)[0]?.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);

    const moved = coordinator.commitOffsets(commit({ offsets: [offset("t", 0, 12n)] }));
    await isSettled(moved);
    store.fail(new GroupStoreError("partition moved", ErrorCode.NOT_COORDINATOR));
    expect((await moved)[0]?.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(coordinator.fetchOffsets(fetchAll()).partitions[0]?.offset).toBe(10n);
  });

  it("answers COORDINATOR_LOAD_IN_PROGRESS until started", async () => {
    const { GroupCoordinatorShard } = await import("../../src/coordinator/index.ts");
    const { silentLogger } = await import("./helpers.ts");
    const coordinator = new GroupCoordinatorShard({ store: new InMemoryGroupStore(), logger: silentLogger });
    expect(coordinator.fetchOffsets(fetchAll()).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect((await coordinator.joinGroup(joinRequest())).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect((await coordinator.commitOffsets(commit({ offsets: [offset("t", 0, 1n)] })))[0]?.errorCode).toBe(
      ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    );
  });
});

describe("offset retention", () => {
  const day = 24 * 60 * 60 * 1000;

  it("expires an empty consumer group's offsets a retention period after it became empty", async () => {
    const scheduler = new ManualScheduler();
    const store = new InMemoryGroupStore();
    const h = await startCoordinator(
      { offsetsRetentionMs: day, offsetsRetentionCheckIntervalMs: 10 * day },
      store,
      scheduler,
    );
    const { coordinator } = h;
    const { members, generationId } = await stableGroup(h, 1);
    const member = members[0] ?? "";
    await coordinator.commitOffsets(commit({ generationId, memberId: member, offsets: [offset("t", 0, 5n)] }));

    // Members keep their group's offsets however old they are.
    for (let t = 0; t < 3; t++) {
      scheduler.advance(5000);
      coordinator.heartbeat({ groupId: "g", generationId, memberId: member, groupInstanceId: null });
    }
    coordinator.leaveGroup({ groupId: "g", members: [{ memberId: member, groupInstanceId: null }] });
    expect(coordinator.describeGroups(["g"])[0]?.groupState).toBe("Empty");

    scheduler.advance(day - 60_000);
    await coordinator.expireOffsets();
    expect(coordinator.fetchOffsets(fetchAll()).partitions).toHaveLength(1);
    scheduler.advance(60_000);
    expect(await coordinator.expireOffsets()).toBe(1);
    expect(coordinator.fetchOffsets(fetchAll()).partitions).toEqual([]);
    expect(coordinator.listGroups().groups).toEqual([]);
    const last = store.records.slice(-2);
    expect(last.map((r) => r.value)).toEqual([null, null]);
  });

  it("expires a stable consumer group's offsets only for topics nobody subscribes to", async () => {
    const scheduler = new ManualScheduler();
    const config = { offsetsRetentionMs: day, offsetsRetentionCheckIntervalMs: 10 * day, maxSessionTimeoutMs: 3 * day };
    const h = await startCoordinator(config, new InMemoryGroupStore(), scheduler);
    // ConsumerProtocolSubscription v0: topics ["a"], no user data.
    const subscription = hex("0000 00000001 0001 61 ffffffff");
    const { members, generationId } = await stableGroup(h, 1, () => ({
      sessionTimeoutMs: 2 * day,
      protocols: [{ name: "range", metadata: subscription }],
    }));
    const offsets = [offset("a", 0, 1n), offset("b", 0, 1n)];
    await h.coordinator.commitOffsets(commit({ generationId, memberId: members[0] ?? "", offsets }));
    scheduler.advance(day);
    expect(await h.coordinator.expireOffsets()).toBe(1);
    expect(h.coordinator.fetchOffsets(fetchAll()).partitions.map((p) => p.topic)).toEqual(["a"]);
  });

  it("keeps every offset of a stable group whose subscriptions it cannot read", async () => {
    const scheduler = new ManualScheduler();
    const config = { offsetsRetentionMs: day, offsetsRetentionCheckIntervalMs: 10 * day, maxSessionTimeoutMs: 3 * day };
    const h = await startCoordinator(config, new InMemoryGroupStore(), scheduler);
    const { members, generationId } = await stableGroup(h, 1, () => ({ sessionTimeoutMs: 2 * day }));
    await h.coordinator.commitOffsets(
      commit({ generationId, memberId: members[0] ?? "", offsets: [offset("b", 0, 1n)] }),
    );
    scheduler.advance(day);
    expect(await h.coordinator.expireOffsets()).toBe(0);
  });

  it("expires standalone offsets by commit time, on the periodic check", async () => {
    const scheduler = new ManualScheduler();
    const { coordinator } = await startCoordinator(
      { offsetsRetentionMs: day, offsetsRetentionCheckIntervalMs: 600_000 },
      new InMemoryGroupStore(),
      scheduler,
    );
    await coordinator.commitOffsets(commit({ offsets: [offset("t", 0, 1n)] }));
    scheduler.advance(day / 2);
    await coordinator.commitOffsets(commit({ offsets: [offset("t", 1, 1n)] }));
    scheduler.advance(day / 2);
    await isSettled(Promise.resolve());
    expect(coordinator.fetchOffsets(fetchAll()).partitions.map((p) => p.partition)).toEqual([1]);
    scheduler.advance(day / 2);
    await isSettled(Promise.resolve());
    expect(coordinator.fetchOffsets(fetchAll()).partitions).toEqual([]);
    expect(coordinator.listGroups().groups).toEqual([]);
  });

  it("honours a commit's own retention time (OffsetCommit v2-4)", async () => {
    const scheduler = new ManualScheduler();
    const { coordinator } = await startCoordinator({ offsetsRetentionMs: day }, new InMemoryGroupStore(), scheduler);
    await coordinator.commitOffsets(commit({ retentionTimeMs: 1000n, offsets: [offset("t", 0, 1n)] }));
    await coordinator.commitOffsets(commit({ retentionTimeMs: -1n, offsets: [offset("t", 1, 1n)] }));
    scheduler.advance(1000);
    expect(await coordinator.expireOffsets()).toBe(1);
    expect(coordinator.fetchOffsets(fetchAll()).partitions.map((p) => p.partition)).toEqual([1]);
  });
});

describe("DeleteGroups, DescribeGroups, ListGroups", () => {
  it("deletes only empty groups, with their offsets", async () => {
    const store = new InMemoryGroupStore();
    const h = await startCoordinator({}, store);
    const { coordinator } = h;
    await stableGroup(h, 1);
    await coordinator.commitOffsets(commit({ groupId: "simple", offsets: [offset("t", 0, 9n), offset("t", 1, 9n)] }));

    const results = await coordinator.deleteGroups(["g", "simple", "missing", ""]);
    expect(results).toEqual([
      { groupId: "g", errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: "simple", errorCode: 0 },
      { groupId: "missing", errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
      { groupId: "", errorCode: ErrorCode.INVALID_GROUP_ID },
    ]);
    expect(coordinator.fetchOffsets(fetchAll("simple")).partitions).toEqual([]);
    expect(coordinator.listGroups().groups.map((g) => g.groupId)).toEqual(["g"]);
    expect(store.records.slice(-3).map((r) => r.value)).toEqual([null, null, null]);
    expect((await coordinator.deleteGroups(["simple"]))[0]?.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it("describes groups as Kafka does in each state", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    expect(coordinator.describeGroups(["nope"])).toEqual([
      { groupId: "nope", errorCode: 0, groupState: "Dead", protocolType: "", protocolData: "", members: [] },
    ]);
    const { members } = await stableGroup(h, 2, (i) => ({ clientId: `client-${i}`, groupInstanceId: `i-${i}` }));
    const stable = coordinator.describeGroups(["g"])[0];
    expect(stable).toMatchObject({
      errorCode: 0,
      groupState: "Stable",
      protocolType: "consumer",
      protocolData: "range",
    });
    expect(stable?.members[0]).toEqual({
      memberId: members[0],
      groupInstanceId: "i-0",
      clientId: "client-0",
      clientHost: "/127.0.0.1",
      metadata: Buffer.from("sub"),
      assignment: Buffer.from(`assigned:${members[0]}`),
    });
    coordinator.joinGroup(joinRequest({ memberId: members[0] ?? "", groupInstanceId: "i-0" })).catch(() => undefined);
    const rebalancing = coordinator.describeGroups(["g"])[0];
    expect(rebalancing).toMatchObject({ groupState: "PreparingRebalance", protocolData: "" });
    expect(rebalancing?.members.map((m) => [m.metadata.length, m.assignment.length])).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it("lists groups filtered by state and type, case-insensitively", async () => {
    const { coordinator } = await startCoordinator();
    await joinPair(coordinator);
    await coordinator.commitOffsets(commit({ groupId: "simple", offsets: [offset("t", 0, 1n)] }));
    const ids = (statesFilter: string[], typesFilter: string[] = []) =>
      coordinator
        .listGroups({ statesFilter, typesFilter })
        .groups.map((g) => g.groupId)
        .sort();
    expect(ids([])).toEqual(["g", "simple"]);
    expect(ids(["empty"])).toEqual(["simple"]);
    expect(ids(["CompletingRebalance", "Stable"])).toEqual(["g"]);
    expect(ids([], ["Classic"])).toEqual(["g", "simple"]);
    expect(ids([], ["consumer"])).toEqual([]);
  });
});

describe("lag", () => {
  it("computes lag per group and partition from log end offsets", async () => {
    const { coordinator } = await startCoordinator();
    await coordinator.commitOffsets(commit({ groupId: "a", offsets: [offset("t", 0, 10n), offset("t", 1, 50n)] }));
    await coordinator.commitOffsets(commit({ groupId: "b", offsets: [offset("t", 0, 4n), offset("gone", 0, 1n)] }));
    const ends = new Map([
      ["t-0", 12n],
      ["t-1", 40n],
    ]);
    const lag = coordinator.lag((topic, partition) => ends.get(`${topic}-${partition}`) ?? null);
    expect(
      lag.map((l) => `${l.groupId} ${l.topic}-${l.partition} ${l.committedOffset}/${l.logEndOffset} lag ${l.lag}`),
    ).toEqual(["a t-0 10/12 lag 2", "a t-1 50/40 lag 0", "b t-0 4/12 lag 8"]);
  });
});
