// Cluster autoscaler and the pods of a KafkaCluster (PURE): may cluster-autoscaler evict a broker or controller pod to
// remove its node? Its answer is read from cluster-autoscaler.kubernetes.io/safe-to-evict on the pod.
//
// Without the annotation cluster-autoscaler keeps every node that runs a pod with local storage (an emptyDir or
// hostPath volume, unless --skip-nodes-with-local-storage=false), and every pod of ours has one: the scratch /tmp
// (and, with spec.rack, the rack file the init step writes). Neither holds anything a restart needs.
//
// - persistent-claim storage: "true". The log is on the pod's PersistentVolumeClaim, which follows the pod to the node
//   it is recreated on (cluster-autoscaler's simulation only removes a node when the pod fits elsewhere, volume
//   topology included, so a claim bound to that node keeps it). How many pods may go at once is the
//   PodDisruptionBudget's to say: maxUnavailable is derived from min.insync.replicas (scale-step.ts), evictions go
//   through the Eviction API, which enforces it, and cluster-autoscaler also checks it before choosing a node. Its
//   ToBeDeletedByClusterAutoscaler taint makes the operator move the pods itself meanwhile (drains.ts).
// - ephemeral storage: "false". The log is an emptyDir that dies with the pod. The budget counts Ready pods, and a
//   broker is Ready (its port answers) long before it has copied its partitions back, so evictions paced by the
//   budget alone could wipe every in-sync replica of a partition in turn. The operator's own restarts wait for each
//   broker to catch up (roll-gates.ts); an autoscaler's evictions do not, so the node is kept.
// A value in spec.template.pod.annotations wins over this one.
import type { KafkaClusterSpec } from "../../api/v1alpha1/index.ts";

export const SAFE_TO_EVICT_ANNOTATION = "cluster-autoscaler.kubernetes.io/safe-to-evict";

/** The autoscaler annotations of every pod of a cluster with this storage. */
export function evictionAnnotations(storage: KafkaClusterSpec["storage"]): Record<string, string> {
  return { [SAFE_TO_EVICT_ANNOTATION]: storage.type === "persistent-claim" ? "true" : "false" };
}
