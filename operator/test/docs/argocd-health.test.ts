// The Argo CD health checks of docs/argocd.md, executed (./argocd.ts: the Lua read from the document itself, run by
// e2e/argocd-lua, which embeds gopher-lua as Argo CD does) over every case the status builders produce. The objects are
// what the operator writes: statuses built by its own pure status builders (computeStatus, computeTopicStatus) from
// the desired state, the roll planner and the restart gates, pass after pass as the reconcilers call them, never
// hand-written JSON. Needs Go. The tier-api tests (operator/test/integration/kafka-cluster.test.ts, kafka-topic.test.ts)
// run the same checks on objects the running operator wrote to a real API server.
import { beforeAll, describe, expect, it } from "vitest";
import {
  KafkaCluster,
  KafkaTopic,
  KafkaUser,
  type KafkaClusterStatus,
  type KafkaTopicStatus,
} from "../../src/api/v1alpha1/index.ts";
import { desired } from "../../src/controllers/kafka-cluster/desired.ts";
import { planRoll, type PodView } from "../../src/controllers/kafka-cluster/roll.ts";
import { gatherFacts } from "../../src/controllers/kafka-cluster/roll-facts.ts";
import { restartBlockers } from "../../src/controllers/kafka-cluster/roll-gates.ts";
import { computeStatus, type Observed } from "../../src/controllers/kafka-cluster/status.ts";
import { computeTopicStatus, type Outcome } from "../../src/controllers/kafka-topic/status.ts";
import { controllerRef } from "../../src/kube/index.ts";
import type { RollProbe } from "../../src/kafka/roll-probe.ts";
import type { ClusterAdmin } from "../../src/kafka/admin-pool.ts";
import { argocdHealth, argocdHealthOf, argocdRunner, healthScripts, type Health } from "./argocd.ts";

const scripts = healthScripts();
const health = argocdHealth;

const clusterHealth = argocdHealthOf;

beforeAll(async () => {
  await argocdRunner();
}, 300_000);

describe("the runner", () => {
  it("fails a script that errors, returns no table, or uses a library Argo CD does not open", async () => {
    const results = await health([
      { script: "return { status = 'Healthy', message = obj.metadata.name }", obj: { metadata: { name: "x" } } },
      { script: "return obj.spec.missing.field", obj: { spec: {} } },
      { script: "return 'Healthy'", obj: {} },
      { script: "return { status = 'Fine' }", obj: {} },
      { script: "return { status = string.upper('healthy') }", obj: {} },
    ]);
    expect(results[0]).toEqual({ status: "Healthy", message: "x" });
    expect(results[1]?.error).toMatch(/attempt to index/);
    expect(results[2]?.error).toMatch(/returned a string, not a table/);
    expect(results[3]).toEqual({ status: "Unknown", message: "Lua returned an invalid health status" });
    expect(results[4]?.error).toMatch(/string/);
  });
});

