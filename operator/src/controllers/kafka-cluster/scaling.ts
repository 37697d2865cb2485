// Scaling with data movement (PURE): which replicas move where when brokers are added or removed, whether a
// scale-down may proceed, and how far the broker StatefulSet may shrink in this pass. The decisions are carried out
// by the KafkaCluster reconciler with inputs it reads from Kafka's Admin API.
//
// Rules:
// - Scale-down drains first: every replica on a broker being removed gets a new home on a remaining broker (same
//   position in the replica list, so a drained leader's replacement becomes the preferred leader), chosen to keep the
//   partition's racks distinct where racks exist, then the least loaded broker, then the lowest id. Only when Kafka
//   lists no reassignment in progress and no partition names a removed broker does the StatefulSet shrink, one ordinal
//   per pass, highest first, each pod gone before the next.
// - A scale-down that cannot keep every partition's replicas on distinct remaining brokers (replication factor above
//   the remaining broker count), or whose data would not fit the remaining brokers' disks, is blocked: nothing moves
//   and the StatefulSet keeps its size.
// - Scale-up: a broker of the pool that holds no replica while the others hold some is new; the whole cluster is then
//   balanced with as few single-replica moves as possible (most loaded broker to least loaded, until replica counts
//   differ by at most one), never moving a leader when a follower can go instead, never reducing a partition's rack
//   spread. Nothing moves otherwise, so a topic created with an uneven layout is not shuffled behind the user's back.

export interface PartitionReplicas {
  topic: string;
  partition: number;
  /** Replica broker ids; the first is the preferred leader. */
  replicas: readonly number[];
}

export interface BrokerInfo {
  id: number;
  rack: string | null;
}

export interface Move {
  topic: string;
  partition: number;
  from: number[];
  to: number[];
}

const keyOf = (p: { topic: string; partition: number }): string => `${p.topic}/${p.partition}`;

function byPartition(a: PartitionReplicas, b: PartitionReplicas): number {
  return a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1;
}

/**
 * The target assignment: replicas off `removing`, then (when `balance`) counts evened out over the remaining
 * brokers. Answers only the partitions whose replica list changes, in topic/partition order. A replica with no
 * possible home (more replicas than remaining brokers) stays where it is; scaleDownBlockers reports that case.
 */
export function planMoves(
  partitions: readonly PartitionReplicas[],
  brokers: readonly BrokerInfo[],
  options: { removing?: readonly number[]; balance?: boolean } = {},
): Move[] {
  const removing = new Set(options.removing ?? []);
  const targets = brokers.filter((b) => !removing.has(b.id)).sort((a, b) => a.id - b.id);
  const rackOf = new Map(brokers.map((b) => [b.id, b.rack]));
  const racked = brokers.some((b) => b.rack !== null);
  const load = new Map(targets.map((b) => [b.id, 0]));
  const sorted = [...partitions].sort(byPartition);
  const next = new Map(sorted.map((p) => [keyOf(p), [...p.replicas]]));
  for (const replicas of next.values())
    for (const id of replicas) if (load.has(id)) load.set(id, (load.get(id) ?? 0) + 1);

  const racksOf = (replicas: readonly number[], except: number): Set<string | null> =>
    new Set(replicas.filter((_, i) => i !== except).map((id) => rackOf.get(id) ?? null));

  // Drain: each replica on a removed broker goes to the best remaining broker not already in the partition.
  for (const p of sorted) {
    const replicas = next.get(keyOf(p)) ?? [];
    replicas.forEach((id, i) => {
      if (!removing.has(id)) return;
      const used = racksOf(replicas, i);
      const candidates = targets.filter((b) => !replicas.includes(b.id));
      const best = candidates.sort(
        (a, b) =>
          (racked ? Number(used.has(a.rack)) - Number(used.has(b.rack)) : 0) ||
          (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) ||
          a.id - b.id,
      )[0];
      if (best === undefined) return;
      replicas[i] = best.id;
      load.set(best.id, (load.get(best.id) ?? 0) + 1);
    });
  }

  if (options.balance === true && targets.length > 1) {
    // Each move takes one replica from the most loaded broker to the least loaded one; the loop ends when counts
    // differ by at most one or no move is possible without breaking a rule.
    for (;;) {
      const order = [...targets].sort((a, b) => (load.get(b.id) ?? 0) - (load.get(a.id) ?? 0) || a.id - b.id);
      let moved = false;
      for (const src of order) {
        for (const dst of [...order].reverse()) {
          if ((load.get(src.id) ?? 0) - (load.get(dst.id) ?? 0) <= 1) continue;
          if (moveOne(sorted, next, src.id, dst.id, rackOf, racked)) {
            load.set(src.id, (load.get(src.id) ?? 0) - 1);
            load.set(dst.id, (load.get(dst.id) ?? 0) + 1);
            moved = true;
            break;
          }
        }
        if (moved) break;
      }
      if (!moved) break;
    }
  }

  const moves: Move[] = [];
  for (const p of sorted) {
    const to = next.get(keyOf(p)) ?? [];
    if (to.some((id, i) => id !== p.replicas[i]))
      moves.push({ topic: p.topic, partition: p.partition, from: [...p.replicas], to });
  }
  return moves;
}

