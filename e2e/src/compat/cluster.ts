// A cluster of Tributary nodes for the client conformance suites, started by the multi-process harness
// (broker/test/support/cluster-cli.ts, shared with the Python, Java and Go runners): N combined nodes, formatted,
// with static voters, each on its own loopback ports. TRIBUTARY_COMPAT_NODES=3 makes the suites' shared broker such a
// cluster (docs/compat.md says which tests run on it), TRIBUTARY_COMPAT_RF its topics' replication factor, and
// TRIBUTARY_COMPAT_SYSTEM=kafka a cluster of the reference Apache Kafka instead, to compare a client's behaviour.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { AdminClient } from "@tributary/broker/admin";
import { segmentBytesIn, startCompatBroker, type CompatBroker } from "./broker.ts";

const repo = fileURLToPath(new URL("../../../", import.meta.url));

export interface ClusterNodeInfo {
  id: number;
  port: number;
  logDirs: string;
  log: string;
}

/** The suites' view of a cluster: what a single CompatBroker offers, but stopping and starting one node at a time. */
export interface CompatCluster extends Omit<CompatBroker, "stop" | "start" | "dataDir"> {
  readonly nodes: readonly ClusterNodeInfo[];
  /** The node leading a partition, as a running broker reports it. */
  leader(topic: string, partition: number): Promise<number>;
}

/** TRIBUTARY_COMPAT_NODES: how many nodes the suites' shared broker is (1 unless set). */
export function compatNodes(): number {
  const value = process.env["TRIBUTARY_COMPAT_NODES"] ?? "1";
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`TRIBUTARY_COMPAT_NODES must be 1..9, not ${value}`);
  return n;
}

/**
 * TRIBUTARY_COMPAT_RF: the replication factor of the suites' topics on a cluster (1 unless set), the cluster's
 * default.replication.factor and offsets.topic.replication.factor, with min.insync.replicas 2 above 1.
 */
export function compatReplicationFactor(): number {
  const value = process.env["TRIBUTARY_COMPAT_RF"] ?? "1";
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > compatNodes()) {
    throw new Error(`TRIBUTARY_COMPAT_RF must be 1..${compatNodes()} (TRIBUTARY_COMPAT_NODES), not ${value}`);
  }
  return n;
}

/** TRIBUTARY_COMPAT_SYSTEM: what a cluster runs, tributary (the default) or kafka (the reference Apache Kafka). */
function compatSystem(): "tributary" | "kafka" {
  const value = process.env["TRIBUTARY_COMPAT_SYSTEM"] ?? "tributary";
  if (value !== "tributary" && value !== "kafka") {
    throw new Error(`TRIBUTARY_COMPAT_SYSTEM must be tributary or kafka, not ${value}`);
  }
  return value;
}

/** Starts `nodes` combined nodes; resolves once every broker lists all of them. */
export async function startCompatCluster(
  nodes: number,
  overrides: Record<string, string> = {},
): Promise<CompatCluster> {
  const child = spawn(
    join(repo, "node_modules/.bin/tsx"),
    [
      join(repo, "broker/test/support/cluster-cli.ts"),
      "--nodes",
      String(nodes),
      "--rf",
      String(compatReplicationFactor()),
      "--system",
      compatSystem(),
      ...Object.entries(overrides).flatMap(([k, v]) => ["--config", `${k}=${v}`]),
    ],
    // stdin stays open: the harness stops the nodes when it closes, so they go with this process however it ends.
    { cwd: repo, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // The harness has its own deadlines (each node's start, then every broker listing the others) and exits on them.
  // Every line the harness prints answers the oldest waiting reader: first the cluster, then each command.
  const readers: ((line: string | undefined) => void)[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (l) => readers.shift()?.(l));
  lines.once("close", () => {
    for (const r of readers.splice(0)) r(undefined);
  });
  const nextLine = () => new Promise<string | undefined>((resolve) => readers.push(resolve));
  const line = await nextLine();
  if (line === undefined) {
    const code = await exited;
    throw new Error(`cluster-cli.ts exited with ${code} without a cluster:\n${stderr}`);
  }
  const info = JSON.parse(line) as { bootstrap: string; nodes: ClusterNodeInfo[] };
  /** One harness command (cluster-cli.ts lists them), answered with one JSON line; rejects on an error answer. */
  const command = async (text: string): Promise<Record<string, unknown>> => {
    const answer = nextLine();
    child.stdin.write(`${text}\n`);
    const said = await answer;
    const parsed = said === undefined ? undefined : (JSON.parse(said) as { ok: boolean; error?: string });
    if (parsed?.ok !== true) throw new Error(`cluster-cli.ts ${text}: ${parsed?.error ?? "exited"}\n${stderr}`);
    return parsed;
  };
  const logTailOf = (id: number): string => {
    const log = info.nodes.find((n) => n.id === id)?.log ?? "";
    return `--- node ${id} ---\n${existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-40).join("\n") : ""}`;
  };
  const leader = async (topic: string, partition: number): Promise<number> =>
    Number((await command(`leader ${topic} ${partition}`))["leader"]);
  return {
    port: info.nodes[0]?.port ?? 0,
    bootstrap: info.bootstrap,
    nodes: info.nodes,
    leader,
    async segmentBytes(topic, partition) {
      const id = await leader(topic, partition);
      const node = info.nodes.find((n) => n.id === id);
      if (node === undefined) throw new Error(`${topic}-${partition}: its leader ${id} is not a node of the cluster`);
      return segmentBytesIn(join(node.logDirs, `${topic}-${partition}`));
    },
    async awaitTopic(topic, partitions) {
      await command(`topic ${topic} ${partitions}`);
    },
    async restartLeaderOf(topic, partition, signal) {
      const victim = await leader(topic, partition);
      const { code } = await command(`stop ${victim} ${signal}`);
      // Our clean shutdown exits 0.
      if (signal === "SIGTERM" && compatSystem() === "tributary" && code !== 0) {
        throw new Error(`node ${victim} exited with ${String(code)} after SIGTERM:\n${logTailOf(victim)}`);
      }
      await command(`start ${victim}`);
    },
    logTail: () => info.nodes.map((n) => logTailOf(n.id)).join("\n"),
    async destroy() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** The broker a suite shares: one process, or a cluster of TRIBUTARY_COMPAT_NODES nodes. */
export function startSharedBroker(overrides: Record<string, string> = {}): Promise<CompatBroker | CompatCluster> {
  const nodes = compatNodes();
  return nodes > 1 ? startCompatCluster(nodes, overrides) : startCompatBroker(overrides);
}

/**
 * The brokers leading __consumer_offsets partitions, through our own admin client (some client libraries hide internal
 * topics). On a cluster they are several brokers, so groups' coordinators spread (docs/compat.md).
 */
export async function offsetsTopicLeaders(bootstrap: string): Promise<Set<number>> {
  const admin = new AdminClient({ bootstrap });
  try {
    const found = (await admin.describeTopics(["__consumer_offsets"])).get("__consumer_offsets");
    return new Set(found?.topic?.partitions.map((p) => p.leader) ?? []);
  } finally {
    admin.close();
  }
}
