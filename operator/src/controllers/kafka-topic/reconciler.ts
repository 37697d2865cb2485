// KafkaTopic reconciler: a key in, a linear pipeline of named idempotent steps, status written once at the end.
//   read → resolve → finalize → validate → detach → cluster → finalizer → observe → create → configure → partitions
//   → replicas → status
// One-way, from Kubernetes to Kafka, through the admin client: the topic is created, its config drift is reverted,
// partitions grow (never shrink), a replication-factor change is a partition reassignment where the brokers support
// it. Kafka topics no KafkaTopic names (created with Kafka's tools) are never touched. The reconciler never writes a
// spec; it writes status, and adds or removes its own finalizer.
import { ApiKey, type KafkaError, uuidToKafkaBase64 } from "@tributary/broker/admin";
import type { Logger } from "pino";
import { KafkaCluster, KafkaTopic, issuesText, type KafkaTopicStatus } from "../../api/v1alpha1/index.ts";
import {
  KINDS,
  addFinalizer,
  hasFinalizer,
  jsonEqual,
  objectKey,
  removeFinalizer,
  splitKey,
  type EventRecorder,
  type KubeClient,
  type KubeObject,
  type ObjectKey,
} from "../../kube/index.ts";
import type { AdminPool, ClusterAdmin, ObservedTopic } from "../../kafka/admin-pool.ts";
import { TerminalError, type ReconcileContext, type ReconcileResult, type Reconciler } from "../../manager/manager.ts";
import { need, runSteps, warnOnNewProblem, type Step } from "../pipeline.ts";
import {
  TOPIC_FINALIZER,
  bootstrapOf,
  clusterNameOf,
  configOps,
  conflictWinner,
  describeOps,
  desiredConfig,
  isUnmanaged,
  replicaPlan,
  rivalsOf,
  topicNameOf,
  topicNameProblem,
} from "./plan.ts";
import { computeTopicStatus, type Outcome, type Refusal } from "./status.ts";

export interface KafkaTopicReconcilerDeps {
  client: KubeClient;
  events: EventRecorder;
  admins: AdminPool;
  /** KafkaTopics of a namespace from the informer cache (to find resources naming the same topic). */
  topics: (namespace: string) => KubeObject[];
  /** A KafkaCluster from the informer cache. */
  cluster: (namespace: string, name: string) => KubeObject | undefined;
  /** Bootstrap addresses by "namespace/cluster" that replace the bootstrap Service's DNS name. */
  bootstrapOverrides?: Readonly<Record<string, string>>;
  now?: () => Date;
  /** How often to look again while a reassignment runs. @default 5 000 */
  pollMs?: number;
  /** How often to try again what Kafka refused (the cluster may change: more brokers, new defaults). @default 300 000 */
  recheckMs?: number;
  /**
   * How long a deletion may wait for an unreachable cluster before the finalizer is removed anyway (the topic is then
   * left in Kafka, with a Warning Event), so deletions never hang. @default 300 000
   */
  deleteTimeoutMs?: number;
}

type Mode = "managed" | "unmanaged" | "conflict" | "invalid";

/** Everything one pass learns; the steps fill it in order. */
interface Pass {
  key: ObjectKey;
  namespace: string;
  log: Logger;
  raw?: KubeObject;
  topicName?: string;
  mode?: Mode;
  winner?: string;
  invalid?: Refusal;
  spec?: KafkaTopic["spec"];
  admin?: ClusterAdmin;
  clusterName?: string;
  observed?: ObservedTopic;
  /** Set once the topic exists in Kafka (found, or created by this pass). */
  topicId?: string;
  partitions?: number;
  refusals: Refusal[];
  progressing?: Refusal;
  outcome?: Outcome;
  /** The resource is being deleted: no status write. */
  deleting?: boolean;
  requeueAfterMs?: number;
}

const NEXT = Promise.resolve("next" as const);
const STOP = Promise.resolve("stop" as const);

export class KafkaTopicReconciler implements Reconciler {
  readonly #d: Required<KafkaTopicReconcilerDeps>;
  readonly #steps: [string, Step<Pass>][];

