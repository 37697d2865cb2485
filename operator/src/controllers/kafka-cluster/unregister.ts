// Unregistering removed brokers (PURE): which broker id the scale step asks the controller to forget (UnregisterBroker,
// API 64, KIP-631) in this pass. Kafka keeps a removed broker's registration (fenced) until someone runs
// `kafka-cluster unregister`; the operator does it itself for the broker of the ordinal just above the StatefulSet
// (the last one a scale-down removed), once its pod is gone, Kafka no longer lists it as alive, and no partition
// names it. One id per pass: a scale-down removes one ordinal per pass, and each removed id is asked about in the
// first pass after its pod has gone, before the next shrink. After the last shrink, Kafka is asked in the first pass
// without the pod if this process did that shrink, else once every broker pod is Ready.
//
// Identity (docs/operator.md, "Broker identity"): the id goes with the ordinal, the pod name and its claim; a removed
// ordinal added back later registers anew with the same id and, if its claim was kept, the same data. The drain made
// sure no partition names the id, so the new registration is never taken for a replica of data it does not have.

export interface UnregisterCandidateInput {
  /** spec.replicas. */
  desired: number;
  /** The broker StatefulSet's spec.replicas now. */
  current: number;
  nodeId: (ordinal: number) => number;
  /** Broker pods at or above `current` that still exist. */
  leftoverPods: number;
  /** `current` as it was when the controller last confirmed the id above it unregistered (this process's memory). */
  confirmedAt: number | undefined;
  /** Every broker pod below `current` exists and is Ready (the pass reads Kafka anyway). */
  allReady: boolean;
  /** The size this process last shrank the StatefulSet to (its memory), if any. */
  shrunkTo: number | undefined;
}

/** The broker id to ask about in this pass, decided without Kafka; undefined: nothing to do. */
export function unregisterCandidate(input: UnregisterCandidateInput): number | undefined {
  const { desired, current } = input;
  // A scale-up is about to give the ordinal a pod; a pod still there (terminating) may still heartbeat.
  if (desired > current || input.leftoverPods > 0 || input.confirmedAt === current) return undefined;
  // Kafka is asked only in passes that read it anyway (a scale-down pending, every pod Ready) or right after a shrink
  // of this process, so a cluster that is starting (brokers not reachable yet) costs no call.
  if (desired === current && !input.allReady && input.shrunkTo !== current) return undefined;
  return input.nodeId(current);
}

export type UnregisterDecision = { kind: "unregister" } | { kind: "hold"; message: string };

/** Whether broker `id` may go, from what Kafka says: not while it runs (Metadata lists it), nor while it has data. */
export function unregisterDecision(
  id: number,
  kafka: { live: readonly number[]; partitions: readonly { readonly replicas: readonly number[] }[] },
): UnregisterDecision {
  if (kafka.live.includes(id))
    return { kind: "hold", message: `broker ${id} has no pod but still runs (Kafka lists it); it stays registered` };
  const held = kafka.partitions.filter((p) => p.replicas.includes(id)).length;
  if (held > 0)
    return {
      kind: "hold",
      message: `broker ${id} has no pod but ${held} partition(s) still name it as a replica; it stays registered`,
    };
  return { kind: "unregister" };
}
