// The rack step's I/O (decisions are in rack.ts): apply or remove the ClusterRoleBinding that lets the broker pods'
// init step get nodes, and look up the nodes the broker pods run on in the operator's node cache (the informer the
// drain watch already keeps; no request per pass), only for clusters with spec.rack. Holding get on nodes is also what
// lets the operator bind the chart's node-reader ClusterRole without the `bind` verb.
import type { BrokerRackStatus, KafkaCluster } from "../../api/v1alpha1/index.ts";
import { ApiError, KINDS, type KubeClient, type KubeObject } from "../../kube/index.ts";
import { labelsOf, names, selectorOf, type DesiredState } from "./desired.ts";
import {
  DEFAULT_RACK_CLUSTER_ROLE,
  brokerRacks,
  rackBinding,
  rackBindingName,
  unlabelledMessage,
  type RackPod,
} from "./rack.ts";

export interface RackStepInput {
  client: KubeClient;
  cluster: KafkaCluster;
  desired: DesiredState;
  pods: (namespace: string, labels: Record<string, string>) => KubeObject[];
  /** A Node from the informer cache, or undefined when the cluster has none of that name. */
  node: (name: string) => KubeObject | undefined;
  clusterRole: string | undefined;
}

export interface RackStepResult {
  warnings: { reason: string; message: string }[];
  /** For the status; undefined leaves it as it was. */
  racks?: BrokerRackStatus[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function run(input: RackStepInput): Promise<RackStepResult> {
  const { client, cluster } = input;
  const namespace = cluster.metadata.namespace ?? "default";
  const name = cluster.metadata.name;
  const rack = cluster.spec.rack;
  if (rack === undefined) {
    // Rack awareness switched off: the binding goes, and status.racks empties (a merge patch cannot drop the field).
    if ((cluster.status?.racks?.length ?? 0) === 0) return { warnings: [] };
    await forget(client, namespace, name);
    return { warnings: [], racks: [] };
  }
  const warnings: RackStepResult["warnings"] = [];
  const binding = rackBinding(
    namespace,
    name,
    names.serviceAccount(name),
    input.clusterRole ?? DEFAULT_RACK_CLUSTER_ROLE,
    labelsOf(name, "broker"),
  );
  try {
    await client.apply(binding);
  } catch (err) {
    if (!(err instanceof ApiError) || (err.statusCode !== 403 && err.statusCode !== 404 && err.statusCode !== 422))
      throw err;
    // Without it the brokers' init step cannot read their node and the pods do not start: say why, keep going.
    warnings.push({
      reason: "RackBindingFailed",
      message:
        `could not bind ClusterRole ${input.clusterRole ?? DEFAULT_RACK_CLUSTER_ROLE} ` +
        `to ServiceAccount ${names.serviceAccount(name)} (ClusterRoleBinding ${rackBindingName(namespace, name)}): ` +
        `${message(err)}. The brokers' rack init step cannot read their node until it exists.`,
    });
  }

  const pool = input.desired.pools.find((p) => p.role === "broker");
  if (pool === undefined) return { warnings, racks: [] };
  const nodeOf = new Map<string, string | undefined>();
  for (const pod of input.pods(namespace, selectorOf(name, "broker"))) {
    nodeOf.set(pod.metadata.name, (pod as KubeObject & { spec?: { nodeName?: string } }).spec?.nodeName);
  }
  const pods: RackPod[] = Array.from({ length: pool.replicas }, (_, i) => {
    const pod = `${pool.name}-${i}`;
    const node = nodeOf.get(pod);
    return { brokerId: pool.firstNodeId + i, pod, ...(node === undefined ? {} : { node }) };
  });
  const nodeLabels = (node: string): Record<string, string> | undefined => {
    const obj = input.node(node);
    return obj === undefined ? undefined : (obj.metadata.labels ?? {});
  };
  const { racks, unlabelled } = brokerRacks(pods, nodeLabels, rack.topologyKey);
  if (unlabelled.length > 0) {
    warnings.push({ reason: "NodeLabelMissing", message: unlabelledMessage(unlabelled, rack.topologyKey) });
  }
  return { warnings, racks };
}

/** Removes the cluster's binding (idempotent): the cluster is gone, or no longer rack-aware. */
async function forget(client: KubeClient, namespace: string, name: string): Promise<void> {
  await client.delete(KINDS.ClusterRoleBinding, undefined, rackBindingName(namespace, name));
}

export const rackStep = { run, forget };
