import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ErrorCode,
  FileGroupStore,
  InMemoryGroupStore,
  decodeGroupMetadataValue,
  decodeKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
} from "../../src/coordinator/index.ts";
import type { GroupMetadataValue, GroupStoreRecord } from "../../src/coordinator/index.ts";
import { ManualScheduler, assignmentFor, hex, joinRequest, stableGroup, startCoordinator } from "./helpers.ts";

describe("__consumer_offsets record formats", () => {
  it("encodes offset commit keys and values as Kafka does", () => {
    expect(encodeOffsetCommitKey("g", "t", 2)).toEqual(hex("0001 0001 67 0001 74 00000002"));
    const value = { offset: 42n, leaderEpoch: 5, metadata: "m", commitTimestamp: 1000, expireTimestamp: null };
    const bytes = encodeOffsetCommitValue(value);
    expect(bytes).toEqual(hex("0003 000000000000002a 00000005 0001 6d 00000000000003e8"));
    expect(decodeOffsetCommitValue(bytes)).toEqual(value);
    expect(decodeKey(encodeOffsetCommitKey("g", "t", 2))).toEqual({
      kind: "offset",
      groupId: "g",
      topic: "t",
      partition: 2,
    });
  });

  it("writes value version 1 for commits with their own expiry and reads older versions", () => {
    const withExpiry = { offset: 7n, leaderEpoch: 9, metadata: "", commitTimestamp: 10, expireTimestamp: 20 };
    const bytes = encodeOffsetCommitValue(withExpiry);
    expect(bytes.readInt16BE(0)).toBe(1);
    // Version 1 has no leader epoch.
    expect(decodeOffsetCommitValue(bytes)).toEqual({ ...withExpiry, leaderEpoch: -1 });
    // Version 0: offset, metadata, timestamp.
    expect(decodeOffsetCommitValue(hex("0000 0000000000000003 0000 0000000000000064"))).toEqual({
      offset: 3n,
      leaderEpoch: -1,
      metadata: "",
      commitTimestamp: 100,
      expireTimestamp: null,
    });
  });

  it("encodes group metadata with key version 2 and value version 3, and reads version 0", () => {
    expect(encodeGroupMetadataKey("grp")).toEqual(hex("0002 0003 677270"));
    expect(decodeKey(hex("0002 0003 677270"))).toEqual({ kind: "group", groupId: "grp" });
    // Key version 3+ belongs to newer group types this coordinator does not own.
    expect(decodeKey(hex("0003 0003 677270"))).toBeNull();

    const value: GroupMetadataValue = {
      protocolType: "consumer",
      generationId: 4,
      protocolName: "range",
      leader: "m1",
      currentStateTimestamp: 123,
      members: [
        {
          memberId: "m1",
          groupInstanceId: "i1",
          clientId: "c",
          clientHost: "/h",
          rebalanceTimeoutMs: 300,
          sessionTimeoutMs: 100,
          subscription: Buffer.from([1, 2]),
          assignment: Buffer.from([3]),
        },
      ],
    };
    const bytes = encodeGroupMetadataValue(value);
    expect(bytes.readInt16BE(0)).toBe(3);
    expect(decodeGroupMetadataValue(bytes)).toEqual(value);

    const v0 = hex(
      "0000 0001 63 00000002 0001 72 0002 6d31 00000001" + // type "c", generation 2, protocol "r", leader "m1", 1 member
        "0002 6d31 0001 63 0001 68 00000064 00000001 aa 00000000", // m1, client c, host h, session 100, sub aa, no assignment
    );
    expect(decodeGroupMetadataValue(v0)).toEqual({
      protocolType: "c",
      generationId: 2,
      protocolName: "r",
      leader: "m1",
      currentStateTimestamp: -1,
      members: [
        {
          memberId: "m1",
          groupInstanceId: null,
          clientId: "c",
          clientHost: "h",
          rebalanceTimeoutMs: 100,
          sessionTimeoutMs: 100,
          subscription: hex("aa"),
          assignment: Buffer.alloc(0),
        },
      ],
    });
  });
});

