import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BrokerConnection } from "../../src/admin/connection.ts";
import { AdminClient, type QuorumDescription } from "../../src/admin/index.ts";
import { DescribeClusterRequest, DescribeClusterResponse } from "../../src/protocol/index.ts";
import { randomKafkaUuid } from "../../src/storage/kafka-uuid.ts";
import { binPath, cleanEnv } from "./bin.ts";
import { canConnect, freePorts, pollUntil } from "./broker-process.ts";

// A cluster of real broker processes on loopback, for tests and benchmarks that need several nodes: either Tributary
// (broker/bin/tributary-broker) or the reference Apache Kafka (e2e/reference-kafka, `make reference-kafka`), set up the
// same way — every node's storage formatted with one cluster id by the system's own storage tool, one
// server.properties per node with static voters (controller.quorum.voters) on free loopback ports, then every node
// started at once. Topologies: N combined nodes (process.roles=broker,controller) or C controllers plus B brokers.

const execFileAsync = promisify(execFile);
const KAFKA_SH = fileURLToPath(new URL("../../../e2e/reference-kafka/kafka.sh", import.meta.url));

export type ClusterSystem = "tributary" | "kafka";
export type NodeRole = "broker" | "controller";

export type ClusterTopology =
  /** N nodes that are each broker and controller (ids 1..N by default; see firstNodeId). */
  | { combined: number }
  /** C controller-only nodes (ids 1..C) and B broker-only nodes (ids C+1..C+B), shifted by firstNodeId - 1. */
  | { controllers: number; brokers: number };

export interface ClusterOptions {
  system: ClusterSystem;
  topology: ClusterTopology;
  /** server.properties keys for every node, after the harness's own (so they win). */
  config?: Readonly<Record<string, string>>;
  /** server.properties keys for one node (e.g. its broker.rack), after `config`. */
  nodeConfig?: (nodeId: number) => Readonly<Record<string, string>>;
  /** JVM heap of each Kafka node (-Xms/-Xmx). @default "512M" */
  kafkaHeap?: string;
  /** How long one node may take to start. @default 90 000 */
  startTimeoutMs?: number;
  /** Keep the nodes' directories after destroy() (to read their logs). @default false */
  keepDirs?: boolean;
  /** Tributary only: node flags before the executable (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[];
  /** Tributary only: the tributary-broker executable to run (another build, for before/after figures). */
  tributaryBin?: string;
  /**
   * The address each node listens on and is reached at. @default "127.0.0.1" for every node. The chaos harness
   * (broker/test/chaos) gives each node its own network namespace and address, so it can cut links between them.
   */
  host?: (nodeId: number) => string;
  /**
   * Node id of the first node; the others follow in order (controllers first). @default 1. The operator's tests use 0,
   * the id its StatefulSet ordinal 0 gets.
   */
  firstNodeId?: number;
  /** A command the node's process is started through (e.g. ["ip", "netns", "exec", name]); it must exec, not fork. */
  wrap?: (nodeId: number) => readonly string[];
  /** Called for each node once its directory exists, before its storage is formatted (e.g. to mount its log dir). */
  prepare?: (node: ClusterNode) => void;
  /**
   * KIP-853 dynamic voters instead of static ones: every node gets controller.quorum.bootstrap.servers (all the
   * controllers) and no controller.quorum.voters; the first controller is formatted with --standalone (the only
   * initial voter), the other controllers with --no-initial-controllers (they start as observers, to be added with
   * kafka-metadata-quorum add-controller). @default false
   */
  dynamicVoters?: boolean;
  /** Extra arguments of every node's storage format (e.g. `--release-version 4.0-IV1`, `--feature x=1`). */
  formatArgs?: readonly string[];
}

