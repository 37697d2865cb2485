// Voter-set changes: the count of static KRaft voters a spec would render, against the applied StatefulSet.
import { describe, expect, it } from "vitest";
import type { PoolSummary } from "../../../src/controllers/kafka-cluster/desired.ts";
import { voterChange, voterChangeMessage } from "../../../src/controllers/kafka-cluster/quorum.ts";
import type { KubeObject } from "../../../src/kube/index.ts";

const sts = (name: string, replicas: number): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name },
  spec: { replicas },
});
const combined = (replicas: number): PoolSummary[] => [
  { name: "c-broker", role: "broker", replicas, firstNodeId: 0, controllers: Math.min(replicas, 3) },
];
const dedicated = (controllers: number, brokers: number): PoolSummary[] => [
  { name: "c-controller", role: "controller", replicas: controllers, firstNodeId: 1000, controllers },
  { name: "c-broker", role: "broker", replicas: brokers, firstNodeId: 0, controllers: 0 },
];

describe("voterChange", () => {
  it("finds nothing for a new cluster or a count that keeps the voters", () => {
    expect(voterChange(combined(3), () => undefined)).toBeUndefined();
    expect(voterChange(combined(6), () => sts("c-broker", 3))).toBeUndefined();
    expect(voterChange(combined(3), () => sts("c-broker", 6))).toBeUndefined();
    const existing = { "c-controller": sts("c-controller", 3), "c-broker": sts("c-broker", 2) };
    expect(voterChange(dedicated(3, 9), (n) => existing[n as keyof typeof existing])).toBeUndefined();
  });

  it("names the field and the counts when the voters would change", () => {
    expect(voterChange(combined(2), () => sts("c-broker", 5))).toEqual({ field: "spec.replicas", from: 3, to: 2 });
    const change = voterChange(dedicated(5, 2), (n) => (n === "c-controller" ? sts(n, 3) : sts(n, 2)));
    expect(change).toEqual({ field: "spec.controller.replicas", from: 3, to: 5 });
    expect(voterChangeMessage(change ?? { field: "spec.replicas", from: 0, to: 0 })).toBe(
      "spec.controller.replicas would change the KRaft voters from 3 to 5; the voters are static " +
        "(controller.quorum.voters) and cannot be changed safely yet (dynamic voters, KIP-853, do not exist). Nothing " +
        "was applied. Set spec.controller.replicas back, or create a new cluster.",
    );
  });
});
