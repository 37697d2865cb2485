// Pruning, the pure part: which objects the operator made for a cluster are no longer asked for by its spec (the
// per-broker `<pod>-external` Services and the external bootstrap Service once spec.listeners.external is removed,
// the `<pod>-external` Service of a broker a scale-down removed). The reconciler's prune step deletes what this plans,
// each with a uid precondition, after apply, so that nothing is removed before its replacement exists.
//
// Only Services are pruned. The other kinds the operator applies either exist for every spec (the ServiceAccount,
// the ConfigMap, the PodDisruptionBudget), or must never be deleted by a diff: deleting a StatefulSet deletes its pods
// (a pool disappearing is a voter change, which the quorum step refuses; the volume expansion's orphan deletion is
// its own step), and claims follow spec.storage.deleteClaim through the StatefulSet's retention policy.
import { KINDS, type KubeObject, type ResourceType } from "../../kube/index.ts";
import { CLUSTER_LABEL } from "./desired.ts";

/** The kinds the prune step looks at (their objects come from the informer cache; RBAC grants delete on these only). */
export const PRUNABLE_KINDS: readonly ResourceType[] = [KINDS.Service];

const MANAGED_BY = "app.kubernetes.io/managed-by";
const OPERATOR = "tributary-operator";

export interface PruneInput {
  /** The KafkaCluster: its name, namespace and uid (the owner reference the operator sets on what it makes). */
  cluster: { name: string; namespace: string; uid: string };
  /** What this pass applied (or would apply): anything of the same kind and name is kept. */
  desired: readonly KubeObject[];
  /** Objects of PRUNABLE_KINDS found in the cluster's namespace (any labels: the rules below decide). */
  existing: readonly KubeObject[];
}

export interface Prune {
  kind: string;
  name: string;
  /** The delete's precondition: a newer object of the same name is never removed in its place. */
  uid: string;
}

/**
 * The objects to delete: of a prunable kind, in the cluster's namespace, labelled as the operator's for this cluster,
 * controlled by this KafkaCluster (the owner reference's uid, so a cluster re-created under the same name never
 * prunes its predecessor's leftovers early nor anyone's look-alikes), not being deleted already, and not desired.
 * Sorted by kind and name, so passes and their Events are reproducible.
 */
export function planPrune(input: PruneInput): Prune[] {
  const { cluster } = input;
  const prunable = new Set(PRUNABLE_KINDS.map((t) => t.kind));
  const wanted = new Set(input.desired.map((o) => `${o.kind}/${o.metadata.name}`));
  const out: Prune[] = [];
  for (const obj of input.existing) {
    const meta = obj.metadata;
    if (!prunable.has(obj.kind)) continue;
    if ((meta.namespace ?? "") !== cluster.namespace) continue;
    if (meta.labels?.[CLUSTER_LABEL] !== cluster.name || meta.labels[MANAGED_BY] !== OPERATOR) continue;
    const controlled = (meta.ownerReferences ?? []).some(
      (r) => r.controller === true && r.kind === "KafkaCluster" && r.uid === cluster.uid,
    );
    if (!controlled) continue;
    if (meta.uid === undefined || meta.deletionTimestamp !== undefined) continue;
    if (wanted.has(`${obj.kind}/${meta.name}`)) continue;
    out.push({ kind: obj.kind, name: meta.name, uid: meta.uid });
  }
  return out.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}
