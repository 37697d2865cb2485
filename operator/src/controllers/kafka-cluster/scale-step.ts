// The scale step's I/O: reads what scaling.ts decides on from Kafka's Admin API (brokers and racks, every partition's
// replicas, reassignments in progress, log-dir sizes, topic min.insync.replicas) and carries the decision out
// (throttles, AlterPartitionReassignments). It answers the broker StatefulSet's replica count for this pass; the
// reconciler renders and applies it. Kafka is asked only when a scale-down is pending or every broker pod is Ready
// (to spread partitions onto new brokers), so a cluster that is starting costs no Admin API calls. Besides, it
// unregisters the broker a scale-down removed last once its pod is gone (unregister.ts): Kafka is read for that once
// per size of the StatefulSet, in the first pass without the pod.
import {
  KafkaError,
  type ClusterMetadata,
  type ConfigChange,
  type ConfigResource,
  type ConfigResult,
  type LogDirDescription,
  type OngoingReassignment,
  type PartitionRef,
  type PartitionResult,
  type Reassignment,
  type TopicLookup,
} from "@tributary/broker/admin";
import type { Logger } from "pino";
import { quantityNanos, type KafkaCluster } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../../kube/index.ts";
import { names, selectorOf, type DesiredState } from "./desired.ts";
import { ordinalOf } from "./roll.ts";
import {
  derivedMaxUnavailable,
  emptyBrokers,
  planMoves,
  planScaleDown,
  type BrokerInfo,
  type DataSizes,
  type Move,
  type PartitionReplicas,
} from "./scaling.ts";
import { unregisterCandidate, unregisterDecision } from "./unregister.ts";

/** What the scale step asks of a cluster's admin client (operator/src/kafka/admin-pool.ts ClusterAdmin). */
export interface ScalingAdmin {
  cluster(): Promise<ClusterMetadata>;
  allTopics(): Promise<Map<string, TopicLookup>>;
  reassignments(partitions?: PartitionRef[]): Promise<OngoingReassignment[]>;
  reassign(reassignments: Reassignment[]): Promise<PartitionResult[]>;
  describeConfigs(resources: readonly ConfigResource[]): Promise<ConfigResult[]>;
  alterConfigsNow(changes: readonly ConfigChange[]): Promise<(ConfigResource & { error?: KafkaError })[]>;
  describeLogDirs(nodeId: number): Promise<LogDirDescription[]>;
  supports(apiKey: number): Promise<boolean>;
  /** UnregisterBroker; rejects with KafkaError BROKER_ID_NOT_REGISTERED for an id the controller does not know. */
  unregisterBroker(brokerId: number): Promise<void>;
}

/** Replication throttle for moves the operator starts, per broker, leader and follower side (bytes/s). */
export const DEFAULT_THROTTLE_BYTES_PER_SECOND = 50 * 1024 * 1024;

const THROTTLE_RATES = ["leader.replication.throttled.rate", "follower.replication.throttled.rate"] as const;
const THROTTLED_REPLICAS = [
  "leader.replication.throttled.replicas",
  "follower.replication.throttled.replicas",
] as const;
const DESCRIBE_LOG_DIRS = 35;
const UNREGISTER_BROKER = 64;
const BROKER_ID_NOT_REGISTERED = 102;

export interface ScaleInput {
  admin: ScalingAdmin | undefined;
  log: Logger;
  /** spec.replicas. */
  desired: number;
  /** The broker StatefulSet's spec.replicas now. */
  current: number;
  nodeId: (ordinal: number) => number;
  /** Broker pods at or above `current` that still exist. */
  leftoverPods: number;
  /** Every broker pod below `current` exists and is Ready. */
  allReady: boolean;
  /** Each broker's volume size in bytes from spec.storage, used when Kafka does not report its disks' size. */
  claimBytes: number | undefined;
  throttleBytesPerSecond: number;
}

export interface ScaleOutcome {
  /** The broker StatefulSet's replicas for this pass. */
  replicas: number;
  /** A scale in progress (Reconciling). */
  progress?: { reason: string; message: string };
  /** A scale refused (Warning); nothing was moved or removed. */
  blocked?: { reason: string; message: string };
  /** maxUnavailable derived from the topics, when Kafka was read in this pass. */
  maxUnavailable?: number | undefined;
  /** Look again soon. */
  requeue: boolean;
}

