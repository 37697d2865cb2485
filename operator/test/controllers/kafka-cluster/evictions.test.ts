// cluster-autoscaler.kubernetes.io/safe-to-evict on the pods of a KafkaCluster (evictions.ts): "true" where the log
// is on a claim that follows the pod, "false" where it dies with the pod, on brokers and dedicated controllers alike;
// the user's pod annotations win, and the annotation is no reason to restart a pod.
import { describe, expect, it } from "vitest";
import { KafkaClusterSpec, type KafkaClusterSpecInput } from "../../../src/api/v1alpha1/index.ts";
import { CONFIG_HASH_ANNOTATION, desired, type DesiredState } from "../../../src/controllers/kafka-cluster/desired.ts";
import { SAFE_TO_EVICT_ANNOTATION, evictionAnnotations } from "../../../src/controllers/kafka-cluster/evictions.ts";
import { controllerRef } from "../../../src/kube/index.ts";

const UID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";

function render(spec: KafkaClusterSpecInput): DesiredState {
  const raw = { apiVersion: "tributary.dev/v1alpha1", kind: "KafkaCluster", metadata: { name: "c", uid: UID } };
  return desired({ name: "c", namespace: "ns", uid: UID, spec: KafkaClusterSpec.parse(spec) }, controllerRef(raw));
}

/** Pod template annotations of each StatefulSet, by its name. */
function podAnnotations(state: DesiredState): Record<string, Record<string, string>> {
  type Sts = { spec: { template: { metadata: { annotations: Record<string, string> } } } };
  return Object.fromEntries(
    state.objects
      .filter((o) => o.kind === "StatefulSet")
      .map((o) => [o.metadata.name, (o as unknown as Sts).spec.template.metadata.annotations]),
  );
}

const PERSISTENT = { type: "persistent-claim", size: "10Gi" } as const;

describe("safe-to-evict", () => {
  it("is true with persistent-claim storage and false with ephemeral storage", () => {
    expect(evictionAnnotations({ type: "ephemeral" })).toEqual({ [SAFE_TO_EVICT_ANNOTATION]: "false" });
    expect(evictionAnnotations(PERSISTENT)).toEqual({ [SAFE_TO_EVICT_ANNOTATION]: "true" });
  });

  it("is on the pods of every pool, brokers and dedicated controllers", () => {
    const dedicated = { replicas: 3, controller: { mode: "dedicated", replicas: 3 } } as const;
    const persistent = podAnnotations(render({ ...dedicated, storage: PERSISTENT }));
    expect(Object.keys(persistent).sort()).toEqual(["c-broker", "c-controller"]);
    for (const a of Object.values(persistent)) expect(a[SAFE_TO_EVICT_ANNOTATION]).toBe("true");
    const ephemeral = podAnnotations(render(dedicated));
    for (const a of Object.values(ephemeral)) expect(a[SAFE_TO_EVICT_ANNOTATION]).toBe("false");
  });

  it("gives way to the user's pod annotations, and changes no config hash (no restart for it)", () => {
    const plain = render({ replicas: 3, storage: PERSISTENT });
    const overridden = render({
      replicas: 3,
      storage: PERSISTENT,
      template: { pod: { annotations: { [SAFE_TO_EVICT_ANNOTATION]: "false" } } },
    });
    expect(podAnnotations(overridden)["c-broker"]?.[SAFE_TO_EVICT_ANNOTATION]).toBe("false");
    expect(podAnnotations(overridden)["c-broker"]?.[CONFIG_HASH_ANNOTATION]).toBe(
      podAnnotations(plain)["c-broker"]?.[CONFIG_HASH_ANNOTATION],
    );
  });
});
