// Watching a KafkaCluster while the operator restarts or moves its pods (rolls, drains, gates): the suites poll the
// pods and the cluster's status together until their own condition holds, and this records what happened meanwhile —
// the order the pods went away in, how many were down at once and when each was, and what the status said.
import type { Cluster } from "../cluster/index.ts";
import { pollUntil } from "../cluster/proc.ts";
import { kafkaClusterPods, type ClusterPod } from "./workloads.ts";

export interface StatusCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** One entry of status.rollPlan (operator/src/api/v1alpha1 RollStep). */
export interface RollStep {
  pod: string;
  reason: string;
  state: string;
  blockedBy?: string[];
}

/** The KafkaCluster as kubectl returns it, the parts the suites read. */
export interface KafkaClusterView {
  kind: string;
  metadata: { name: string; generation?: number; annotations?: Record<string, string> };
  status?: {
    observedGeneration?: number;
    conditions?: StatusCondition[];
    rollPlan?: RollStep[];
    readyReplicas?: number;
  };
}

export async function kafkaClusterView(c: Cluster, ns: string, name: string): Promise<KafkaClusterView> {
  return JSON.parse(await c.kubectl(["get", "kafkacluster", name, "-n", ns, "-o", "json"])) as KafkaClusterView;
}

export function conditionOf(view: KafkaClusterView, type: string): StatusCondition | undefined {
  return view.status?.conditions?.find((cond) => cond.type === type);
}

export interface WatchState {
  pods: ClusterPod[];
  cluster: KafkaClusterView;
}

export interface RollWatch {
  /** Names of the watched pods in the order each first went away (terminating, gone or replaced). */
  order: string[];
  /** The most watched pods down at once: missing, terminating or not Ready. */
  maxDown: number;
  /** Per pod name, the periods (epoch ms) it was down; `to` is absent while it still is. */
  down: Map<string, { from: number; to?: number }[]>;
  /** Reconciling reasons in the order first seen. */
  reasons: string[];
  /** The longest status.rollPlan seen (pod names in order). */
  longestPlan: string[];
  /** What the last poll saw. */
  last: WatchState;
}

/**
 * Polls (250 ms) the pods of `cluster` and its status until `until` accepts them, recording what happened to the pods
 * named in `watched` (default: the pods that exist when the watch starts). `before`: the pods to compare with, when
 * they were read before the change that the watch is to see began.
 */
export async function watchCluster(
  c: Cluster,
  ns: string,
  cluster: string,
  what: string,
  timeoutMs: number,
  until: (state: WatchState, watch: RollWatch) => boolean | Promise<boolean>,
  options: { before?: readonly ClusterPod[]; watched?: readonly string[] } = {},
): Promise<RollWatch> {
  const before = options.before ?? (await kafkaClusterPods(c, ns, cluster));
  const names = options.watched ?? before.map((p) => p.name);
  const watch: RollWatch = {
    order: [],
    maxDown: 0,
    down: new Map(names.map((n) => [n, []])),
    reasons: [],
    longestPlan: [],
    last: { pods: [...before], cluster: { kind: "KafkaCluster", metadata: { name: cluster } } },
  };
  await pollUntil(
    what,
    timeoutMs,
    async () => {
      const [pods, view] = await Promise.all([kafkaClusterPods(c, ns, cluster), kafkaClusterView(c, ns, cluster)]);
      const now = Date.now();
      watch.last = { pods, cluster: view };
      let downNow = 0;
      for (const name of names) {
        const cur = pods.find((p) => p.name === name);
        const old = before.find((p) => p.name === name);
        const gone = cur === undefined || cur.deleting || (old !== undefined && cur.uid !== old.uid);
        if (gone && !watch.order.includes(name)) watch.order.push(name);
        const isDown = cur === undefined || cur.deleting || !cur.ready;
        const periods = watch.down.get(name) ?? [];
        const open = periods.at(-1);
        if (isDown) {
          downNow++;
          if (open === undefined || open.to !== undefined) periods.push({ from: now });
        } else if (open !== undefined && open.to === undefined) {
          open.to = now;
        }
        watch.down.set(name, periods);
      }
      watch.maxDown = Math.max(watch.maxDown, downNow);
      const reason = conditionOf(view, "Reconciling")?.reason;
      if (reason !== undefined && !watch.reasons.includes(reason)) watch.reasons.push(reason);
      const plan = (view.status?.rollPlan ?? []).map((s) => s.pod);
      if (plan.length > watch.longestPlan.length) watch.longestPlan = plan;
      return (await until(watch.last, watch)) ? true : undefined;
    },
    [],
    250,
  );
  return watch;
}

/** Whether pods `a` and `b` were ever down at the same time. */
export function downTogether(watch: RollWatch, a: string, b: string): boolean {
  const end = (p: { to?: number }): number => p.to ?? Number.POSITIVE_INFINITY;
  return (watch.down.get(a) ?? []).some((pa) =>
    (watch.down.get(b) ?? []).some((pb) => pa.from < end(pb) && pb.from < end(pa)),
  );
}

/** Every watched pod runs anew (a uid not in `before`), Ready and not terminating. */
export function allReplaced(pods: readonly ClusterPod[], before: readonly ClusterPod[], count: number): boolean {
  return pods.length === count && pods.every((p) => p.ready && !p.deleting && !before.some((b) => b.uid === p.uid));
}
