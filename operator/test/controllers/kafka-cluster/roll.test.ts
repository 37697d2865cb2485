// The restart planner: one pod at a time, unready stale pods first, otherwise only when everything is Ready.
import { describe, expect, it } from "vitest";
import { planRoll, rollSteps, type PodView, type PoolView } from "../../../src/controllers/kafka-cluster/roll.ts";

/** Three combined broker,controller nodes (ids 0-2): every pod is a controller. */
const pools: PoolView[] = [{ name: "c-broker", role: "broker", replicas: 3, firstNodeId: 0, controllers: 3 }];
const hashes = { "c-broker": "new" };
const IMAGE = "broker:1";

function pod(i: number, over: Partial<PodView> = {}): PodView {
  return {
    name: `c-broker-${i}`,
    uid: `u${i}`,
    pool: "c-broker",
    hash: "new",
    image: IMAGE,
    ready: true,
    deleting: false,
    ...over,
  };
}

describe("planRoll", () => {
  it("does nothing when every pod is current and Ready", () => {
    const plan = planRoll([pod(0), pod(1), pod(2)], pools, hashes, IMAGE);
    expect(plan).toEqual({ stale: [], queue: [], notReady: [], missing: 0, waiting: false });
  });

  it("restarts the highest stale ordinal first, one at a time", () => {
    const plan = planRoll(
      [pod(0, { hash: "old" }), pod(1, { hash: "old" }), pod(2, { hash: "old" })],
      pools,
      hashes,
      IMAGE,
    );
    expect(plan.restart).toEqual({ name: "c-broker-2", uid: "u2", why: "config hash old -> new", controller: true });
    expect(plan.stale).toEqual(["c-broker-2", "c-broker-1", "c-broker-0"]);
    expect(plan.waiting).toBe(true);
  });

  it("treats an image change as stale", () => {
    const plan = planRoll([pod(0), pod(1, { image: "broker:0" }), pod(2)], pools, hashes, IMAGE);
    expect(plan.restart?.name).toBe("c-broker-1");
    expect(plan.restart?.why).toBe("image broker:0 -> broker:1");
  });

  it("restarts a pod whose volume waits for a filesystem resize, by the same one-at-a-time rules", () => {
    const resize = "volume data-c-broker-1 waits for a filesystem resize (FileSystemResizePending)";
    const plan = planRoll([pod(0), pod(1, { restartFor: resize }), pod(2)], pools, hashes, IMAGE);
    expect(plan.restart).toEqual({ name: "c-broker-1", uid: "u1", why: resize, controller: true });
    // Not while another pod is not Ready.
    const busy = planRoll([pod(0, { ready: false }), pod(1, { restartFor: resize }), pod(2)], pools, hashes, IMAGE);
    expect(busy.restart).toBeUndefined();
    expect(busy.stale).toEqual(["c-broker-1"]);
  });

  it("waits while a pod is missing, not Ready or terminating", () => {
    expect(planRoll([pod(0, { hash: "old" }), pod(1)], pools, hashes, IMAGE).restart).toBeUndefined();
    expect(
      planRoll([pod(0, { hash: "old" }), pod(1), pod(2, { ready: false })], pools, hashes, IMAGE).restart,
    ).toBeUndefined();
    const terminating = planRoll(
      [pod(0, { hash: "old" }), pod(1), pod(2, { deleting: true, hash: "old" })],
      pools,
      hashes,
      IMAGE,
    );
    expect(terminating.restart).toBeUndefined();
    expect(terminating.waiting).toBe(true);
  });

  it("restarts a stale pod that is not Ready even while others are not Ready (it costs no availability)", () => {
    const plan = planRoll(
      [pod(0, { hash: "old", ready: false }), pod(1, { ready: false }), pod(2)],
      pools,
      hashes,
      IMAGE,
    );
    expect(plan.restart?.name).toBe("c-broker-0");
  });

  it("rolls dedicated controllers before brokers and ignores pods beyond the replica count", () => {
    const two: PoolView[] = [
      { name: "c-broker", role: "broker", replicas: 1, firstNodeId: 0, controllers: 0 },
      { name: "c-controller", role: "controller", replicas: 1, firstNodeId: 1000, controllers: 1 },
    ];
    const plan = planRoll(
      [
        pod(0, { hash: "old" }),
        pod(1, { hash: "old" }),
        { ...pod(0, { hash: "old" }), name: "c-controller-0", pool: "c-controller", uid: "k0" },
      ],
      two,
      { "c-broker": "new", "c-controller": "new" },
      IMAGE,
    );
    expect(plan.restart?.name).toBe("c-controller-0");
    expect(plan.stale).toEqual(["c-controller-0", "c-broker-0"]);
  });

  const allStale = (n: number, pool = "c-broker", prefix = "u"): PodView[] =>
    Array.from({ length: n }, (_, i) => ({
      ...pod(i, { hash: "old" }),
      name: `${pool}-${i}`,
      pool,
      uid: `${prefix}${i}`,
    }));

  it("rolls the active controller last of three combined nodes", () => {
    expect(planRoll(allStale(3), pools, hashes, IMAGE, 2).stale).toEqual(["c-broker-1", "c-broker-0", "c-broker-2"]);
    const plan = planRoll(allStale(3), pools, hashes, IMAGE, 1);
    expect(plan.stale).toEqual(["c-broker-2", "c-broker-0", "c-broker-1"]);
    expect(plan.restart).toMatchObject({ name: "c-broker-2", controller: true });
    // Only the active controller left stale: now it goes.
    const last = planRoll([pod(0), pod(1, { hash: "old" }), pod(2)], pools, hashes, IMAGE, 1);
    expect(last.restart).toMatchObject({ name: "c-broker-1", controller: true });
  });

  it("rolls combined controllers (active last) before the broker-only nodes of the same pool", () => {
    const five: PoolView[] = [{ name: "c-broker", role: "broker", replicas: 5, firstNodeId: 0, controllers: 3 }];
    const plan = planRoll(allStale(5), five, hashes, IMAGE, 2);
    expect(plan.stale).toEqual(["c-broker-1", "c-broker-0", "c-broker-2", "c-broker-4", "c-broker-3"]);
    const brokersLeft = planRoll([pod(0), pod(1), pod(2), ...allStale(5).slice(3)], five, hashes, IMAGE, 2);
    expect(brokersLeft.restart).toMatchObject({ name: "c-broker-4", controller: false });
  });

  it("maps a dedicated controller's node id (1000 + ordinal) to its pod", () => {
    const dedicated: PoolView[] = [
      { name: "c-broker", role: "broker", replicas: 2, firstNodeId: 0, controllers: 0 },
      { name: "c-controller", role: "controller", replicas: 3, firstNodeId: 1000, controllers: 3 },
    ];
    const plan = planRoll(
      [...allStale(2), ...allStale(3, "c-controller", "k")],
      dedicated,
      { "c-broker": "new", "c-controller": "new" },
      IMAGE,
      1002,
    );
    expect(plan.stale).toEqual(["c-controller-1", "c-controller-0", "c-controller-2", "c-broker-1", "c-broker-0"]);
  });

  it("an unknown or absent leader leaves the ordinal order, and an unready stale pod still goes first", () => {
    expect(planRoll(allStale(3), pools, hashes, IMAGE, 7).stale).toEqual(["c-broker-2", "c-broker-1", "c-broker-0"]);
    const unready = planRoll(
      [pod(0, { hash: "old" }), pod(1, { hash: "old" }), pod(2, { hash: "old", ready: false })],
      pools,
      hashes,
      IMAGE,
      2,
    );
    expect(unready.restart?.name).toBe("c-broker-2");
  });

  it("passes over a held pod: it stays stale and the next one rolls", () => {
    const plan = planRoll(
      [pod(0, { hash: "old" }), pod(1, { hash: "old" }), pod(2, { hash: "old", held: true })],
      pools,
      hashes,
      IMAGE,
    );
    expect(plan.restart?.name).toBe("c-broker-1");
    expect(plan.queue.map((q) => [q.name, q.held])).toEqual([
      ["c-broker-2", true],
      ["c-broker-1", false],
      ["c-broker-0", false],
    ]);
    const onlyHeld = planRoll([pod(0), pod(1), pod(2, { hash: "old", held: true })], pools, hashes, IMAGE);
    expect(onlyHeld.restart).toBeUndefined();
    expect(onlyHeld.stale).toEqual(["c-broker-2"]);
  });

  it("rolls every pod for a new manual-rolling-update value on the cluster, and one pod annotated by hand", () => {
    const all = planRoll([pod(0), pod(1), pod(2)], pools, hashes, IMAGE, undefined, "2026-12-06T12:00");
    expect(all.stale).toEqual(["c-broker-2", "c-broker-1", "c-broker-0"]);
    expect(all.restart?.why).toBe("manual rolling update requested");
    const stamped = (i: number) => pod(i, { manual: "2026-12-06T12:00" });
    expect(
      planRoll([stamped(0), stamped(1), stamped(2)], pools, hashes, IMAGE, undefined, "2026-12-06T12:00").stale,
    ).toEqual([]);
    const one = planRoll([pod(0), pod(1, { manual: "now" }), pod(2)], pools, hashes, IMAGE);
    expect(one.stale).toEqual(["c-broker-1"]);
  });

  it("lists the plan for the status: restarting, next with what it waits for, queued, held", () => {
    const plan = planRoll(
      [pod(0, { hash: "old" }), pod(1, { hash: "old", held: true }), pod(2, { hash: "old" })],
      pools,
      hashes,
      IMAGE,
    );
    expect(rollSteps(plan).map((s) => [s.pod, s.state, s.blockedBy])).toEqual([
      ["c-broker-2", "Restarting", undefined],
      ["c-broker-1", "Held", ["held by the tributary.dev/roll-hold annotation"]],
      ["c-broker-0", "Queued", ["waits for c-broker-2"]],
    ]);
    const { restart: _, ...gated } = plan;
    expect(rollSteps(gated, { pod: "c-broker-2", messages: ["c-broker-0 has not caught up"] })[0]).toMatchObject({
      state: "Next",
      blockedBy: ["c-broker-0 has not caught up"],
    });
    const waiting = planRoll([pod(0, { hash: "old" }), pod(1, { ready: false }), pod(2)], pools, hashes, IMAGE);
    expect(rollSteps(waiting)).toEqual([
      { pod: "c-broker-0", reason: "config hash old -> new", state: "Next", blockedBy: ["pods not Ready: c-broker-1"] },
    ]);
  });
});
