// The restart planner (PURE): which single pod, if any, to delete now so that it comes back with the current config
// and image. StatefulSets use OnDelete, so these deletions are the only way pods change. Rules, after the lessons of
// existing operators: never more than one pod down at a time; a stale pod that is not Ready anyway goes first (its
// restart costs no availability); otherwise wait until every pod exists and is Ready; KRaft controllers (dedicated or
// combined) before broker-only nodes, and the active controller last of the controllers, so that the quorum elects a
// new leader once per roll rather than once per restarted controller; highest ordinal first otherwise. Kafka-aware
// checks (ISR, quorum health) come later.

export interface PodView {
  name: string;
  uid: string;
  /** StatefulSet (pool) name. */
  pool: string;
  hash: string | undefined;
  image: string | undefined;
  ready: boolean;
  deleting: boolean;
}

export interface PoolView {
  name: string;
  role: "broker" | "controller";
  replicas: number;
  /** Node id of ordinal 0. */
  firstNodeId: number;
  /** Ordinals below this are KRaft controllers. */
  controllers: number;
}

export interface RollPlan {
  /** The pod to delete in this pass, with the reason; `controller` when it is a KRaft controller. */
  restart?: { name: string; uid: string; why: string; controller: boolean };
  /** Pods whose config hash or image is not the desired one. */
  stale: string[];
  notReady: string[];
  /** Desired pods that do not exist yet. */
  missing: number;
  /** Something is still in progress: look again soon. */
  waiting: boolean;
}

/**
 * @param activeController node id of the quorum's leader, when known (DescribeQuorum): that controller goes last of
 * the controllers. Unknown, the controllers go in ordinal order like the rest.
 */
export function planRoll(
  pods: readonly PodView[],
  pools: readonly PoolView[],
  hashes: Readonly<Record<string, string>>,
  image: string,
  activeController?: number,
): RollPlan {
  const poolOf = (p: PodView): PoolView | undefined => pools.find((pool) => pool.name === p.pool);
  const isController = (p: PodView): boolean => ordinalOf(p.name) < (poolOf(p)?.controllers ?? 0);
  const nodeIdOf = (p: PodView): number | undefined => {
    const pool = poolOf(p);
    return pool === undefined ? undefined : pool.firstNodeId + ordinalOf(p.name);
  };
  const poolOrder = [...pools].sort((a, b) => (a.role === b.role ? 0 : a.role === "controller" ? -1 : 1));
  const live = pods.filter((p) => ordinalOf(p.name) < (poolOf(p)?.replicas ?? 0));
  const why = (p: PodView): string | undefined => {
    const reasons: string[] = [];
    if (p.hash !== hashes[p.pool]) reasons.push(`config hash ${p.hash ?? "none"} -> ${hashes[p.pool] ?? "none"}`);
    if (p.image !== image) reasons.push(`image ${p.image ?? "none"} -> ${image}`);
    return reasons.length === 0 ? undefined : reasons.join(", ");
  };
  const byPool = poolOrder.flatMap((pool) =>
    live.filter((p) => p.pool === pool.name).sort((a, b) => ordinalOf(b.name) - ordinalOf(a.name)),
  );
  const controllers = byPool.filter(isController);
  const isActive = (p: PodView): boolean => activeController !== undefined && nodeIdOf(p) === activeController;
  const ordered = [
    ...controllers.filter((p) => !isActive(p)),
    ...controllers.filter(isActive),
    ...byPool.filter((p) => !isController(p)),
  ];
  const stale = ordered.filter((p) => !p.deleting && why(p) !== undefined);
  const notReady = ordered.filter((p) => !p.ready);
  const missing = pools.reduce(
    (n, pool) => n + Math.max(0, pool.replicas - live.filter((p) => p.pool === pool.name).length),
    0,
  );
  const deleting = ordered.some((p) => p.deleting);
  const plan: RollPlan = {
    stale: stale.map((p) => p.name),
    notReady: notReady.map((p) => p.name),
    missing,
    waiting: stale.length > 0 || notReady.length > 0 || missing > 0 || deleting,
  };
  if (deleting) return plan;
  const unreadyStale = stale.find((p) => !p.ready);
  const pick = unreadyStale ?? (notReady.length === 0 && missing === 0 ? stale[0] : undefined);
  if (pick !== undefined)
    plan.restart = { name: pick.name, uid: pick.uid, why: why(pick) ?? "", controller: isController(pick) };
  return plan;
}

export function ordinalOf(podName: string): number {
  const m = /-(\d+)$/.exec(podName);
  return m === null ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}
