// Node drain (issue 13) on tier 3 with three real kubelet nodes in zones a, b and c: the chart's operator runs a
// 3-broker KafkaCluster (combined broker,controller pods, rack-aware, ephemeral storage) spread over the nodes, an
// idempotent acks=all producer writes to an RF-3, min.insync.replicas=2 topic from a node that stays, and
// `kubectl drain` empties a node holding a broker. The drain must complete, the broker must come back Ready on another
// node (with an emptyDir it starts empty and re-replicates from its peers), and no acks=all write may fail or be lost.
// Prints FIGURE lines: drain duration, broker back Ready, longest send.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { binDir, localNodeNames, type Cluster } from "../src/cluster/index.ts";
import { pollUntil, run } from "../src/cluster/proc.ts";
import {
  installOperator,
  jsonpath,
  kafkaClusterPods,
  produceLoopJob,
  produceLoopResult,
  produceLoopStarted,
  waitClusterReady,
} from "../src/operator-e2e/workloads.ts";
import {
  REPO,
  chartSuiteUnavailable,
  figureLog,
  imageArchive,
  localOrAttached,
  printKubectl,
  useCluster,
} from "./helpers.ts";

const IMAGES = ["broker", "operator", "e2e-client"] as const;
const NODES = 3;
const FIRST_NODE = localNodeNames(NODES)[0] ?? "";
// An attached cluster (make e2e KIND=1) has as many nodes as it was made with; this suite makes its own three.
const unavailable =
  (process.env["TRIBUTARY_E2E_KUBECONFIG"] ?? "") !== ""
    ? "the drain suite starts its own 3-node tier 3"
    : chartSuiteUnavailable(IMAGES);

const SYSTEM_NS = "tributary-system";
const NS = "drain-e2e";
const RELEASE = "tributary";
const CLUSTER = "spread";
const TOPIC = "drained";
const ZONE_KEY = "topology.kubernetes.io/zone";
const KAFKA_CLUSTER = {
  apiVersion: "tributary.dev/v1alpha1",
  kind: "KafkaCluster",
  metadata: { name: CLUSTER },
  spec: {
    replicas: 3,
    storage: { type: "ephemeral" },
    rack: { topologyKey: ZONE_KEY },
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
    // RF 3 and min.insync.replicas 2 everywhere: the derived PodDisruptionBudget allows one broker down at a time.
    config: {
      "num.partitions": 3,
      "default.replication.factor": 3,
      "min.insync.replicas": 2,
      "offsets.topic.replication.factor": 3,
    },
  },
};
const figures = figureLog();
const figure = (line: string): void => figures.figure(line);

interface NodeView {
  name: string;
  zone: string;
  ready: boolean;
}
async function nodes(c: Cluster): Promise<NodeView[]> {
  const out = await c.kubectl([
    "get",
    "nodes",
    "-o",
    jsonpath(
      `{range .items[*]}{.metadata.name} {.metadata.labels.topology\\.kubernetes\\.io/zone}. ` +
        `{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}`,
    ),
  ]);
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [name = "", zone = "", ready = ""] = l.trim().split(" ");
      return { name, zone: zone.slice(0, -1), ready: ready === "True" };
    });
}

async function operatorNode(c: Cluster): Promise<string> {
  return c.kubectl([
    "get",
    "pods",
    "-n",
    SYSTEM_NS,
    "-l",
    `app.kubernetes.io/instance=${RELEASE}`,
    "--field-selector=status.phase=Running",
    "-o",
    jsonpath("{.items[0].spec.nodeName}"),
  ]);
}

