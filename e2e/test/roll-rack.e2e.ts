// Parallel restarts within one rack (spec.rollingUpdate.maxParallelSameRack) on tier 3 with three real kubelet nodes
// in zones a, b and c: the chart's operator runs a KafkaCluster of one dedicated KRaft controller and 4 broker-only
// pods, rack-aware on the zone, spread 2/1/1 over the zones (a DoNotSchedule spread constraint of the test's own), under
// an idempotent acks=all producer writing to an RF-3, min.insync.replicas=2 topic (rack-aware assignment: one replica
// per zone, so the two brokers of one zone share no partition and may stop together). Three brokers are asked to
// restart (the manual annotation on their pods): with maxParallelSameRack 2 the two of one zone restart together and
// the third alone, never beside them; with the option back at 1 the two restart one at a time. No acks=all write may
// fail or be lost. FIGURE lines: the placement, each roll's duration and shape, the writes.
import { describe, expect, it } from "vitest";
import { localNodeNames, type Cluster } from "../src/cluster/index.ts";
import { pollUntil } from "../src/cluster/proc.ts";
import { kubeletNodes } from "../src/operator-e2e/nodes.ts";
import { allReplaced, downTogether, watchCluster } from "../src/operator-e2e/roll-watch.ts";
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
import { REPO, chartSuiteUnavailable, figureLog, operatorOnFirstNode } from "./helpers.ts";

const IMAGES = ["broker", "operator", "e2e-client"] as const;
const NODES = 3;
const FIRST_NODE = localNodeNames(NODES)[0] ?? "";
const unavailable =
  (process.env["TRIBUTARY_E2E_KUBECONFIG"] ?? "") !== ""
    ? "the rack roll suite starts its own 3-node tier 3"
    : chartSuiteUnavailable(IMAGES);

const SYSTEM_NS = "tributary-system";
const NS = "roll-rack-e2e";
const RELEASE = "tributary";
const OPERATOR = `${RELEASE}-operator`;
const CLUSTER = "racked";
const TOPIC = "racked-writes";
const ZONE_KEY = "topology.kubernetes.io/zone";
const MANUAL = "tributary.dev/manual-rolling-update";
const KAFKA_CLUSTER = {
  apiVersion: "tributary.dev/v1alpha1",
  kind: "KafkaCluster",
  metadata: { name: CLUSTER },
  spec: {
    replicas: 4,
    // Every broker pod is broker-only (KRaft voters always restart alone). The single controller is never restarted
    // here: with ephemeral storage it would lose the metadata log.
    controller: { mode: "dedicated", replicas: 1 },
    storage: { type: "ephemeral" },
    rack: { topologyKey: ZONE_KEY },
    rollingUpdate: { maxParallelSameRack: 2 },
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
    template: {
      pod: {
        // 4 brokers over 3 zones at a skew of at most 1: exactly one zone holds two.
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: ZONE_KEY,
            whenUnsatisfiable: "DoNotSchedule",
            labelSelector: {
              matchLabels: { "tributary.dev/cluster": CLUSTER, "app.kubernetes.io/component": "broker" },
            },
          },
        ],
      },
    },
    config: {
      "num.partitions": 3,
      "default.replication.factor": 3,
      "min.insync.replicas": 2,
      "offsets.topic.replication.factor": 3,
    },
  },
};
// The operator's restart, a roll of two steps (the pair counts as one), the patch and a roll of two: about 100 s on the
// first run (load average 10-14).
const LOOP_MS = 150_000;

const figures = figureLog();
const figure = (line: string): void => figures.figure(line);

const brokersOf = (pods: readonly ClusterPod[]): ClusterPod[] =>
  pods.filter((p) => p.name.startsWith(`${CLUSTER}-broker-`));

/** The operator's log lines (pino JSON) that announce restarts of several pods of one rack at once. */
async function togetherLines(c: Cluster): Promise<string[]> {
  const log = await c.kubectl(["logs", "-n", SYSTEM_NS, `deployment/${OPERATOR}`, "--tail=-1"]);
  return log.split("\n").filter((l) => / pods of rack \S+ together/.test(l));
}