interface KafkaView {
  brokers: BrokerInfo[];
  partitions: PartitionReplicas[];
  ongoing: number;
  /** Topic configs by name (min.insync.replicas, throttled replicas). */
  topicConfigs: Map<string, Map<string, string | null>>;
}

async function readKafka(admin: ScalingAdmin): Promise<KafkaView> {
  const [meta, topics, ongoing] = await Promise.all([admin.cluster(), admin.allTopics(), admin.reassignments()]);
  const partitions: PartitionReplicas[] = [];
  for (const [name, lookup] of topics) {
    if (lookup.topic === undefined) continue;
    for (const p of lookup.topic.partitions)
      partitions.push({ topic: name, partition: p.partition, replicas: [...p.replicas] });
  }
  const names = [...topics.keys()].filter((n) => topics.get(n)?.topic !== undefined);
  const configs = names.length === 0 ? [] : await admin.describeConfigs(names.map((name) => ({ type: "topic", name })));
  const topicConfigs = new Map(
    configs.filter((c) => c.error === undefined).map((c) => [c.name, new Map(c.configs.map((e) => [e.name, e.value]))]),
  );
  return {
    brokers: meta.brokers.map((b) => ({ id: b.nodeId, rack: b.rack })),
    partitions,
    ongoing: ongoing.length,
    topicConfigs,
  };
}

/** Partition sizes and disk capacities, or a sentence saying why they are unknown. */
async function dataSizes(
  admin: ScalingAdmin,
  brokers: readonly BrokerInfo[],
  claimBytes: number | undefined,
): Promise<{ sizes?: DataSizes; unknown?: string }> {
  if (!(await admin.supports(DESCRIBE_LOG_DIRS)))
    return { unknown: "the brokers do not serve DescribeLogDirs, so whether the data fits was not checked" };
  const partitionBytes = new Map<string, number>();
  const capacityBytes = new Map<number, number>();
  for (const b of brokers) {
    const dirs = await admin.describeLogDirs(b.id);
    let total = 0;
    for (const d of dirs) {
      if (d.error !== undefined) continue;
      if (d.totalBytes > 0n) total += Number(d.totalBytes);
      for (const p of d.partitions) {
        const key = `${p.topic}/${p.partition}`;
        partitionBytes.set(key, Math.max(partitionBytes.get(key) ?? 0, Number(p.sizeBytes)));
      }
    }
    // The claim's size bounds what the broker may use even when its file system is larger (a shared disk).
    const capacity = total > 0 && claimBytes !== undefined ? Math.min(total, claimBytes) : total || claimBytes;
    if (capacity !== undefined && capacity > 0) capacityBytes.set(b.id, capacity);
  }
  return { sizes: { partitionBytes, capacityBytes } };
}

/** maxUnavailable from the topics Kafka reports; undefined with no topics (the spec.config default applies). */
function derivedFrom(view: KafkaView): number | undefined {
  const topics = minInsyncOf(view);
  return topics.length === 0 ? undefined : derivedMaxUnavailable(topics);
}

function minInsyncOf(view: KafkaView): { replicationFactor: number; minInsync: number }[] {
  const rf = new Map<string, number>();
  for (const p of view.partitions) rf.set(p.topic, Math.min(rf.get(p.topic) ?? Infinity, p.replicas.length));
  return [...rf].map(([topic, replicationFactor]) => ({
    replicationFactor,
    minInsync: Number(view.topicConfigs.get(topic)?.get("min.insync.replicas") ?? 1),
  }));
}