export interface ClusterNode {
  readonly id: number;
  readonly roles: readonly NodeRole[];
  /** The address its listeners are on (127.0.0.1 unless the cluster was given `host`). */
  readonly host: string;
  /** The PLAINTEXT listener on `host`; undefined on a controller-only node. */
  readonly clientPort: number | undefined;
  /** The CONTROLLER listener on `host`; undefined on a broker-only node. */
  readonly controllerPort: number | undefined;
  /** Holds server.properties, output.log and logs/ (log.dirs). */
  readonly dir: string;
}

export interface Cluster {
  readonly system: ClusterSystem;
  /** The id every node's storage was formatted with (22 characters, base64url). */
  readonly clusterId: string;
  readonly nodes: readonly ClusterNode[];
  /** Nodes with the broker role. */
  readonly brokers: readonly ClusterNode[];
  /** Nodes with the controller role (the voters). */
  readonly controllers: readonly ClusterNode[];
  node(id: number): ClusterNode;
  /** "host:port,..." of the brokers' client listeners (all of them, running or not, as a client is given). */
  bootstrap(): string;
  /** "host:port" of each controller listener, for bootstrap.controllers / --bootstrap-controller. */
  controllerEndpoints(): string[];
  /** The controller.quorum.voters value every node was given (unused with dynamicVoters). */
  readonly quorumVoters: string;
  /** Where a node's server.properties is (kafka-metadata-quorum add-controller reads a controller's). */
  configPath(id: number): string;
  isRunning(id: number): boolean;
  /** The pid of a running node's process (the JVM itself for Kafka). */
  pid(id: number): number | undefined;
  /** SIGSTOP to a running node's process: it keeps its connections and answers nothing until resume() or destroy(). */
  pause(id: number): void;
  /** SIGCONT to a node paused with pause(). */
  resume(id: number): void;
  /** Everything a node printed, across restarts. */
  output(id: number): string;
  /**
   * Sends the signal and waits for the process to exit. SIGTERM escalates to SIGKILL after `timeoutMs` (default
   * 30 s), so a hung shutdown cannot hang the caller. Resolves with the exit code (null when killed by a signal).
   */
  kill(id: number, signal: "SIGKILL" | "SIGTERM", timeoutMs?: number): Promise<number | null>;
  /** Starts a stopped node again on the same ports, config and data; resolves once it is ready. */
  restart(id: number): Promise<void>;
  /**
   * Polls until every running broker lists exactly the running brokers in Metadata, and all report this cluster's id.
   * Rejects after `timeoutMs` with what each node last said.
   */
  waitForBrokers(timeoutMs?: number): Promise<void>;
  /** The active controller as the quorum's leader reports it (DescribeQuorum on the controller listeners). */
  describeQuorum(timeoutMs?: number): Promise<QuorumDescription>;
  /**
   * Resumes paused nodes, kills every node (SIGKILL) and deletes the directories unless keepDirs. Safe to call twice.
   */
  destroy(): Promise<void>;
}

/**
 * What one controller listener answers to DescribeCluster (endpoint type 2, KIP-919): its cluster id, the active
 * controller it knows (-1 for none) and the controllers it lists, by id.
 */
export async function controllerView(
  port: number,
  host = "127.0.0.1",
): Promise<{ clusterId: string; controllerId: number; controllers: number[] }> {
  const connection = await BrokerConnection.open({ host, port, clientId: "cluster-test", connectTimeoutMs: 2_000 });
  try {
    const response = await connection.send(
      DescribeClusterRequest,
      DescribeClusterResponse,
      1,
      { ...DescribeClusterRequest.create(), endpointType: 2 },
      2_000,
    );
    const controllers = response.brokers.map((b) => b.brokerId).sort((a, b) => a - b);
    return { clusterId: response.clusterId, controllerId: response.controllerId, controllers };
  } finally {
    connection.close();
  }
}

/** What a node's Metadata says about the cluster (from that node alone). */
export interface NodeView {
  clusterId: string | null;
  brokerIds: number[];
}

