// A roll HELD by the restart gates, and the per-broker hold, on tier 3 (one real kubelet): the chart's operator runs a
// 3-broker KafkaCluster (combined broker,controller pods) under an idempotent acks=all producer writing to an RF-3,
// min.insync.replicas=2 topic. One broker is paused with SIGSTOP: its process keeps its sockets, so its pod stays Ready
// (TCP probes), but it stops fetching and is dropped from every ISR, so restarting either other broker would take
// partitions below min.insync.replicas. That paused broker also carries tributary.dev/roll-hold. A manual roll is then
// asked for: the operator must delete no pod while the ISRs are short, and say so as progress (Reconciling
// WaitingForIsr, Ready False RollingRestart, no Warning; Argo CD's health check of docs/argocd.md: Progressing), with
// the roll plan naming what blocks each pod. SIGCONT removes the obstacle: the two other brokers roll one at a time,
// the held one stays as it was (RollHeld, Ready True, Argo CD Healthy), and rolls once the hold is removed. No acks=all
// write may fail or be lost. FIGURE lines: how long the roll was held, the restarts after the release, the writes.
import { AdminClient } from "@tributary/broker/admin";
import { describe, expect, it } from "vitest";
import { argocdHealthOf } from "../src/operator-e2e/argocd.ts";
import { signalPod } from "../src/operator-e2e/pod-processes.ts";
import {
  allReplaced,
  conditionOf,
  kafkaClusterView,
  watchCluster,
  type KafkaClusterView,
} from "../src/operator-e2e/roll-watch.ts";
import { operatorPostMortem, useOperatorSuite } from "../src/operator-e2e/suite.ts";
import {
  installOperator,
  kafkaClusterPods,
  produceLoopJob,
  produceLoopResult,
  produceLoopStarted,
  waitClusterReady,
  type ClusterPod,
} from "../src/operator-e2e/workloads.ts";
import { pollUntil } from "../src/cluster/proc.ts";
import { REPO, chartSuiteUnavailable, figureLog, imageArchive, localOrAttached } from "./helpers.ts";

const IMAGES = ["broker", "operator", "e2e-client"] as const;
// SIGSTOP reaches a pod's processes only when its kubelet runs on this machine.
const unavailable =
  (process.env["TRIBUTARY_E2E_KUBECONFIG"] ?? "") !== ""
    ? "the gate suite pauses a broker process on this machine (tier local only)"
    : chartSuiteUnavailable(IMAGES);

const SYSTEM_NS = "tributary-system";
const NS = "roll-gates-e2e";
const RELEASE = "tributary";
const CLUSTER = "gated";
const TOPIC = "gated-writes";
const HOLD = "tributary.dev/roll-hold";
const MANUAL = "tributary.dev/manual-rolling-update";
/** The broker that is paused and held. */
const PAUSED = `${CLUSTER}-broker-2`;
const KAFKA_CLUSTER = {
  apiVersion: "tributary.dev/v1alpha1",
  kind: "KafkaCluster",
  metadata: { name: CLUSTER },
  spec: {
    replicas: 3,
    storage: { type: "ephemeral" },
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
    config: {
      "num.partitions": 3,
      "default.replication.factor": 3,
      "min.insync.replicas": 2,
      "offsets.topic.replication.factor": 3,
      // A paused follower leaves the ISR after this long (Kafka's default is 30 s).
      "replica.lag.time.max.ms": 10_000,
    },
  },
};
// Pause and ISR shrink, the held period, two restarts, the release of the hold and the third took 100 s in all on the
// first run (load average 10-12).
const LOOP_MS = 160_000;
/** How long the test keeps watching a held roll for a deletion: several of the operator's 5 s passes. */
const HELD_MS = 20_000;

const figures = figureLog();
const figure = (line: string): void => figures.figure(line);

/** The brokers of each partition of `topic` that are replicas but not in the ISR, asked of a running broker. */
async function outOfIsr(pods: readonly ClusterPod[], topic: string, asked: string): Promise<number[]> {
  const pod = pods.find((p) => p.name === asked);
  if (pod === undefined || pod.ip === "") throw new Error(`${asked} has no pod IP`);
  const admin = new AdminClient({ bootstrap: `${pod.ip}:9092`, requestTimeoutMs: 5_000, connectTimeoutMs: 2_000 });
  try {
    const lookup = (await admin.describeTopics([topic])).get(topic);
    return (lookup?.topic?.partitions ?? []).flatMap((p) => p.replicas.filter((r) => !p.isr.includes(r)));
  } finally {
    admin.close();
  }
}

const stepOf = (view: KafkaClusterView, pod: string): string =>
  JSON.stringify(view.status?.rollPlan?.find((s) => s.pod === pod) ?? null);