/** Throttles the moves (the sources lead under the leader rate, the new replicas follow under the follower rate). */
async function throttle(admin: ScalingAdmin, view: KafkaView, moves: readonly Move[], rate: number, log: Logger) {
  const leader = new Map<string, string[]>();
  const follower = new Map<string, string[]>();
  for (const m of moves) {
    for (const id of m.from)
      (leader.get(m.topic) ?? leader.set(m.topic, []).get(m.topic))?.push(`${m.partition}:${id}`);
    for (const id of m.to.filter((x) => !m.from.includes(x)))
      (follower.get(m.topic) ?? follower.set(m.topic, []).get(m.topic))?.push(`${m.partition}:${id}`);
  }
  const changes: ConfigChange[] = [
    ...view.brokers.map((b): ConfigChange => ({
      type: "broker",
      name: String(b.id),
      ops: THROTTLE_RATES.map((name) => ({ op: "set", name, value: String(rate) })),
    })),
    ...[...new Set([...leader.keys(), ...follower.keys()])].map((topic): ConfigChange => ({
      type: "topic",
      name: topic,
      ops: [
        { op: "set", name: THROTTLED_REPLICAS[0], value: (leader.get(topic) ?? []).join(",") },
        { op: "set", name: THROTTLED_REPLICAS[1], value: (follower.get(topic) ?? []).join(",") },
      ],
    })),
  ];
  const failed = (await admin.alterConfigsNow(changes)).filter((r) => r.error !== undefined);
  // A broker that refuses throttles still moves the data, only faster: worth a log line, not a stopped scale.
  if (failed.length > 0)
    log.warn(
      { failed: failed.map((f) => `${f.type} ${f.name}: ${f.error?.message ?? ""}`) },
      "Replication throttles not applied; the reassignment runs unthrottled",
    );
}

/** Removes the throttles once nothing moves (only where they are set, so an idle cluster sees no writes). */
async function clearThrottles(admin: ScalingAdmin, view: KafkaView): Promise<void> {
  const topics = [...view.topicConfigs]
    .filter(([, c]) => THROTTLED_REPLICAS.some((k) => (c.get(k) ?? "") !== ""))
    .map(([name]) => name);
  const brokerConfigs = await admin.describeConfigs(view.brokers.map((b) => ({ type: "broker", name: String(b.id) })));
  const brokers = brokerConfigs
    .filter((r) =>
      r.configs.some((e) => THROTTLE_RATES.some((k) => k === e.name) && e.source === "DYNAMIC_BROKER_CONFIG"),
    )
    .map((r) => r.name);
  if (topics.length === 0 && brokers.length === 0) return;
  await admin.alterConfigsNow([
    ...brokers.map((name): ConfigChange => ({
      type: "broker",
      name,
      ops: THROTTLE_RATES.map((k) => ({ op: "delete", name: k })),
    })),
    ...topics.map((name): ConfigChange => ({
      type: "topic",
      name,
      ops: THROTTLED_REPLICAS.map((k) => ({ op: "delete", name: k })),
    })),
  ]);
}

async function startMoves(admin: ScalingAdmin, moves: readonly Move[]): Promise<void> {
  const results = await admin.reassign(moves.map((m) => ({ topic: m.topic, partition: m.partition, replicas: m.to })));
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length > 0)
    throw new Error(
      `AlterPartitionReassignments refused ${failed.length} partition(s): ` +
        failed
          .slice(0, 3)
          .map((f) => f.error?.message ?? `${f.topic}-${f.partition}`)
          .join("; "),
    );
}

/**
 * `current` when the controller last confirmed the broker above it unregistered, per cluster client (kept across
 * passes, gone with the client): an id asked about once is not asked about again until the size changes.
 */
const confirmedUnregistered = new WeakMap<ScalingAdmin, number>();
/** The size this process last shrank the StatefulSet to, per cluster client (unregister.ts asks Kafka after it). */
const shrunkTo = new WeakMap<ScalingAdmin, number>();

/**
 * The unregister step: asks the controller to forget the broker a scale-down removed last (unregister.ts).
 * Idempotent: an id the controller no longer knows counts as done. Answers true when it must be asked again (the
 * broker still runs, or the call failed).
 */
async function unregisterRemoved(admin: ScalingAdmin, input: ScaleInput): Promise<boolean> {
  const id = unregisterCandidate({
    ...input,
    confirmedAt: confirmedUnregistered.get(admin),
    shrunkTo: shrunkTo.get(admin),
  });
  if (id === undefined) return false;
  const confirm = () => confirmedUnregistered.set(admin, input.current);
  try {
    // Brokers of a version without UnregisterBroker (during an upgrade) keep the registration, as Kafka would.
    if (!(await admin.supports(UNREGISTER_BROKER))) {
      confirm();
      return false;
    }
    const [meta, topics] = await Promise.all([admin.cluster(), admin.allTopics()]);
    const decision = unregisterDecision(id, {
      live: meta.brokers.map((b) => b.nodeId),
      partitions: [...topics.values()].flatMap((t) => t.topic?.partitions ?? []),
    });
    if (decision.kind === "hold") {
      input.log.info({ brokerId: id }, decision.message);
      return true;
    }
    await admin.unregisterBroker(id);
    input.log.info({ brokerId: id }, "Unregistered a removed broker");
  } catch (err) {
    if (!(err instanceof KafkaError && err.code === BROKER_ID_NOT_REGISTERED)) {
      input.log.warn(
        { brokerId: id, err: err instanceof Error ? err.message : String(err) },
        "Could not unregister a removed broker; retrying",
      );
      return true;
    }
  }
  confirm();
  return false;
}

