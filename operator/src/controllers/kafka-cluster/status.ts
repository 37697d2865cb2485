// Status of a KafkaCluster (PURE): from what one pass observed to the status subresource. Conditions follow
// set-condition semantics (lastTransitionTime moves only when a status flips), so an unchanged cluster yields an
// identical status and the reconciler can skip the write.
import type {
  BrokerRackStatus,
  ClaimStatus,
  KafkaClusterSpec,
  KafkaClusterStatus,
  ListenerStatus,
} from "../../api/v1alpha1/index.ts";
import type { Condition, KubeObject } from "../../kube/index.ts";
import { Conditions } from "../pipeline.ts";
import type { DesiredState } from "./desired.ts";
import { rollSteps, type RollPlan } from "./roll.ts";
import type { Blocker } from "./roll-gates.ts";
import { storageProgress } from "./volume-expansion.ts";

export interface Observed {
  generation: number;
  invalid?: { reason: string; message: string };
  /** A step failed with a retryable error. */
  failure?: string;
  /** Problems that left part of the spec unapplied while the rest was (a storage size change, say). */
  warnings?: readonly { reason: string; message: string }[];
  spec?: KafkaClusterSpec;
  desired?: DesiredState;
  /** StatefulSets as returned by apply (their status is the controller's view of the pods). */
  statefulSets: KubeObject[];
  roll?: RollPlan;
  /** The gates held back the pod the planner chose (roll-gates.ts). */
  blocked?: { pod: string; blockers: readonly Blocker[] };
  /** A scale with data movement in progress (draining brokers, shrinking, spreading onto new brokers). */
  scaling?: { reason: string; message: string };
  /** Data volume claims and where a volume expansion stands (volume-expansion.ts). */
  claims?: readonly ClaimStatus[];
  /** StatefulSets being re-created for a larger claim template (volume-expansion.ts). */
  recreating?: readonly string[];
  /** With spec.rack (or an empty list once it is removed): each broker's rack. */
  racks?: BrokerRackStatus[];
}

interface StsStatus {
  replicas?: number;
  readyReplicas?: number;
}