describe.skipIf(unavailable !== undefined)(
  "roll gates: a roll held by short ISRs, and the hold annotation (tier 3)",
  () => {
    let paused: ClusterPod | undefined;
    const cluster = useOperatorSuite({
      start: () => localOrAttached(IMAGES.map((i) => imageArchive(i))),
      namespace: NS,
      postMortem: operatorPostMortem({ systemNs: SYSTEM_NS, release: RELEASE, ns: NS, cluster: CLUSTER }),
      figures,
      figuresTitle: "roll gates, tier 3",
      // Never leave a stopped process behind a failed test: the cluster's teardown would wait on it.
      beforeTeardown: () => {
        if (paused === undefined) return;
        try {
          signalPod(paused.uid, "SIGCONT");
        } catch {
          // Already gone.
        }
      },
    });

    it("a 3-broker KafkaCluster becomes Ready", async () => {
      const c = cluster.get();
      await installOperator(c, { repo: REPO, release: RELEASE, namespace: SYSTEM_NS });
      const started = Date.now();
      await c.kubectl(["apply", "-n", NS, "-f", "-"], JSON.stringify(KAFKA_CLUSTER));
      await waitClusterReady(c, NS, CLUSTER, 300_000);
      figure(`apply a 3-broker KafkaCluster → Ready=True: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect(await kafkaClusterPods(c, NS, CLUSTER)).toHaveLength(3);
    });

    it(
      "short ISRs hold the roll (no pod deleted, progressing); once they heal it rolls one at a time; a held broker " +
        "waits for its hold to go; 0 failed, 0 lost",
      async () => {
        const c = cluster.get();
        const job = `${CLUSTER}-produce-loop`;
        await c.kubectl(
          ["apply", "-n", NS, "-f", "-"],
          produceLoopJob({ name: job, ns: NS, cluster: CLUSTER, topic: TOPIC, durationMs: LOOP_MS }),
        );
        const producingSince = await produceLoopStarted(c, NS, job, TOPIC);

        // The obstacle: broker 2 held and paused; the leaders drop it from the ISRs of the writes' topic.
        const before = await kafkaClusterPods(c, NS, CLUSTER);
        paused = before.find((p) => p.name === PAUSED);
        if (paused === undefined) throw new Error(`no pod ${PAUSED}`);
        const pausedId = 2;
        await c.kubectl(["annotate", "pod", PAUSED, "-n", NS, `${HOLD}=true`]);
        const pids = signalPod(paused.uid, "SIGSTOP");
        const pausedAt = Date.now();
        await pollUntil(
          `broker ${pausedId} out of the ISRs of ${TOPIC}`,
          90_000,
          async () => ((await outOfIsr(before, TOPIC, `${CLUSTER}-broker-0`)).includes(pausedId) ? true : undefined),
          [],
          500,
        );
        figure(
          `${PAUSED} paused (SIGSTOP of ${pids.length} process(es)) → out of the ISR of ${TOPIC}: ` +
            `${((Date.now() - pausedAt) / 1000).toFixed(1)} s`,
        );

        // The roll: every pod stale by the manual annotation.
        await c.kubectl(["annotate", "kafkacluster", CLUSTER, "-n", NS, `${MANUAL}=${Date.now()}`]);
        const rollAsked = Date.now();
        let heldSince: number | undefined;
        const held = await watchCluster(
          c,
          NS,
          CLUSTER,
          `${CLUSTER}: the roll held for ${HELD_MS / 1000} s`,
          120_000,
          (s) => {
            if (conditionOf(s.cluster, "Reconciling")?.reason === "WaitingForIsr") heldSince ??= Date.now();
            return heldSince !== undefined && Date.now() - heldSince >= HELD_MS;
          },
        );
        const view = held.last.cluster;
        const reconciling = conditionOf(view, "Reconciling");
        const ready = conditionOf(view, "Ready");
        const plan = view.status?.rollPlan ?? [];
        console.log(`status while held:\n${JSON.stringify(view.status, null, 2)}`);
        figure(
          `${CLUSTER}: roll asked → Reconciling WaitingForIsr: ${(((heldSince ?? 0) - rollAsked) / 1000).toFixed(1)} s; ` +
            `then held ${HELD_MS / 1000} s with no pod deleted; reasons seen ${held.reasons.join(", ")}`,
        );
        // Nothing was deleted while the ISRs were short.
        expect(held.order).toEqual([]);
        expect(held.maxDown).toBe(0);
        // Progress with a reason, not failure: no Warning, Ready False as a roll, and the message names what it waits for.
        expect(reconciling?.status).toBe("True");
        expect(reconciling?.reason).toBe("WaitingForIsr");
        expect(reconciling?.message).toMatch(/below min\.insync\.replicas|cannot stop/);
        expect(conditionOf(view, "Warning")?.status).not.toBe("True");
        expect(`${ready?.status} ${ready?.reason}`).toBe("False RollingRestart");
        // The dry-run plan: the held pod Held, the next one blocked by the gates with the partitions, the last waiting.
        expect(plan.map((s) => s.pod).sort()).toEqual([0, 1, 2].map((i) => `${CLUSTER}-broker-${i}`));
        expect(stepOf(view, PAUSED)).toContain('"state":"Held"');
        expect(stepOf(view, PAUSED)).toContain(HOLD);
        const next = plan.find((s) => s.state === "Next");
        expect(next?.pod, JSON.stringify(plan)).toBeDefined();
        expect((next?.blockedBy ?? []).join("; ")).toMatch(new RegExp(`${TOPIC}-\\d|below min\\.insync\\.replicas`));
        expect(plan.filter((s) => s.state === "Queued").map((s) => s.blockedBy)).toEqual([[`waits for ${next?.pod}`]]);
        const health = await argocdHealthOf(view);
        figure(`Argo CD health (docs/argocd.md, gopher-lua) of the held roll: ${health.status}: ${health.message}`);
        expect(health.status).toBe("Progressing");
        expect(health.message).toMatch(/^WaitingForIsr: Rolling restart: /);

        // The obstacle goes: the paused broker resumes, catches up, and the two others roll one at a time.
        signalPod(paused.uid, "SIGCONT");
        const released = Date.now();
        const others = before.filter((p) => p.name !== PAUSED);
        const rolled = await watchCluster(
          c,
          NS,
          CLUSTER,
          `${CLUSTER}: the two brokers without the hold rolled, the held one left`,
          240_000,
          (s) => {
            const mine = s.pods.filter((p) => p.name !== PAUSED);
            return (
              allReplaced(mine, others, 2) &&
              conditionOf(s.cluster, "Reconciling")?.reason === "RollHeld" &&
              conditionOf(s.cluster, "Ready")?.status === "True"
            );
          },
          { before },
        );
        figure(
          `${CLUSTER}: obstacle removed (SIGCONT) → 2 brokers restarted one at a time, RollHeld: ` +
            `${((Date.now() - released) / 1000).toFixed(1)} s (order ${rolled.order.join(", ")}; ` +
            `reasons ${rolled.reasons.join(", ")})`,
        );
        expect(rolled.maxDown).toBeLessThanOrEqual(1);
        expect(rolled.order.sort()).toEqual(others.map((p) => p.name).sort());
        expect(rolled.last.pods.find((p) => p.name === PAUSED)?.uid).toBe(paused.uid);
        const heldView = rolled.last.cluster;
        expect(heldView.status?.rollPlan?.map((s) => `${s.pod} ${s.state}`)).toEqual([`${PAUSED} Held`]);
        const heldHealth = await argocdHealthOf(heldView);
        figure(`Argo CD health with only the held broker left: ${heldHealth.status}: ${heldHealth.message}`);
        expect(heldHealth.status).toBe("Healthy");
        expect(heldHealth.message).toContain("RollHeld");

        // The hold goes: the last broker rolls and the cluster is reconciled.
        const afterTwo = await kafkaClusterPods(c, NS, CLUSTER);
        await c.kubectl(["annotate", "pod", PAUSED, "-n", NS, `${HOLD}-`]);
        const unheld = Date.now();
        const last = await watchCluster(
          c,
          NS,
          CLUSTER,
          `${CLUSTER}: ${PAUSED} rolled after its hold was removed`,
          180_000,
          (s) =>
            allReplaced(
              s.pods.filter((p) => p.name === PAUSED),
              afterTwo,
              1,
            ) &&
            s.pods.every((p) => p.ready && !p.deleting) &&
            conditionOf(s.cluster, "Reconciling")?.reason === "Reconciled" &&
            conditionOf(s.cluster, "Ready")?.status === "True" &&
            s.cluster.status?.rollPlan === undefined,
          { before: afterTwo },
        );
        paused = undefined;
        figure(
          `${CLUSTER}: hold removed → ${PAUSED} restarted, Reconciled: ${((Date.now() - unheld) / 1000).toFixed(1)} s`,
        );
        expect(last.maxDown).toBeLessThanOrEqual(1);
        expect(last.order).toEqual([PAUSED]);

        // Every step ran while the loop produced.
        expect(Date.now()).toBeLessThan(producingSince + LOOP_MS);
        const result = await produceLoopResult(c, NS, job, LOOP_MS + 120_000);
        figure(
          `${CLUSTER}: acks=all writes across the pause, the held roll and the roll (RF 3, min.insync.replicas 2): ` +
            `${result.acked} acked, ${result.failed} failed, ${result.lost} lost; longest send ${result.maxSendMs} ms`,
        );
        expect(result.failed).toBe(0);
        expect(result.lost).toBe(0);
        expect(result.acked).toBeGreaterThan(100);
        const final = await kafkaClusterView(c, NS, CLUSTER);
        expect((await argocdHealthOf(final)).status).toBe("Healthy");
      },
      LOOP_MS + 240_000,
    );
  },
);

if (unavailable !== undefined) {
  describe("roll gates: a roll held by short ISRs, and the hold annotation (tier 3)", () => {
    it.skip(`skipped: ${unavailable}`, () => undefined);
  });
}