/** One pass of a scale-down: drain, wait, or shrink by one (planScaleDown), carried out. */
async function scaleDown(admin: ScalingAdmin, input: ScaleInput): Promise<ScaleOutcome> {
  const { desired, current } = input;
  const view = await readKafka(admin);
  const { sizes, unknown } = await dataSizes(admin, view.brokers, input.claimBytes);
  const decision = planScaleDown({
    desired,
    current,
    nodeId: input.nodeId,
    partitions: view.partitions,
    brokers: view.brokers,
    ongoing: view.ongoing,
    leftoverPods: input.leftoverPods,
    sizes,
  });
  const maxUnavailable = derivedFrom(view);
  if (decision.kind === "shrink") {
    shrunkTo.set(admin, decision.replicas);
    await clearThrottles(admin, view);
    return {
      replicas: decision.replicas,
      progress: { reason: "ScalingDown", message: decision.message },
      maxUnavailable,
      requeue: true,
    };
  }
  if (decision.kind === "hold") {
    if (decision.blocked)
      return {
        replicas: current,
        blocked: { reason: decision.reason, message: decision.message },
        maxUnavailable,
        requeue: true,
      };
    if (decision.moves.length > 0) {
      await throttle(admin, view, decision.moves, input.throttleBytesPerSecond, input.log);
      await startMoves(admin, decision.moves);
      input.log.info({ moves: decision.moves.length }, "Draining brokers for a scale-down");
    }
    const message = unknown === undefined ? decision.message : `${decision.message} (${unknown})`;
    return { replicas: current, progress: { reason: decision.reason, message }, maxUnavailable, requeue: true };
  }
  return { replicas: desired, requeue: false };
}

export async function runScale(input: ScaleInput): Promise<ScaleOutcome> {
  const again = input.admin !== undefined && (await unregisterRemoved(input.admin, input));
  const outcome = await resize(input);
  return again && !outcome.requeue ? { ...outcome, requeue: true } : outcome;
}

async function resize(input: ScaleInput): Promise<ScaleOutcome> {
  const { admin, desired, current } = input;
  if (desired < current) {
    if (admin === undefined)
      return {
        replicas: current,
        blocked: {
          reason: "KafkaUnreachable",
          message: `scale-down ${current} -> ${desired} needs the Kafka Admin API to drain brokers; none is configured`,
        },
        requeue: false,
      };
    // The rest of the pass (config, other objects) goes on while Kafka does not answer; the size is held.
    try {
      return await scaleDown(admin, input);
    } catch (err) {
      return {
        replicas: current,
        blocked: {
          reason: "ScaleDownRetrying",
          message:
            `scale-down ${current} -> ${desired} is held: the Kafka Admin API failed ` +
            `(${err instanceof Error ? err.message : String(err)}); retrying`,
        },
        requeue: true,
      };
    }
  }
  if (admin === undefined || !input.allReady || desired !== current) return { replicas: desired, requeue: false };
  // Spreading onto new brokers can wait for a later pass: Kafka not answering must not stop the rest of this one.
  try {
    return await spreadOntoNewBrokers(admin, input);
  } catch (err) {
    input.log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      "Kafka did not answer the scale step; partitions are spread onto new brokers at a later pass",
    );
    return { replicas: desired, requeue: false };
  }
}

