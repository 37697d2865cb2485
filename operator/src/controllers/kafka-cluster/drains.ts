// Node drains without a webhook (PURE): which broker pods sit on a node that is being drained or removed, and why.
// Such a pod joins the roll as a stale pod (roll.ts), so it is moved by the operator's own restart, one at a time
// under every restart gate, instead of by an eviction the PodDisruptionBudget would refuse. The recreated pod is
// scheduled elsewhere because the node no longer takes pods; once it runs on another node it is no longer stale.
import type { KubeObject } from "../../kube/index.ts";

/** cluster-autoscaler's taint on a node it is about to delete. */
export const CLUSTER_AUTOSCALER_TAINT = "ToBeDeletedByClusterAutoscaler";
/** Karpenter's taint on a node it is disrupting (consolidation, drift, expiry). */
export const KARPENTER_DISRUPTION_TAINT = "karpenter.sh/disruption";

interface NodeShape {
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect?: string }[] };
}

/** Why the node is being emptied, or undefined when it is not. */
export function nodeDisruption(node: KubeObject | undefined): string | undefined {
  if (node === undefined) return undefined;
  const spec = (node as KubeObject & NodeShape).spec;
  const taints = spec?.taints ?? [];
  if (taints.some((t) => t.key === CLUSTER_AUTOSCALER_TAINT))
    return `node ${node.metadata.name} is being removed by the cluster autoscaler`;
  if (taints.some((t) => t.key === KARPENTER_DISRUPTION_TAINT))
    return `node ${node.metadata.name} is being disrupted by Karpenter`;
  if (spec?.unschedulable === true) return `node ${node.metadata.name} is cordoned (drained)`;
  return undefined;
}

/** The drain reason of a pod, from the node it runs on (spec.nodeName), or undefined. */
export function podDrain(pod: KubeObject, node: (name: string) => KubeObject | undefined): string | undefined {
  const nodeName = (pod as KubeObject & { spec?: { nodeName?: string } }).spec?.nodeName;
  return nodeName === undefined ? undefined : nodeDisruption(node(nodeName));
}