  constructor(deps: KafkaTopicReconcilerDeps) {
    this.#d = {
      now: () => new Date(),
      pollMs: 5_000,
      recheckMs: 300_000,
      deleteTimeoutMs: 300_000,
      bootstrapOverrides: {},
      ...deps,
    };
    this.#steps = [
      ["read", (p) => this.#read(p)],
      ["resolve", (p) => this.#resolve(p)],
      ["finalize", (p) => this.#finalize(p)],
      ["validate", (p) => this.#validate(p)],
      ["detach", (p) => this.#detach(p)],
      ["cluster", (p) => this.#cluster(p)],
      ["finalizer", (p) => this.#finalizer(p)],
      ["observe", (p) => this.#observe(p)],
      ["create", (p) => this.#create(p)],
      ["configure", (p) => this.#configure(p)],
      ["partitions", (p) => this.#partitions(p)],
      ["replicas", (p) => this.#replicas(p)],
    ];
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const { namespace } = splitKey(key);
    const pass: Pass = { key, namespace: namespace ?? "default", log: ctx.logger, refusals: [] };
    const { aborted, failure } = await runSteps(this.#steps, pass, ctx);
    if (aborted) return {};
    if (pass.raw !== undefined && pass.deleting !== true) await this.#writeStatus(pass, failure);
    if (failure !== undefined) throw failure;
    if (pass.invalid !== undefined) throw new TerminalError(pass.invalid.message);
    if (pass.refusals.length > 0)
      return { requeueAfterMs: Math.min(pass.requeueAfterMs ?? Infinity, this.#d.recheckMs) };
    return pass.requeueAfterMs === undefined ? {} : { requeueAfterMs: pass.requeueAfterMs };
  }

  /** read: the resource, fresh from the API server. */
  async #read(pass: Pass): Promise<"next" | "stop"> {
    const { namespace, name } = splitKey(pass.key);
    const raw = await this.#d.client.get<KubeObject>(KINDS.KafkaTopic, namespace, name);
    if (raw === undefined) return "stop";
    pass.raw = raw;
    return "next";
  }

  /**
   * resolve: which topic this names and whether this resource manages it: not when annotated unmanaged, not when an
   * older resource names the same topic on the same cluster (the oldest wins, then the first by name).
   */
  #resolve(pass: Pass): Promise<"next" | "stop"> {
    const raw = need(pass.raw);
    pass.topicName = topicNameOf(raw);
    const problem = topicNameProblem(pass.topicName);
    if (problem !== undefined) {
      pass.mode = "invalid";
      pass.invalid = { reason: "InvalidTopicName", message: problem };
      return NEXT;
    }
    if (isUnmanaged(raw)) {
      pass.mode = "unmanaged";
      return NEXT;
    }
    const others = this.#d.topics(pass.namespace).filter((o) => o.metadata.name !== raw.metadata.name);
    const winner = conflictWinner(rivalsOf(raw, [raw, ...others]));
    if (winner !== undefined && winner !== raw.metadata.name) {
      pass.mode = "conflict";
      pass.winner = winner;
      return NEXT;
    }
    pass.mode = "managed";
    return NEXT;
  }

  /**
   * finalize: a resource being deleted. A managed topic is deleted from Kafka, then the finalizer goes. When the
   * cluster is gone (or going) there is nothing to delete from; when it cannot be reached for deleteTimeoutMs the
   * topic is left behind with a Warning Event. Either way the finalizer is removed: deletions never hang.
   */
  async #finalize(pass: Pass): Promise<"next" | "stop"> {
    const raw = need(pass.raw);
    if (raw.metadata.deletionTimestamp === undefined) return "next";
    pass.deleting = true;
    if (!hasFinalizer(raw, TOPIC_FINALIZER)) return "stop";
    const topic = need(pass.topicName);
    const release = async (why: string): Promise<"stop"> => {
      if (await removeFinalizer(this.#d.client, KINDS.KafkaTopic, raw, TOPIC_FINALIZER)) {
        pass.log.info({ topic, why }, "Removed finalizer");
      }
      return "stop";
    };
    if (pass.mode !== "managed") return release(`${pass.mode}: the topic is not this resource's to delete`);
    const clusterName = clusterNameOf(raw) ?? "";
    const cluster = await this.#d.client.get<KubeObject>(KINDS.KafkaCluster, pass.namespace, clusterName);
    if (cluster === undefined || cluster.metadata.deletionTimestamp !== undefined) {
      this.#d.admins.drop(objectKey(pass.namespace, clusterName));
      return release(`KafkaCluster ${clusterName} is gone: nothing to delete the topic from`);
    }
    try {
      const admin = this.#adminFor(KafkaCluster.parse(cluster));
      const result = await admin.deleteTopic(topic);
      if (result.error !== undefined && result.error.type !== "UNKNOWN_TOPIC_OR_PARTITION") {
        if (result.error.retriable) throw result.error;
        await this.#d.events.event(
          raw,
          "Warning",
          "TopicNotDeleted",
          `Kafka refused to delete topic ${topic}: ${result.error.message}`,
        );
        return release(`Kafka refused the deletion: ${result.error.type}`);
      }
      if (result.error === undefined) {
        pass.log.info({ topic }, `Deleted topic ${topic}`);
        await this.#d.events.event(raw, "Normal", "TopicDeleted", `Deleted topic ${topic}`);
      }
      return release("topic deleted");
    } catch (err) {
      const since = Date.parse(raw.metadata.deletionTimestamp);
      if (this.#d.now().getTime() - since < this.#d.deleteTimeoutMs) throw err;
      const message =
        `Could not delete topic ${topic} for ${Math.round(this.#d.deleteTimeoutMs / 1000)} s ` +
        `(${err instanceof Error ? err.message : String(err)}); the topic is left in Kafka.`;
      await this.#d.events.event(raw, "Warning", "TopicNotDeleted", message);
      return release("deletion timed out");
    }
  }

  /** validate: the schema, with defaults (config values must be strings, numbers or booleans). */
  #validate(pass: Pass): Promise<"next" | "stop"> {
    if (pass.mode === "invalid") return STOP;
    const parsed = KafkaTopic.safeParse(pass.raw);
    if (!parsed.success) {
      const issues = issuesText(parsed.error);
      pass.mode = "invalid";
      pass.invalid = { reason: "InvalidSpec", message: `spec is invalid, nothing was changed in Kafka: ${issues}` };
      return STOP;
    }
    pass.spec = parsed.data.spec;
    return NEXT;
  }

  /** detach: an unmanaged resource or a conflict's loser holds no finalizer and changes nothing in Kafka. */
  async #detach(pass: Pass): Promise<"next" | "stop"> {
    if (pass.mode === "managed") return "next";
    const raw = need(pass.raw);
    await removeFinalizer(this.#d.client, KINDS.KafkaTopic, raw, TOPIC_FINALIZER);
    pass.outcome =
      pass.mode === "conflict"
        ? { kind: "conflict", topicName: need(pass.topicName), winner: need(pass.winner) }
        : { kind: "unmanaged", topicName: need(pass.topicName) };
    return "stop";
  }

  /** cluster: the KafkaCluster the topic belongs to, and an admin client for it. */
  #cluster(pass: Pass): Promise<"next" | "stop"> {
    const spec = need(pass.spec);
    pass.clusterName = spec.clusterRef.name;
    const raw = this.#d.cluster(pass.namespace, spec.clusterRef.name);
    if (raw === undefined) {
      this.#d.admins.drop(objectKey(pass.namespace, spec.clusterRef.name));
      pass.outcome = { kind: "clusterMissing", topicName: need(pass.topicName), cluster: spec.clusterRef.name };
      return STOP;
    }
    const parsed = KafkaCluster.safeParse(raw);
    if (!parsed.success) {
      // Its own reconciler reports why; the topic waits for a usable cluster.
      pass.outcome = {
        kind: "failed",
        topicName: need(pass.topicName),
        message: `KafkaCluster ${spec.clusterRef.name} has an invalid spec; waiting for it to be fixed.`,
      };
      return STOP;
    }
    pass.admin = this.#adminFor(parsed.data);
    return NEXT;
  }

  /** finalizer: before anything is created in Kafka, so that whatever is created is also deleted. */
  async #finalizer(pass: Pass): Promise<"next" | "stop"> {
    const raw = need(pass.raw);
    if (await addFinalizer(this.#d.client, KINDS.KafkaTopic, raw, TOPIC_FINALIZER)) {
      raw.metadata.finalizers = [...(raw.metadata.finalizers ?? []), TOPIC_FINALIZER];
    }
    return "next";
  }

  /** observe: the topic as Kafka has it (one batched Metadata + DescribeConfigs for concurrent passes). */
  async #observe(pass: Pass): Promise<"next" | "stop"> {
    const observed = await need(pass.admin).describe(need(pass.topicName));
    if (observed.error !== undefined && observed.error.type !== "UNKNOWN_TOPIC_OR_PARTITION") throw observed.error;
    pass.observed = observed;
    if (observed.topic !== undefined) {
      pass.topicId = uuidToKafkaBase64(observed.topic.topicId);
      pass.partitions = observed.topic.partitions.length;
    }
    return "next";
  }

  /** create: a topic Kafka does not have, with the spec's partitions, replicas and config. */
  async #create(pass: Pass): Promise<"next" | "stop"> {
    if (need(pass.observed).topic !== undefined) return "next";
    const spec = need(pass.spec);
    const name = need(pass.topicName);
    const result = await need(pass.admin).create({
      name,
      partitions: spec.partitions,
      ...(spec.replicas === undefined ? {} : { replicationFactor: spec.replicas }),
      configs: desiredConfig(spec),
    });
    if (result.error !== undefined) {
      // Created meanwhile (by someone else, or a pass that timed out): the next pass adopts it.
      if (result.error.type === "TOPIC_ALREADY_EXISTS" || result.error.retriable) throw result.error;
      this.#refuse(pass, "CreateRefused", `Kafka refused to create topic ${name}: ${kafkaReason(result.error)}.`);
      return "stop";
    }
    if (result.topicId !== undefined) pass.topicId = uuidToKafkaBase64(result.topicId);
    pass.partitions = result.partitions ?? spec.partitions;
    pass.log.info({ topic: name, partitions: pass.partitions }, `Created topic ${name}`);
    await this.#d.events.event(
      need(pass.raw),
      "Normal",
      "TopicCreated",
      `Created topic ${name} with ${pass.partitions} partitions`,
    );
    // Created from the spec: config and partitions match; the replication factor is what CreateTopics was given.
    return "stop";
  }

  /** configure: config drift reverted: spec.config set, overrides the spec does not name reset to the default. */
  async #configure(pass: Pass): Promise<"next" | "stop"> {
    const observed = need(pass.observed);
    const name = need(pass.topicName);
    const ops = configOps(desiredConfig(need(pass.spec)), observed.configs ?? []);
    if (ops.length === 0) return "next";
    const result = await need(pass.admin).alterConfigs({ type: "topic", name, ops });
    if (result.error !== undefined) {
      if (result.error.retriable) throw result.error;
      this.#refuse(pass, "ConfigRefused", `Kafka refused the config of topic ${name}: ${kafkaReason(result.error)}.`);
      return "next";
    }
    const what = describeOps(ops);
    pass.log.info({ topic: name, ops: what }, `Updated config of topic ${name}`);
    await this.#d.events.event(need(pass.raw), "Normal", "ConfigUpdated", `Updated config of topic ${name}: ${what}`);
    return "next";
  }

  /** partitions: grown to spec.partitions; a topic with more partitions than the spec is reported, never shrunk. */
  async #partitions(pass: Pass): Promise<"next" | "stop"> {
    const want = need(pass.spec).partitions;
    const have = need(pass.partitions);
    const name = need(pass.topicName);
    if (have > want) {
      this.#refuse(
        pass,
        "PartitionDecreaseRefused",
        `Topic ${name} has ${have} partitions in Kafka and spec.partitions is ${want}: Kafka cannot remove ` +
          `partitions. Set spec.partitions to ${have} or more, or delete and recreate the topic.`,
      );
      return "next";
    }
    if (have === want) return "next";
    const result = await need(pass.admin).createPartitions(name, want);
    if (result.error !== undefined) {
      if (result.error.retriable) throw result.error;
      this.#refuse(
        pass,
        "PartitionsRefused",
        `Kafka refused to grow topic ${name} to ${want} partitions: ${kafkaReason(result.error)}.`,
      );
      return "next";
    }
    pass.partitions = want;
    pass.log.info({ topic: name, from: have, to: want }, `Added partitions to topic ${name}`);
    await this.#d.events.event(
      need(pass.raw),
      "Normal",
      "PartitionsAdded",
      `Grew topic ${name} from ${have} to ${want} partitions`,
    );
    return "next";
  }

  /**
   * replicas: a replication-factor change is a partition reassignment. Brokers without AlterPartitionReassignments
   * (older Tributary, or a Kafka-protocol broker that lacks it) get a clear refusal instead; the topic keeps its factor.
   */
  async #replicas(pass: Pass): Promise<"next" | "stop"> {
    const want = need(pass.spec).replicas;
    const topic = need(pass.observed).topic;
    if (want === undefined || topic === undefined) return "next";
    const have = Math.max(0, ...topic.partitions.map((p) => p.replicas.length));
    if (have === want) return "next";
    const name = need(pass.topicName);
    const admin = need(pass.admin);
    const asked = `Topic ${name} has replication factor ${have} and spec.replicas is ${want}`;
    if (
      !(await admin.supports(ApiKey.AlterPartitionReassignments)) ||
      !(await admin.supports(ApiKey.ListPartitionReassignments))
    ) {
      this.#refuse(
        pass,
        "ReplicationFactorChangeUnsupported",
        `${asked}; the brokers of KafkaCluster ${need(pass.clusterName)} do not support partition reassignment ` +
          "(AlterPartitionReassignments), so the replication factor is left unchanged.",
      );
      return "next";
    }
    const refs = topic.partitions.map((p) => ({ topic: name, partition: p.partition }));
    const ongoing = await admin.reassignments(refs);
    const progress = (n: number): Refusal => ({
      reason: "ReassignmentInProgress",
      message: `${asked}; moving replicas of ${n} partition(s).`,
    });
    if (ongoing.length > 0) {
      pass.progressing = progress(ongoing.length);
      pass.requeueAfterMs = this.#d.pollMs;
      return "next";
    }
    const brokers = (await admin.cluster()).brokers.map((b) => b.nodeId);
    if (want > brokers.length) {
      this.#refuse(pass, "NotEnoughBrokers", `${asked}, but the cluster has ${brokers.length} broker(s).`);
      return "next";
    }
    const plan = replicaPlan(name, topic.partitions, want, brokers);
    const results = await admin.reassign(plan);
    const failed = results.find((r) => r.error !== undefined);
    if (failed?.error !== undefined) {
      if (failed.error.retriable) throw failed.error;
      this.#refuse(
        pass,
        "ReassignmentRefused",
        `${asked}; Kafka refused the reassignment: ${kafkaReason(failed.error)}.`,
      );
      return "next";
    }
    pass.log.info({ topic: name, from: have, to: want }, `Reassigning topic ${name}`);
    await this.#d.events.event(
      need(pass.raw),
      "Normal",
      "ReassignmentStarted",
      `${asked}; reassigning ${plan.length} partition(s)`,
    );
    pass.progressing = progress(plan.length);
    pass.requeueAfterMs = this.#d.pollMs;
    return "next";
  }

  #refuse(pass: Pass, reason: string, message: string): void {
    pass.refusals.push({ reason, message });
  }

  #adminFor(cluster: KafkaCluster): ClusterAdmin {
    const key = objectKey(cluster.metadata.namespace, cluster.metadata.name);
    return this.#d.admins.for(key, bootstrapOf(cluster, this.#d.bootstrapOverrides));
  }

  async #writeStatus(pass: Pass, failure: Error | undefined): Promise<void> {
    const raw = need(pass.raw);
    const topicName = pass.topicName ?? raw.metadata.name;
    let outcome: Outcome;
    if (pass.invalid !== undefined) outcome = { kind: "invalid", refusal: pass.invalid, topicName };
    else if (failure !== undefined) outcome = { kind: "failed", topicName, message: `${failure.message}; retrying.` };
    else if (pass.outcome !== undefined) outcome = pass.outcome;
    else {
      outcome = {
        kind: "reconciled",
        topicName,
        refusals: pass.refusals,
        ...(pass.topicId === undefined ? {} : { topicId: pass.topicId }),
        ...(pass.partitions === undefined ? {} : { partitions: pass.partitions }),
        ...(pass.progressing === undefined ? {} : { progressing: pass.progressing }),
      };
    }
    const previous = (raw["status"] ?? {}) as KafkaTopicStatus;
    const next = computeTopicStatus(previous, outcome, raw.metadata.generation ?? 0, this.#d.now());
    if (jsonEqual(previous, next)) return;
    await this.#d.client.patchStatus(KINDS.KafkaTopic, raw.metadata.namespace, raw.metadata.name, next);
    await warnOnNewProblem(this.#d.events, raw, previous, next);
  }
}

function kafkaReason(err: KafkaError): string {
  return err.message.slice(err.message.indexOf(": ") + 2);
}