/** Moves one replica of `src` to `dst`: a follower before a leader, a partition not yet moved before a moved one. */
function moveOne(
  sorted: readonly PartitionReplicas[],
  next: Map<string, number[]>,
  src: number,
  dst: number,
  rackOf: ReadonlyMap<number, string | null>,
  racked: boolean,
): boolean {
  const candidates: { replicas: number[]; index: number; score: number }[] = [];
  for (const p of sorted) {
    const replicas = next.get(keyOf(p)) ?? [];
    const index = replicas.indexOf(src);
    if (index < 0 || replicas.includes(dst)) continue;
    if (racked) {
      const before = new Set(replicas.map((id) => rackOf.get(id) ?? null)).size;
      const after = new Set(replicas.map((id) => rackOf.get(id === src ? dst : id) ?? null)).size;
      if (after < before) continue;
    }
    const alreadyMoved = replicas.some((id, i) => id !== p.replicas[i]);
    candidates.push({ replicas, index, score: (index === 0 ? 2 : 0) + (alreadyMoved ? 1 : 0) });
  }
  const best = candidates.sort((a, b) => a.score - b.score)[0];
  if (best === undefined) return false;
  best.replicas[best.index] = dst;
  return true;
}

/** A broker of the pool with no replica while the cluster has replicas: a new broker that should get some. */
export function emptyBrokers(partitions: readonly PartitionReplicas[], brokerIds: readonly number[]): number[] {
  const used = new Set(partitions.flatMap((p) => p.replicas));
  if (used.size === 0) return [];
  return brokerIds.filter((id) => !used.has(id));
}

/** Bytes of each partition (the largest replica reported) and each broker's disk capacity, when known. */
export interface DataSizes {
  /** Size of each partition by "topic/partition". */
  partitionBytes: ReadonlyMap<string, number>;
  /** Capacity of each broker's log dir in bytes. */
  capacityBytes: ReadonlyMap<number, number>;
}

/** A broker may be filled to this fraction of its disk by a scale-down; the rest is headroom for new writes. */
export const FILL_LIMIT = 0.85;

export interface Blocker {
  reason: "ReplicationFactorTooHigh" | "InsufficientStorage";
  message: string;
}

/**
 * Why the scale-down to `remaining` brokers must not start, or undefined. `sizes` is undefined when the brokers do
 * not report log-dir sizes (the fit is then not checked; the caller says so).
 */
