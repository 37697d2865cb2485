// Status from one pass: conditions per situation, transition times that move only on flips, and equality that lets
// the reconciler skip writing an unchanged status.
import { describe, expect, it } from "vitest";
import { KafkaClusterSpec } from "../../../src/api/v1alpha1/index.ts";
import { desired } from "../../../src/controllers/kafka-cluster/desired.ts";
import { computeStatus, type Observed } from "../../../src/controllers/kafka-cluster/status.ts";
import { jsonEqual, type KubeObject } from "../../../src/kube/index.ts";

const spec = KafkaClusterSpec.parse({ replicas: 3 });
const state = desired(
  { name: "c", namespace: "ns", uid: "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b", spec },
  { apiVersion: "tributary.dev/v1alpha1", kind: "KafkaCluster", name: "c", uid: "u" },
);
const sts = (ready: number): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name: "c-broker" },
  status: { replicas: 3, readyReplicas: ready },
});
const t0 = new Date("2026-01-01T00:00:00Z");
const t1 = new Date("2026-01-01T01:00:00Z");
const observed = (ready: number, over: Partial<Observed> = {}): Observed => ({
  generation: 4,
  spec,
  desired: state,
  statefulSets: [sts(ready)],
  roll: { stale: [], queue: [], notReady: [], missing: 0, waiting: false },
  ...over,
});
const cond = (s: ReturnType<typeof computeStatus>, type: string) => s.conditions?.find((c) => c.type === type);

