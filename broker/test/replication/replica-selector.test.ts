import { describe, expect, it } from "vitest";
import {
  preferredReadReplica,
  type FollowerView,
  type ReadReplicaQuery,
} from "../../src/replication/replica-selector.ts";

// KIP-392's rack-aware choice of a consumer's read replica, as Kafka's RackAwareReplicaSelector makes it among the
// candidates its ReplicaManager.findPreferredReadReplica lets through.

const NOW = 1_000_000;

const follower = (id: number, over: Partial<FollowerView> = {}): FollowerView => ({
  id,
  inSync: true,
  rack: `r${id}`,
  logStartOffset: 0n,
  logEndOffset: 100n,
  lastCaughtUpTimeMs: NOW,
  ...over,
});

const query = (over: Partial<ReadReplicaQuery> = {}): ReadReplicaQuery => ({
  selector: "rack-aware",
  clientRack: "r2",
  fetchOffset: 50n,
  leaderRack: "r1",
  followers: [follower(2), follower(3)],
  nowMs: NOW,
  ...over,
});

describe("preferredReadReplica", () => {
  it("picks the in-sync follower in the client's rack", () => {
    expect(preferredReadReplica(query())).toBe(2);
    expect(preferredReadReplica(query({ clientRack: "r3" }))).toBe(3);
  });

  it("leaves the consumer on the leader without a rack-aware selector, a client rack, or a follower in that rack", () => {
    expect(preferredReadReplica(query({ selector: "leader" }))).toBeUndefined();
    expect(preferredReadReplica(query({ clientRack: "" }))).toBeUndefined();
    expect(preferredReadReplica(query({ clientRack: "r9" }))).toBeUndefined();
  });

  it("keeps the consumer on the leader when the leader is in its rack, even with a follower there too", () => {
    const followers = [follower(2, { rack: "r1" })];
    expect(preferredReadReplica(query({ clientRack: "r1", followers }))).toBeUndefined();
  });

  it("skips followers out of the ISR, unreachable on the client's listener, or not holding the fetch offset", () => {
    expect(preferredReadReplica(query({ followers: [follower(2, { inSync: false })] }))).toBeUndefined();
    expect(preferredReadReplica(query({ followers: [follower(2, { rack: undefined })] }))).toBeUndefined();
    expect(preferredReadReplica(query({ followers: [follower(2, { logEndOffset: 49n })] }))).toBeUndefined();
    expect(preferredReadReplica(query({ followers: [follower(2, { logStartOffset: 51n })] }))).toBeUndefined();
    // A follower that has not fetched yet: its end is unknown (-1), its start too, which passes as Kafka's does.
    expect(preferredReadReplica(query({ followers: [follower(2, { logEndOffset: -1n })] }))).toBeUndefined();
    expect(preferredReadReplica(query({ followers: [follower(2, { logStartOffset: -1n })] }))).toBe(2);
    // Exactly at its end is held: the consumer waits there for new records as it would on the leader.
    expect(preferredReadReplica(query({ followers: [follower(2, { logEndOffset: 50n })] }))).toBe(2);
  });

  it("among several in the client's rack takes the largest log end, then the latest catch-up, then the highest id", () => {
    const same = (id: number, over: Partial<FollowerView>) => follower(id, { rack: "r2", ...over });
    expect(preferredReadReplica(query({ followers: [same(2, { logEndOffset: 90n }), same(3, {})] }))).toBe(3);
    expect(preferredReadReplica(query({ followers: [same(4, {}), same(3, { logEndOffset: 90n })] }))).toBe(4);
    const older = { lastCaughtUpTimeMs: NOW - 500 };
    expect(preferredReadReplica(query({ followers: [same(2, {}), same(3, older)] }))).toBe(2);
    expect(preferredReadReplica(query({ followers: [same(3, {}), same(2, {})] }))).toBe(3);
  });
});
