import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/coordinator/index.ts";
import type { SyncGroupRequest } from "../../src/coordinator/index.ts";
import { assignmentFor, isSettled, joinPair, joinRequest, stableGroup, startCoordinator } from "./helpers.ts";

function syncRequest(overrides: Partial<SyncGroupRequest>): SyncGroupRequest {
  return {
    groupId: "g",
    generationId: 1,
    memberId: "",
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName: "range",
    assignments: [],
    ...overrides,
  };
}

function heartbeat(memberId: string, generationId: number, groupInstanceId: string | null = null) {
  return { groupId: "g", memberId, generationId, groupInstanceId };
}

describe("JoinGroup and SyncGroup", () => {
  it("gives the leader every member's metadata and the follower none", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const a = await coordinator.joinGroup(joinRequest({ protocols: [{ name: "range", metadata: Buffer.from("A") }] }));
    expect(a).toMatchObject({ errorCode: 0, generationId: 1, memberId: "c-uuid1", leader: "c-uuid1" });
    expect(a.protocolName).toBe("range");
    expect(a.protocolType).toBe("consumer");

    const bJoin = coordinator.joinGroup(joinRequest({ protocols: [{ name: "range", metadata: Buffer.from("B") }] }));
    // The group waits for the first member to rejoin, which it learns of from a heartbeat.
    expect(await isSettled(bJoin)).toBe(false);
    expect(coordinator.heartbeat(heartbeat(a.memberId, 1)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const aAgain = coordinator.joinGroup(
      joinRequest({ memberId: a.memberId, protocols: [{ name: "range", metadata: Buffer.from("A") }] }),
    );
    const [leader, follower] = await Promise.all([aAgain, bJoin]);

    expect(leader.generationId).toBe(2);
    expect(follower.generationId).toBe(2);
    expect(leader.leader).toBe(a.memberId);
    expect(follower.leader).toBe(a.memberId);
    expect(follower.members).toEqual([]);
    expect(leader.members).toEqual([
      { memberId: a.memberId, groupInstanceId: null, metadata: Buffer.from("A") },
      { memberId: follower.memberId, groupInstanceId: null, metadata: Buffer.from("B") },
    ]);
    expect(coordinator.describeGroups(["g"])[0]?.groupState).toBe("CompletingRebalance");
  });

  it("distributes the leader's assignments; a follower that syncs first waits for them", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const [a, b] = await joinPair(coordinator);

    const followerSync = coordinator.syncGroup(syncRequest({ generationId: 2, memberId: b.memberId }));
    expect(await isSettled(followerSync)).toBe(false);
    const leaderSync = await coordinator.syncGroup(
      syncRequest({
        generationId: 2,
        memberId: a.memberId,
        assignments: [
          { memberId: a.memberId, assignment: Buffer.from("for-a") },
          { memberId: b.memberId, assignment: Buffer.from("for-b") },
        ],
      }),
    );
    expect(leaderSync).toEqual({
      errorCode: 0,
      protocolType: "consumer",
      protocolName: "range",
      assignment: Buffer.from("for-a"),
    });
    expect((await followerSync).assignment).toEqual(Buffer.from("for-b"));

    const described = coordinator.describeGroups(["g"])[0];
    expect(described?.groupState).toBe("Stable");
    expect(described?.protocolData).toBe("range");
    expect(described?.members.map((m) => m.assignment.toString())).toEqual(["for-a", "for-b"]);

    // A late sync of the same generation gets the stored assignment.
    const again = await coordinator.syncGroup(syncRequest({ generationId: 2, memberId: b.memberId }));
    expect(again.assignment).toEqual(Buffer.from("for-b"));
  });

  it("rejects sync calls that do not match the group", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const { members, generationId } = await stableGroup(h, 2);
    const member = members[1] ?? "";
    expect(
      (await coordinator.syncGroup(syncRequest({ generationId: generationId + 1, memberId: member }))).errorCode,
    ).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await coordinator.syncGroup(syncRequest({ generationId, memberId: "nobody" }))).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    expect(
      (await coordinator.syncGroup(syncRequest({ generationId, memberId: member, protocolName: "roundrobin" })))
        .errorCode,
    ).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(
      (await coordinator.syncGroup(syncRequest({ generationId, memberId: member, protocolType: "connect" }))).errorCode,
    ).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await coordinator.syncGroup(syncRequest({ groupId: "other", memberId: member }))).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    // Older SyncGroup versions carry no protocol; nothing to check then.
    const old = await coordinator.syncGroup(
      syncRequest({ generationId, memberId: member, protocolType: null, protocolName: null }),
    );
    expect(old).toMatchObject({ errorCode: 0, assignment: assignmentFor(member) });

    const cJoin = coordinator.joinGroup(joinRequest());
    expect(await isSettled(cJoin)).toBe(false);
    expect((await coordinator.syncGroup(syncRequest({ generationId, memberId: member }))).errorCode).toBe(
      ErrorCode.REBALANCE_IN_PROGRESS,
    );
  });

  it("answers a parked follower sync with REBALANCE_IN_PROGRESS when a rebalance starts before the leader syncs", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const [, b] = await joinPair(coordinator);
    const followerSync = coordinator.syncGroup(syncRequest({ generationId: 2, memberId: b.memberId }));
    const cJoin = coordinator.joinGroup(joinRequest());
    expect((await followerSync).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(await isSettled(cJoin)).toBe(false);
  });

  it("validates session timeouts, group ids and protocols", async () => {
    const { coordinator } = await startCoordinator({ minSessionTimeoutMs: 6000, maxSessionTimeoutMs: 60_000 });
    expect((await coordinator.joinGroup(joinRequest({ sessionTimeoutMs: 5999 }))).errorCode).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect((await coordinator.joinGroup(joinRequest({ sessionTimeoutMs: 60_001 }))).errorCode).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect((await coordinator.joinGroup(joinRequest({ groupId: "" }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await coordinator.joinGroup(joinRequest({ protocols: [] }))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect((await coordinator.joinGroup(joinRequest({ memberId: "stranger" }))).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    // Failed first joins leave no group behind.
    expect(coordinator.listGroups().groups).toEqual([]);

    const a = await coordinator.joinGroup(joinRequest());
    expect(a.errorCode).toBe(0);
    expect(
      (await coordinator.joinGroup(joinRequest({ protocols: [{ name: "sticky", metadata: Buffer.alloc(0) }] })))
        .errorCode,
    ).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await coordinator.joinGroup(joinRequest({ protocolType: "connect" }))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
  });

  it("uses the session timeout as rebalance timeout for JoinGroup v0 (-1)", async () => {
    const h = await startCoordinator();
    const { coordinator, scheduler } = h;
    const { members } = await stableGroup(h, 2, () => ({ rebalanceTimeoutMs: -1, sessionTimeoutMs: 10_000 }));
    const [a = "", b = ""] = members;
    const cJoin = coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: -1 }));
    const aJoin = coordinator.joinGroup(joinRequest({ memberId: a, rebalanceTimeoutMs: -1 }));
    scheduler.advance(5000);
    expect(coordinator.heartbeat(heartbeat(b, 2)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    scheduler.advance(4999);
    expect(await isSettled(aJoin)).toBe(false);
    scheduler.advance(1);
    expect((await aJoin).generationId).toBe(3);
    expect((await cJoin).generationId).toBe(3);
  });
});

describe("protocol selection", () => {
  it("picks the protocol with most first-choice votes among those every member supports", async () => {
    const h = await startCoordinator();
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }));
    const prefs = [p("range", "roundrobin"), p("roundrobin", "range", "sticky"), p("roundrobin", "range")];
    await stableGroup(h, 3, (i) => ({ protocols: prefs[i] ?? [] }));
    const described = h.coordinator.describeGroups(["g"])[0];
    expect(described?.protocolData).toBe("roundrobin");
    // Stable members are described with their metadata for the chosen protocol.
    expect(described?.members.map((m) => m.metadata.toString())).toEqual(["roundrobin", "roundrobin", "roundrobin"]);
  });

  it("never picks a protocol some member lacks, however popular", async () => {
    const h = await startCoordinator();
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.alloc(0) }));
    const prefs = [p("cooperative-sticky", "range"), p("cooperative-sticky", "range"), p("range")];
    await stableGroup(h, 3, (i) => ({ protocols: prefs[i] ?? [] }));
    expect(h.coordinator.describeGroups(["g"])[0]?.protocolData).toBe("range");
  });

  it("breaks a tie in favour of the leader's preference", async () => {
    const h = await startCoordinator();
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.alloc(0) }));
    const prefs = [p("range", "roundrobin"), p("roundrobin", "range")];
    await stableGroup(h, 2, (i) => ({ protocols: prefs[i] ?? [] }));
    expect(h.coordinator.describeGroups(["g"])[0]?.protocolData).toBe("range");
  });
});