export function computeStatus(previous: KafkaClusterStatus, o: Observed, now: Date): KafkaClusterStatus {
  const conditions = new Conditions(previous.conditions as Condition[] | undefined, o.generation, now);
  const set = conditions.set.bind(conditions);
  const ordered = (): Condition[] => conditions.ordered(["Ready", "Reconciling", "Warning"]);
  const next: KafkaClusterStatus = { ...previous, observedGeneration: o.generation };

  if (o.invalid !== undefined) {
    // The running cluster (if any) keeps its last applied state; only say why the new spec was not applied.
    set({ type: "Warning", status: "True", reason: o.invalid.reason, message: o.invalid.message });
    set({ type: "Reconciling", status: "False", reason: "SpecRefused", message: "Fix the spec to continue." });
    if (conditions.get("Ready") === undefined) {
      set({ type: "Ready", status: "False", reason: "SpecRefused", message: o.invalid.message });
    }
    return { ...next, conditions: ordered() };
  }
  if (o.failure !== undefined) {
    // The second identical failure in a row is no longer a blip: say so in Warning, with the API's message (and keep
    // it current while passes keep failing). Passes are retried with backoff meanwhile; one that succeeds clears it.
    const reconciling = conditions.get("Reconciling");
    const warning = conditions.get("Warning");
    const repeated =
      (reconciling?.reason === "RetryingAfterError" && reconciling.message === o.failure) ||
      (warning?.reason === "ReconcileFailing" && warning.status === "True");
    set({ type: "Reconciling", status: "True", reason: "RetryingAfterError", message: o.failure });
    if (repeated) set({ type: "Warning", status: "True", reason: "ReconcileFailing", message: o.failure });
    return { ...next, conditions: ordered() };
  }

  const d = o.desired;
  if (d === undefined) return next;
  const brokerPool = d.pools.find((p) => p.role === "broker");
  const brokerSts = o.statefulSets.find((s) => s.metadata.name === brokerPool?.name);
  const brokerStatus = (brokerSts?.["status"] ?? {}) as StsStatus;
  const ready = d.pools.map((pool) => {
    const sts = o.statefulSets.find((s) => s.metadata.name === pool.name);
    return { pool, ready: ((sts?.["status"] ?? {}) as StsStatus).readyReplicas ?? 0 };
  });
  const allReady = ready.every((r) => r.ready >= r.pool.replicas);
  const readyText = ready.map((r) => `${r.ready}/${r.pool.replicas} ${r.pool.role}s ready`).join(", ");
  const roll = o.roll;
  const rollable = roll?.queue.filter((q) => !q.held) ?? [];
  const held = roll?.queue.filter((q) => q.held) ?? [];
  const rolling = roll !== undefined && (rollable.length > 0 || roll.restart !== undefined);
  const blocked = o.blocked;

  conditions.warnings(o.warnings ?? []);
  const expanding = storageProgress(o.claims ?? [], o.recreating);
  if (rolling && blocked !== undefined && blocked.blockers.length > 0) {
    // Waiting for the ISR or the quorum is progress, not failure: a Reconciling reason, with what it waits for.
    const first = blocked.blockers[0];
    const msg = `Rolling restart: ${blocked.pod} waits: ${blocked.blockers.map((b) => b.message).join("; ")}`;
    set({ type: "Reconciling", status: "True", reason: first?.reason ?? "RollingRestart", message: msg });
  } else if (rolling) {
    const msg = `Restarting pods one at a time for a config or image change; pending: ${rollable.map((q) => q.name).join(", ")}`;
    set({ type: "Reconciling", status: "True", reason: "RollingRestart", message: msg });
  } else if (held.length > 0) {
    const msg = `Restart held by tributary.dev/roll-hold: ${held.map((q) => q.name).join(", ")}`;
    set({ type: "Reconciling", status: "True", reason: "RollHeld", message: msg });
  } else if (o.scaling !== undefined) {
    set({ type: "Reconciling", status: "True", reason: o.scaling.reason, message: o.scaling.message });
  } else if (expanding !== undefined) {
    set({ type: "Reconciling", status: "True", reason: "ExpandingVolumes", message: expanding });
  } else if (!allReady) {
    set({ type: "Reconciling", status: "True", reason: "WaitingForPods", message: readyText });
  } else {
    set({ type: "Reconciling", status: "False", reason: "Reconciled", message: "Every object is applied." });
  }
  if (allReady && !rolling) set({ type: "Ready", status: "True", reason: "AllPodsReady", message: readyText });
  else set({ type: "Ready", status: "False", reason: rolling ? "RollingRestart" : "PodsNotReady", message: readyText });

  const steps =
    roll === undefined
      ? []
      : rollSteps(
          roll,
          blocked === undefined ? undefined : { pod: blocked.pod, messages: blocked.blockers.map((b) => b.message) },
        );
  const { rollPlan: _previousPlan, volumes: _previousVolumes, ...rest } = next;
  return {
    ...rest,
    ...(steps.length === 0 ? {} : { rollPlan: steps }),
    conditions: ordered(),
    listeners: listenersOf(d, o.spec),
    replicas: brokerStatus.replicas ?? 0,
    readyReplicas: brokerStatus.readyReplicas ?? 0,
    selector: d.brokerSelector,
    ...(o.claims === undefined || o.claims.length === 0 ? {} : { volumes: [...o.claims] }),
    clusterId: d.clusterId,
    brokerImage: d.image,
    ...(o.racks === undefined ? {} : { racks: o.racks }),
  };
}

function listenersOf(d: DesiredState, spec: KafkaClusterSpec | undefined): ListenerStatus[] {
  const [host, port] = splitHostPort(d.bootstrapServers);
  const out: ListenerStatus[] = [
    { name: "internal", type: "ClusterIP", bootstrapServers: d.bootstrapServers, addresses: [{ host, port }] },
  ];
  const ext = spec?.listeners.external;
  if (ext?.host !== undefined) {
    const brokers = d.pools.find((p) => p.role === "broker")?.replicas ?? 0;
    const addresses = Array.from({ length: brokers }, (_, i) => ({
      host: ext.host ?? "",
      port: ext.type === "NodePort" && ext.nodePortBase !== undefined ? ext.nodePortBase + i + 1 : ext.port,
    }));
    const bootstrap =
      ext.type === "NodePort" && ext.nodePortBase !== undefined
        ? `${ext.host}:${ext.nodePortBase}`
        : addresses.map((a) => `${a.host}:${a.port}`).join(",");
    out.push({ name: "external", type: ext.type, bootstrapServers: bootstrap, addresses });
  }
  return out;
}

function splitHostPort(hostPort: string): [string, number] {
  const colon = hostPort.lastIndexOf(":");
  return [hostPort.slice(0, colon), Number(hostPort.slice(colon + 1))];
}