/** Asks one node for its view of the cluster; an admin client bound to that node only. */
export async function nodeView(bootstrap: string, requestTimeoutMs = 5_000): Promise<NodeView> {
  const admin = new AdminClient({ bootstrap, requestTimeoutMs, connectTimeoutMs: requestTimeoutMs, retries: 0 });
  try {
    const c = await admin.cluster();
    return { clusterId: c.clusterId, brokerIds: c.brokers.map((b) => b.nodeId).sort((a, b) => a - b) };
  } finally {
    admin.close();
  }
}

interface Plan {
  id: number;
  roles: NodeRole[];
}

function plan(topology: ClusterTopology, first: number): Plan[] {
  const count = (n: number, what: string): number => {
    if (!Number.isInteger(n) || n < 0 || n > 16) throw new Error(`cluster: ${what} must be an integer 0..16, not ${n}`);
    return n;
  };
  if ("combined" in topology) {
    const n = count(topology.combined, "combined");
    if (n === 0) throw new Error("cluster: needs at least one combined node");
    return Array.from({ length: n }, (_, i) => ({ id: first + i, roles: ["broker", "controller"] }));
  }
  const c = count(topology.controllers, "controllers");
  const b = count(topology.brokers, "brokers");
  if (c === 0 || b === 0) throw new Error("cluster: needs at least one controller and one broker");
  return [
    ...Array.from({ length: c }, (_, i): Plan => ({ id: first + i, roles: ["controller"] })),
    ...Array.from({ length: b }, (_, i): Plan => ({ id: first + c + i, roles: ["broker"] })),
  ];
}

/**
 * The server.properties of one node, as key/value pairs in file order. Pure, so the layout of each topology is
 * testable without starting anything.
 */
export function nodeProperties(
  system: ClusterSystem,
  node: ClusterNode,
  quorumVoters: string,
  brokerCount: number,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const isBroker = node.roles.includes("broker");
  const isController = node.roles.includes("controller");
  const listeners = [
    ...(isBroker ? [`PLAINTEXT://${node.host}:${node.clientPort}`] : []),
    ...(isController ? [`CONTROLLER://${node.host}:${node.controllerPort}`] : []),
  ];
  // Internal topics cannot have more replicas than there are brokers.
  const rf = String(Math.min(3, brokerCount));
  const props: Record<string, string> = {
    "node.id": String(node.id),
    "process.roles": node.roles.join(","),
    listeners: listeners.join(","),
    "advertised.listeners": isBroker ? `PLAINTEXT://${node.host}:${node.clientPort}` : listeners.join(","),
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "controller.listener.names": "CONTROLLER",
    "controller.quorum.voters": quorumVoters,
    "log.dirs": join(node.dir, "logs"),
    "num.partitions": "1",
    "default.replication.factor": "1",
    "offsets.topic.replication.factor": rf,
    "group.initial.rebalance.delay.ms": "0",
  };
  // Keys Tributary does not use yet (it warns about each) go to Kafka only.
  if (system === "kafka") {
    if (isBroker) props["inter.broker.listener.name"] = "PLAINTEXT";
    props["transaction.state.log.replication.factor"] = rf;
    props["transaction.state.log.min.isr"] = "1";
    props["share.coordinator.state.topic.replication.factor"] = rf;
    props["share.coordinator.state.topic.min.isr"] = "1";
  } else {
    props["metrics.port"] = "-1";
  }
  return { ...props, ...extra };
}

