// Node drains: which nodes are being emptied, and a pod on one joins the roll (one at a time, like any stale pod).
import { describe, expect, it } from "vitest";
import { nodeDisruption, podDrain } from "../../../src/controllers/kafka-cluster/drains.ts";
import { planRoll, type PodView, type PoolView } from "../../../src/controllers/kafka-cluster/roll.ts";
import type { KubeObject } from "../../../src/kube/index.ts";

const node = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name },
  spec,
});

describe("nodeDisruption", () => {
  it("names cordoned nodes and the cluster-autoscaler's and Karpenter's taints", () => {
    expect(nodeDisruption(node("a"))).toBeUndefined();
    expect(nodeDisruption(undefined)).toBeUndefined();
    expect(nodeDisruption(node("a", { unschedulable: true }))).toBe("node a is cordoned (drained)");
    expect(
      nodeDisruption(
        node("b", { taints: [{ key: "ToBeDeletedByClusterAutoscaler", value: "1", effect: "NoSchedule" }] }),
      ),
    ).toBe("node b is being removed by the cluster autoscaler");
    expect(
      nodeDisruption(
        node("c", { taints: [{ key: "karpenter.sh/disruption", value: "disrupting", effect: "NoSchedule" }] }),
      ),
    ).toBe("node c is being disrupted by Karpenter");
    // Other taints are not drains.
    expect(nodeDisruption(node("d", { taints: [{ key: "dedicated", value: "kafka", effect: "NoSchedule" }] }))).toBe(
      undefined,
    );
  });

  it("finds a pod's node by spec.nodeName", () => {
    const nodes = new Map([["a", node("a", { unschedulable: true })]]);
    const pod = (nodeName?: string): KubeObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      ...(nodeName === undefined ? {} : { spec: { nodeName } }),
    });
    expect(podDrain(pod("a"), (n) => nodes.get(n))).toBe("node a is cordoned (drained)");
    expect(podDrain(pod("b"), (n) => nodes.get(n))).toBeUndefined();
    expect(podDrain(pod(), (n) => nodes.get(n))).toBeUndefined();
  });
});

describe("a pod on a drained node in the roll", () => {
  const pools: PoolView[] = [{ name: "c-broker", role: "broker", replicas: 4, firstNodeId: 0, controllers: 3 }];
  const pod = (i: number, over: Partial<PodView> = {}): PodView => ({
    name: `c-broker-${i}`,
    uid: `u${i}`,
    pool: "c-broker",
    hash: "h",
    image: "img",
    ready: true,
    deleting: false,
    ...over,
  });

  it("is restarted like a stale pod, one at a time, only while the others are Ready", () => {
    const drain = "node a is cordoned (drained)";
    const plan = planRoll([pod(0), pod(1, { drain }), pod(2, { drain }), pod(3)], pools, { "c-broker": "h" }, "img");
    expect(plan.restart).toMatchObject({ name: "c-broker-2", why: drain });
    expect(plan.stale).toEqual(["c-broker-2", "c-broker-1"]);
    const waiting = planRoll(
      [pod(0), pod(1, { drain }), pod(2, { ready: false }), pod(3)],
      pools,
      { "c-broker": "h" },
      "img",
    );
    expect(waiting.restart).toBeUndefined();
  });
});
