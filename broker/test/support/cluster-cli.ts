import { createInterface } from "node:readline";
import { AdminClient } from "../../src/admin/index.ts";
import { pollUntil } from "./broker-process.ts";
import { startCluster, type Cluster, type ClusterSystem } from "./cluster.ts";

// The multi-process cluster harness (cluster.ts) for test runners in other languages: the client conformance suites
// in Python, Java, Go and the Node ones (e2e/compat, docs/compat.md) start a Tributary cluster through it rather than
// each spawning and formatting nodes its own way.
//
//   npx tsx broker/test/support/cluster-cli.ts [--nodes 3] [--rf 1] [--system tributary] [--config key=value]...
//
// Starts N combined nodes (formatted with tributary-storage, static voters, PLAINTEXT + CONTROLLER listeners on free
// loopback ports), waits until every broker lists all N in Metadata with the one cluster id, then prints one JSON
// line on stdout: {"clusterId","bootstrap","nodes":[{"id","port","controllerPort","dir","logDirs","log"}]}. The nodes run
// until stdin closes (the runner exited, however it died) or SIGTERM/SIGINT; then they are killed and their
// directories deleted. On a failed start it prints each node's output tail on stderr and exits 1. Meanwhile it takes
// commands on stdin (see below).
//
// --rf N is the replication factor of the suites' topics: default.replication.factor and
// offsets.topic.replication.factor N, and min.insync.replicas 2 when N > 1 (issue 12's RF-3 runs); --config keys come
// after it and win. --system kafka starts the same cluster of the reference Apache Kafka (`make reference-kafka`), to
// compare a client's behaviour against ours with the same suite.

interface Args {
  nodes: number;
  rf: number;
  system: ClusterSystem;
  config: Record<string, string>;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { nodes: 3, rf: 1, system: "tributary", config: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`cluster-cli: ${flag} needs a value`);
    i++;
    if (flag === "--nodes") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`cluster-cli: --nodes must be 1..9, not ${value}`);
      args.nodes = n;
    } else if (flag === "--rf") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`cluster-cli: --rf must be 1..9, not ${value}`);
      args.rf = n;
    } else if (flag === "--system") {
      if (value !== "tributary" && value !== "kafka") {
        throw new Error(`cluster-cli: --system must be tributary or kafka, not ${value}`);
      }
      args.system = value;
    } else if (flag === "--config") {
      const eq = value.indexOf("=");
      if (eq <= 0) throw new Error(`cluster-cli: --config wants key=value, not ${value}`);
      args.config[value.slice(0, eq)] = value.slice(eq + 1);
    } else {
      throw new Error(
        `cluster-cli: unknown argument ${flag} (use --nodes N, --rf N, --system tributary|kafka, --config key=value)`,
      );
    }
  }
  if (args.rf > args.nodes) throw new Error(`cluster-cli: --rf ${args.rf} needs at least ${args.rf} nodes`);
  return args;
}

