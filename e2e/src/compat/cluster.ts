// A cluster of Tributary nodes for the client conformance suites, started by the multi-process harness
// (broker/test/support/cluster-cli.ts, shared with the Python, Java and Go runners): N combined nodes, formatted,
// with static voters, each on its own loopback ports. TRIBUTARY_COMPAT_NODES=3 makes the suites' shared broker such a
// cluster (docs/compat.md says which tests run on it).
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

/** The suites' view of a cluster: what a single CompatBroker offers, less stopping and starting it. */
export interface CompatCluster extends Omit<CompatBroker, "stop" | "start" | "dataDir"> {
  readonly nodes: readonly ClusterNodeInfo[];
}

/** TRIBUTARY_COMPAT_NODES: how many nodes the suites' shared broker is (1 unless set). */
export function compatNodes(): number {
  const value = process.env["TRIBUTARY_COMPAT_NODES"] ?? "1";
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`TRIBUTARY_COMPAT_NODES must be 1..9, not ${value}`);
  return n;
}

/** Starts `nodes` combined nodes; resolves once every broker lists all of them. */
export async function startCompatCluster(
  nodes: number,
  overrides: Record<string, string> = {},
): Promise<CompatCluster> {
  const settings = { "offsets.topic.replication.factor": "1", ...overrides };
  const child = spawn(
    join(repo, "node_modules/.bin/tsx"),
    [
      join(repo, "broker/test/support/cluster-cli.ts"),
      "--nodes",
      String(nodes),
      ...Object.entries(settings).flatMap(([k, v]) => ["--config", `${k}=${v}`]),
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
  const partitionDir = (topic: string, partition: number): string => {
    const dirs = info.nodes.map((n) => join(n.logDirs, `${topic}-${partition}`)).filter((d) => existsSync(d));
    if (dirs.length !== 1) throw new Error(`${topic}-${partition} is on ${dirs.length} nodes: ${dirs.join(", ")}`);
    return dirs[0] ?? "";
  };
  return {
    port: info.nodes[0]?.port ?? 0,
    bootstrap: info.bootstrap,
    nodes: info.nodes,
    segmentBytes: (topic, partition) => segmentBytesIn(partitionDir(topic, partition)),
    async awaitTopic(topic, partitions) {
      const answer = nextLine();
      child.stdin.write(`topic ${topic} ${partitions}\n`);
      const said = await answer;
      if (said === undefined || !(JSON.parse(said) as { ok: boolean }).ok) {
        throw new Error(`cluster-cli.ts: ${said ?? "exited"}\n${stderr}`);
      }
    },
    logTail: () =>
      info.nodes
        .map(
          (n) =>
            `--- node ${n.id} ---\n${existsSync(n.log) ? readFileSync(n.log, "utf8").split("\n").slice(-40).join("\n") : ""}`,
        )
        .join("\n"),
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