export function scaleDownBlockers(
  partitions: readonly PartitionReplicas[],
  remaining: readonly number[],
  moves: readonly Move[],
  sizes: DataSizes | undefined,
): Blocker | undefined {
  const tooWide = new Map<string, number>();
  for (const p of partitions)
    if (p.replicas.length > remaining.length)
      tooWide.set(p.topic, Math.max(tooWide.get(p.topic) ?? 0, p.replicas.length));
  if (tooWide.size > 0) {
    const list = [...tooWide].sort(([a], [b]) => (a < b ? -1 : 1)).map(([t, rf]) => `${t} (replication factor ${rf})`);
    return {
      reason: "ReplicationFactorTooHigh",
      message:
        `scale-down to ${remaining.length} broker(s) refused, nothing was moved or removed: ${list.join(", ")} ` +
        `would need more brokers than remain. Lower those topics' replication factor or keep more brokers.`,
    };
  }
  if (sizes === undefined) return undefined;
  const after = new Map<string, readonly number[]>(partitions.map((p) => [keyOf(p), p.replicas]));
  for (const m of moves) after.set(keyOf(m), m.to);
  const projected = new Map(remaining.map((id) => [id, 0]));
  for (const [key, replicas] of after) {
    const bytes = sizes.partitionBytes.get(key) ?? 0;
    for (const id of replicas) if (projected.has(id)) projected.set(id, (projected.get(id) ?? 0) + bytes);
  }
  const full: string[] = [];
  for (const [id, bytes] of [...projected].sort(([a], [b]) => a - b)) {
    const capacity = sizes.capacityBytes.get(id);
    if (capacity === undefined || capacity <= 0) continue;
    if (bytes > capacity * FILL_LIMIT)
      full.push(`broker ${id} would hold ${formatBytes(bytes)} of ${formatBytes(capacity)}`);
  }
  if (full.length === 0) return undefined;
  return {
    reason: "InsufficientStorage",
    message:
      `scale-down to ${remaining.length} broker(s) refused, nothing was moved or removed: the data would not fit ` +
      `(over ${Math.round(FILL_LIMIT * 100)}% of a disk): ${full.join("; ")}. Grow the volumes or keep more brokers.`,
  };
}

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u] ?? "B"}`;
}

/** What the scale step does to the broker StatefulSet in this pass. */
export type ScaleDecision =
  /** Nothing to remove: the StatefulSet gets the spec's replica count. */
  | { kind: "none" }
  /** Keep the current size; why (blocked, draining, waiting). */
  | { kind: "hold"; replicas: number; reason: string; message: string; blocked: boolean; moves: Move[] }
  /** Drained: shrink by one (the highest ordinal). */
  | { kind: "shrink"; replicas: number; message: string };

export interface ScaleDownInput {
  /** spec.replicas. */
  desired: number;
  /** The broker StatefulSet's current spec.replicas. */
  current: number;
  /** Broker node id of an ordinal. */
  nodeId: (ordinal: number) => number;
  partitions: readonly PartitionReplicas[];
  brokers: readonly BrokerInfo[];
  /** Reassignments Kafka lists as in progress. */
  ongoing: number;
  /** Pods of the pool at or above `current` that still exist (a previous shrink not finished). */
  leftoverPods: number;
  sizes: DataSizes | undefined;
}

export function planScaleDown(input: ScaleDownInput): ScaleDecision {
  const { desired, current } = input;
  if (desired >= current) return { kind: "none" };
  const removing = Array.from({ length: current - desired }, (_, i) => input.nodeId(desired + i));
  const hold = (reason: string, message: string, blocked: boolean, moves: Move[] = []): ScaleDecision => ({
    kind: "hold",
    replicas: current,
    reason,
    message,
    blocked,
    moves,
  });
  if (input.leftoverPods > 0)
    return hold("WaitingForPodRemoval", `waiting for the removed broker pod(s) to go before the next`, false);
  // Brokers Kafka knows that are not being removed are the homes; a remaining broker that is down is not one.
  const homes = input.brokers.filter((b) => !removing.includes(b.id));
  const moves = planMoves(input.partitions, [...homes, ...input.brokers.filter((b) => removing.includes(b.id))], {
    removing,
  });
  const blocker = scaleDownBlockers(
    input.partitions,
    homes.map((b) => b.id),
    moves,
    input.sizes,
  );
  const holding = removing.filter((id) => input.partitions.some((p) => p.replicas.includes(id)));
  // A reassignment in progress (ours or anyone's) is finished before anything else is decided.
  if (input.ongoing > 0)
    return hold(
      "DrainingBrokers",
      `scale-down ${current} -> ${desired}: ${input.ongoing} partition reassignment(s) in progress`,
      false,
    );
  if (holding.length > 0) {
    if (blocker !== undefined) return hold(blocker.reason, blocker.message, true);
    return hold(
      "DrainingBrokers",
      `scale-down ${current} -> ${desired}: moving ${moves.length} partition(s) off broker(s) ${holding.join(", ")}`,
      false,
      moves,
    );
  }
  return {
    kind: "shrink",
    replicas: current - 1,
    message: `broker ${input.nodeId(current - 1)} holds no replicas: removing pod ordinal ${current - 1}`,
  };
}

/**
 * maxUnavailable of the brokers' PodDisruptionBudget derived from the partitions: the fewest replicas any partition
 * can lose and keep min.insync.replicas in sync (RF - minISR), never below 0. Evictions of that many brokers at once
 * cannot take a partition below min.insync.replicas whichever brokers they hit.
 */
export function derivedMaxUnavailable(topics: readonly { replicationFactor: number; minInsync: number }[]): number {
  if (topics.length === 0) return 0;
  return Math.max(0, Math.min(...topics.map((t) => t.replicationFactor - t.minInsync)));
}
