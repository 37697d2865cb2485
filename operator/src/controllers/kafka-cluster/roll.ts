// The restart planner (PURE): which single pod, if any, to delete now so that it comes back with the current config
// and image, or mounts a volume whose filesystem must grow (volume-expansion.ts). StatefulSets use OnDelete, so these deletions are the only way pods change. Rules, after the lessons of
// existing operators: never more than one pod down at a time; a stale pod that is not Ready anyway goes first (its
// restart costs no availability); otherwise wait until every pod exists and is Ready; KRaft controllers (dedicated or
// combined) before broker-only nodes, and the active controller last of the controllers, so that the quorum elects a
// new leader once per roll rather than once per restarted controller; highest ordinal first otherwise. A pod carrying
// the hold annotation is passed over (it stays stale, and the plan says so). Whether the chosen pod may go now (ISR,
// quorum, the broker's own answer) is decided by roll-gates.ts.

export interface PodView {
  name: string;
  uid: string;
  /** StatefulSet (pool) name. */
  pool: string;
  hash: string | undefined;
  image: string | undefined;
  ready: boolean;
  deleting: boolean;
  /** The pod's manual-rolling-update annotation: a value other than the cluster's asks for a restart. */
  manual?: string;
  /** The pod carries the hold annotation: the roll passes it over. */
  held?: boolean;
  /** Another reason to restart this pod (its volume waits for a filesystem resize). */
  restartFor?: string;
  /** Its node is being drained or removed (drains.ts): the pod moves by a restart. */
  drain?: string;
}

/** A stale pod in roll order, with why it rolls. */
export interface QueuedPod {
  name: string;
  uid: string;
  why: string;
  controller: boolean;
  /** Node id, when the pod belongs to a known pool. */
  nodeId: number | undefined;
  ready: boolean;
  held: boolean;
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
  /** Pods of the same rack deleted together with `restart` (rack-parallel.ts). */
  parallel?: { name: string; uid: string; why: string; controller: boolean }[];
  /** Pods whose config hash or image is not the desired one, or asked to restart by hand. */
  stale: string[];
  /** The stale pods in the order they roll (held ones included, marked). */
  queue: QueuedPod[];
  notReady: string[];
  /** Desired pods that do not exist yet. */
  missing: number;
  /** Something is still in progress: look again soon. */
  waiting: boolean;
}

/**
 * @param activeController node id of the quorum's leader, when known (DescribeQuorum): that controller goes last of
 * the controllers. Unknown, the controllers go in ordinal order like the rest.
 * @param manual the KafkaCluster's manual-rolling-update annotation, stamped on the pod template: a pod whose own
 * value differs (the cluster's value changed, or the pod was annotated by hand) restarts.
 */
export function planRoll(
  pods: readonly PodView[],
  pools: readonly PoolView[],
  hashes: Readonly<Record<string, string>>,
  image: string,
  activeController?: number,
  manual?: string,
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
    if (p.manual !== manual) reasons.push("manual rolling update requested");
    if (p.restartFor !== undefined) reasons.push(p.restartFor);
    if (p.drain !== undefined) reasons.push(p.drain);
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
    queue: stale.map((p) => ({
      name: p.name,
      uid: p.uid,
      why: why(p) ?? "",
      controller: isController(p),
      nodeId: nodeIdOf(p),
      ready: p.ready,
      held: p.held === true,
    })),
    notReady: notReady.map((p) => p.name),
    missing,
    waiting: stale.length > 0 || notReady.length > 0 || missing > 0 || deleting,
  };
  if (deleting) return plan;
  const candidates = stale.filter((p) => p.held !== true);
  const unreadyStale = candidates.find((p) => !p.ready);
  const pick = unreadyStale ?? (notReady.length === 0 && missing === 0 ? candidates[0] : undefined);
  if (pick !== undefined)
    plan.restart = { name: pick.name, uid: pick.uid, why: why(pick) ?? "", controller: isController(pick) };
  return plan;
}

export function ordinalOf(podName: string): number {
  const m = /-(\d+)$/.exec(podName);
  return m === null ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

export interface RollStepView {
  pod: string;
  reason: string;
  state: "Restarting" | "Next" | "Queued" | "Held";
  blockedBy?: string[];
}

/**
 * The dry-run plan for the status: every stale pod in roll order, with what keeps it from restarting now.
 * @param blocked the gates' verdict on the pod the planner chose, when they held it back (roll-gates.ts)
 */
export function rollSteps(plan: RollPlan, blocked?: { pod: string; messages: string[] }): RollStepView[] {
  let previous: string | undefined;
  let nextSeen = false;
  return plan.queue.map((q): RollStepView => {
    const base = { pod: q.name, reason: q.why };
    if (q.held) return { ...base, state: "Held", blockedBy: ["held by the tributary.dev/roll-hold annotation"] };
    const after = previous;
    previous = q.name;
    if (plan.restart?.name === q.name || plan.parallel?.some((p) => p.name === q.name) === true) {
      nextSeen = true;
      return { ...base, state: "Restarting" };
    }
    if (blocked?.pod === q.name) {
      nextSeen = true;
      return { ...base, state: "Next", blockedBy: blocked.messages };
    }
    if (!nextSeen && plan.restart === undefined && blocked === undefined) {
      nextSeen = true;
      return { ...base, state: "Next", blockedBy: waitingFor(plan) };
    }
    return { ...base, state: "Queued", ...(after === undefined ? {} : { blockedBy: [`waits for ${after}`] }) };
  });
}

/** Why the planner chose no pod: the availability rules of planRoll. */
function waitingFor(plan: RollPlan): string[] {
  const out: string[] = [];
  if (plan.missing > 0) out.push(`${plan.missing} pod(s) not created yet`);
  if (plan.notReady.length > 0) out.push(`pods not Ready: ${plan.notReady.join(", ")}`);
  if (out.length === 0) out.push("a pod is terminating");
  return out;
}
