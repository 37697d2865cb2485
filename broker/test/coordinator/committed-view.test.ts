import { describe, expect, it } from "vitest";
import { ErrorCode, GroupStoreError, InMemoryGroupStore } from "../../src/coordinator/index.ts";
import type { GroupCoordinatorShard, OffsetCommitRequest } from "../../src/coordinator/index.ts";
import { ManualScheduler, flush, joinRequest, stableGroup, standaloneCommit, startCoordinator } from "./helpers.ts";

// The coordinator serves its __consumer_offsets partition only up to the high watermark (ADR 24): what a load finds
// above it, and what a write put in the log without replicating it, become visible only when the HW passes them, and
// never if leadership moves first. The store's HW is driven by hand here (holdCommits, commitUpTo, failReplication).

const notReplicated = () => new GroupStoreError("the ISR did not catch up", ErrorCode.COORDINATOR_NOT_AVAILABLE);

/** Partition t-0's committed offset, or the error (the group's, else the partition's). */
function offsetOf(coordinator: GroupCoordinatorShard, groupId: string, requireStable = false) {
  const result = coordinator.fetchOffsets({ groupId, topics: [{ topic: "t", partitions: [0] }], requireStable });
  const p = result.partitions[0];
  if (result.errorCode !== ErrorCode.NONE) return { errorCode: result.errorCode };
  return { offset: p?.offset, errorCode: p?.errorCode };
}

/** A commit whose record reaches the log but never the ISR: the member is told it failed. */
async function unreplicatedCommit(
  coordinator: GroupCoordinatorShard,
  store: InMemoryGroupStore,
  request: OffsetCommitRequest,
): Promise<number | undefined> {
  store.holdCommits = true;
  const result = coordinator.commitOffsets(request);
  await flush();
  store.failReplication(notReplicated());
  return (await result)[0]?.errorCode;
}

/** The partition's next leader loads the same log (this node again, as after a restart or re-election). */
async function reload(store: InMemoryGroupStore, previous: GroupCoordinatorShard, scheduler = new ManualScheduler()) {
  previous.shutdown();
  store.lead();
  return (await startCoordinator({}, store, scheduler)).coordinator;
}

/** A shard loaded from a log whose commit of 10 is replicated and whose later commit of 20 is not. */
async function loadedWithTail() {
  const store = new InMemoryGroupStore();
  const first = (await startCoordinator({}, store)).coordinator;
  await first.commitOffsets(standaloneCommit("g", 10n));
  await unreplicatedCommit(first, store, standaloneCommit("g", 20n));
  return { store, loaded: await reload(store, first) };
}

function syncOf(memberId: string, generationId: number, protocolName: string | null, assignment: Buffer[]) {
  return {
    groupId: "g",
    generationId,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName,
    assignments: assignment.map((a) => ({ memberId, assignment: a })),
  };
}

/**
 * A one-member group Stable in generation 1, whose member rejoined for generation 2 and whose SyncGroup failed: the
 * assignment of generation 2 is in the log but was not replicated.
 */