describe("computeStatus", () => {
  it("is not Ready while brokers start, then Ready with its own transition time", () => {
    const starting = computeStatus({}, observed(1), t0);
    expect(cond(starting, "Ready")).toMatchObject({ status: "False", reason: "PodsNotReady", observedGeneration: 4 });
    expect(cond(starting, "Reconciling")).toMatchObject({
      status: "True",
      reason: "WaitingForPods",
      message: "1/3 brokers ready",
    });
    expect(starting).toMatchObject({
      observedGeneration: 4,
      replicas: 3,
      readyReplicas: 1,
      selector: state.brokerSelector,
    });
    const ready = computeStatus(starting, observed(3), t1);
    expect(cond(ready, "Ready")).toMatchObject({ status: "True", lastTransitionTime: "2026-01-01T01:00:00Z" });
    expect(cond(ready, "Warning")?.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    expect(ready.conditions?.map((c) => c.type)).toEqual(["Ready", "Reconciling", "Warning"]);
  });

  it("yields an equal status for an unchanged cluster, so nothing is written", () => {
    const a = computeStatus({}, observed(3), t0);
    const b = computeStatus(a, observed(3), t1);
    expect(jsonEqual(a, b)).toBe(true);
    expect(jsonEqual(a, computeStatus(a, observed(2), t1))).toBe(false);
  });

  const queued = (name: string, held = false) => ({
    name,
    uid: name,
    why: "config hash a -> b",
    controller: false,
    nodeId: Number(name.slice(-1)),
    ready: true,
    held,
  });
  const rollOf = (...queue: ReturnType<typeof queued>[]) => ({
    stale: queue.map((q) => q.name),
    queue,
    notReady: [],
    missing: 0,
    waiting: true,
  });

  it("reports a roll in progress as Reconciling and not Ready, with the plan in order", () => {
    const roll = { ...rollOf(queued("c-broker-2"), queued("c-broker-1")) };
    const s = computeStatus(
      {},
      observed(3, {
        roll: { ...roll, restart: { name: "c-broker-2", uid: "c-broker-2", why: "x", controller: false } },
      }),
      t0,
    );
    expect(cond(s, "Ready")).toMatchObject({ status: "False", reason: "RollingRestart" });
    expect(cond(s, "Reconciling")?.message).toContain("c-broker-2");
    expect(s.rollPlan).toEqual([
      { pod: "c-broker-2", reason: "config hash a -> b", state: "Restarting" },
      { pod: "c-broker-1", reason: "config hash a -> b", state: "Queued", blockedBy: ["waits for c-broker-2"] },
    ]);
    // Once done, the plan leaves the status.
    expect(computeStatus(s, observed(3), t1).rollPlan).toBeUndefined();
  });

  it("reports a roll the gates hold back as progressing with the reason, not as a failure", () => {
    const blockers = [{ reason: "WaitingForIsr" as const, message: "orders-0 (ISR [1, 2], min.insync.replicas=2)" }];
    const s = computeStatus(
      {},
      observed(3, {
        roll: rollOf(queued("c-broker-2"), queued("c-broker-1")),
        blocked: { pod: "c-broker-2", blockers },
      }),
      t0,
    );
    expect(cond(s, "Reconciling")).toMatchObject({ status: "True", reason: "WaitingForIsr" });
    expect(cond(s, "Reconciling")?.message).toContain("c-broker-2 waits: orders-0");
    expect(cond(s, "Warning")?.status).toBe("False");
    expect(s.rollPlan?.[0]).toEqual({
      pod: "c-broker-2",
      reason: "config hash a -> b",
      state: "Next",
      blockedBy: [blockers[0]?.message],
    });
  });

  it("is Ready with the roll held when only held pods remain stale", () => {
    const s = computeStatus({}, observed(3, { roll: rollOf(queued("c-broker-1", true)) }), t0);
    expect(cond(s, "Ready")?.status).toBe("True");
    expect(cond(s, "Reconciling")).toMatchObject({ status: "True", reason: "RollHeld" });
    expect(s.rollPlan?.[0]?.state).toBe("Held");
  });

  it("keeps Ready as it was when a new spec is refused, and raises Warning", () => {
    const ready = computeStatus({}, observed(3), t0);
    const refused = computeStatus(
      ready,
      { generation: 5, statefulSets: [], invalid: { reason: "OperatorOwnedConfig", message: "no" } },
      t1,
    );
    expect(cond(refused, "Ready")).toEqual(cond(ready, "Ready"));
    expect(cond(refused, "Warning")).toMatchObject({
      status: "True",
      reason: "OperatorOwnedConfig",
      observedGeneration: 5,
    });
    expect(refused.observedGeneration).toBe(5);
  });

  it("says when a pass failed without flipping Ready", () => {
    const ready = computeStatus({}, observed(3), t0);
    const failed = computeStatus(ready, { generation: 4, statefulSets: [], failure: "connection refused" }, t1);
    expect(cond(failed, "Ready")?.status).toBe("True");
    expect(cond(failed, "Reconciling")).toMatchObject({
      status: "True",
      reason: "RetryingAfterError",
      message: "connection refused",
    });
  });

  it("raises Warning with the API's message when the same failure repeats, and clears it on success", () => {
    const ready = computeStatus({}, observed(3), t0);
    const failure = "applying Service/c-kafka-brokers failed: PATCH /api/v1/x: 500 duplicate entries";
    const once = computeStatus(ready, { generation: 4, statefulSets: [], failure }, t1);
    expect(cond(once, "Warning")).toMatchObject({ status: "False" });
    const twice = computeStatus(once, { generation: 4, statefulSets: [], failure }, t1);
    expect(cond(twice, "Warning")).toMatchObject({ status: "True", reason: "ReconcileFailing", message: failure });
    // The third identical failure changes nothing, so nothing is written.
    expect(jsonEqual(twice, computeStatus(twice, { generation: 4, statefulSets: [], failure }, t1))).toBe(true);
    // While it keeps failing, Warning says how it fails now.
    const other = computeStatus(twice, { generation: 4, statefulSets: [], failure: "timed out" }, t1);
    expect(cond(other, "Warning")).toMatchObject({ status: "True", reason: "ReconcileFailing", message: "timed out" });
    const healed = computeStatus(twice, observed(3), t1);
    expect(cond(healed, "Warning")).toMatchObject({ status: "False", reason: "NoWarnings" });
    expect(cond(healed, "Reconciling")).toMatchObject({ status: "False", reason: "Reconciled" });
  });

  it("keeps reporting readiness while a part of the spec is held back with a Warning", () => {
    const held = computeStatus(
      {},
      observed(3, { warnings: [{ reason: "StorageResizeUnsupported", message: "size held" }] }),
      t0,
    );
    expect(cond(held, "Warning")).toMatchObject({
      status: "True",
      reason: "StorageResizeUnsupported",
      message: "size held",
    });
    expect(cond(held, "Ready")).toMatchObject({ status: "True" });
    expect(cond(computeStatus(held, observed(3), t1), "Warning")).toMatchObject({ status: "False" });
  });
});
