// Parallel restarts within one rack (PURE): with spec.rollingUpdate.maxParallelSameRack above 1, the roll may restart,
// beside the pod the planner chose (roll.ts) and the gates let go (roll-gates.ts), more stale brokers of the same rack
// at once, when their simultaneous absence keeps every partition at or above min.insync.replicas. Rack-aware replica
// placement puts a partition's replicas on different racks, so the brokers of one rack rarely share partitions and a
// rack can often restart as one; this planner checks it against the same ISR data the gates use rather than trusting
// the placement. Only broker-only pods join: a KRaft voter's restart is judged by the quorum one voter at a time.
import type { QueuedPod } from "./roll.ts";
import type { BrokerAnswer, PartitionFact } from "./roll-gates.ts";

export interface ParallelInput {
  /** The pod the planner chose and the gates let go. */
  first: QueuedPod;
  /** Every stale pod in roll order (the planner's queue). */
  queue: readonly QueuedPod[];
  /** Each broker's rack by node id (status.racks); a broker without one never restarts beside another. */
  rackOf: (nodeId: number) => string | undefined;
  /** The cluster's partitions with their ISRs, as the gates read them. */
  partitions: readonly PartitionFact[];
  /** Each broker's restart-safety answer, when the brokers serve a metrics port. */
  brokers?: readonly BrokerAnswer[];
  /** spec.rollingUpdate.maxParallelSameRack: how many pods restart at once at most, the first one included. */
  max: number;
}

export interface ParallelPlan {
  /** Pods to restart beside the first, in roll order. */
  with: QueuedPod[];
  /** The rack they share, when any joined. */
  rack?: string;
}

/**
 * The pods that may restart together with `first`. A pod joins, in roll order, when it is a stale Ready broker-only pod
 * of the same rack that is not held, answers that it can stop (when brokers answer), and the set with it still leaves
 * every partition an ISR of at least min.insync.replicas (capped at its replication factor, as Kafka does). A
 * partition whose replication factor is at most its min.insync.replicas goes below it with any restart (the gates let
 * one go, since waiting cannot help): there at most one replica may be down at a time.
 */
export function parallelSameRack(input: ParallelInput): ParallelPlan {
  const { first } = input;
  // A candidate that is not Ready had no ISR check (it serves nothing); nothing joins it.
  if (input.max <= 1 || first.controller || !first.ready || first.nodeId === undefined) return { with: [] };
  const rack = input.rackOf(first.nodeId);
  if (rack === undefined) return { with: [] };
  const answers = new Map((input.brokers ?? []).map((b) => [b.nodeId, b] as const));
  const canStop = (nodeId: number): boolean => {
    if (input.brokers === undefined) return true;
    return answers.get(nodeId)?.answer?.canStop === true;
  };
  const down = new Set<number>([first.nodeId]);
  const joined: QueuedPod[] = [];
  for (const q of input.queue) {
    if (down.size >= input.max) break;
    if (q.name === first.name || q.nodeId === undefined || down.has(q.nodeId)) continue;
    if (q.controller || q.held || !q.ready || input.rackOf(q.nodeId) !== rack || !canStop(q.nodeId)) continue;
    const next = new Set(down).add(q.nodeId);
    if (!input.partitions.every((p) => staysSafe(p, next))) continue;
    down.add(q.nodeId);
    joined.push(q);
  }
  return joined.length === 0 ? { with: [] } : { with: joined, rack };
}

/** Whether the partition keeps enough of its ISR with every broker in `down` stopped. */
function staysSafe(p: PartitionFact, down: ReadonlySet<number>): boolean {
  const stopped = p.replicas.filter((r) => down.has(r)).length;
  if (stopped === 0) return true;
  // A replica outside the ISR already: the gates hold the roll anyway; never add to it.
  if (p.replicas.some((r) => !p.isr.includes(r))) return false;
  const min = Math.min(p.minIsr, p.replicas.length);
  if (p.replicas.length <= min) return stopped <= 1;
  return p.isr.filter((r) => !down.has(r)).length >= min;
}
