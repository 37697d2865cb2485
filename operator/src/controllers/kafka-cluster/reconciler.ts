// KafkaCluster reconciler: a key in, a linear pipeline of named idempotent steps, status written once at the end.
//   read → validate → render → quorum → scale → storage → apply → prune → reconfigure → rack → roll → features → status
// Each step reads the pass state and may stop the pipeline (an invalid spec stops before anything is applied). The
// reconciler never writes a spec, and never branches on what triggered it: every pass recomputes everything.
import type { Logger } from "pino";
import {
  KafkaCluster,
  type BrokerRackStatus,
  issuesText,
  operatorOwnedConfigKeys,
  portConflicts,
  type KafkaClusterStatus,
} from "../../api/v1alpha1/index.ts";
import {
  ApiError,
  KINDS,
  controllerRef,
  jsonEqual,
  splitKey,
  type EventRecorder,
  type KubeClient,
  type KubeObject,
  type ObjectKey,
  type ResourceType,
} from "../../kube/index.ts";
import { need, runSteps, warnOnNewProblem, type Step } from "../pipeline.ts";
import { TerminalError, type ReconcileContext, type ReconcileResult, type Reconciler } from "../../manager/manager.ts";
import { AdminPool } from "../../kafka/admin-pool.ts";
import type { ActiveControllerLookup } from "../../kafka/quorum.ts";
import type { RollProbe } from "../../kafka/roll-probe.ts";
import {
  CLUSTER_ID_PATTERN,
  CLUSTER_LABEL,
  DEFAULTS,
  MANUAL_ROLL_ANNOTATION,
  ROLL_HOLD_ANNOTATION,
  desired,
  podHost,
  type BrokerDefaults,
  type DesiredState,
} from "./desired.ts";
import { planRoll, type PodView, type RollPlan } from "./roll.ts";
import { gatherFacts } from "./roll-facts.ts";
import { dynamicConfigOps, ELR_PINNED_KEY, metadataVersionTarget } from "./dynamic-config.ts";
import type { BrokerConfigClient } from "../../kafka/broker-config.ts";
import { restartBlockers, type Blocker, type RollFacts } from "./roll-gates.ts";
import { parallelSameRack } from "./rack-parallel.ts";
import { computeStatus, type Observed } from "./status.ts";
import { voterChange, voterChangeMessage } from "./quorum.ts";
import { podDrain } from "./drains.ts";
import { scaleStep, type ScaleDeps, type ScalePass } from "./scale-step.ts";
import { planStorage, type ClaimView, type StorageClassView, type StoragePlan } from "./volume-expansion.ts";
import { rackStep } from "./rack-step.ts";
import { PRUNABLE_KINDS, planPrune } from "./prune.ts";
import { bootstrapOf } from "../kafka-topic/plan.ts";

export interface KafkaClusterReconcilerDeps {
  client: KubeClient;
  events: EventRecorder;
  /** Pods of a pool from the informer cache (namespace, selector labels). */
  pods: (namespace: string, labels: Record<string, string>) => KubeObject[];
  /** PersistentVolumeClaims of a cluster from the informer cache (namespace, labels). */
  claims: (namespace: string, labels: Record<string, string>) => KubeObject[];
  /** A StatefulSet from the informer cache (the one the operator applied last), or undefined. */
  statefulSet: (namespace: string, name: string) => KubeObject | undefined;
  /**
   * Objects of a kind the operator applies, from the informer cache (namespace, labels), for the prune step.
   * @default none: nothing is pruned
   */
  owned?: (type: ResourceType, namespace: string, labels: Record<string, string>) => KubeObject[];
  now?: () => Date;
  /** How often to look again while pods start or a roll is in progress. @default 5 000 */
  pollMs?: number;
  /** @default DEFAULTS (DEFAULT_BROKER_IMAGE) */
  defaults?: BrokerDefaults;
  /**
   * The active controller's node id (DescribeQuorum on the controllers), asked when a controller is next to restart
   * so that it goes last. @default none: controllers roll in ordinal order
   */
  activeController?: ActiveControllerLookup;
  /**
   * Asks the brokers and the quorum whether the next pod may restart (roll-gates.ts). @default none: rolls go by pod
   * readiness alone (TRIBUTARY_CLUSTER_ADMIN=false)
   */
  rollProbe?: RollProbe;
  /**
   * The Kafka admin clients every Kafka call of a pass goes through: one per cluster for its brokers and one for its
   * controllers, reused across passes and closed when the cluster is deleted. @default a pool of this reconciler's own
   */
  admins?: Pick<AdminPool, "for" | "controllers" | "drop">;
  /** Bootstrap addresses by "namespace/name" replacing the bootstrap Service (an operator outside the cluster). */
  bootstrapOverrides?: Readonly<Record<string, string>>;
  /** A Node from the informer cache, to move pods off nodes being drained (drains.ts). @default none known */
  node?: (name: string) => KubeObject | undefined;
  /** Kafka's Admin API for scaling with data movement (scale-step.ts). @default none: scale-downs are held */
  scaling?: ScaleDeps;
  /**
   * Reads and changes the cluster-wide dynamic broker configs (IncrementalAlterConfigs). @default none: dynamic keys
   * reach brokers only through server.properties, when they next start
   */
  brokerConfig?: BrokerConfigClient;
}