/** The server.properties keys that --rf stands for. */
function replicationConfig(rf: number): Record<string, string> {
  return {
    "default.replication.factor": String(rf),
    "offsets.topic.replication.factor": String(rf),
    "min.insync.replicas": rf > 1 ? "2" : "1",
  };
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  let cluster: Cluster | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<never> => {
    stopping = true;
    await cluster?.destroy();
    process.exit(code);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void stop(0));
  // stdin closing is the runner going away, even by kill -9: the nodes must not outlive it. Commands that arrive
  // before the cluster is up wait for it.
  const lines = createInterface({ input: process.stdin });
  lines.once("close", () => void stop(0));
  const early: string[] = [];
  let onLine = (line: string): void => void early.push(line);
  lines.on("line", (line) => onLine(line));

  try {
    cluster = await startCluster({
      system: args.system,
      topology: { combined: args.nodes },
      config: { ...replicationConfig(args.rf), ...args.config },
    });
    await cluster.waitForBrokers(60_000);
  } catch (err) {
    if (stopping) return;
    process.stderr.write(
      `cluster-cli: the cluster did not start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    for (const n of cluster?.nodes ?? []) {
      process.stderr.write(`--- node ${n.id} output (tail) ---\n${cluster?.output(n.id).slice(-3000) ?? ""}\n`);
    }
    await stop(1);
    return;
  }
  const c = cluster;
  const description = {
    clusterId: c.clusterId,
    bootstrap: c.bootstrap(),
    nodes: c.nodes.map((n) => ({
      id: n.id,
      port: n.clientPort,
      controllerPort: n.controllerPort,
      dir: n.dir,
      logDirs: `${n.dir}/logs`,
      log: `${n.dir}/output.log`,
    })),
  };
  process.stdout.write(`${JSON.stringify(description)}\n`);

  // Commands, one per line, each answered with one JSON line ({"ok":true,...} or {"ok":false,"error":"..."}), in order:
  //   topic <name> <partitions>   waits (up to 30 s) until every running broker lists the topic with that many
  //                               partitions, each with a leader. A broker learns of a topic when it applies the
  //                               controller's records, so right after CreateTopics some may not know it yet, as with
  //                               Kafka, whose own integration tests wait the same way after creating a topic.
  //   leader <topic> <partition>  {"ok":true,"leader":id}: the partition's leader as a running broker reports it
  //                               (waits up to 30 s for one).
  //   stop <id> SIGTERM|SIGKILL   stops node id (a SIGTERM that hangs becomes SIGKILL after 30 s):
  //                               {"ok":true,"code":exit code or null when killed by a signal}.
  //   start <id>                  starts a stopped node again on its ports and data, and waits until every running
  //                               broker lists all the running brokers.
  let chain = Promise.resolve();
  const run = (line: string): void => {
    chain = chain.then(async () => {
      let answer: { ok: boolean; error?: string; [key: string]: unknown };
      try {
        answer = { ok: true, ...(await command(c, line)) };
      } catch (err) {
        answer = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
      process.stdout.write(`${JSON.stringify(answer)}\n`);
    });
  };
  for (const line of early) run(line);
  onLine = run;
}

const USAGE = "topic <name> <partitions> | leader <topic> <partition> | stop <id> SIGTERM|SIGKILL | start <id>";

async function command(c: Cluster, line: string): Promise<Record<string, unknown>> {
  const [verb, a, b, ...rest] = line.trim().split(/\s+/);
  const count = (v: string | undefined): number => {
    if (!/^[0-9]+$/.test(v ?? "")) throw new Error(`unknown command ${JSON.stringify(line)} (${USAGE})`);
    return Number(v);
  };
  if (rest.length > 0 || a === undefined) throw new Error(`unknown command ${JSON.stringify(line)} (${USAGE})`);
  switch (verb) {
    case "topic": {
      const partitions = count(b);
      if (partitions === 0) throw new Error("topic: a topic has at least one partition");
      await everyBrokerLists(c, a, partitions);
      return {};
    }
    case "leader":
      return { leader: await leaderOf(c, a, count(b)) };
    case "stop": {
      const id = count(a);
      if (b !== "SIGTERM" && b !== "SIGKILL") throw new Error(`stop: the signal is SIGTERM or SIGKILL, not ${b}`);
      c.node(id);
      if (!c.isRunning(id)) throw new Error(`stop: node ${id} is not running`);
      return { code: await c.kill(id, b) };
    }
    case "start": {
      const id = count(a);
      if (b !== undefined) throw new Error(`unknown command ${JSON.stringify(line)} (${USAGE})`);
      await c.restart(id);
      await c.waitForBrokers(60_000);
      return {};
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(line)} (${USAGE})`);
  }
}

async function leaderOf(c: Cluster, topic: string, partition: number): Promise<number> {
  const running = c.brokers.filter((n) => c.isRunning(n.id)).map((n) => `127.0.0.1:${n.clientPort}`);
  const admin = new AdminClient({ bootstrap: running.join(","), requestTimeoutMs: 5_000 });
  let leader = -1;
  let said = "nothing yet";
  try {
    await pollUntil(
      `a leader of ${topic}-${partition}`,
      async () => {
        const found = (await admin.describeTopics([topic])).get(topic);
        const p = found?.topic?.partitions.find((x) => x.partition === partition);
        said = found?.error?.message ?? (p === undefined ? "no such partition" : `leader ${p.leader}`);
        leader = p?.leader ?? -1;
        return leader >= 0;
      },
      30_000,
    );
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; it said: ${said}`, { cause: err });
  } finally {
    admin.close();
  }
  return leader;
}

async function everyBrokerLists(c: Cluster, topic: string, partitions: number): Promise<void> {
  await Promise.all(
    c.brokers
      .filter((n) => c.isRunning(n.id))
      .map(async (n) => {
        // Bound to this broker alone (no retries, one bootstrap address), so the answer is this broker's view.
        const admin = new AdminClient({ bootstrap: `127.0.0.1:${n.clientPort}`, retries: 0, requestTimeoutMs: 5_000 });
        let said = "nothing yet";
        try {
          await pollUntil(
            `node ${n.id} to list ${topic} with ${partitions} partitions and their leaders`,
            async () => {
              const found = (await admin.describeTopics([topic])).get(topic);
              const ps = found?.topic?.partitions ?? [];
              said = found?.error?.message ?? `${ps.length} partitions, leaders ${ps.map((p) => p.leader).join(",")}`;
              return ps.length === partitions && ps.every((p) => p.leader >= 0 && p.error === undefined);
            },
            30_000,
          );
        } catch (err) {
          throw new Error(`${err instanceof Error ? err.message : String(err)}; it said: ${said}`, { cause: err });
        } finally {
          admin.close();
        }
      }),
  );
}

await main();
