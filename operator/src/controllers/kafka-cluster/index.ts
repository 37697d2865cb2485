// Registration of the KafkaCluster controller with the manager: its primary kind, what it owns, and how pod events
// (pods belong to the StatefulSet, not to the KafkaCluster) find their cluster.
import type { Logger } from "pino";
import type { AdminPool } from "../../kafka/admin-pool.ts";
import type { ActiveControllerLookup } from "../../kafka/quorum.ts";
import type { RollProbe } from "../../kafka/roll-probe.ts";
import type { BrokerConfigClient } from "../../kafka/broker-config.ts";
import { KINDS, eventRecorder, objectKey, type KubeClient, type KubeObject, type ObjectKey } from "../../kube/index.ts";
import type { ControllerRegistration, Manager } from "../../manager/manager.ts";
import { CLUSTER_LABEL, type BrokerDefaults } from "./desired.ts";
import { KafkaClusterReconciler } from "./reconciler.ts";
import { bootstrapOf } from "../kafka-topic/plan.ts";

export { KafkaClusterReconciler } from "./reconciler.ts";

/** Only objects carrying this label are watched: the operator's own, not every ConfigMap in the cluster. */
export const MANAGED_SELECTOR = "app.kubernetes.io/managed-by=tributary-operator";

export function kafkaClusterController(
  manager: Manager,
  client: KubeClient,
  logger: Logger,
  options: {
    instance: string;
    resyncMs?: number;
    workers?: number;
    defaults?: BrokerDefaults;
    activeController?: ActiveControllerLookup;
    rollProbe?: RollProbe;
    /**
     * The Kafka admin clients of every pass (restart gates, dynamic configs, scaling with data movement); without
     * them a scale-down is held with a Warning.
     */
    admins?: AdminPool;
    brokerConfig?: BrokerConfigClient;
    bootstrapOverrides?: Readonly<Record<string, string>>;
  },
): ControllerRegistration {
  const reconciler = new KafkaClusterReconciler({
    client,
    events: eventRecorder(client, logger, options.instance),
    pods: (namespace, labels) => manager.cached(KINDS.Pod, namespace, labels),
    claims: (namespace, labels) => manager.cached(KINDS.PersistentVolumeClaim, namespace, labels),
    statefulSet: (namespace, name) =>
      manager.cached(KINDS.StatefulSet, namespace).find((sts) => sts.metadata.name === name),
    node: (name) => manager.cached(KINDS.Node).find((node) => node.metadata.name === name),
    owned: (type, namespace, labels) => manager.cached(type, namespace, labels),
    ...(options.defaults === undefined ? {} : { defaults: options.defaults }),
    ...(options.activeController === undefined ? {} : { activeController: options.activeController }),
    ...(options.rollProbe === undefined ? {} : { rollProbe: options.rollProbe }),
    ...(options.brokerConfig === undefined ? {} : { brokerConfig: options.brokerConfig }),
    ...(options.bootstrapOverrides === undefined ? {} : { bootstrapOverrides: options.bootstrapOverrides }),
    ...(options.admins === undefined
      ? {}
      : {
          admins: options.admins,
          scaling: {
            admin: (cluster) =>
              (options.admins as AdminPool).for(
                objectKey(cluster.metadata.namespace, cluster.metadata.name),
                bootstrapOf(cluster, options.bootstrapOverrides ?? {}),
              ),
            podDisruptionBudget: (namespace, name) =>
              manager.cached(KINDS.PodDisruptionBudget, namespace).find((pdb) => pdb.metadata.name === name),
          },
        }),
  });
  return {
    primary: KINDS.KafkaCluster,
    owns: [KINDS.StatefulSet, KINDS.Service, KINDS.ConfigMap, KINDS.PodDisruptionBudget, KINDS.ServiceAccount],
    watches: [
      {
        type: KINDS.Pod,
        toKey: byClusterLabel,
      },
      // Claims carry the claim template's labels; their status tells how a volume expansion goes.
      { type: KINDS.PersistentVolumeClaim, toKey: byClusterLabel },
      {
        // A node being cordoned or tainted for removal concerns the clusters with a pod on it (drains.ts). Only spec
        // changes matter: node status (heartbeats, conditions) changes all the time.
        type: KINDS.Node,
        labelSelector: undefined,
        ignoreStatusOnly: true,
        toKey: (node) => [
          ...new Set(
            manager
              .cached(KINDS.Pod)
              .filter((pod) => (pod as { spec?: { nodeName?: string } }).spec?.nodeName === node.metadata.name)
              .flatMap((pod) => {
                const cluster = pod.metadata.labels?.[CLUSTER_LABEL];
                return cluster === undefined ? [] : [objectKey(pod.metadata.namespace, cluster)];
              }),
          ),
        ],
      },
    ],
    ownedLabelSelector: MANAGED_SELECTOR,
    reconciler,
    ...(options.resyncMs === undefined ? {} : { resyncMs: options.resyncMs }),
    ...(options.workers === undefined ? {} : { workers: options.workers }),
  };
}

function byClusterLabel(obj: KubeObject): ObjectKey | undefined {
  const cluster = obj.metadata.labels?.[CLUSTER_LABEL];
  return cluster === undefined ? undefined : objectKey(obj.metadata.namespace, cluster);
}
