// Plain object shapes shared by the kube layer and its callers. Controllers see these, never @kubernetes/client-node
// types, so the client library can change without touching reconcile logic.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

/** Any Kubernetes object; kind-specific fields are read through narrow local types by whoever needs them. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Identifies a kind in the API: the REST path needs the plural and whether it is namespaced. */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

/** A key in the work queue: `namespace/name` (cluster-scoped objects use `name`). */
export type ObjectKey = string;

export function objectKey(namespace: string | undefined, name: string): ObjectKey {
  return namespace === undefined || namespace === "" ? name : `${namespace}/${name}`;
}

export function splitKey(key: ObjectKey): { namespace: string | undefined; name: string } {
  const slash = key.indexOf("/");
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** The kinds the operator reads or writes, with their REST coordinates (no discovery round trip needed). */
export const KINDS = {
  ConfigMap: { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  Service: { apiVersion: "v1", kind: "Service", plural: "services", namespaced: true },
  ServiceAccount: { apiVersion: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true },
  Pod: { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true },
  PersistentVolumeClaim: {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
    namespaced: true,
  },
  Event: { apiVersion: "v1", kind: "Event", plural: "events", namespaced: true },
  Namespace: { apiVersion: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
  Node: { apiVersion: "v1", kind: "Node", plural: "nodes", namespaced: false },
  ClusterRoleBinding: {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
  },
  StatefulSet: { apiVersion: "apps/v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true },
  StorageClass: { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", plural: "storageclasses", namespaced: false },
  PodDisruptionBudget: {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    namespaced: true,
  },
  Lease: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", plural: "leases", namespaced: true },
  CustomResourceDefinition: {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
  },
  KafkaCluster: {
    apiVersion: "tributary.dev/v1alpha1",
    kind: "KafkaCluster",
    plural: "kafkaclusters",
    namespaced: true,
  },
  KafkaTopic: { apiVersion: "tributary.dev/v1alpha1", kind: "KafkaTopic", plural: "kafkatopics", namespaced: true },
  KafkaUser: { apiVersion: "tributary.dev/v1alpha1", kind: "KafkaUser", plural: "kafkausers", namespaced: true },
} as const satisfies Record<string, ResourceType>;

export function resourceTypeOf(obj: Pick<KubeObject, "apiVersion" | "kind">): ResourceType {
  const known = (KINDS as Record<string, ResourceType>)[obj.kind];
  if (known === undefined || known.apiVersion !== obj.apiVersion) {
    throw new Error(`unknown kind ${obj.apiVersion}/${obj.kind}: add it to KINDS in operator/src/kube/types.ts`);
  }
  return known;
}