describe.skipIf(unavailable !== undefined)(
  "node drain: a broker's node drained under acks=all writes (tier 3, 3 nodes)",
  () => {
    const cluster = useCluster(async () => {
      // Brokers run everywhere; the operator and the producer are pinned to the first node, which stays.
      const c = await localOrAttached([imageArchive("broker")], {
        nodes: NODES,
        firstNodeImages: [imageArchive("operator"), imageArchive("e2e-client")],
      });
      await c.kubectl(["create", "namespace", NS]);
      return c;
    });
    // Registered after useCluster's hooks, so it runs before the cluster stops.
    afterAll(async () => {
      const c = cluster.get();
      if (cluster.failed()) {
        await printKubectl(c, [
          ["logs", "-n", SYSTEM_NS, `deployment/${RELEASE}-operator`, "--tail=200"],
          ["get", "kafkacluster", "-A", "-o", "yaml"],
          ["get", "pods,pdb", "-A", "-o", "wide"],
          ["get", "events", "-n", NS, "--sort-by=.lastTimestamp"],
          ["logs", "-n", NS, "-l", `tributary.dev/cluster=${CLUSTER}`, "--all-containers", "--prefix", "--tail=60"],
        ]);
      }
      figures.print("drain, tier 3");
    });

    it(`${NODES} kubelet nodes, one per zone, all Ready`, async () => {
      const all = await nodes(cluster.get());
      expect(all.every((n) => n.ready)).toBe(true);
      expect(all.map((n) => n.zone).sort()).toEqual(["a", "b", "c"]);
      figure(`tier 3 with ${all.length} kubelet nodes: Ready in ${(cluster.get().startMs / 1000).toFixed(1)} s`);
    });

    it("a 3-broker KafkaCluster spreads over the three nodes and zones", async () => {
      const c = cluster.get();
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
        `apply a rack-aware 3-broker KafkaCluster on 3 nodes → Ready=True: ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      const pods = await kafkaClusterPods(c, NS, CLUSTER);
      expect(pods).toHaveLength(3);
      // The rack spread constraint is ScheduleAnyway, but with three empty nodes the scheduler puts one on each.
      expect(new Set(pods.map((p) => p.node)).size).toBe(3);
      const racks = await c.kubectl([
        "get",
        "kafkacluster",
        CLUSTER,
        "-n",
        NS,
        "-o",
        jsonpath("{.status.racks[*].rack}"),
      ]);
      expect(racks.split(" ").sort()).toEqual(["a", "b", "c"]);
      figure(`${CLUSTER}: brokers on ${pods.map((p) => `${p.name}@${p.node}`).join(", ")}; status.racks ${racks}`);
    });

    it("kubectl drain of a broker's node completes; the broker comes back Ready elsewhere; 0 failed, 0 lost", async () => {
      const c = cluster.get();
      // The operator and the producer run on the first node (pinned, their images are only there), and the drained
      // node is another one with a broker, so the drain moves exactly one broker and nothing the test depends on.
      const keep = FIRST_NODE;
      expect(await operatorNode(c)).toBe(keep);
      const before = await kafkaClusterPods(c, NS, CLUSTER);
      const victim = before.find((p) => p.node !== keep && p.node !== "");
      if (victim === undefined) throw new Error(`no broker on a node other than the operator's (${keep})`);
      const drained = victim.node;

      // The budget the operator derived: RF 3 minus min.insync.replicas 2 lets one broker be evicted at a time.
      const budget = await c.kubectl(["get", "pdb", "-n", NS, "-o", jsonpath("{.items[*].spec.maxUnavailable}")]);
      expect(budget).toBe("1");

      const job = `${CLUSTER}-produce-loop`;
      // The drain and the move took 17 s on a loaded machine (load average 28); a minute of writes covers them.
      const loopMs = 60_000;
      await c.kubectl(
        ["apply", "-n", NS, "-f", "-"],
        produceLoopJob({ name: job, ns: NS, cluster: CLUSTER, topic: TOPIC, durationMs: loopMs, node: keep }),
      );
      const producingSince = await produceLoopStarted(c, NS, job, TOPIC);

      const started = Date.now();
      const drain = await run(
        join(binDir(), "kubectl"),
        [
          `--kubeconfig=${c.kubeconfig}`,
          "drain",
          drained,
          "--ignore-daemonsets",
          "--delete-emptydir-data",
          "--timeout=240s",
        ],
        { timeoutMs: 260_000 },
      );
      const drainMs = Date.now() - started;
      const output = `${drain.stdout}\n${drain.stderr}`;
      console.log(`kubectl drain ${drained}:\n${output}`);
      // Evictions the PodDisruptionBudget refused and kubectl retried (the operator or an earlier eviction had a broker down).
      const refused = (output.match(/disruption budget/g) ?? []).length;
      figure(
        `kubectl drain ${drained} (held ${victim.name}) completed in ${(drainMs / 1000).toFixed(1)} s; evictions refused by the PDB: ${refused}`,
      );

      const moved = await pollUntil(
        `${victim.name} back Ready on another node`,
        240_000,
        async () => {
          const now = await kafkaClusterPods(c, NS, CLUSTER);
          const back = now.find((p) => p.name === victim.name);
          const done =
            now.length === 3 &&
            now.every((p) => p.ready && !p.deleting && p.node !== drained) &&
            back !== undefined &&
            back.uid !== victim.uid;
          return done ? { pods: now, at: Date.now() } : undefined;
        },
        [],
        250,
      );
      const placed = moved.pods.find((p) => p.name === victim.name)?.node ?? "?";
      figure(
        `${victim.name}: ${drained} → ${placed}, Ready ${((moved.at - started) / 1000).toFixed(1)} s after the drain began`,
      );
      // Who deleted the pod: the operator's own restart (its log names the cordoned node) or the drain's eviction.
      const operatorLog = await c.kubectl(["logs", "-n", SYSTEM_NS, `deployment/${RELEASE}-operator`, "--tail=-1"]);
      const byOperator = operatorLog
        .split("\n")
        .some((l) => l.includes(`Restarted pod ${victim.name}`) && l.includes(`node ${drained}`));
      figure(
        `${victim.name} left ${drained} by ${byOperator ? "the operator's restart (node cordoned)" : "the drain's eviction"}`,
      );
      await waitClusterReady(c, NS, CLUSTER, 120_000);

      // The drain and the move ended while the loop still produced, so every step of them was under load.
      expect(Date.now()).toBeLessThan(producingSince + loopMs);
      const result = await produceLoopResult(c, NS, job, loopMs + 120_000);
      figure(
        `${CLUSTER}: acks=all writes across the drain (RF 3, min.insync.replicas 2): ${result.acked} acked, ` +
          `${result.failed} failed, ${result.lost} lost; longest send ${result.maxSendMs} ms`,
      );
      expect(result.failed).toBe(0);
      expect(result.lost).toBe(0);
      expect(result.acked).toBeGreaterThan(100);
      const unschedulable = await c.kubectl(["get", "node", drained, "-o", jsonpath("{.spec.unschedulable}")]);
      expect(unschedulable).toBe("true");
    });
  },
);

if (unavailable !== undefined) {
  describe("node drain: a broker's node drained under acks=all writes (tier 3, 3 nodes)", () => {
    it.skip(`skipped: ${unavailable}`, () => undefined);
  });
}