describe("stores and restart recovery", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tributary-coordinator-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function collect(records: AsyncIterable<GroupStoreRecord>): Promise<GroupStoreRecord[]> {
    const all: GroupStoreRecord[] = [];
    for await (const { key, value } of records) all.push({ key, value });
    return all;
  }

  it("keeps records in a file, ignores a torn tail and writes over it", async () => {
    const path = join(dir, "offsets.log");
    const store = new FileGroupStore(path);
    expect(await collect(store.replay())).toEqual([]);
    await store.append([{ key: Buffer.from("k1"), value: Buffer.from("v1") }]);
    await store.append([
      { key: Buffer.from("k2"), value: Buffer.alloc(0) },
      { key: Buffer.from("k1"), value: null },
    ]);
    await store.close();
    // A crash in the middle of the next write: a length prefix and part of a key.
    await appendFile(path, hex("00000010 6b6b"));

    const reopened = new FileGroupStore(path);
    const expected = [
      { key: Buffer.from("k1"), value: Buffer.from("v1") },
      { key: Buffer.from("k2"), value: Buffer.alloc(0) },
      { key: Buffer.from("k1"), value: null },
    ];
    expect(await collect(reopened.replay())).toEqual(expected);
    await reopened.append([{ key: Buffer.from("k3"), value: Buffer.from("v3") }]);
    expect(await collect(reopened.replay())).toEqual([
      ...expected,
      { key: Buffer.from("k3"), value: Buffer.from("v3") },
    ]);
    await reopened.close();
    expect((await readFile(path)).includes(hex("6b6b"))).toBe(false);
  });

  it("keeps committed offsets and group membership across a restart", async () => {
    const path = join(dir, "offsets.log");
    const first = await startCoordinator({}, new FileGroupStore(path));
    const { members, generationId, leader } = await stableGroup(first, 2, (i) =>
      i === 1 ? { groupInstanceId: "s" } : {},
    );
    const [a = "", b = ""] = members;
    const committed = await first.coordinator.commitOffsets({
      groupId: "g",
      generationId,
      memberId: a,
      groupInstanceId: null,
      offsets: [
        { topic: "orders", partition: 0, offset: 100n, leaderEpoch: 2, metadata: "note" },
        { topic: "orders", partition: 1, offset: 200n, leaderEpoch: 2, metadata: null },
      ],
    });
    expect(committed.map((r) => r.errorCode)).toEqual([0, 0]);
    for (const groupId of ["simple", "doomed"]) {
      await first.coordinator.commitOffsets({
        groupId,
        generationId: -1,
        memberId: "",
        groupInstanceId: null,
        offsets: [{ topic: "t", partition: 0, offset: 5n, leaderEpoch: -1, metadata: "" }],
      });
    }
    expect((await first.coordinator.deleteGroups(["doomed"]))[0]?.errorCode).toBe(0);
    const fetchedBefore = first.coordinator.fetchOffsets({ groupId: "g", topics: null, requireStable: true });
    first.coordinator.shutdown();
    await (first.store as FileGroupStore).close();

    const scheduler = new ManualScheduler();
    const second = await startCoordinator({}, new FileGroupStore(path), scheduler);
    const { coordinator } = second;
    expect(coordinator.fetchOffsets({ groupId: "g", topics: null, requireStable: true })).toEqual(fetchedBefore);
    expect(fetchedBefore.partitions.map((p) => [p.offset, p.leaderEpoch, p.metadata])).toEqual([
      [100n, 2, "note"],
      [200n, 2, ""],
    ]);
    expect(coordinator.fetchOffsets({ groupId: "simple", topics: null, requireStable: false }).partitions).toHaveLength(
      1,
    );
    expect(
      coordinator
        .listGroups()
        .groups.map((g) => g.groupId)
        .sort(),
    ).toEqual(["g", "simple"]);

    const described = coordinator.describeGroups(["g"])[0];
    expect(described).toMatchObject({ groupState: "Stable", protocolType: "consumer", protocolData: "range" });
    expect(described?.members.map((m) => [m.memberId, m.groupInstanceId, m.assignment])).toEqual([
      [a, null, assignmentFor(a)],
      [b, "s", assignmentFor(b)],
    ]);
    expect(
      (
        await coordinator.syncGroup({
          groupId: "g",
          generationId,
          memberId: b,
          groupInstanceId: "s",
          protocolType: "consumer",
          protocolName: "range",
          assignments: [],
        })
      ).assignment,
    ).toEqual(assignmentFor(b));

    // Sessions restart on load: the member that keeps heartbeating stays, the silent one is dropped.
    const beat = (memberId: string, groupInstanceId: string | null) =>
      coordinator.heartbeat({ groupId: "g", generationId, memberId, groupInstanceId }).errorCode;
    scheduler.advance(5000);
    expect(beat(b, "s")).toBe(0);
    scheduler.advance(5000);
    expect(beat(b, "s")).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(beat(a, null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const rejoin = await coordinator.joinGroup(
      joinRequest({ memberId: b, groupInstanceId: "s", requireKnownMemberId: true }),
    );
    expect(rejoin).toMatchObject({ errorCode: 0, generationId: generationId + 1, leader: b });
    expect(leader).toBe(a);
    second.coordinator.shutdown();
    await (second.store as FileGroupStore).close();
  });

  it("skips records it cannot read and loads the rest", async () => {
    const store = new InMemoryGroupStore();
    await store.append([
      { key: encodeOffsetCommitKey("g", "t", 0), value: hex("0009 00") },
      {
        key: encodeOffsetCommitKey("g", "t", 1),
        value: encodeOffsetCommitValue({
          offset: 8n,
          leaderEpoch: 1,
          metadata: "",
          commitTimestamp: 0,
          expireTimestamp: null,
        }),
      },
      { key: hex("0007"), value: hex("00") },
    ]);
    const { coordinator } = await startCoordinator({}, store);
    expect(coordinator.fetchOffsets({ groupId: "g", topics: null, requireStable: false }).partitions).toEqual([
      { topic: "t", partition: 1, offset: 8n, leaderEpoch: 1, metadata: "", errorCode: 0 },
    ]);
  });
});