async function uncommittedGeneration() {
  const scheduler = new ManualScheduler();
  const store = new InMemoryGroupStore();
  const h = await startCoordinator({}, store, scheduler);
  const { members, generationId } = await stableGroup(h, 1);
  const member = members[0] ?? "";
  expect(generationId).toBe(1);
  // The member rejoins (the leader asks to reassign) and the next generation's assignment is not replicated.
  const rejoined = await h.coordinator.joinGroup(joinRequest({ memberId: member }));
  expect(rejoined.generationId).toBe(2);
  store.holdCommits = true;
  const sync = h.coordinator.syncGroup(syncOf(member, 2, rejoined.protocolName, [Buffer.from("gen2")]));
  await flush();
  store.failReplication(notReplicated());
  expect((await sync).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  return { store, h, scheduler, member, protocolName: rejoined.protocolName };
}

describe("the committed view of a coordinator shard", () => {
  it("never answers OffsetFetch from a commit that was not replicated, and applies it once the HW passes it", async () => {
    const store = new InMemoryGroupStore();
    const { coordinator } = await startCoordinator({}, store);
    expect((await coordinator.commitOffsets(standaloneCommit("g", 10n)))[0]?.errorCode).toBe(ErrorCode.NONE);

    expect(await unreplicatedCommit(coordinator, store, standaloneCommit("g", 20n))).toBe(
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
    );
    expect(offsetOf(coordinator, "g").offset).toBe(10n);

    // The followers catch up after all: the record is committed in the log, so the view takes it, in its place.
    store.commitUpTo(BigInt(store.records.length));
    await flush();
    expect(offsetOf(coordinator, "g").offset).toBe(20n);
  });

  it("applies pending commits in log order when one HW move passes several", async () => {
    const store = new InMemoryGroupStore();
    const { coordinator } = await startCoordinator({}, store);
    expect(await unreplicatedCommit(coordinator, store, standaloneCommit("g", 20n))).toBe(
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
    );
    const later = coordinator.commitOffsets(standaloneCommit("g", 30n));
    await flush();
    expect(offsetOf(coordinator, "g").offset).toBe(-1n);
    store.commitUpTo(BigInt(store.records.length));
    expect((await later)[0]?.errorCode).toBe(ErrorCode.NONE);
    await flush();
    expect(offsetOf(coordinator, "g").offset).toBe(30n);
  });

  it("loads only what is below the HW; the uncommitted tail shows once the HW passes it", async () => {
    const { store, loaded } = await loadedWithTail();
    // 20 may not survive; nor may 10 be answered: had 20 been committed under the previous leader, it was answered.
    expect(offsetOf(loaded, "g")).toEqual({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });

    store.commitUpTo(BigInt(store.records.length));
    await flush();
    expect(offsetOf(loaded, "g", true)).toEqual({ offset: 20n, errorCode: ErrorCode.NONE });
    store.holdCommits = false;
    expect((await loaded.commitOffsets(standaloneCommit("g", 25n)))[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(offsetOf(loaded, "g").offset).toBe(25n);
  });

  it("drops the uncommitted tail when leadership moves and the next leader's log does not have it", async () => {
    const { store, loaded } = await loadedWithTail();
    expect(offsetOf(loaded, "g")).toEqual({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });

    // Another replica leads now; its log ends at the HW (the tail is truncated here when this node follows it).
    store.loseLeadership();
    loaded.shutdown();
    const next = await reload(store, loaded);
    expect(offsetOf(next, "g", true)).toEqual({ offset: 10n, errorCode: ErrorCode.NONE });
  });

  it("does not serve a generation or assignment that was not replicated", async () => {
    const { store, h, scheduler, member, protocolName } = await uncommittedGeneration();
    const loaded = await reload(store, h.coordinator, scheduler);
    const heartbeat = (generation: number) =>
      loaded.heartbeat({ groupId: "g", generationId: generation, memberId: member, groupInstanceId: null }).errorCode;
    // Generation 1 is committed, generation 2 may not survive: the group waits for the HW to decide.
    expect(heartbeat(2)).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(loaded.describeGroups(["g"])[0]?.errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    const sync = await loaded.syncGroup(syncOf(member, 2, protocolName, []));
    expect(sync.errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(offsetOf(loaded, "g")).toEqual({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });
    expect(loaded.listGroups().errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);

    store.commitUpTo(BigInt(store.records.length));
    await flush();
    expect(heartbeat(2)).toBe(ErrorCode.NONE);
    expect(loaded.listGroups().groups.map((g) => g.groupState)).toEqual(["Stable"]);
    const described = loaded.describeGroups(["g"])[0];
    expect(described?.groupState).toBe("Stable");
    expect(described?.members[0]?.assignment.toString()).toBe("gen2");
  });

  it("serves the committed generation when the uncommitted one is truncated away", async () => {
    const { store, h, scheduler, member } = await uncommittedGeneration();
    store.loseLeadership();
    const next = await reload(store, h.coordinator, scheduler);
    const heartbeat = (generation: number) =>
      next.heartbeat({ groupId: "g", generationId: generation, memberId: member, groupInstanceId: null }).errorCode;
    expect(heartbeat(2)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(heartbeat(1)).toBe(ErrorCode.NONE);
  });

  it("keeps serving offsets whose deletion was not replicated", async () => {
    const store = new InMemoryGroupStore();
    const { coordinator } = await startCoordinator({}, store);
    await coordinator.commitOffsets(standaloneCommit("g", 10n));
    store.holdCommits = true;
    const deletion = coordinator.deleteOffsets("g", [{ topic: "t", partition: 0 }]);
    await flush();
    store.failReplication(notReplicated());
    expect((await deletion).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(offsetOf(coordinator, "g").offset).toBe(10n);

    const groupDeletion = coordinator.deleteGroups(["g"]);
    await flush();
    store.failReplication(notReplicated());
    expect((await groupDeletion)[0]?.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(offsetOf(coordinator, "g").offset).toBe(10n);
    expect(coordinator.listGroups().groups.map((g) => g.groupId)).toEqual(["g"]);
  });
});