describe("KafkaCluster health (docs/argocd.md)", () => {
  const NOW = new Date("2026-12-06T12:00:00Z");
  const resource = (generation: number, config: Record<string, string> = {}) => ({
    apiVersion: "tributary.dev/v1alpha1",
    kind: "KafkaCluster",
    metadata: { name: "c", namespace: "ns", uid: "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b", generation },
    spec: { replicas: 3, config },
  });
  /** One pass as the reconciler's render and apply steps see it: the desired state, StatefulSets with `ready` pods. */
  const pass = (raw: ReturnType<typeof resource>, ready: number) => {
    const cluster = KafkaCluster.parse(raw);
    const state = desired(
      { name: "c", namespace: "ns", uid: raw.metadata.uid, spec: cluster.spec },
      controllerRef(raw),
    );
    const statefulSets = state.objects
      .filter((o) => o.kind === "StatefulSet")
      .map((o) => ({ ...o, status: { replicas: 3, readyReplicas: ready } }));
    return { cluster, state, statefulSets };
  };
  const withStatus = (raw: ReturnType<typeof resource>, status: KafkaClusterStatus) => ({ ...raw, status });
  /** The status after a pass over `raw` with `ready` pods per StatefulSet (and what else the pass observed). */
  const statusAfter = (
    raw: ReturnType<typeof resource>,
    ready: number,
    previous: KafkaClusterStatus = {},
    more: Partial<Observed> = {},
  ): KafkaClusterStatus => {
    const p = pass(raw, ready);
    const observed = { desired: p.state, statefulSets: p.statefulSets, spec: p.cluster.spec, ...more };
    return computeStatus(previous, { generation: raw.metadata.generation, ...observed }, NOW);
  };

  it("is Progressing without a status, while pods start, and while the spec is newer than the status", async () => {
    expect(await clusterHealth(resource(1))).toEqual({ status: "Progressing", message: "Waiting for the operator" });
    const status = statusAfter(resource(1), 1);
    expect(await clusterHealth(withStatus(resource(1), status))).toEqual({
      status: "Progressing",
      message: "WaitingForPods: 1/3 brokers ready",
    });
    expect(await clusterHealth(withStatus(resource(2), status))).toEqual({
      status: "Progressing",
      message: "The operator has not observed the latest spec yet",
    });
  });

  it("is Healthy once every broker is Ready", async () => {
    const status = statusAfter(resource(1), 3);
    expect(status.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(await clusterHealth(withStatus(resource(1), status))).toEqual({
      status: "Healthy",
      message: "3 brokers ready",
    });
  });

  it("is Progressing, saying what it waits for, while a rolling restart waits for the ISR", async () => {
    // Generation 1 is Ready; generation 2 changes a config key that needs a restart, so every pod is stale. The
    // roll step plans, asks the gates (a broker is out of an ISR) and holds the restart back, as reconciler.ts does.
    const before = pass(resource(1), 3);
    const ready = statusAfter(resource(1), 3);
    const raw = resource(2, { "num.io.threads": "16" });
    const now = pass(raw, 3);
    const pool = now.state.pools.find((p) => p.role === "broker");
    if (pool === undefined) throw new Error("no broker pool");
    const oldHash = before.state.hashes[pool.name];
    expect(now.state.hashes[pool.name], "num.io.threads needs a restart").not.toBe(oldHash);
    const pods: PodView[] = [0, 1, 2].map((i) => ({
      name: `${pool.name}-${i}`,
      uid: `u${i}`,
      pool: pool.name,
      hash: oldHash,
      image: now.state.image,
      ready: true,
      deleting: false,
    }));
    const roll = planRoll(pods, now.state.pools, now.state.hashes, now.state.image);
    const queued = roll.queue.find((q) => q.name === roll.restart?.name);
    if (queued?.nodeId === undefined) throw new Error("the planner chose no pod");
    const candidate = {
      pod: queued.name,
      nodeId: queued.nodeId,
      broker: true,
      controller: queued.controller,
      ready: queued.ready,
    };
    // orders-0 (RF 3, min.insync.replicas 2) has lost another broker from its ISR: the candidate answers that it
    // cannot stop, the lagging broker that it has not caught up, and the Admin API shows the same ISR.
    const lagging = (candidate.nodeId + 1) % 3;
    const isr = [0, 1, 2].filter((r) => r !== lagging);
    const probe: RollProbe = {
      restartSafety: (brokers) =>
        Promise.resolve(
          brokers.map((b) => {
            const stop = b.nodeId !== candidate.nodeId;
            const caughtUp = b.nodeId !== lagging;
            return {
              pod: b.pod,
              nodeId: b.nodeId,
              answer: {
                brokerId: b.nodeId,
                canStop: stop,
                canStopReasons: stop ? [] : ["orders-0 would fall below min.insync.replicas=2"],
                blockingPartitions: stop ? [] : [{ topic: "orders", partition: 0 }],
                caughtUp,
                caughtUpReasons: caughtUp ? [] : ["orders-0: not in the ISR"],
              },
            };
          }),
        ),
      partitions: () => Promise.resolve([{ topic: "orders", partition: 0, replicas: [0, 1, 2], isr, minIsr: 2 }]),
      quorum: () =>
        Promise.resolve({
          leaderId: 0,
          voters: [0, 1, 2].map((replicaId) => ({ replicaId, lastCaughtUpTimestamp: 5 })),
        }),
    };
    const facts = await gatherFacts(probe, {
      candidate,
      brokers: [0, 1, 2].map((i) => ({ pod: `${pool.name}-${i}`, nodeId: pool.firstNodeId + i, address: "unused" })),
      // The probe above is a fake that never uses the pooled clients it is handed.
      admin: {} as ClusterAdmin,
      controllers: {} as ClusterAdmin,
    });
    const blockers = restartBlockers(candidate, facts);
    delete roll.restart;
    const status = statusAfter(raw, 3, ready, { roll, blocked: { pod: candidate.pod, blockers } });
    const h = await clusterHealth(withStatus(raw, status));
    expect(h.status).toBe("Progressing");
    expect(h.message).toMatch(new RegExp(`^WaitingForIsr: Rolling restart: ${candidate.pod} waits: `));
    expect(h.message).toContain(`restarting ${candidate.pod} would take orders-0`);
    expect(h.message).toContain("has not caught up");
  });

  it("is Degraded on a Warning: a spec the operator refuses, or a failure that repeats", async () => {
    const healthy = statusAfter(resource(1), 3);
    const refused = computeStatus(
      healthy,
      {
        generation: 2,
        statefulSets: [],
        invalid: { reason: "OperatorOwnedConfig", message: "spec.config sets node.id, which the operator manages" },
      },
      NOW,
    );
    expect(await clusterHealth(withStatus(resource(2), refused))).toEqual({
      status: "Degraded",
      message: "OperatorOwnedConfig: spec.config sets node.id, which the operator manages",
    });
    // One failed pass is a blip (Progressing); the second identical one raises Warning (Degraded).
    const failing = { generation: 1, statefulSets: [], failure: "applying StatefulSet/c-broker failed: timeout" };
    const once = computeStatus(healthy, failing, NOW);
    expect((await clusterHealth(withStatus(resource(1), once))).status).toBe("Healthy");
    const twice = computeStatus(once, failing, NOW);
    expect(await clusterHealth(withStatus(resource(1), twice))).toEqual({
      status: "Degraded",
      message: "ReconcileFailing: applying StatefulSet/c-broker failed: timeout",
    });
  });
});

describe("KafkaTopic and KafkaUser health (docs/argocd.md)", () => {
  const NOW = new Date("2026-12-06T12:00:00Z");
  const topic = (status?: KafkaTopicStatus, generation = 1) =>
    KafkaTopic.parse({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaTopic",
      metadata: { name: "orders", namespace: "ns", generation },
      spec: { clusterRef: { name: "c" }, partitions: 3, replicas: 3 },
      ...(status === undefined ? {} : { status }),
    });
  const after = (outcomes: Outcome[]): KafkaTopicStatus =>
    outcomes.reduce<KafkaTopicStatus>((prev, o) => computeTopicStatus(prev, o, 1, NOW), {});
  const topicHealth = async (status?: KafkaTopicStatus, generation = 1): Promise<Health> =>
    (await health([{ script: scripts.KafkaTopic, obj: topic(status, generation) }]))[0] ?? {};
  const reconciled: Outcome = { kind: "reconciled", topicName: "orders", partitions: 3, refusals: [] };

  it("follows Ready and Warning as the topic reconciler writes them", async () => {
    expect(await topicHealth()).toEqual({ status: "Progressing", message: "Waiting for the operator" });
    expect(await topicHealth(after([reconciled]))).toEqual({
      status: "Healthy",
      message: "Topic orders matches the spec.",
    });
    expect(await topicHealth(after([reconciled]), 2)).toEqual({
      status: "Progressing",
      message: "The operator has not observed the latest spec yet",
    });
    const moving: Outcome = {
      ...reconciled,
      progressing: { reason: "ReassignmentInProgress", message: "moving replicas of 3 partition(s)." },
    };
    expect(await topicHealth(after([reconciled, moving]))).toEqual({
      status: "Progressing",
      message: "ReassignmentInProgress: moving replicas of 3 partition(s).",
    });
    const missing: Outcome = { kind: "clusterMissing", topicName: "orders", cluster: "c" };
    expect(await topicHealth(after([missing]))).toEqual({
      status: "Progressing",
      message: "ClusterNotFound: KafkaCluster c does not exist in this namespace.",
    });
    const down: Outcome = { kind: "failed", topicName: "orders", message: "connection refused" };
    expect(await topicHealth(after([reconciled, down]))).toEqual({
      status: "Progressing",
      message: "KafkaUnavailable: connection refused",
    });
    const unmanaged: Outcome = { kind: "unmanaged", topicName: "orders" };
    expect((await topicHealth(after([unmanaged]))).status).toBe("Healthy");
    const decrease: Outcome = {
      ...reconciled,
      refusals: [{ reason: "PartitionDecreaseRefused", message: "Kafka cannot remove partitions." }],
    };
    expect(await topicHealth(after([reconciled, decrease]))).toEqual({
      status: "Degraded",
      message: "PartitionDecreaseRefused: Kafka cannot remove partitions.",
    });
    const conflict: Outcome = { kind: "conflict", topicName: "orders", winner: "older" };
    expect((await topicHealth(after([conflict]))).status).toBe("Degraded");
  });

  it("leaves a KafkaUser Progressing: no reconciler writes its status yet", async () => {
    const user = KafkaUser.parse({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaUser",
      metadata: { name: "app", namespace: "ns", generation: 1 },
      spec: {
        clusterRef: { name: "c" },
        authentication: { type: "scram-sha-512", passwordSecretRef: { name: "app-password" } },
      },
    });
    expect((await health([{ script: scripts.KafkaUser, obj: user }]))[0]).toEqual({
      status: "Progressing",
      message: "Waiting for the operator",
    });
  });
});