describe.skipIf(unavailable !== undefined)("rolls: brokers of one rack restart together (tier 3, 3 zones)", () => {
  const cluster = useOperatorSuite({
    start: () => operatorOnFirstNode(NODES),
    namespace: NS,
    postMortem: operatorPostMortem({ systemNs: SYSTEM_NS, release: RELEASE, ns: NS, cluster: CLUSTER }),
    figures,
    figuresTitle: "rack-parallel rolls, tier 3",
  });

  /** The two brokers sharing a zone, and one broker of another zone. */
  let pair: [string, string] = ["", ""];
  let single = "";

  it("4 brokers spread 2/1/1 over three zones, each broker's rack its zone", async () => {
    const c = cluster.get();
    const zones = await kubeletNodes(c);
    expect(zones.map((n) => n.zone).sort()).toEqual(["a", "b", "c"]);
    await installOperator(c, {
      repo: REPO,
      release: RELEASE,
      namespace: SYSTEM_NS,
      set: [`nodeSelector.kubernetes\\.io/hostname=${FIRST_NODE}`],
    });
    const started = Date.now();
    await c.kubectl(["apply", "-n", NS, "-f", "-"], JSON.stringify(KAFKA_CLUSTER));
    await waitClusterReady(c, NS, CLUSTER, 300_000);
    figure(
      `apply a KafkaCluster (1 dedicated controller, 4 brokers, 3 zones) → Ready=True: ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const brokers = brokersOf(await kafkaClusterPods(c, NS, CLUSTER));
    expect(brokers).toHaveLength(4);
    const zoneOf = (p: ClusterPod): string => zones.find((n) => n.name === p.node)?.zone ?? "?";
    const byZone = new Map<string, string[]>();
    for (const p of brokers) byZone.set(zoneOf(p), [...(byZone.get(zoneOf(p)) ?? []), p.name]);
    figure(`${CLUSTER}: brokers by zone ${[...byZone].map(([z, ps]) => `${z}: ${ps.join(", ")}`).join("; ")}`);
    const two = [...byZone.values()].find((ps) => ps.length === 2);
    expect([...byZone.values()].map((ps) => ps.length).sort()).toEqual([1, 1, 2]);
    pair = [two?.[0] ?? "", two?.[1] ?? ""];
    single = brokers.find((p) => !pair.includes(p.name))?.name ?? "";
    // status.racks: the rack the operator read for each broker is its node's zone.
    const racks = JSON.parse(
      await c.kubectl(["get", "kafkacluster", CLUSTER, "-n", NS, "-o", "jsonpath={.status.racks}"]),
    ) as { pod: string; rack?: string }[];
    for (const p of brokers) expect(racks.find((r) => r.pod === p.name)?.rack, p.name).toBe(zoneOf(p));
  });

  it(
    "maxParallelSameRack 2: the two brokers of one zone restart together, the third alone; at 1, one at a time; " +
      "0 failed, 0 lost",
    async () => {
      const c = cluster.get();
      const job = `${CLUSTER}-produce-loop`;
      await c.kubectl(
        ["apply", "-n", NS, "-f", "-"],
        produceLoopJob({ name: job, ns: NS, cluster: CLUSTER, topic: TOPIC, durationMs: LOOP_MS, node: FIRST_NODE }),
      );
      const producingSince = await produceLoopStarted(c, NS, job, TOPIC);

      // Roll 1. The three pods must be stale in the same pass: annotated while the operator is scaled to zero (its
      // restart restarts no broker), so no pass sees one of the pair stale without the other.
      await c.kubectl(["scale", "deployment", OPERATOR, "-n", SYSTEM_NS, "--replicas=0"]);
      await pollUntil("the operator pod gone", 120_000, async () =>
        (await c.kubectl(["get", "pods", "-n", SYSTEM_NS, "-o", "name"])).trim() === "" ? true : undefined,
      );
      const before = await kafkaClusterPods(c, NS, CLUSTER);
      const three = [...pair, single];
      await c.kubectl(["annotate", "pod", ...three, "-n", NS, `${MANUAL}=rack-roll-1`]);
      await c.kubectl(["scale", "deployment", OPERATOR, "-n", SYSTEM_NS, "--replicas=1"]);
      const started = Date.now();
      const first = await watchCluster(
        c,
        NS,
        CLUSTER,
        `${CLUSTER}: ${three.join(", ")} restarted (maxParallelSameRack 2)`,
        240_000,
        ({ pods }) =>
          allReplaced(
            pods.filter((p) => three.includes(p.name)),
            before,
            3,
          ) && brokersOf(pods).every((p) => p.ready && !p.deleting),
        { before, watched: three },
      );
      const together = await togetherLines(c);
      figure(
        `${CLUSTER}: maxParallelSameRack 2: ${three.join(", ")} restarted in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
          `(order ${first.order.join(", ")}; at most ${first.maxDown} down at once; ` +
          `pair down together: ${downTogether(first, pair[0], pair[1])}); operator: ${together.length} together line(s)`,
      );
      expect(downTogether(first, pair[0], pair[1])).toBe(true);
      expect(downTogether(first, single, pair[0])).toBe(false);
      expect(downTogether(first, single, pair[1])).toBe(false);
      expect(first.maxDown).toBe(2);
      expect(together).toHaveLength(1);
      expect(together[0]).toContain(pair[0]);
      expect(together[0]).toContain(pair[1]);

      // Roll 2: the option back at 1 (no restart: it is not broker config); the pair again, one at a time.
      await c.kubectl([
        "patch",
        "kafkacluster",
        CLUSTER,
        "-n",
        NS,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { rollingUpdate: { maxParallelSameRack: 1 } } }),
      ]);
      await waitClusterReady(c, NS, CLUSTER, 60_000);
      const middle = await kafkaClusterPods(c, NS, CLUSTER);
      // Both in one kubectl call: each pod is its own PATCH, so a pass may see one before the other; at 1 it must not
      // matter.
      await c.kubectl(["annotate", "pod", ...pair, "-n", NS, `${MANUAL}=rack-roll-2`]);
      const second = Date.now();
      const sequential = await watchCluster(
        c,
        NS,
        CLUSTER,
        `${CLUSTER}: ${pair.join(", ")} restarted (maxParallelSameRack 1)`,
        240_000,
        ({ pods }) =>
          allReplaced(
            pods.filter((p) => pair.includes(p.name)),
            middle,
            2,
          ) && brokersOf(pods).every((p) => p.ready && !p.deleting),
        { before: middle, watched: [...pair] },
      );
      figure(
        `${CLUSTER}: maxParallelSameRack 1: ${pair.join(", ")} restarted in ${((Date.now() - second) / 1000).toFixed(1)} s ` +
          `(order ${sequential.order.join(", ")}; at most ${sequential.maxDown} down at once)`,
      );
      expect(sequential.maxDown).toBe(1);
      expect(downTogether(sequential, pair[0], pair[1])).toBe(false);
      expect(await togetherLines(c)).toHaveLength(1);

      expect(Date.now()).toBeLessThan(producingSince + LOOP_MS);
      const result = await produceLoopResult(c, NS, job, LOOP_MS + 120_000);
      figure(
        `${CLUSTER}: acks=all writes across both rolls (RF 3 over 3 zones, min.insync.replicas 2): ${result.acked} ` +
          `acked, ${result.failed} failed, ${result.lost} lost; longest send ${result.maxSendMs} ms`,
      );
      expect(result.failed).toBe(0);
      expect(result.lost).toBe(0);
      expect(result.acked).toBeGreaterThan(100);
    },
    LOOP_MS + 240_000,
  );
});

if (unavailable !== undefined) {
  describe("rolls: brokers of one rack restart together (tier 3, 3 zones)", () => {
    it.skip(`skipped: ${unavailable}`, () => undefined);
  });
}