describe("Heartbeat and timeouts", () => {
  it("signals REBALANCE_IN_PROGRESS to members when a third member joins", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const { members, generationId } = await stableGroup(h, 2);
    const [a = "", b = ""] = members;
    expect(coordinator.heartbeat(heartbeat(a, generationId)).errorCode).toBe(0);

    const cJoin = coordinator.joinGroup(joinRequest());
    expect(coordinator.heartbeat(heartbeat(a, generationId)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(coordinator.heartbeat(heartbeat(b, generationId)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(coordinator.heartbeat(heartbeat(a, generationId - 1)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(coordinator.heartbeat(heartbeat("nobody", generationId)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(coordinator.heartbeat({ ...heartbeat(a, generationId), groupId: "nope" }).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );

    const results = await Promise.all([
      coordinator.joinGroup(joinRequest({ memberId: a })),
      coordinator.joinGroup(joinRequest({ memberId: b })),
      cJoin,
    ]);
    expect(results.map((r) => r.generationId)).toEqual([generationId + 1, generationId + 1, generationId + 1]);
    expect(results.filter((r) => r.members.length === 3)).toHaveLength(1);
    // Members of the new generation heartbeat fine before and after syncing.
    expect(coordinator.heartbeat(heartbeat(a, generationId + 1)).errorCode).toBe(0);
  });

  it("removes a member whose session expires and rebalances the rest", async () => {
    const h = await startCoordinator();
    const { coordinator, scheduler } = h;
    const { members, generationId } = await stableGroup(h, 2);
    const [a = "", b = ""] = members;
    for (let t = 0; t < 9; t++) {
      scheduler.advance(1000);
      expect(coordinator.heartbeat(heartbeat(a, generationId)).errorCode).toBe(0);
    }
    scheduler.advance(1000);
    // b has been silent for its whole 10 s session.
    expect(coordinator.heartbeat(heartbeat(a, generationId)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(coordinator.heartbeat(heartbeat(b, generationId)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const rejoined = await coordinator.joinGroup(joinRequest({ memberId: a }));
    expect(rejoined.generationId).toBe(generationId + 1);
    expect(rejoined.members.map((m) => m.memberId)).toEqual([a]);
  });

  it("drops members that do not rejoin within the rebalance timeout", async () => {
    const h = await startCoordinator();
    const { coordinator, scheduler } = h;
    const { members, generationId } = await stableGroup(h, 2);
    const [a = "", b = ""] = members;
    const cJoin = coordinator.joinGroup(joinRequest());
    const aJoin = coordinator.joinGroup(joinRequest({ memberId: a }));
    // b stays alive by heartbeating but never rejoins.
    for (let t = 0; t < 5; t++) {
      scheduler.advance(5000);
      expect(coordinator.heartbeat(heartbeat(b, generationId)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    expect(await isSettled(aJoin)).toBe(false);
    scheduler.advance(5000);
    const [aResult, cResult] = await Promise.all([aJoin, cJoin]);
    expect(aResult.generationId).toBe(generationId + 1);
    expect(aResult.members.map((m) => m.memberId)).toEqual([a, cResult.memberId]);
    expect(coordinator.heartbeat(heartbeat(b, generationId)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("elects a new leader when the leader does not rejoin", async () => {
    const h = await startCoordinator();
    const { coordinator, scheduler } = h;
    const { members, leader } = await stableGroup(h, 2);
    const follower = members.find((m) => m !== leader) ?? "";
    const followerJoin = coordinator.joinGroup(
      joinRequest({ memberId: follower, protocols: [{ name: "range", metadata: Buffer.from("x") }] }),
    );
    scheduler.advance(30_000);
    const result = await followerJoin;
    expect(result.leader).toBe(follower);
    expect(result.members.map((m) => m.memberId)).toEqual([follower]);
  });

  it("drops members that do not sync within the rebalance timeout", async () => {
    const h = await startCoordinator();
    const { coordinator, scheduler } = h;
    const [a, b] = await joinPair(coordinator);
    const leaderSync = await coordinator.syncGroup(
      syncRequest({
        generationId: 2,
        memberId: a.memberId,
        assignments: [{ memberId: a.memberId, assignment: Buffer.from("x") }],
      }),
    );
    expect(leaderSync.errorCode).toBe(0);
    // b got its JoinGroup answer and keeps heartbeating, but never syncs.
    for (let t = 0; t < 5; t++) {
      scheduler.advance(5000);
      expect(coordinator.heartbeat(heartbeat(a.memberId, 2)).errorCode).toBe(0);
      expect(coordinator.heartbeat(heartbeat(b.memberId, 2)).errorCode).toBe(0);
    }
    scheduler.advance(5000);
    expect(coordinator.heartbeat(heartbeat(b.memberId, 2)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(coordinator.heartbeat(heartbeat(a.memberId, 2)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it("removes a new member whose parked join outlives the new-member timeout", async () => {
    const h = await startCoordinator({ newMemberJoinTimeoutMs: 20_000 });
    const { coordinator, scheduler } = h;
    const { members, generationId } = await stableGroup(h, 1, () => ({ rebalanceTimeoutMs: 60_000 }));
    const cJoin = coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 60_000 }));
    for (let t = 0; t < 4; t++) {
      scheduler.advance(5000);
      coordinator.heartbeat(heartbeat(members[0] ?? "", generationId));
    }
    expect(await cJoin).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, memberId: "c-uuid2" });
  });
});

describe("MEMBER_ID_REQUIRED", () => {
  it("hands out a member id first and admits the member when it returns with it", async () => {
    const { coordinator } = await startCoordinator();
    const first = await coordinator.joinGroup(joinRequest({ requireKnownMemberId: true, clientId: "app" }));
    expect(first).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: "app-uuid1", generationId: -1 });
    expect(coordinator.describeGroups(["g"])[0]?.members).toEqual([]);

    const second = await coordinator.joinGroup(
      joinRequest({ requireKnownMemberId: true, clientId: "app", memberId: first.memberId }),
    );
    expect(second).toMatchObject({ errorCode: 0, memberId: "app-uuid1", generationId: 1, leader: "app-uuid1" });
  });

  it("holds a rebalance for a pending member until its session timeout, then forgets it", async () => {
    const h = await startCoordinator();
    const { coordinator, scheduler } = h;
    const { members, generationId } = await stableGroup(h, 1);
    const pending = await coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }));
    expect(pending.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    // The leader's rejoin starts a rebalance that waits for the pending member.
    const aJoin = coordinator.joinGroup(joinRequest({ memberId: members[0] ?? "" }));
    scheduler.advance(9999);
    expect(await isSettled(aJoin)).toBe(false);
    scheduler.advance(1);
    const result = await aJoin;
    expect(result.generationId).toBe(generationId + 1);
    expect(result.members).toHaveLength(1);
    expect((await coordinator.joinGroup(joinRequest({ memberId: pending.memberId }))).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  });

  it("forgets a group whose only pending member never returns", async () => {
    const { coordinator, scheduler } = await startCoordinator();
    await coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }));
    expect(coordinator.listGroups().groups.map((g) => g.groupId)).toEqual(["g"]);
    scheduler.advance(10_000);
    expect(coordinator.listGroups().groups).toEqual([]);
  });
});

describe("static membership", () => {
  const statics = (i: number) => ({ groupInstanceId: `instance-${i}` });

  it("lets a restarted static member take its place without a rebalance and fences the old id", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const { members, generationId, leader } = await stableGroup(h, 2, statics);
    const [a = "", b = ""] = members;
    expect(leader).toBe(a);

    const restarted = await coordinator.joinGroup(joinRequest({ groupInstanceId: "instance-1" }));
    expect(restarted.errorCode).toBe(0);
    expect(restarted.memberId).not.toBe(b);
    expect(restarted.generationId).toBe(generationId);
    expect(restarted.members).toEqual([]);
    expect(coordinator.describeGroups(["g"])[0]?.groupState).toBe("Stable");

    expect(coordinator.heartbeat(heartbeat(b, generationId, "instance-1")).errorCode).toBe(
      ErrorCode.FENCED_INSTANCE_ID,
    );
    expect(coordinator.heartbeat(heartbeat(restarted.memberId, generationId, "instance-1")).errorCode).toBe(0);
    expect(coordinator.heartbeat(heartbeat(a, generationId, "instance-0")).errorCode).toBe(0);
    const sync = await coordinator.syncGroup(
      syncRequest({ generationId, memberId: restarted.memberId, groupInstanceId: "instance-1" }),
    );
    expect(sync.assignment).toEqual(assignmentFor(b));
  });

  it("tells a restarted static leader to skip the assignment when the client supports it", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const { generationId } = await stableGroup(h, 2, statics);
    const restarted = await coordinator.joinGroup(
      joinRequest({ groupInstanceId: "instance-0", supportSkippingAssignment: true }),
    );
    expect(restarted).toMatchObject({ errorCode: 0, generationId, skipAssignment: true, leader: restarted.memberId });
    expect(restarted.members).toHaveLength(2);
  });

  it("rebalances when a restarted static member changes the protocol choice", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const both = [
      { name: "range", metadata: Buffer.alloc(0) },
      { name: "roundrobin", metadata: Buffer.alloc(0) },
    ];
    const { members, generationId } = await stableGroup(h, 1, () => ({ groupInstanceId: "solo", protocols: both }));
    const rejoin = await coordinator.joinGroup(
      joinRequest({ groupInstanceId: "solo", protocols: [{ name: "roundrobin", metadata: Buffer.alloc(0) }] }),
    );
    expect(rejoin.memberId).not.toBe(members[0]);
    expect(rejoin.generationId).toBe(generationId + 1);
    expect(rejoin.protocolName).toBe("roundrobin");
  });

  it("keeps a static member that misses a rebalance until its session expires", async () => {
    const h = await startCoordinator();
    const { coordinator, scheduler } = h;
    const { members, generationId } = await stableGroup(h, 2, (i) => (i === 1 ? statics(i) : {}));
    const [a = "", b = ""] = members;
    const aJoin = coordinator.joinGroup(joinRequest({ memberId: a }));
    // b heartbeats and stays in the group; only dynamic members are dropped at the rebalance timeout.
    for (let t = 0; t < 6; t++) {
      scheduler.advance(5000);
      coordinator.heartbeat(heartbeat(b, generationId, "instance-1"));
    }
    const result = await aJoin;
    expect(result.generationId).toBe(generationId + 1);
    expect(result.members.map((m) => m.memberId)).toEqual([a, b]);
  });

  it("fences the parked join of a static member replaced by a new instance", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const { members } = await stableGroup(h, 2, statics);
    const [, b = ""] = members;
    const cJoin = coordinator.joinGroup(joinRequest());
    const oldJoin = coordinator.joinGroup(joinRequest({ memberId: b, groupInstanceId: "instance-1" }));
    const newJoin = coordinator.joinGroup(joinRequest({ groupInstanceId: "instance-1" }));
    expect(await oldJoin).toMatchObject({ errorCode: ErrorCode.FENCED_INSTANCE_ID, memberId: b });
    expect(await isSettled(newJoin)).toBe(false);
    expect(await isSettled(cJoin)).toBe(false);
  });
});

describe("LeaveGroup", () => {
  it("removes the member and rebalances the rest", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const { members, generationId } = await stableGroup(h, 2);
    const [a = "", b = ""] = members;
    const result = coordinator.leaveGroup({ groupId: "g", members: [{ memberId: b, groupInstanceId: null }] });
    expect(result).toEqual({ errorCode: 0, members: [{ memberId: b, groupInstanceId: null, errorCode: 0 }] });
    expect(coordinator.heartbeat(heartbeat(a, generationId)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoined = await coordinator.joinGroup(joinRequest({ memberId: a }));
    expect(rejoined.members.map((m) => m.memberId)).toEqual([a]);
  });

  it("answers each member of a batch, including static members removed by instance id", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const { members } = await stableGroup(h, 3, (i) => (i > 0 ? { groupInstanceId: `instance-${i}` } : {}));
    const [, b = ""] = members;
    const result = coordinator.leaveGroup({
      groupId: "g",
      members: [
        { memberId: "", groupInstanceId: "instance-2" },
        { memberId: "ghost", groupInstanceId: null },
        { memberId: "wrong", groupInstanceId: "instance-1" },
        { memberId: "", groupInstanceId: "nobody" },
      ],
    });
    expect(result.members.map((m) => m.errorCode)).toEqual([
      0,
      ErrorCode.UNKNOWN_MEMBER_ID,
      ErrorCode.FENCED_INSTANCE_ID,
      ErrorCode.UNKNOWN_MEMBER_ID,
    ]);
    expect(coordinator.describeGroups(["g"])[0]?.members.map((m) => m.memberId)).toEqual([members[0], b]);
    expect(coordinator.leaveGroup({ groupId: "nope", members: [{ memberId: b, groupInstanceId: null }] })).toEqual({
      errorCode: 0,
      members: [{ memberId: b, groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID }],
    });
  });

  it("answers the parked sync of a member that leaves, and resets the others' syncs", async () => {
    const { coordinator } = await startCoordinator();
    const [a, b] = await joinPair(coordinator);
    const followerSync = coordinator.syncGroup(syncRequest({ generationId: 2, memberId: b.memberId }));
    expect(await isSettled(followerSync)).toBe(false);
    coordinator.leaveGroup({ groupId: "g", members: [{ memberId: b.memberId, groupInstanceId: null }] });
    expect((await followerSync).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(coordinator.heartbeat(heartbeat(a.memberId, 2)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it("answers the parked join of a member that leaves and empties the group", async () => {
    const { coordinator, scheduler } = await startCoordinator({ initialRebalanceDelayMs: 3000 });
    const join = coordinator.joinGroup(joinRequest());
    scheduler.advance(1000);
    coordinator.leaveGroup({ groupId: "g", members: [{ memberId: "c-uuid1", groupInstanceId: null }] });
    expect(await join).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, memberId: "c-uuid1" });
    scheduler.advance(2000);
    expect(coordinator.describeGroups(["g"])[0]).toMatchObject({ groupState: "Empty", members: [] });
  });
});

describe("rebalance patterns", () => {
  it("handles cooperative back-to-back rebalances", async () => {
    const h = await startCoordinator();
    const { coordinator } = h;
    const coop = [{ name: "cooperative-sticky", metadata: Buffer.from("owned:none") }];
    const { members, generationId, leader } = await stableGroup(h, 2, () => ({ protocols: coop }));
    const follower = members.find((m) => m !== leader) ?? "";

    // A follower rejoining with unchanged metadata in a stable group changes nothing.
    const same = await coordinator.joinGroup(joinRequest({ memberId: follower, protocols: coop }));
    expect(same.generationId).toBe(generationId);
    expect(coordinator.describeGroups(["g"])[0]?.groupState).toBe("Stable");

    // First rebalance: both members rejoin with their owned partitions, then sync.
    const owned = (m: string) => [{ name: "cooperative-sticky", metadata: Buffer.from(`owned:${m}`) }];
    const first = await Promise.all(
      members.map((m) => coordinator.joinGroup(joinRequest({ memberId: m, protocols: owned(m) }))),
    );
    expect(first.map((r) => r.generationId)).toEqual([generationId + 1, generationId + 1]);
    const second = generationId + 1;
    await Promise.all(
      members.map((m) =>
        coordinator.syncGroup(
          syncRequest({ generationId: second, memberId: m, protocolName: "cooperative-sticky", assignments: [] }),
        ),
      ),
    );
    expect(coordinator.describeGroups(["g"])[0]?.groupState).toBe("Stable");

    // Right after revoking, each member rejoins at once with its new owned partitions.
    const revoked = (m: string) => [{ name: "cooperative-sticky", metadata: Buffer.from(`revoked:${m}`) }];
    const leaderJoin = coordinator.joinGroup(joinRequest({ memberId: leader, protocols: revoked(leader) }));
    expect(coordinator.heartbeat(heartbeat(follower, second)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const followerJoin = coordinator.joinGroup(joinRequest({ memberId: follower, protocols: revoked(follower) }));
    const [l, f] = await Promise.all([leaderJoin, followerJoin]);
    expect(l.generationId).toBe(second + 1);
    expect(f.generationId).toBe(second + 1);
    expect(l.members.map((m) => m.metadata.toString()).sort()).toEqual(
      [`revoked:${leader}`, `revoked:${follower}`].sort(),
    );
  });

  it("returns the same generation to a member that retries its join during the sync phase", async () => {
    const { coordinator } = await startCoordinator();
    const a = await coordinator.joinGroup(joinRequest());
    const retry = await coordinator.joinGroup(joinRequest({ memberId: a.memberId }));
    expect(retry).toEqual(a);
  });
});

describe("initial rebalance delay", () => {
  it("holds the first join of an empty group for the delay", async () => {
    const { coordinator, scheduler } = await startCoordinator({ initialRebalanceDelayMs: 3000 });
    const join = coordinator.joinGroup(joinRequest());
    scheduler.advance(2999);
    expect(await isSettled(join)).toBe(false);
    expect(coordinator.describeGroups(["g"])[0]?.groupState).toBe("PreparingRebalance");
    scheduler.advance(1);
    expect((await join).generationId).toBe(1);
  });

  it("extends the delay while members keep arriving, up to the rebalance timeout", async () => {
    const { coordinator, scheduler } = await startCoordinator({ initialRebalanceDelayMs: 3000 });
    const joins = [coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 7000 }))];
    for (let t = 0; t < 4; t++) {
      scheduler.advance(2000);
      joins.push(coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 7000 })));
    }
    // Joins at 0, 2, 4, 6, 8 s: the delay was extended at 3 s and 6 s; the 7 s rebalance timeout caps it at 7 s.
    expect(await isSettled(joins[0] ?? Promise.resolve())).toBe(true);
    const results = await Promise.all(joins.slice(0, 4));
    expect(results.every((r) => r.generationId === 1)).toBe(true);
    expect(results.find((r) => r.members.length > 0)?.members).toHaveLength(4);
    expect(await isSettled(joins[4] ?? Promise.resolve())).toBe(false);
  });
});

describe("shutdown", () => {
  it("answers parked requests with NOT_COORDINATOR, stops every timer and refuses new work", async () => {
    const h = await startCoordinator({ initialRebalanceDelayMs: 3000 });
    const { coordinator, scheduler } = h;
    const join = coordinator.joinGroup(joinRequest());
    coordinator.shutdown();
    expect((await join).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(scheduler.pendingTasks).toBe(0);
    expect((await coordinator.joinGroup(joinRequest())).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(coordinator.heartbeat(heartbeat("x", 1)).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  it("answers a parked SyncGroup too", async () => {
    const { coordinator, scheduler } = await startCoordinator();
    const [, b] = await joinPair(coordinator);
    const followerSync = coordinator.syncGroup(syncRequest({ generationId: 2, memberId: b.memberId }));
    expect(await isSettled(followerSync)).toBe(false);
    coordinator.shutdown();
    expect((await followerSync).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(scheduler.pendingTasks).toBe(0);
  });
});
