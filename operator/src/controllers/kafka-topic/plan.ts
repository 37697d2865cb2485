// What a KafkaTopic asks of Kafka (PURE): the topic's name, whether the operator manages it, which resource wins when
// several name one topic, the config operations that make Kafka match the spec, and the replica lists of a
// replication-factor change. No I/O, clock or randomness.
import type { ConfigEntry, ConfigOp, Reassignment } from "@tributary/broker/admin";
import { TOPIC_NAME_PATTERN, type KafkaCluster, type KafkaTopic } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../../kube/index.ts";
import { names } from "../kafka-cluster/desired.ts";

/** Holds a managed KafkaTopic until its topic is deleted from Kafka (or its cluster is gone). */
export const TOPIC_FINALIZER = "tributary.dev/kafka-topic";
/** `"false"` leaves the topic alone: nothing is created, changed or deleted in Kafka. */
export const MANAGED_ANNOTATION = "tributary.dev/managed";

interface TopicShape {
  metadata: Pick<KubeObject["metadata"], "name" | "namespace" | "annotations" | "creationTimestamp">;
  spec?: unknown;
}

/** The Kafka topic a KafkaTopic names: spec.topicName, else metadata.name. */
export function topicNameOf(obj: TopicShape): string {
  const spec = (obj.spec ?? {}) as { topicName?: unknown };
  return typeof spec.topicName === "string" ? spec.topicName : obj.metadata.name;
}

/** Why the name cannot be a Kafka topic (metadata.name may be longer than Kafka's 249), or undefined. */
export function topicNameProblem(name: string): string | undefined {
  if (TOPIC_NAME_PATTERN.test(name) && name !== "." && name !== "..") return undefined;
  return `"${name}" is not a legal Kafka topic name (letters, digits, '.', '_', '-'; at most 249); set spec.topicName`;
}

export function clusterNameOf(obj: TopicShape): string | undefined {
  const spec = (obj.spec ?? {}) as { clusterRef?: { name?: unknown } };
  return typeof spec.clusterRef?.name === "string" ? spec.clusterRef.name : undefined;
}

export function isUnmanaged(obj: TopicShape): boolean {
  return obj.metadata.annotations?.[MANAGED_ANNOTATION] === "false";
}

/**
 * Of the managed resources naming one topic on one cluster, the one that manages it: the oldest (creationTimestamp),
 * then the first by name. Every reconciler computes the same answer from the same list.
 */
export function conflictWinner(candidates: readonly TopicShape[]): string | undefined {
  const sorted = [...candidates].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
  return sorted[0]?.metadata.name;
}

/** The resources among `all` that compete with `self` for its topic (same namespace, cluster and topic name). */
export function rivalsOf(self: TopicShape, all: readonly TopicShape[]): TopicShape[] {
  const topic = topicNameOf(self);
  const cluster = clusterNameOf(self);
  return all.filter(
    (o) =>
      o.metadata.namespace === self.metadata.namespace &&
      !isUnmanaged(o) &&
      clusterNameOf(o) === cluster &&
      topicNameOf(o) === topic,
  );
}

/** spec.config as the strings Kafka stores. */
export function desiredConfig(spec: KafkaTopic["spec"]): Record<string, string> {
  return Object.fromEntries(
    Object.entries(spec.config ?? {})
      .map(([k, v]) => [k, String(v)] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * The IncrementalAlterConfigs operations that make the topic's overrides equal spec.config: keys the spec sets are set
 * (when Kafka's value or its source differs), overrides the spec does not name are deleted (back to the broker
 * default). Sorted by key, so the same drift gives the same operations.
 */
export function configOps(desired: Record<string, string>, current: readonly ConfigEntry[]): ConfigOp[] {
  const ops: ConfigOp[] = [];
  const byName = new Map(current.map((c) => [c.name, c]));
  for (const [name, value] of Object.entries(desired)) {
    const entry = byName.get(name);
    if (entry === undefined || entry.source !== "DYNAMIC_TOPIC_CONFIG" || entry.value !== value) {
      ops.push({ name, op: "set", value });
    }
  }
  for (const entry of current) {
    if (entry.source === "DYNAMIC_TOPIC_CONFIG" && !(entry.name in desired))
      ops.push({ name: entry.name, op: "delete" });
  }
  return ops.sort((a, b) => a.name.localeCompare(b.name));
}

export function describeOps(ops: readonly ConfigOp[]): string {
  return ops.map((o) => (o.op === "delete" ? `reset ${o.name}` : `${o.name}=${o.value ?? ""}`)).join(", ");
}

/**
 * New replica lists for a replication-factor change: each partition keeps its current replicas in order (leader
 * first) as far as the new factor allows, and grows with the brokers that follow its last replica in id order, so
 * added replicas spread round-robin. Partitions already at the factor are left out.
 */
export function replicaPlan(
  topic: string,
  partitions: readonly { partition: number; replicas: readonly number[] }[],
  factor: number,
  brokers: readonly number[],
): Reassignment[] {
  const ids = [...new Set(brokers)].sort((a, b) => a - b);
  const out: Reassignment[] = [];
  for (const p of partitions) {
    if (p.replicas.length === factor) continue;
    const next = p.replicas.filter((r) => ids.includes(r)).slice(0, factor);
    let cursor = ids.indexOf(next[next.length - 1] ?? ids[p.partition % Math.max(1, ids.length)] ?? -1);
    for (let i = 0; next.length < factor && i < ids.length; i++) {
      cursor = (cursor + 1) % ids.length;
      const id = ids[cursor] as number;
      if (!next.includes(id)) next.push(id);
    }
    out.push({ topic, partition: p.partition, replicas: next });
  }
  return out;
}

/** The address the operator reaches a cluster's brokers at: an override, else the in-cluster bootstrap Service. */
export function bootstrapOf(cluster: KafkaCluster, overrides: Readonly<Record<string, string>>): string {
  const namespace = cluster.metadata.namespace ?? "default";
  const override = overrides[`${namespace}/${cluster.metadata.name}`];
  if (override !== undefined) return override;
  return `${names.bootstrap(cluster.metadata.name)}.${namespace}.svc:${cluster.spec.listeners.internal.port}`;
}
