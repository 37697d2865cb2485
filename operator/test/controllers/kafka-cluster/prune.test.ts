// Pruning, the pure planner: what the operator made for a cluster and the spec no longer asks for is deleted; nothing
// else (other clusters' objects, look-alikes without the owner reference, StatefulSets, claims, pods) ever is.
import { describe, expect, it } from "vitest";
import { KafkaClusterSpec, type KafkaClusterSpecInput } from "../../../src/api/v1alpha1/index.ts";
import { desired } from "../../../src/controllers/kafka-cluster/desired.ts";
import { planPrune } from "../../../src/controllers/kafka-cluster/prune.ts";
import type { KubeObject } from "../../../src/kube/index.ts";
import { PROD_UID, prodOwner } from "./owner-fixture.ts";

const UID = PROD_UID;
const NS = "kafka";
const owner = prodOwner;
const cluster = { name: "prod", namespace: NS, uid: UID };

function render(spec: KafkaClusterSpecInput): KubeObject[] {
  return desired({ name: "prod", namespace: NS, uid: UID, spec: KafkaClusterSpec.parse(spec) }, owner).objects;
}

/** What the API server would hold after applying `objects`: each with a uid and its namespace. */
function stored(objects: readonly KubeObject[]): KubeObject[] {
  return objects.map((o, i) => ({ ...o, metadata: { ...o.metadata, namespace: NS, uid: `uid-${i}` } }));
}

const external = { type: "LoadBalancer", port: 9094 } as const;

describe("planPrune", () => {
  it("deletes nothing while the spec still asks for every object", () => {
    const objects = render({ replicas: 3, listeners: { external } });
    expect(planPrune({ cluster, desired: objects, existing: stored(objects) })).toEqual([]);
  });

  it("deletes the external Services, and only them, once the external listener is removed", () => {
    const before = stored(render({ replicas: 3, listeners: { external } }));
    const plan = planPrune({ cluster, desired: render({ replicas: 3 }), existing: before });
    expect(plan.map((p) => `${p.kind}/${p.name}`)).toEqual([
      "Service/prod-broker-0-external",
      "Service/prod-broker-1-external",
      "Service/prod-broker-2-external",
      "Service/prod-kafka-external-bootstrap",
    ]);
    // Each with the uid of the object seen, the delete's precondition.
    const seen = new Map(before.map((o) => [o.metadata.name, o.metadata.uid]));
    for (const p of plan) expect(p.uid).toBe(seen.get(p.name));
  });

  it("deletes the removed broker's <pod>-external Service after a scale-down", () => {
    const before = stored(render({ replicas: 4, listeners: { external } }));
    const plan = planPrune({ cluster, desired: render({ replicas: 3, listeners: { external } }), existing: before });
    expect(plan.map((p) => p.name)).toEqual(["prod-broker-3-external"]);
  });

  it("never deletes StatefulSets, claims, pods or other kinds, even when not desired", () => {
    const before = stored(render({ replicas: 3, controller: { mode: "dedicated", replicas: 3 } }));
    const labels = before[0]?.metadata.labels ?? {};
    const extra: KubeObject[] = [
      ...["StatefulSet", "PersistentVolumeClaim", "Pod", "ConfigMap", "PodDisruptionBudget", "ServiceAccount"].map(
        (kind) => ({
          apiVersion: "v1",
          kind,
          metadata: { name: `stray-${kind}`, namespace: NS, uid: `u-${kind}`, labels, ownerReferences: [owner] },
        }),
      ),
    ];
    // A combined cluster no longer has the controller pool: its StatefulSet is still not pruned.
    expect(planPrune({ cluster, desired: render({ replicas: 3 }), existing: [...before, ...extra] })).toEqual([]);
  });

  it("leaves Services it did not make for this cluster", () => {
    const [svc] = stored(render({ replicas: 1, listeners: { external } })).filter(
      (o) => o.kind === "Service" && o.metadata.name.endsWith("-external"),
    );
    if (svc === undefined) throw new Error("no external Service rendered");
    const variant = (patch: (m: KubeObject["metadata"]) => KubeObject["metadata"]): KubeObject => ({
      ...svc,
      metadata: patch(structuredClone(svc.metadata)),
    });
    const others = [
      // Another cluster's (its label and owner).
      variant((m) => ({
        ...m,
        labels: { ...m.labels, "tributary.dev/cluster": "other" },
        ownerReferences: [{ ...owner, name: "other", uid: "other-uid" }],
      })),
      // Same labels, but owned by an earlier KafkaCluster of the same name (another uid).
      variant((m) => ({ ...m, ownerReferences: [{ ...owner, uid: "older-uid" }] })),
      // Same labels, no owner reference: someone else's look-alike.
      variant((m) => ({ ...m, ownerReferences: [] })),
      // An owner reference that is not the controller one.
      variant((m) => ({ ...m, ownerReferences: [{ ...owner, controller: false }] })),
      // Not labelled as the operator's.
      variant((m) => ({ ...m, labels: { ...m.labels, "app.kubernetes.io/managed-by": "helm" } })),
      // In another namespace.
      variant((m) => ({ ...m, namespace: "elsewhere" })),
      // Already being deleted.
      variant((m) => ({ ...m, deletionTimestamp: "2026-12-06T16:00:00Z" })),
    ];
    expect(planPrune({ cluster, desired: render({ replicas: 1 }), existing: others })).toEqual([]);
    // The untouched original is what gets deleted: the variants above differ from it in one way each.
    expect(planPrune({ cluster, desired: render({ replicas: 1 }), existing: [svc] })).toEqual([
      { kind: "Service", name: svc.metadata.name, uid: svc.metadata.uid },
    ]);
  });
});
