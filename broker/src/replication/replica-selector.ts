// Fetch from follower (KIP-392): which replica a leader tells a consumer to read from. Pure: the leader's view of its
// followers and the image's racks come in, a replica id (or none: read from the leader) goes out.
//
// As Kafka's ReplicaManager.findPreferredReadReplica with its RackAwareReplicaSelector: only a follower in the ISR
// that is reachable on the client's listener and holds the fetch offset (its log start <= offset <= its log end) is a
// candidate; the leader always is. A client that names no rack, or whose rack holds the leader or no candidate, reads
// from the leader. Otherwise the most caught-up candidate in its rack: the largest log end, then the most recent
// catch-up, then the highest id (Kafka's ReplicaView.comparator).

/** replica.selector.class: unset (Kafka's default, the leader serves every consumer) or RackAwareReplicaSelector. */
export type ReplicaSelectorKind = "leader" | "rack-aware";

/** A follower as the leader knows it from its fetches. */
export interface FollowerView {
  readonly id: number;
  /** In the leader's committed ISR. */
  readonly inSync: boolean;
  /** Its rack; undefined when clients cannot reach it on their listener (unregistered, fenced, no such listener). */
  readonly rack: string | null | undefined;
  /** The log start and end offsets its latest fetch carried; -1 when not known. */
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  /** The last time it had everything the leader had. */
  readonly lastCaughtUpTimeMs: number;
}

export interface ReadReplicaQuery {
  readonly selector: ReplicaSelectorKind;
  /** The consumer's client.rack (Fetch v11+ RackId); empty when it set none. */
  readonly clientRack: string;
  readonly fetchOffset: bigint;
  readonly leaderRack: string | null;
  readonly followers: readonly FollowerView[];
  readonly nowMs: number;
}

/** The replica the consumer should read from instead of the leader, or undefined to read from the leader. */
export function preferredReadReplica(query: ReadReplicaQuery): number | undefined {
  if (query.selector === "leader" || query.clientRack === "") return undefined;
  if (query.leaderRack === query.clientRack) return undefined;
  let best: FollowerView | undefined;
  for (const f of query.followers) {
    if (!f.inSync || f.rack !== query.clientRack) continue;
    if (f.logStartOffset > query.fetchOffset || f.logEndOffset < query.fetchOffset) continue;
    if (best === undefined || moreCaughtUp(f, best, query.nowMs)) best = f;
  }
  return best?.id;
}

function moreCaughtUp(a: FollowerView, b: FollowerView, nowMs: number): boolean {
  if (a.logEndOffset !== b.logEndOffset) return a.logEndOffset > b.logEndOffset;
  const lagA = nowMs - a.lastCaughtUpTimeMs;
  const lagB = nowMs - b.lastCaughtUpTimeMs;
  if (lagA !== lagB) return lagA < lagB;
  return a.id > b.id;
}
