// Where a cluster's partition replicas are, as Kafka's Admin API reports them (the operator e2e's scale test): every
// topic's replicas counted per broker, and the reassignments still in progress.
import type { AdminClient, TopicLookup } from "@tributary/broker/admin";

export interface ReplicaLayout {
  /** Replicas per broker id (brokers holding none are absent). */
  perBroker: Map<number, number>;
  /** Partitions of every topic, internal ones included. */
  partitions: number;
  /** Reassignments Kafka lists as in progress. */
  ongoing: number;
}

/** Replicas per broker over the topics described (topics that failed to describe are skipped). */
export function countReplicas(topics: ReadonlyMap<string, TopicLookup>): Map<number, number> {
  const perBroker = new Map<number, number>();
  for (const lookup of topics.values()) {
    for (const p of lookup.topic?.partitions ?? []) {
      for (const id of p.replicas) perBroker.set(id, (perBroker.get(id) ?? 0) + 1);
    }
  }
  return perBroker;
}

export async function replicaLayout(admin: AdminClient): Promise<ReplicaLayout> {
  const names = await admin.listTopics({ internal: true });
  const [topics, ongoing] = await Promise.all([admin.describeTopics(names), admin.listPartitionReassignments()]);
  let partitions = 0;
  for (const lookup of topics.values()) partitions += lookup.topic?.partitions.length ?? 0;
  return { perBroker: countReplicas(topics), partitions, ongoing: ongoing.length };
}

/** "0:3 1:3 2:3" (broker id: replicas), in broker id order, for FIGURE lines and failure messages. */
export function formatLayout(perBroker: ReadonlyMap<number, number>): string {
  return [...perBroker]
    .sort(([a], [b]) => a - b)
    .map(([id, n]) => `${id}:${n}`)
    .join(" ");
}
