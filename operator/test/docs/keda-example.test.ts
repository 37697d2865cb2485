// The KEDA example of docs/operator.md against what KEDA 2.21.1's kafka scaler reads (its trigger metadata names) and
// against the KafkaCluster it scales. Its schema check on a real kube-apiserver is in crdgen/crds-apiserver.test.ts.
import { describe, expect, it } from "vitest";
import { kafkaScalerParameters, kedaExample } from "./keda.ts";

describe("the KEDA example in docs/operator.md", () => {
  const example = kedaExample();
  const kafka = example.spec.triggers.filter((t) => t.type === "kafka");

  it("has one kafka trigger whose metadata names only parameters KEDA's kafka scaler reads, all it requires", () => {
    expect(kafka).toHaveLength(1);
    const params = kafkaScalerParameters();
    const known = new Set(params.map((p) => p.name));
    const given = Object.keys(kafka[0]?.metadata ?? {});
    expect(given.filter((name) => !known.has(name))).toEqual([]);
    const required = params.filter((p) => p.required).map((p) => p.name);
    expect(required).toEqual(["bootstrapServers", "consumerGroup"]);
    expect(required.filter((name) => !given.includes(name))).toEqual([]);
    // Trigger metadata is a map of strings: numbers must be quoted.
    for (const value of Object.values(kafka[0]?.metadata ?? {})) expect(typeof value).toBe("string");
  });

  it("targets a KafkaCluster through its scale subresource, never below 3 brokers", () => {
    expect(example.spec["scaleTargetRef"]).toMatchObject({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
    });
    expect(example.spec["minReplicaCount"]).toBeGreaterThanOrEqual(3);
  });
});
