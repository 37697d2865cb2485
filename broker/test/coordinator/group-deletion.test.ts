import { describe, expect, it } from "vitest";
import { ErrorCode, InMemoryGroupStore } from "../../src/coordinator/index.ts";
import type { GroupCoordinatorShard, OffsetCommitRequest } from "../../src/coordinator/index.ts";
import { flush, startCoordinator } from "./helpers.ts";

// DeleteGroups and the offset commits around it, in log order (as Kafka's coordinator has it): the tombstones delete
// every offset written before them, committed or still on its way to the ISR, and a commit written after them starts
// the group afresh with its own offsets. What the live shard serves once the HW passed all of it and what a reload of
// the same log (a restart, a leadership move) serves are the same.

function commit(groupId: string, offsets: Record<number, bigint>): OffsetCommitRequest {
  return {
    groupId,
    generationId: -1,
    memberId: "",
    groupInstanceId: null,
    offsets: Object.entries(offsets).map(([partition, offset]) => ({
      topic: "t",
      partition: Number(partition),
      offset,
      leaderEpoch: -1,
      metadata: "",
    })),
  };
}

/** The committed offsets of t-0 and t-1 (-1 where none), and whether the group is listed. */
function served(coordinator: GroupCoordinatorShard, groupId: string) {
  const fetched = coordinator.fetchOffsets({
    groupId,
    topics: [{ topic: "t", partitions: [0, 1] }],
    requireStable: false,
  });
  return {
    offsets: fetched.partitions.map((p) => p.offset),
    listed: coordinator.listGroups().groups.some((g) => g.groupId === groupId),
  };
}

async function reload(store: InMemoryGroupStore, previous: GroupCoordinatorShard): Promise<GroupCoordinatorShard> {
  previous.shutdown();
  store.lead();
  return (await startCoordinator({}, store)).coordinator;
}

const codes = (results: { errorCode: number }[]) => results.map((r) => r.errorCode);

describe("DeleteGroups and concurrent offset commits", () => {
  it("tombstones a commit written before the deletion but not committed yet, so a reload does not bring it back", async () => {
    const store = new InMemoryGroupStore();
    const { coordinator } = await startCoordinator({}, store);
    expect(codes(await coordinator.commitOffsets(commit("g", { 0: 10n })))).toEqual([ErrorCode.NONE]);
    store.holdCommits = true;
    // Written, waiting for the ISR, when DeleteGroups comes: the group is Empty, so it may go.
    const inFlight = coordinator.commitOffsets(commit("g", { 1: 20n }));
    await flush();
    const deletion = coordinator.deleteGroups(["g"]);
    await flush();
    store.commitUpTo(BigInt(store.records.length));
    expect(codes(await inFlight)).toEqual([ErrorCode.NONE]);
    expect(codes(await deletion)).toEqual([ErrorCode.NONE]);
    await flush();
    expect(served(coordinator, "g")).toEqual({ offsets: [-1n, -1n], listed: false });

    const reloaded = await reload(store, coordinator);
    expect(served(reloaded, "g")).toEqual({ offsets: [-1n, -1n], listed: false });
  });

  it("keeps a commit written after the deletion's tombstones, live as after a reload, and nothing older", async () => {
    const store = new InMemoryGroupStore();
    const { coordinator } = await startCoordinator({}, store);
    expect(codes(await coordinator.commitOffsets(commit("g", { 0: 10n, 1: 5n })))).toEqual([
      ErrorCode.NONE,
      ErrorCode.NONE,
    ]);
    store.holdCommits = true;
    const deletion = coordinator.deleteGroups(["g"]);
    await flush();
    // The deletion is in the log, not committed yet; the group is still served, Empty, so a standalone commit is
    // accepted, and written after the tombstones.
    const after = coordinator.commitOffsets(commit("g", { 0: 30n }));
    await flush();
    store.commitUpTo(BigInt(store.records.length));
    expect(codes(await deletion)).toEqual([ErrorCode.NONE]);
    // Acknowledged: it must be served from now on, as Kafka serves a commit to a group deleted before it.
    expect(codes(await after)).toEqual([ErrorCode.NONE]);
    await flush();
    expect(served(coordinator, "g")).toEqual({ offsets: [30n, -1n], listed: true });

    const reloaded = await reload(store, coordinator);
    expect(served(reloaded, "g")).toEqual({ offsets: [30n, -1n], listed: true });
  });
});
