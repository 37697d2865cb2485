// Registration of the KafkaTopic controller: its primary kind (optionally narrowed by a label selector), and the two
// other events that concern a topic: a change to its KafkaCluster (created, deleted, its listener moved) requeues
// every topic of that cluster, and a change to one KafkaTopic requeues the others naming the same topic (so the next
// oldest takes over when the winner of a conflict is deleted).
import type { Logger } from "pino";
import {
  KINDS,
  eventRecorder,
  objectKey,
  onlyStatusChanged,
  type KubeClient,
  type KubeObject,
} from "../../kube/index.ts";
import type { AdminPool } from "../../kafka/admin-pool.ts";
import type { ControllerRegistration, Manager } from "../../manager/manager.ts";
import { TOPIC_FINALIZER, clusterNameOf, topicNameOf } from "./plan.ts";
import { KafkaTopicReconciler } from "./reconciler.ts";

export { KafkaTopicReconciler } from "./reconciler.ts";

export function kafkaTopicController(
  manager: Manager,
  client: KubeClient,
  logger: Logger,
  options: {
    instance: string;
    admins: AdminPool;
    bootstrapOverrides?: Readonly<Record<string, string>>;
    labelSelector?: string | undefined;
    deleteTimeoutMs?: number;
    resyncMs?: number;
    workers?: number;
  },
): ControllerRegistration {
  const topics = (namespace: string): KubeObject[] => manager.cached(KINDS.KafkaTopic, namespace);
  const reconciler = new KafkaTopicReconciler({
    client,
    events: eventRecorder(client, logger, options.instance),
    admins: options.admins,
    topics,
    cluster: (namespace, name) => manager.cached(KINDS.KafkaCluster, namespace).find((c) => c.metadata.name === name),
    ...(options.bootstrapOverrides === undefined ? {} : { bootstrapOverrides: options.bootstrapOverrides }),
    ...(options.deleteTimeoutMs === undefined ? {} : { deleteTimeoutMs: options.deleteTimeoutMs }),
  });
  const keyOf = (o: KubeObject): string => objectKey(o.metadata.namespace, o.metadata.name);
  return {
    primary: KINDS.KafkaTopic,
    owns: [],
    watches: [
      {
        type: KINDS.KafkaCluster,
        labelSelector: undefined,
        // A new, deleted or respecified cluster concerns its topics; its frequent status writes do not (a cluster
        // with 1,000 topics would requeue them all on each).
        ignoreStatusOnly: true,
        toKey: (cluster) =>
          topics(cluster.metadata.namespace ?? "")
            .filter((t) => clusterNameOf(t) === cluster.metadata.name)
            .map(keyOf),
      },
      {
        type: KINDS.KafkaTopic,
        labelSelector: options.labelSelector,
        toKey: (changed) =>
          topics(changed.metadata.namespace ?? "")
            .filter((t) => t.metadata.name !== changed.metadata.name && topicNameOf(t) === topicNameOf(changed))
            .map(keyOf),
      },
    ],
    ...(options.labelSelector === undefined ? {} : { primaryLabelSelector: options.labelSelector }),
    // The pass that added the finalizer went on to create the topic and write status; its own write is no news.
    ignoreUpdate: (previous, next) => {
      const before = previous.metadata.finalizers ?? [];
      const added = (next.metadata.finalizers ?? []).filter((f) => !before.includes(f));
      if (added.length !== 1 || added[0] !== TOPIC_FINALIZER) return false;
      const aligned = { ...previous, metadata: { ...previous.metadata, finalizers: next.metadata.finalizers ?? [] } };
      return onlyStatusChanged(aligned, next);
    },
    reconciler,
    ...(options.resyncMs === undefined ? {} : { resyncMs: options.resyncMs }),
    ...(options.workers === undefined ? {} : { workers: options.workers }),
  };
}