/** Everything one pass learns; the steps fill it in order. */
interface Pass {
  key: ObjectKey;
  log: Logger;
  raw?: KubeObject;
  cluster?: KafkaCluster;
  invalid?: { reason: string; message: string };
  /** Parts of the spec left unapplied while the rest was applied. */
  warnings: { reason: string; message: string }[];
  desired?: DesiredState;
  applied: Map<string, KubeObject>;
  created: string[];
  roll?: RollPlan;
  /** Why the pod the planner chose was not restarted in this pass. */
  blocked?: { pod: string; blockers: Blocker[] };
  storage?: StoragePlan;
  /** With spec.rack: each broker's rack, for the status. */
  racks?: BrokerRackStatus[];
  requeueAfterMs?: number;
  /** What the scale step decided (progress or a refusal) for the status. */
  scale?: ScalePass;
}

export class KafkaClusterReconciler implements Reconciler {
  readonly #d: Required<Omit<KafkaClusterReconcilerDeps, "rollProbe" | "scaling" | "brokerConfig">> &
    Pick<KafkaClusterReconcilerDeps, "rollProbe" | "scaling" | "brokerConfig">;
  readonly #steps: [string, Step<Pass>][];

  constructor(deps: KafkaClusterReconcilerDeps) {
    this.#d = {
      now: () => new Date(),
      pollMs: 5_000,
      defaults: DEFAULTS,
      activeController: () => Promise.resolve(undefined),
      node: () => undefined,
      owned: () => [],
      bootstrapOverrides: {},
      ...deps,
      admins: deps.admins ?? new AdminPool({ clientId: "tributary-operator" }),
    };
    this.#steps = [
      ["read", (p) => this.#read(p)],
      ["validate", (p) => this.#validate(p)],
      ["render", (p) => this.#render(p)],
      ["quorum", (p) => this.#quorum(p)],
      ["scale", (p) => this.#scale(p)],
      ["storage", (p) => this.#storage(p)],
      ["apply", (p) => this.#apply(p)],
      ["prune", (p) => this.#prune(p)],
      ["reconfigure", (p) => this.#reconfigure(p)],
      ["rack", (p) => this.#rack(p)],
      ["roll", (p) => this.#roll(p)],
      ["features", (p) => this.#features(p)],
    ];
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const pass: Pass = { key, log: ctx.logger, applied: new Map(), created: [], warnings: [] };
    const { aborted, failure } = await runSteps(this.#steps, pass, ctx);
    if (aborted) return {};
    // Status once per pass, also after a failed step, so the resource says what went wrong.
    if (pass.raw !== undefined) await this.#writeStatus(pass, failure);
    if (failure !== undefined) throw failure;
    if (pass.invalid !== undefined) throw new TerminalError(pass.invalid.message);
    return pass.requeueAfterMs === undefined ? {} : { requeueAfterMs: pass.requeueAfterMs };
  }

  /** read: the resource, fresh from the API server; gone or being deleted means nothing to do (GC owns cleanup). */
  async #read(pass: Pass): Promise<"next" | "stop"> {
    const { namespace, name } = splitKey(pass.key);
    const raw = await this.#d.client.get<KubeObject>(KINDS.KafkaCluster, namespace, name);
    if (raw === undefined || raw.metadata.deletionTimestamp !== undefined) {
      // The one object without an owner reference (cluster-scoped; rack-step.ts): removed here, not by the GC.
      await rackStep.forget(this.#d.client, namespace ?? "default", name);
      this.#d.admins.drop(pass.key);
      return "stop";
    }
    pass.raw = raw;
    return "next";
  }

  /** validate: schema (defaults applied) and semantic rules the CRD cannot express; refusals apply nothing. */
  #validate(pass: Pass): Promise<"next" | "stop"> {
    const parsed = KafkaCluster.safeParse(pass.raw);
    if (!parsed.success) {
      const issues = issuesText(parsed.error);
      pass.invalid = { reason: "InvalidSpec", message: `spec is invalid, nothing was applied: ${issues}` };
      return Promise.resolve("stop");
    }
    // Sorted: the API server stores map keys in order anyway, and a stable message keeps the status write-free.
    const owned = operatorOwnedConfigKeys(parsed.data.spec.config).sort();
    if (owned.length > 0) {
      pass.invalid = {
        reason: "OperatorOwnedConfig",
        message:
          `spec.config sets ${owned.join(", ")}, which the operator manages itself; remove ` +
          `${owned.length === 1 ? "it" : "them"} from spec.config. Nothing was applied.`,
      };
      return Promise.resolve("stop");
    }
    // The CRD refuses these; a cluster stored under an older CRD can still have them, and its Services would fail.
    const conflicts = portConflicts(parsed.data.spec);
    if (conflicts.length > 0) {
      pass.invalid = {
        reason: "PortConflict",
        message: `ports collide: ${conflicts.join("; ")}. Choose distinct ports. Nothing was applied.`,
      };
      return Promise.resolve("stop");
    }
    pass.cluster = parsed.data;
    return Promise.resolve("next");
  }

  /**
   * scale: the broker StatefulSet's size for this pass (a scale-down drains brokers first and then shrinks one ordinal
   * per pass; a scale-up spreads partitions onto the new brokers), and the PodDisruptionBudget derived from the
   * topics. When either differs from what render used, the desired state is rendered again with it.
   */
  async #scale(pass: Pass): Promise<"next" | "stop"> {
    const cluster = need(pass.cluster);
    const outcome = await scaleStep({
      cluster,
      state: need(pass.desired),
      log: pass.log,
      statefulSet: this.#d.statefulSet,
      pods: this.#d.pods,
      ...(this.#d.scaling === undefined ? {} : { deps: this.#d.scaling }),
    });
    pass.scale = outcome;
    if (outcome.blocked !== undefined) pass.warnings.push(outcome.blocked);
    if (outcome.requeue) pass.requeueAfterMs = this.#d.pollMs;
    if (outcome.replicas !== cluster.spec.replicas || outcome.maxUnavailable !== undefined)
      this.#renderState(pass, { ...cluster.spec, replicas: outcome.replicas }, outcome.maxUnavailable);
    return "next";
  }

  /** render: the pure desired state, with the cluster id recorded in the status (the uid's only for a new cluster). */
  #render(pass: Pass): Promise<"next" | "stop"> {
    const cluster = need(pass.cluster);
    const recorded = cluster.status?.clusterId;
    if (recorded !== undefined && !CLUSTER_ID_PATTERN.test(recorded)) {
      pass.warnings.push({
        reason: "ClusterIdReplaced",
        message:
          `status.clusterId ${JSON.stringify(recorded)} is not a cluster id (22 characters of base64url); ` +
          `the id derived from the resource's uid is used and recorded instead`,
      });
    }
    this.#renderState(pass, cluster.spec, undefined);
    return Promise.resolve("next");
  }

  #renderState(pass: Pass, spec: KafkaCluster["spec"], maxUnavailable: number | undefined): void {
    const cluster = need(pass.cluster);
    const raw = need(pass.raw);
    const recorded = cluster.status?.clusterId;
    const manualRoll = raw.metadata.annotations?.[MANUAL_ROLL_ANNOTATION];
    pass.desired = desired(
      {
        name: cluster.metadata.name,
        namespace: cluster.metadata.namespace ?? "default",
        uid: need(raw.metadata.uid),
        spec,
        defaults: this.#d.defaults,
        ...(recorded === undefined ? {} : { clusterId: recorded }),
        ...(manualRoll === undefined ? {} : { manualRoll }),
        ...(maxUnavailable === undefined ? {} : { maxUnavailable }),
        ...(cluster.status?.brokerImage === undefined ? {} : { recordedImage: cluster.status.brokerImage }),
      },
      controllerRef(raw),
    );
  }

  /** quorum: a spec that would change the static KRaft voters of an existing cluster is refused (quorum.ts). */
  #quorum(pass: Pass): Promise<"next" | "stop"> {
    const namespace = need(pass.cluster).metadata.namespace ?? "default";
    const change = voterChange(need(pass.desired).pools, (name) => this.#d.statefulSet(namespace, name));
    if (change === undefined) return Promise.resolve("next");
    pass.invalid = { reason: "VoterSetChange", message: voterChangeMessage(change) };
    return Promise.resolve("stop");
  }

  /**
   * storage: volume expansion (volume-expansion.ts). Claims that must grow are patched, then a StatefulSet whose claim
   * template must grow is deleted with propagationPolicy Orphan (pods and claims stay) for apply to create it again;
   * a shrink or a StorageClass without allowVolumeExpansion leaves the storage as it is, with a Warning.
   */
  async #storage(pass: Pass): Promise<"next" | "stop"> {
    const state = need(pass.desired);
    const raw = need(pass.raw);
    const namespace = need(pass.cluster).metadata.namespace ?? "default";
    const claims = new Map<string, ClaimView>();
    for (const pvc of this.#d.claims(namespace, { [CLUSTER_LABEL]: need(pass.cluster).metadata.name })) {
      claims.set(pvc.metadata.name, claimView(pvc));
    }
    const podCreated = new Map<string, string | undefined>();
    for (const obj of state.objects) {
      if (obj.kind !== "StatefulSet") continue;
      for (const pod of this.#d.pods(namespace, selectorOfSts(obj))) {
        podCreated.set(pod.metadata.name, pod.metadata.creationTimestamp);
      }
    }
    const classes = new Map<string, StorageClassView | null>();
    const input = {
      objects: state.objects,
      existing: (n: string) => this.#d.statefulSet(namespace, n),
      claims,
      podCreated,
      classes,
    };
    let plan = planStorage(input);
    if (plan.lookup.length > 0) {
      for (const name of plan.lookup) {
        const sc = await this.#d.client.get<KubeObject & { allowVolumeExpansion?: boolean }>(
          KINDS.StorageClass,
          undefined,
          name,
        );
        classes.set(name, sc === undefined ? null : { allowVolumeExpansion: sc.allowVolumeExpansion === true });
      }
      plan = planStorage(input);
    }
    if (plan.invalid !== undefined) {
      pass.invalid = plan.invalid;
      return "stop";
    }
    pass.storage = plan;
    pass.desired = { ...state, objects: plan.objects };
    pass.warnings.push(...plan.warnings);
    for (const { claim, size } of plan.patches) {
      const from = claims.get(claim)?.requested ?? "";
      await this.#d.client.patchJson(KINDS.PersistentVolumeClaim, namespace, claim, [
        // A claim changed since the cache saw it (grown out of band, say) fails the test and is planned again.
        { op: "test", path: "/spec/resources/requests/storage", value: from },
        { op: "replace", path: "/spec/resources/requests/storage", value: size },
      ]);
      pass.log.info({ claim, from, to: size }, `Expanding volume ${claim}`);
      await this.#d.events.event(raw, "Normal", "ExpandingVolume", `Expanding ${claim} from ${from} to ${size}`);
    }
    for (const sts of plan.recreate) {
      const deleted = await this.#d.client.delete(KINDS.StatefulSet, namespace, sts.name, {
        uid: sts.uid,
        propagationPolicy: "Orphan",
      });
      if (deleted) {
        const why = `claim template ${sts.from} -> ${sts.to}; pods and claims are kept (orphan deletion)`;
        pass.log.info({ statefulSet: sts.name, from: sts.from, to: sts.to }, `Re-creating StatefulSet ${sts.name}`);
        await this.#d.events.event(
          raw,
          "Normal",
          "RecreatingStatefulSet",
          `Re-creating StatefulSet ${sts.name}: ${why}`,
        );
      }
    }
    if (plan.waiting) pass.requeueAfterMs = this.#d.pollMs;
    return "next";
  }

  /** apply: server-side apply of every object, in order. The API server skips the write when nothing changed. */
  async #apply(pass: Pass): Promise<"next" | "stop"> {
    const raw = need(pass.raw);
    const namespace = need(pass.cluster).metadata.namespace ?? "default";
    for (const obj of need(pass.desired).objects) {
      const id = `${obj.kind}/${obj.metadata.name}`;
      if (obj.kind === "StatefulSet" && pass.storage?.skipApply.includes(obj.metadata.name) === true) {
        // Being re-created: applied again once the orphan deletion is done. Status reads the cached one meanwhile.
        const cached = this.#d.statefulSet(namespace, obj.metadata.name);
        if (cached !== undefined) pass.applied.set(id, cached);
        continue;
      }
      let result: KubeObject;
      try {
        const applied = await this.#d.client.apply<KubeObject>(obj);
        result = applied.object;
        if (applied.created) pass.created.push(id);
      } catch (err) {
        // 422/400 from strict validation: something the user passed through (a pod template field) is not valid
        // Kubernetes. Retrying cannot help until the spec changes.
        if (err instanceof ApiError && (err.statusCode === 422 || err.statusCode === 400)) {
          pass.invalid = { reason: "ApplyRejected", message: `the API server rejected ${id}: ${err.message}` };
          return "stop";
        }
        // Anything else is retried with backoff; the object's name makes the status message actionable.
        throw new Error(`applying ${id} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      pass.applied.set(id, result);
    }
    for (const id of pass.created) {
      pass.log.info({ object: id }, `Created ${id}`);
      await this.#d.events.event(raw, "Normal", "Created", `Created ${id}`);
    }
    return "next";
  }

  /**
   * prune: deletes the Services this cluster's spec no longer asks for (prune.ts decides: only objects the operator
   * made for this cluster, never StatefulSets, pods or claims), each with a uid precondition. After apply, so that a
   * failed apply stops the pass before anything is removed.
   */
  async #prune(pass: Pass): Promise<"next" | "stop"> {
    const raw = need(pass.raw);
    const cluster = need(pass.cluster);
    const namespace = cluster.metadata.namespace ?? "default";
    const labels = { [CLUSTER_LABEL]: cluster.metadata.name };
    const plan = planPrune({
      cluster: { name: cluster.metadata.name, namespace, uid: need(raw.metadata.uid) },
      desired: need(pass.desired).objects,
      existing: PRUNABLE_KINDS.flatMap((type) => this.#d.owned(type, namespace, labels)),
    });
    for (const obj of plan) {
      const type = PRUNABLE_KINDS.find((t) => t.kind === obj.kind);
      if (type === undefined) continue;
      // false: already gone, or another object holds the name now; either way nothing of ours is left to remove.
      if (!(await this.#d.client.delete(type, namespace, obj.name, { uid: obj.uid }))) continue;
      const id = `${obj.kind}/${obj.name}`;
      pass.log.info({ object: id }, `Deleted ${id}`);
      await this.#d.events.event(raw, "Normal", "Deleted", `Deleted ${id}: the spec no longer asks for it`);
    }
    return "next";
  }

  /**
   * reconfigure: the dynamic keys of spec.config, applied cluster-wide without a restart (dynamic-config.ts), once
   * every pod is Ready (a starting cluster has no broker to ask). A failure leaves a Warning and is retried; the
   * rest of the pass goes on.
   */
  async #reconfigure(pass: Pass): Promise<"next" | "stop"> {
    const client = this.#d.brokerConfig;
    const state = need(pass.desired);
    if (client === undefined) return "next";
    const serving = state.pools.every((pool) => {
      const sts = pass.applied.get(`StatefulSet/${pool.name}`);
      return ((sts?.["status"] as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0) >= pool.replicas;
    });
    if (!serving) return "next";
    const admin = this.#brokersAdmin(pass);
    try {
      const current = await client.clusterDefaults(admin);
      let ops = dynamicConfigOps(state.dynamicConfig, current);
      // Deleting min.insync.replicas is refused while ELR is on; the features are read only when it would be asked.
      if (ops.some((o) => o.op === "delete" && o.name === ELR_PINNED_KEY)) {
        const elr = (await client.metadataVersion(admin)).elr === true;
        ops = dynamicConfigOps(state.dynamicConfig, current, undefined, elr);
      }
      if (ops.length === 0) return "next";
      await client.alterClusterDefaults(admin, ops);
      const what = ops.map((o) => (o.op === "set" ? `${o.name}=${o.value ?? ""}` : `-${o.name}`)).join(", ");
      pass.log.info({ ops }, `Updated dynamic broker configs: ${what}`);
      await this.#d.events.event(need(pass.raw), "Normal", "ConfigUpdated", `Dynamic broker configs: ${what}`);
    } catch (err) {
      pass.warnings.push({
        reason: "DynamicConfigPending",
        message: `the dynamic broker configs (${Object.keys(state.dynamicConfig).join(", ") || "none"}) could not be applied: ${err instanceof Error ? err.message : String(err)}; retrying`,
      });
      pass.requeueAfterMs = this.#d.pollMs;
    }
    return "next";
  }

  /** rack: the broker ServiceAccount's node-reader binding, and each broker's rack from its node (rack-step.ts). */
  async #rack(pass: Pass): Promise<"next" | "stop"> {
    const cluster = need(pass.cluster);
    const result = await rackStep.run({
      client: this.#d.client,
      cluster,
      desired: need(pass.desired),
      pods: this.#d.pods,
      node: this.#d.node,
      clusterRole: this.#d.defaults.rackClusterRole,
    });
    pass.warnings.push(...result.warnings);
    if (result.racks !== undefined) pass.racks = result.racks;
    return "next";
  }

  /** roll: restart at most one pod whose config or image is stale, only when every other pod is Ready. */
  async #roll(pass: Pass): Promise<"next" | "stop"> {
    const state = need(pass.desired);
    const cluster = need(pass.cluster);
    const raw = need(pass.raw);
    const namespace = cluster.metadata.namespace ?? "default";
    const views: PodView[] = [];
    for (const obj of state.objects) {
      if (obj.kind !== "StatefulSet") continue;
      for (const pod of this.#d.pods(namespace, selectorOfSts(obj))) {
        const drain = podDrain(pod, this.#d.node);
        const view = podView(pod, obj.metadata.name, pass.storage?.restarts.get(pod.metadata.name));
        views.push(drain === undefined ? view : { ...view, drain });
      }
    }
    const manual = raw.metadata.annotations?.[MANUAL_ROLL_ANNOTATION];
    let plan = planRoll(views, state.pools, state.hashes, state.image, undefined, manual);
    // The active controller goes last of the controllers; asked only while a controller is still to restart (so that
    // the plan in the status shows the order the roll will take), and only of a quorum of more than one (a single
    // voter is always the active one).
    if (plan.queue.some((q) => q.controller && !q.held) && state.controllerServers.length > 1) {
      const controllers = this.#d.admins.controllers(pass.key, state.controllerServers);
      const active = await this.#d.activeController(controllers).catch((err: unknown) => {
        pass.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          "DescribeQuorum failed: the active controller is unknown, controllers roll in ordinal order",
        );
        return undefined;
      });
      if (active !== undefined) plan = planRoll(views, state.pools, state.hashes, state.image, active, manual);
    }
    pass.roll = plan;
    if (plan.restart !== undefined && this.#d.rollProbe !== undefined) {
      const { blockers, facts } = await this.#gate(pass, plan, this.#d.rollProbe);
      if (blockers.length > 0) {
        pass.blocked = { pod: plan.restart.name, blockers };
        pass.log.info({ pod: plan.restart.name, blockers }, `Restart of ${plan.restart.name} waits`);
        delete plan.restart;
      } else if (facts !== undefined) {
        this.#parallel(pass, plan, facts);
      }
    }
    for (const pod of plan.restart === undefined ? [] : [plan.restart, ...(plan.parallel ?? [])]) {
      const deleted = await this.#d.client.delete(KINDS.Pod, namespace, pod.name, { uid: pod.uid });
      if (deleted) {
        // gated: whether the restart gates were asked (and let it go); false only with TRIBUTARY_CLUSTER_ADMIN=false.
        const gated = this.#d.rollProbe !== undefined;
        pass.log.info({ pod: pod.name, why: pod.why, gated }, `Restarted pod ${pod.name}`);
        await this.#d.events.event(raw, "Normal", "RestartingPod", `Restarting pod ${pod.name}: ${pod.why}`);
      }
    }
    if (plan.waiting) pass.requeueAfterMs = this.#d.pollMs;
    return "next";
  }

  /**
   * features: the second phase of a version upgrade. Once every pod runs the desired image and is Ready (the roll
   * is done), metadata.version is raised to the highest level the brokers support (UpdateFeatures; the controller
   * refuses a level some registered broker does not support). Never lowered. A failure is a Warning, retried.
   */
  async #features(pass: Pass): Promise<"next" | "stop"> {
    const client = this.#d.brokerConfig;
    const roll = pass.roll;
    if (client === undefined || roll === undefined || roll.waiting || roll.queue.length > 0) return "next";
    const admin = this.#brokersAdmin(pass);
    try {
      const { finalized, supported } = await client.metadataVersion(admin);
      const target = metadataVersionTarget(finalized, supported);
      if (target === undefined) return "next";
      await client.finalizeMetadataVersion(admin, target);
      const message = `metadata.version finalized at level ${target} (was ${finalized ?? "unknown"})`;
      pass.log.info({ from: finalized, to: target }, message);
      await this.#d.events.event(need(pass.raw), "Normal", "MetadataVersionUpgraded", message);
    } catch (err) {
      pass.warnings.push({
        reason: "MetadataVersionPending",
        message: `metadata.version could not be read or raised: ${err instanceof Error ? err.message : String(err)}; retrying`,
      });
      pass.requeueAfterMs = this.#d.pollMs;
    }
    return "next";
  }

  /**
   * With spec.rollingUpdate.maxParallelSameRack above 1: the stale brokers of the chosen pod's rack that may restart
   * with it, judged on the facts the gates just read (rack-parallel.ts).
   */
  #parallel(pass: Pass, plan: RollPlan, facts: RollFacts): void {
    const max = need(pass.cluster).spec.rollingUpdate?.maxParallelSameRack ?? 1;
    const first = plan.queue.find((q) => q.name === plan.restart?.name);
    if (max <= 1 || first === undefined || "error" in facts.partitions) return;
    const racks = new Map((pass.racks ?? []).map((r) => [r.brokerId, r.rack] as const));
    const parallel = parallelSameRack({
      first,
      queue: plan.queue,
      rackOf: (nodeId) => racks.get(nodeId),
      partitions: facts.partitions,
      ...(facts.brokers === undefined ? {} : { brokers: facts.brokers }),
      max,
    });
    if (parallel.with.length === 0) return;
    plan.parallel = parallel.with.map((q) => ({ name: q.name, uid: q.uid, why: q.why, controller: q.controller }));
    pass.log.info(
      { pods: [first.name, ...plan.parallel.map((p) => p.name)], rack: parallel.rack },
      `Restarting ${1 + plan.parallel.length} pods of rack ${parallel.rack ?? ""} together`,
    );
  }

  /** Asks the cluster what the gates need for the chosen pod, and judges (roll-gates.ts). */
  async #gate(pass: Pass, plan: RollPlan, probe: RollProbe): Promise<{ blockers: Blocker[]; facts?: RollFacts }> {
    const state = need(pass.desired);
    const cluster = need(pass.cluster);
    const namespace = cluster.metadata.namespace ?? "default";
    const queued = plan.queue.find((q) => q.name === plan.restart?.name);
    const pool = state.pools.find((p) => queued?.name.startsWith(`${p.name}-`) === true);
    if (queued?.nodeId === undefined || pool === undefined) return { blockers: [] };
    const input = { name: cluster.metadata.name, namespace };
    const brokerPool = state.pools.find((p) => p.role === "broker");
    const brokers =
      brokerPool === undefined || !cluster.spec.metrics.enabled
        ? undefined
        : Array.from({ length: brokerPool.replicas }, (_, i) => {
            const pod = `${brokerPool.name}-${i}`;
            return {
              pod,
              nodeId: brokerPool.firstNodeId + i,
              address: `${podHost(input, pod)}:${cluster.spec.metrics.port}`,
            };
          });
    const candidate = {
      pod: queued.name,
      nodeId: queued.nodeId,
      broker: pool.role === "broker",
      controller: queued.controller,
      ready: queued.ready,
    };
    const facts = await gatherFacts(probe, {
      candidate,
      brokers,
      admin: this.#brokersAdmin(pass),
      controllers: this.#d.admins.controllers(pass.key, state.controllerServers),
    });
    return { blockers: restartBlockers(candidate, facts), facts };
  }

  /** The cluster's pooled brokers' client: the address is the one the scale step and KafkaTopics use, so they share it. */
  #brokersAdmin(pass: Pass): ReturnType<AdminPool["for"]> {
    return this.#d.admins.for(pass.key, bootstrapOf(need(pass.cluster), this.#d.bootstrapOverrides));
  }

  async #writeStatus(pass: Pass, failure: Error | undefined): Promise<void> {
    const raw = need(pass.raw);
    const previous = (raw["status"] ?? {}) as KafkaClusterStatus;
    const observed: Observed = {
      generation: raw.metadata.generation ?? 0,
      ...(pass.invalid === undefined ? {} : { invalid: pass.invalid }),
      warnings: pass.warnings,
      ...(failure === undefined ? {} : { failure: failure.message }),
      ...(pass.desired === undefined ? {} : { desired: pass.desired }),
      statefulSets: [...pass.applied.values()].filter((o) => o.kind === "StatefulSet"),
      ...(pass.roll === undefined ? {} : { roll: pass.roll }),
      ...(pass.blocked === undefined ? {} : { blocked: pass.blocked }),
      ...(pass.scale?.progress === undefined ? {} : { scaling: pass.scale.progress }),
      ...(pass.storage === undefined ? {} : { claims: pass.storage.claims, recreating: pass.storage.skipApply }),
      ...(pass.cluster === undefined ? {} : { spec: pass.cluster.spec }),
      ...(pass.racks === undefined ? {} : { racks: pass.racks }),
    };
    const next = computeStatus(previous, observed, this.#d.now());
    if (jsonEqual(previous, next)) return;
    const { namespace, name } = splitKey(pass.key);
    // A merge patch keeps what it does not name: a field the new status drops (the roll plan once a roll is done) is
    // sent as null to remove it.
    const dropped = Object.keys(previous).filter((k) => !(k in next));
    const patch = { ...next, ...Object.fromEntries(dropped.map((k) => [k, null])) };
    await this.#d.client.patchStatus(KINDS.KafkaCluster, namespace, name, patch);
    await warnOnNewProblem(this.#d.events, raw, previous, next);
  }
}

interface PodShape {
  spec?: { containers?: { name: string; image?: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

function podView(pod: KubeObject, pool: string, restartFor: string | undefined): PodView {
  const shape = pod as KubeObject & PodShape;
  return {
    ...(restartFor === undefined ? {} : { restartFor }),
    name: pod.metadata.name,
    uid: pod.metadata.uid ?? "",
    pool,
    hash: pod.metadata.annotations?.["tributary.dev/config-hash"],
    image: shape.spec?.containers?.find((c) => c.name === "kafka")?.image,
    ready: shape.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    deleting: pod.metadata.deletionTimestamp !== undefined,
    ...(pod.metadata.annotations?.[MANUAL_ROLL_ANNOTATION] === undefined
      ? {}
      : { manual: pod.metadata.annotations[MANUAL_ROLL_ANNOTATION] }),
    held: pod.metadata.annotations?.[ROLL_HOLD_ANNOTATION] === "true",
  };
}

function selectorOfSts(sts: KubeObject): Record<string, string> {
  return (sts as KubeObject & { spec: { selector: { matchLabels: Record<string, string> } } }).spec.selector
    .matchLabels;
}

interface ClaimShape {
  spec?: { resources?: { requests?: { storage?: string } }; storageClassName?: string };
  status?: {
    phase?: string;
    capacity?: { storage?: string };
    conditions?: { type: string; status: string; message?: string; lastTransitionTime?: string }[];
  };
}

function claimView(pvc: KubeObject): ClaimView {
  const shape = pvc as KubeObject & ClaimShape;
  return {
    name: pvc.metadata.name,
    requested: shape.spec?.resources?.requests?.storage,
    capacity: shape.status?.capacity?.storage,
    storageClassName: shape.spec?.storageClassName,
    phase: shape.status?.phase,
    conditions: shape.status?.conditions ?? [],
  };
}
