// Replica placement for new partitions, with the properties of Kafka's StripedReplicaPlacer: only usable brokers
// (unfenced, not shutting down), every partition's replicas on as many different racks as there are racks, leaders
// (first replicas) spread evenly over the brokers and racks, and a random starting point so that topics created one
// after another do not all start on the same broker. Brokers without broker.rack form one rack of their own.
//
// The order walked is rack-alternated (one broker of each rack in turn), so consecutive positions are on different
// racks; partition p's leader is the broker at position start + p, and its followers are taken walking on from there
// (shifted by one more position each time the leaders have gone round all brokers, so follower sets vary too),
// skipping brokers already chosen and, until every rack holds a replica, brokers on racks already used.

export interface PlacementBroker {
  readonly id: number;
  readonly rack: string | null;
}

/** Rack-alternated order: the first broker of each rack, then the second of each, ... */
function rackAlternated(brokers: readonly PlacementBroker[], rotate: (bound: number) => number): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const b of [...brokers].sort((x, y) => x.id - y.id)) {
    const key = b.rack ?? "";
    const list = byRack.get(key) ?? [];
    list.push(b);
    byRack.set(key, list);
  }
  const racks = [...byRack.keys()].sort();
  const offset = racks.length > 0 ? rotate(racks.length) : 0;
  const ordered = racks.map((_, i) => byRack.get(racks[(i + offset) % racks.length] ?? "") ?? []);
  const out: PlacementBroker[] = [];
  for (let round = 0; out.length < brokers.length; round++) {
    for (const list of ordered) {
      const b = list[round];
      if (b !== undefined) out.push(b);
    }
  }
  return out;
}

/**
 * Replicas for `count` new partitions numbered from `firstPartition`, `replicationFactor` each, on `brokers`.
 * `random(bound)` gives an integer in [0, bound). The caller has checked replicationFactor <= brokers.length.
 */
export function placeReplicas(
  firstPartition: number,
  count: number,
  replicationFactor: number,
  brokers: readonly PlacementBroker[],
  random: (bound: number) => number,
): number[][] {
  if (replicationFactor > brokers.length || replicationFactor < 1) {
    throw new Error(`cannot place ${replicationFactor} replicas on ${brokers.length} brokers`);
  }
  const order = rackAlternated(brokers, random);
  const n = order.length;
  const racks = new Set(order.map((b) => b.rack ?? "")).size;
  const start = random(n);
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    const position = start + firstPartition + i;
    const leader = order[position % n];
    if (leader === undefined) throw new Error("placement walked off the broker list");
    const chosen = [leader];
    const usedRacks = new Set([leader.rack ?? ""]);
    const shift = n > 1 ? Math.floor(position / n) % (n - 1) : 0;
    const walk = (accept: (b: PlacementBroker) => boolean): PlacementBroker | undefined => {
      for (let k = 0; k < n; k++) {
        const candidate = order[(position + 1 + shift + k) % n];
        if (candidate !== undefined && !chosen.includes(candidate) && accept(candidate)) return candidate;
      }
      return undefined;
    };
    while (chosen.length < replicationFactor) {
      const pick = walk((b) => !usedRacks.has(b.rack ?? "")) ?? walk(() => true);
      if (pick === undefined) throw new Error("placement found too few brokers");
      chosen.push(pick);
      usedRacks.add(pick.rack ?? "");
      // Every rack holds one of this partition's replicas: start spreading over the racks again.
      if (usedRacks.size === racks) usedRacks.clear();
    }
    out.push(chosen.map((b) => b.id));
  }
  return out;
}
