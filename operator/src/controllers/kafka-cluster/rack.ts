// Rack awareness (PURE): what spec.rack adds to the broker pods, the ClusterRoleBinding that lets their init step read
// nodes, and each broker's rack as the status reports it. The init step (tributary-rack in the broker image) reads
// the pod's Node and writes broker.rack into a file the broker reads with --override-file; the operator itself only
// gets the nodes its broker pods run on, for status.racks and the Warning about nodes without the label.
import type { BrokerRackStatus } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../../kube/index.ts";

/** The chart's ClusterRole that allows get on nodes and nothing more (charts/tributary/templates/operator/rbac.yaml). */
export const DEFAULT_RACK_CLUSTER_ROLE = "tributary-operator-kafka-rack";
export const RACK_DIR = "/var/run/tributary/rack";
export const RACK_FILE = `${RACK_DIR}/rack.properties`;
/** Only the init step mounts the ServiceAccount token; the broker container has no API credentials. */
const CREDENTIALS_DIR = "/var/run/secrets/tributary/kubernetes";
const RACK_TOOL_PATH = "/app/broker/bin/tributary-rack";
const NODE_PATH = "/usr/local/bin/node";
/** Labels on the binding naming its cluster: cluster-scoped, it cannot carry an owner reference to a namespaced one. */
export const BINDING_NAMESPACE_LABEL = "tributary.dev/namespace";

/**
 * The ClusterRoleBinding of a cluster's broker ServiceAccount. Namespaces cannot contain dots, so the name is unique
 * per (namespace, cluster).
 */
export function rackBindingName(namespace: string, cluster: string): string {
  return `tributary-rack.${namespace}.${cluster}`;
}

export function rackBinding(
  namespace: string,
  cluster: string,
  serviceAccount: string,
  clusterRole: string,
  labels: Record<string, string>,
): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: {
      name: rackBindingName(namespace, cluster),
      labels: { ...labels, [BINDING_NAMESPACE_LABEL]: namespace },
    },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole },
    subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
  };
}

/** What spec.rack adds to a broker pod: an init container, its volumes, and the broker's --override-file. */
export interface RackPodParts {
  initContainer: Record<string, unknown>;
  volumes: Record<string, unknown>[];
  brokerMount: Record<string, unknown>;
  brokerArgs: string[];
}

export function rackPodParts(
  topologyKey: string,
  image: string,
  pullPolicy: string | undefined,
  securityContext: Record<string, unknown>,
): RackPodParts {
  return {
    initContainer: {
      name: "rack",
      image,
      ...(pullPolicy === undefined ? {} : { imagePullPolicy: pullPolicy }),
      command: [NODE_PATH, RACK_TOOL_PATH],
      args: ["--topology-key", topologyKey, "--output", RACK_FILE, "--credentials", CREDENTIALS_DIR],
      env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
      securityContext,
      volumeMounts: [
        { name: "rack", mountPath: RACK_DIR },
        { name: "rack-credentials", mountPath: CREDENTIALS_DIR, readOnly: true },
      ],
    },
    volumes: [
      { name: "rack", emptyDir: {} },
      {
        // A short-lived token of the pod's ServiceAccount and the cluster CA, for the init step alone: the pod keeps
        // automountServiceAccountToken false, so the broker container never holds a token.
        name: "rack-credentials",
        projected: {
          sources: [
            { serviceAccountToken: { path: "token", expirationSeconds: 600 } },
            { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          ],
        },
      },
    ],
    brokerMount: { name: "rack", mountPath: RACK_DIR, readOnly: true },
    brokerArgs: ["--override-file", RACK_FILE],
  };
}

/** A broker pod as the rack step sees it. */
export interface RackPod {
  brokerId: number;
  pod: string;
  /** spec.nodeName; unset until scheduled. */
  node?: string;
}

/** Each broker's rack from its node's labels (`labels(node)` undefined: the node is gone), and who lacks the label. */
export function brokerRacks(
  pods: readonly RackPod[],
  labels: (node: string) => Record<string, string> | undefined,
  topologyKey: string,
): { racks: BrokerRackStatus[]; unlabelled: { node: string; pods: string[] }[] } {
  const racks: BrokerRackStatus[] = [];
  const unlabelled = new Map<string, string[]>();
  for (const p of [...pods].sort((a, b) => a.brokerId - b.brokerId)) {
    const rack = p.node === undefined ? undefined : labels(p.node)?.[topologyKey];
    racks.push({
      brokerId: p.brokerId,
      pod: p.pod,
      ...(p.node === undefined ? {} : { node: p.node }),
      ...(rack === undefined || rack === "" ? {} : { rack }),
    });
    if (p.node !== undefined && (rack === undefined || rack === "")) {
      unlabelled.set(p.node, [...(unlabelled.get(p.node) ?? []), p.pod]);
    }
  }
  return { racks, unlabelled: [...unlabelled].map(([node, pods]) => ({ node, pods })) };
}

/** The Warning about nodes without the label: which, what it means, and what to do. */
export function unlabelledMessage(unlabelled: { node: string; pods: string[] }[], topologyKey: string): string {
  const list = unlabelled.map((u) => `${u.node} (${u.pods.join(", ")})`).join(", ");
  return (
    `node${unlabelled.length === 1 ? "" : "s"} ${list} ${unlabelled.length === 1 ? "has" : "have"} no label ` +
    `${topologyKey}: ${unlabelled.length === 1 ? "its brokers run" : "their brokers run"} without broker.rack, so ` +
    `replicas are not spread by rack there. Label the node, then delete the pod so that it restarts with its rack.`
  );
}
