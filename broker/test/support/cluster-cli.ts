import { createInterface } from "node:readline";
import { AdminClient } from "../../src/admin/index.ts";
import { pollUntil } from "./broker-process.ts";
import { startCluster, type Cluster } from "./cluster.ts";

// The multi-process cluster harness (cluster.ts) for test runners in other languages: the client conformance suites
// in Python, Java, Go and the Node ones (e2e/compat, docs/compat.md) start a Tributary cluster through it rather than
// each spawning and formatting nodes its own way.
//
//   npx tsx broker/test/support/cluster-cli.ts [--nodes 3] [--config key=value]...
//
// Starts N combined nodes (formatted with tributary-storage, static voters, PLAINTEXT + CONTROLLER listeners on free
// loopback ports), waits until every broker lists all N in Metadata with the one cluster id, then prints one JSON
// line on stdout: {"clusterId","bootstrap","nodes":[{"id","port","controllerPort","dir","logDirs","log"}]}. The nodes run
// until stdin closes (the runner exited, however it died) or SIGTERM/SIGINT; then they are killed and their
// directories deleted. On a failed start it prints each node's output tail on stderr and exits 1. Meanwhile it takes
// commands on stdin (see below).

interface Args {
  nodes: number;
  config: Record<string, string>;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { nodes: 3, config: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`cluster-cli: ${flag} needs a value`);
    i++;
    if (flag === "--nodes") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`cluster-cli: --nodes must be 1..9, not ${value}`);
      args.nodes = n;
    } else if (flag === "--config") {
      const eq = value.indexOf("=");
      if (eq <= 0) throw new Error(`cluster-cli: --config wants key=value, not ${value}`);
      args.config[value.slice(0, eq)] = value.slice(eq + 1);
    } else {
      throw new Error(`cluster-cli: unknown argument ${flag} (use --nodes N, --config key=value)`);
    }
  }
  return args;
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
    cluster = await startCluster({ system: "tributary", topology: { combined: args.nodes }, config: args.config });
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

  // Commands, one per line, each answered with one JSON line ({"ok":true} or {"ok":false,"error":"..."}), in order:
  //   topic <name> <partitions>   waits (up to 30 s) until every broker lists the topic with that many partitions,
  //                               each with a leader. A broker learns of a topic when it applies the controller's
  //                               records, so right after CreateTopics some may not know it yet, as with Kafka, whose
  //                               own integration tests wait the same way after creating a topic.
  let chain = Promise.resolve();
  const run = (line: string): void => {
    chain = chain.then(async () => {
      const [command, name, count] = line.trim().split(/\s+/);
      let answer: { ok: boolean; error?: string };
      try {
        if (command !== "topic" || name === undefined || !/^[1-9][0-9]*$/.test(count ?? "")) {
          throw new Error(`unknown command ${JSON.stringify(line)} (topic <name> <partitions>)`);
        }
        await everyBrokerLists(c, name, Number(count));
        answer = { ok: true };
      } catch (err) {
        answer = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
      process.stdout.write(`${JSON.stringify(answer)}\n`);
    });
  };
  for (const line of early) run(line);
  onLine = run;
}

async function everyBrokerLists(c: Cluster, topic: string, partitions: number): Promise<void> {
  await Promise.all(
    c.brokers.map(async (n) => {
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