function render(props: Readonly<Record<string, string>>): string {
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
}

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { system } = options;
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  const heap = options.kafkaHeap ?? "512M";
  const nodeArgs = options.nodeArgs ?? [];
  const tributaryBin = options.tributaryBin ?? binPath("tributary-broker");
  const root = mkdtempSync(join(tmpdir(), `${system}-cluster-`));
  const nodes: ClusterNode[] = [];
  const plans = plan(options.topology, options.firstNodeId ?? 1);
  // Two listeners of one node on one port make the node refuse its config; all ports are chosen at once.
  const ports = await freePorts(plans.length * 2);
  const port = (): number => {
    const p = ports.pop();
    if (p === undefined) throw new Error("cluster: ran out of ports");
    return p;
  };
  for (const p of plans) {
    const dir = join(root, `node-${p.id}`);
    mkdirSync(dir);
    nodes.push({
      id: p.id,
      roles: p.roles,
      host: options.host?.(p.id) ?? "127.0.0.1",
      clientPort: p.roles.includes("broker") ? port() : undefined,
      controllerPort: p.roles.includes("controller") ? port() : undefined,
      dir,
    });
  }
  const brokers = nodes.filter((n) => n.roles.includes("broker"));
  const controllers = nodes.filter((n) => n.roles.includes("controller"));
  const quorumVoters = controllers.map((n) => `${n.id}@${n.host}:${n.controllerPort}`).join(",");
  const running = new Map<number, Running>();
  const configOf = (n: ClusterNode) => join(n.dir, "server.properties");
  const logOf = (n: ClusterNode) => join(n.dir, "output.log");

  const byId = (id: number): ClusterNode => {
    const n = nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`cluster: no node ${id} (nodes ${nodes.map((x) => x.id).join(", ")})`);
    return n;
  };
  const output = (id: number): string => {
    const file = logOf(byId(id));
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  };
  const isRunning = (id: number): boolean => running.has(id);
  const paused = new Set<number>();
  const signal = (id: number, sig: "SIGSTOP" | "SIGCONT"): void => {
    const child = running.get(byId(id).id)?.child;
    if (child === undefined) throw new Error(`cluster: node ${id} is not running`);
    child.kill(sig);
  };

  const launch = async (n: ClusterNode): Promise<void> => {
    if (running.has(n.id)) throw new Error(`cluster: node ${n.id} is already running`);
    // The log is appended across restarts; readiness is judged on what this start printed.
    const from = output(n.id).length;
    const fd = openSync(logOf(n), "a");
    // Output goes straight to a file, not through this process: the benchmarks measure latency from here.
    const command =
      system === "kafka"
        ? [KAFKA_SH, "run-broker", "--heap", heap, configOf(n)]
        : [process.execPath, ...nodeArgs, tributaryBin, "--config", configOf(n)];
    const [file = "", ...args] = [...(options.wrap?.(n.id) ?? []), ...command];
    const child =
      system === "kafka"
        ? spawn(file, args, { stdio: ["ignore", fd, fd] })
        : spawn(file, args, { cwd: n.dir, env: cleanEnv, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    running.set(n.id, { child, exited });
    void exited.then(() => {
      if (running.get(n.id)?.child === child) running.delete(n.id);
    });
    const port = n.clientPort ?? n.controllerPort ?? 0;
    await pollUntil(
      `${system} node ${n.id} to listen on ${n.host}:${port}`,
      async () => {
        if (running.get(n.id)?.child !== child) {
          throw new Error(`${system} node ${n.id} exited during start:\n${output(n.id).slice(from).slice(-4000)}`);
        }
        // Kafka binds its listeners before it can serve them; it says when it has started.
        if (system === "kafka" && !output(n.id).slice(from).includes("Kafka Server started")) return false;
        return canConnect(port, n.host);
      },
      startTimeoutMs,
    );
  };

  const kill = async (id: number, signal: "SIGKILL" | "SIGTERM", timeoutMs = 30_000): Promise<number | null> => {
    const r = running.get(byId(id).id);
    if (r === undefined) return null;
    r.child.kill(signal);
    if (signal === "SIGKILL") return r.exited;
    const timer = setTimeout(() => r.child.kill("SIGKILL"), timeoutMs);
    try {
      return await r.exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const killAllNow = (): void => {
    for (const r of running.values()) r.child.kill("SIGKILL");
  };
  // A test process that dies mid-run must not leave JVMs or brokers behind on a shared machine.
  process.once("exit", killAllNow);

  let destroyed: Promise<void> | undefined;
  const destroy = (): Promise<void> => {
    destroyed ??= (async () => {
      process.off("exit", killAllNow);
      for (const id of paused) if (isRunning(id)) signal(id, "SIGCONT");
      paused.clear();
      await Promise.all([...running.keys()].map((id) => kill(id, "SIGKILL")));
      if (!options.keepDirs) rmSync(root, { recursive: true, force: true });
    })();
    return destroyed;
  };

  try {
    const clusterId = await newClusterId(system);
    await Promise.all(
      nodes.map(async (n) => {
        options.prepare?.(n);
        const props = nodeProperties(system, n, quorumVoters, brokers.length, {
          ...options.config,
          ...options.nodeConfig?.(n.id),
        });
        let formatArgs: string[] = [...(options.formatArgs ?? [])];
        if (options.dynamicVoters === true) {
          delete props["controller.quorum.voters"];
          props["controller.quorum.bootstrap.servers"] = controllers
            .map((c) => `${c.host}:${c.controllerPort}`)
            .join(",");
          if (n.roles.includes("controller")) {
            formatArgs = [...formatArgs, n === controllers[0] ? "--standalone" : "--no-initial-controllers"];
          }
        }
        writeFileSync(configOf(n), render(props));
        await format(system, configOf(n), clusterId, formatArgs);
      }),
    );
    await Promise.all(nodes.map(launch));

    const cluster: Cluster = {
      system,
      clusterId,
      nodes,
      brokers,
      controllers,
      quorumVoters,
      configPath: (id) => configOf(byId(id)),
      node: byId,
      bootstrap: () => brokers.map((n) => `${n.host}:${n.clientPort}`).join(","),
      controllerEndpoints: () => controllers.map((n) => `${n.host}:${n.controllerPort}`),
      isRunning,
      pid: (id) => running.get(byId(id).id)?.child.pid,
      pause: (id) => {
        signal(id, "SIGSTOP");
        paused.add(id);
      },
      resume: (id) => {
        signal(id, "SIGCONT");
        paused.delete(id);
      },
      output,
      kill,
      restart: (id) => launch(byId(id)),
      async waitForBrokers(timeoutMs = 60_000) {
        const want = brokers.filter((n) => isRunning(n.id)).map((n) => n.id);
        const said = new Map<number, string>();
        try {
          await pollUntil(
            `every running broker (${want.join(", ")}) to list exactly those brokers in cluster ${clusterId}`,
            async () => {
              const views = await Promise.all(
                want.map(async (id) => {
                  try {
                    const v = await nodeView(`${byId(id).host}:${byId(id).clientPort}`);
                    said.set(id, `cluster ${v.clusterId}, brokers [${v.brokerIds.join(", ")}]`);
                    return v.clusterId === clusterId && v.brokerIds.join() === want.join();
                  } catch (err) {
                    said.set(id, err instanceof Error ? err.message : String(err));
                    return false;
                  }
                }),
              );
              return views.every(Boolean);
            },
            timeoutMs,
          );
        } catch (err) {
          const detail = [...said].map(([id, s]) => `  node ${id}: ${s}`).join("\n");
          throw new Error(`${err instanceof Error ? err.message : String(err)}; last seen:\n${detail}`, {
            cause: err,
          });
        }
      },
      async describeQuorum(timeoutMs = 30_000) {
        let found: QuorumDescription | undefined;
        const said: string[] = [];
        await pollUntil(
          "a quorum leader",
          async () => {
            said.length = 0;
            for (const n of controllers.filter((c) => isRunning(c.id))) {
              const admin = new AdminClient({
                bootstrap: `${n.host}:${n.controllerPort}`,
                requestTimeoutMs: 5_000,
                connectTimeoutMs: 5_000,
                retries: 0,
              });
              try {
                const q = await admin.describeQuorum();
                if (q.leaderId >= 0 && isRunning(q.leaderId)) {
                  found = q;
                  return true;
                }
                said.push(`node ${n.id}: leader ${q.leaderId}`);
              } catch (err) {
                said.push(`node ${n.id}: ${err instanceof Error ? err.message : String(err)}`);
              } finally {
                admin.close();
              }
            }
            return false;
          },
          timeoutMs,
        ).catch((err: unknown) => {
          throw new Error(`${err instanceof Error ? err.message : String(err)}; last seen: ${said.join("; ")}`, {
            cause: err,
          });
        });
        if (found === undefined) throw new Error("cluster: no quorum leader");
        return found;
      },
      destroy,
    };
    return cluster;
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** A new cluster id from the system's own tool where it is cheap to run (ours); Kafka's is the same random form. */
async function newClusterId(system: ClusterSystem): Promise<string> {
  if (system === "kafka") return randomKafkaUuid();
  const { stdout } = await execFileAsync(process.execPath, [binPath("tributary-storage"), "random-uuid"], {
    env: cleanEnv,
    timeout: 30_000,
  });
  return stdout.trim();
}

/** Formats one node's log dirs, as an operator does before the first start (kafka-storage / tributary-storage). */
async function format(system: ClusterSystem, config: string, clusterId: string, extra: string[] = []): Promise<void> {
  try {
    if (system === "kafka") {
      await execFileAsync(
        KAFKA_SH,
        ["run-class", "kafka.tools.StorageTool", "format", "--config", config, "--cluster-id", clusterId, ...extra],
        { timeout: 120_000 },
      );
    } else {
      await execFileAsync(
        process.execPath,
        [binPath("tributary-storage"), "format", "--cluster-id", clusterId, "--config", config, ...extra],
        // In the node's directory, where the node runs: relative paths in its config mean the same to both.
        { env: cleanEnv, timeout: 30_000, cwd: dirname(config) },
      );
    }
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message?: string };
    throw new Error(`formatting ${config} failed: ${e.message ?? ""}\n${e.stdout ?? ""}${e.stderr ?? ""}`, {
      cause: err,
    });
  }
}

/**
 * Creates a fresh topic (1 partition) through `bootstrap`, retrying with a new name after every failure (an attempt
 * that timed out may still be applied later, so no name is reused) until one succeeds; resolves with that name and
 * the attempts it took. What a client sees while the controller fails over.
 */
/** Creates a one-partition topic with `replicationFactor` replicas through the cluster's brokers; throws on an error. */
export async function createTopic(
  cluster: Cluster,
  name: string,
  replicationFactor: number,
  partitions = 1,
): Promise<void> {
  const admin = new AdminClient({ bootstrap: cluster.bootstrap(), retries: 5 });
  try {
    const [created] = await admin.createTopics([{ name, partitions, replicationFactor }]);
    if (created?.error !== undefined) throw new Error(`creating ${name}: ${created.error.message}`);
  } finally {
    admin.close();
  }
}

export async function createTopicUntilOk(
  bootstrap: string,
  prefix: string,
  timeoutMs: number,
): Promise<{ name: string; attempts: number; errors: string[] }> {
  const admin = new AdminClient({ bootstrap, requestTimeoutMs: 5_000, connectTimeoutMs: 2_000, retries: 0 });
  const errors: string[] = [];
  let name = "";
  try {
    await pollUntil(
      `a topic created through ${bootstrap}`,
      async () => {
        name = `${prefix}-${errors.length}`;
        try {
          const [r] = await admin.createTopics([{ name, partitions: 1, replicationFactor: 1 }]);
          if (r?.error === undefined) return true;
          errors.push(r.error.message);
        } catch (err) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
        return false;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; errors: ${errors.slice(-5).join("; ")}`, {
      cause: err,
    });
  } finally {
    admin.close();
  }
  return { name, attempts: errors.length + 1, errors };
}