async function spreadOntoNewBrokers(admin: ScalingAdmin, input: ScaleInput): Promise<ScaleOutcome> {
  const { desired, current } = input;
  const view = await readKafka(admin);
  const maxUnavailable = derivedFrom(view);
  if (view.ongoing > 0)
    return {
      replicas: desired,
      progress: { reason: "Rebalancing", message: `${view.ongoing} partition reassignment(s) in progress` },
      maxUnavailable,
      requeue: true,
    };
  const pool = Array.from({ length: current }, (_, i) => input.nodeId(i));
  const registered = pool.filter((id) => view.brokers.some((b) => b.id === id));
  const empty = emptyBrokers(view.partitions, registered);
  if (empty.length === 0 || registered.length < pool.length) {
    await clearThrottles(admin, view);
    return { replicas: desired, maxUnavailable, requeue: false };
  }
  const moves = planMoves(
    view.partitions,
    view.brokers.filter((b) => pool.includes(b.id)),
    { balance: true },
  );
  if (moves.length === 0) return { replicas: desired, maxUnavailable, requeue: false };
  await throttle(admin, view, moves, input.throttleBytesPerSecond, input.log);
  await startMoves(admin, moves);
  input.log.info({ moves: moves.length, to: empty }, "Moving partitions onto new brokers");
  return {
    replicas: desired,
    progress: {
      reason: "Rebalancing",
      message: `moving ${moves.length} partition(s) to spread replicas onto new broker(s) ${empty.join(", ")}`,
    },
    maxUnavailable,
    requeue: true,
  };
}

/** What the reconciler gives the scale step to reach Kafka and read the objects it applied. */
export interface ScaleDeps {
  /** The cluster's admin client. */
  admin: (cluster: KafkaCluster) => ScalingAdmin;
  /** The PodDisruptionBudget the operator applied last (informer cache), or undefined. */
  podDisruptionBudget: (namespace: string, name: string) => KubeObject | undefined;
  /** @default DEFAULT_THROTTLE_BYTES_PER_SECOND */
  throttleBytesPerSecond?: number;
}

export type ScalePass = ScaleOutcome;

interface PodShape {
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * The scale step of one pass: looks up the broker StatefulSet and pods, runs runScale, and keeps the
 * PodDisruptionBudget's last derived maxUnavailable when Kafka was not read in this pass (so the budget does not
 * loosen while pods are down, which is exactly when it matters).
 */
export async function scaleStep(input: {
  cluster: KafkaCluster;
  state: DesiredState;
  log: Logger;
  statefulSet: (namespace: string, name: string) => KubeObject | undefined;
  pods: (namespace: string, labels: Record<string, string>) => KubeObject[];
  deps?: ScaleDeps;
}): Promise<ScaleOutcome> {
  const { cluster, state, deps } = input;
  const namespace = cluster.metadata.namespace ?? "default";
  const desired = cluster.spec.replicas;
  const pool = state.pools.find((p) => p.role === "broker");
  const sts = pool === undefined ? undefined : input.statefulSet(namespace, pool.name);
  const current = (sts as (KubeObject & { spec?: { replicas?: number } }) | undefined)?.spec?.replicas;
  if (pool === undefined || current === undefined) return { replicas: desired, requeue: false };
  const pods = input.pods(namespace, selectorOf(cluster.metadata.name, "broker"));
  const below = pods.filter((p) => ordinalOf(p.metadata.name) < current);
  const ready = (p: KubeObject): boolean =>
    (p as KubeObject & PodShape).status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  const storage = cluster.spec.storage;
  const outcome = await runScale({
    admin: deps?.admin(cluster),
    log: input.log,
    desired,
    current,
    nodeId: (i) => pool.firstNodeId + i,
    leftoverPods: pods.filter((p) => ordinalOf(p.metadata.name) >= current).length,
    allReady: below.length === current && below.every(ready),
    claimBytes: storage.type === "persistent-claim" ? bytesOf(storage.size) : undefined,
    throttleBytesPerSecond: deps?.throttleBytesPerSecond ?? DEFAULT_THROTTLE_BYTES_PER_SECOND,
  });
  if (outcome.maxUnavailable !== undefined || cluster.spec.podDisruptionBudget !== undefined) return outcome;
  const pdb = deps?.podDisruptionBudget(namespace, names.pdb(cluster.metadata.name)) as
    (KubeObject & { spec?: { maxUnavailable?: number } }) | undefined;
  const kept = pdb?.spec?.maxUnavailable;
  return typeof kept === "number" ? { ...outcome, maxUnavailable: kept } : outcome;
}

function bytesOf(quantity: string): number | undefined {
  const nanos = quantityNanos(quantity);
  return nanos === undefined ? undefined : Number(nanos / 1_000_000_000n);
}
