// Metadata benchmark (issue 11): a 3-node Apache Kafka 4.3.1 and a 3-node Tributary, one after the other on this
// machine, each 3 combined KRaft nodes on loopback started by the cluster harness (broker/test/support/cluster.ts) and
// driven by the same client (@tributary/broker/admin).
//   npx tsx broker/bench/metadata.ts [--only kafka|tributary] [--topics N] [--failovers N] [--visibility N]
//                                   [--metadata-requests N]
//   npx tsx broker/bench/metadata.ts --profile [--topics N]   (Tributary under node --cpu-prof: the bulk create only)
// TRIBUTARY_BIN=<path to tributary-broker> runs another build (before/after figures).
// Build first (`make build`) and install the jars (`make reference-kafka`). Prints a text table and writes
// broker/bench/out/metadata.json. No assertions on timing. A system whose nodes do not form one cluster gets
// "not yet: <why>" instead of figures, and the run still finishes.
import { AdminClient } from "../src/admin/index.ts";
import { pollUntil } from "../test/support/broker-process.ts";
import {
  createTopicUntilOk,
  nodeView,
  type Cluster,
  type ClusterNode,
  type ClusterSystem,
} from "../test/support/cluster.ts";
import { profileTributary, startBenchCluster } from "./bench-cluster.ts";
import { inWindow } from "./cpu-profile.ts";
import { log } from "./perf-tools.ts";
import {
  compareSystems,
  environment,
  loadAverage as load,
  median,
  numberArg,
  onlyArg,
  printEnvironment,
  printSystemLoad,
  round,
  writeReport,
  type ComparedMetric,
} from "./report.ts";

/** Topics per CreateTopics request when creating many. */
const BATCH = 100;
/** Gap between Metadata polls while waiting for a topic to appear: the resolution of the visibility figures. */
const POLL_MS = 5;
/**
 * How long the nodes get to agree on one cluster before the system is reported as "not yet". The harness has already
 * waited for each node to start (Kafka: "Kafka Server started", after it registered with the controller).
 */
const FORM_TIMEOUT_MS = 30_000;
/** A node restarted after a failover must catch up on the metadata log and register again. */
const REJOIN_TIMEOUT_MS = 120_000;
const METADATA_WARMUP = 50;

interface Args {
  only: ClusterSystem | undefined;
  topics: number;
  failovers: number;
  visibility: number;
  metadataOne: number;
  metadataAll: number;
  profile: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    only: undefined,
    topics: 1000,
    failovers: 3,
    visibility: 20,
    metadataOne: 1000,
    metadataAll: 100,
    profile: false,
  };
  const count = (a: string, v: string | undefined, min: number): number => numberArg(a, v, { min }, true);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--profile") {
      args.profile = true;
      continue;
    }
    const v = argv[++i];
    if (a === "--only") args.only = onlyArg(v);
    else if (a === "--topics") args.topics = count(a, v, 1);
    else if (a === "--failovers") args.failovers = count(a, v, 0);
    else if (a === "--visibility") args.visibility = count(a, v, 1);
    else if (a === "--metadata-requests") args.metadataOne = count(a, v, 1);
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const address = (n: ClusterNode): string => `127.0.0.1:${n.clientPort}`;

/** One admin client per broker, each bound to that broker alone, so a figure is the named node's. */
type Clients = Map<number, AdminClient>;

/** An admin client for each broker of `cluster`. */
function adminClients(cluster: Cluster): Clients {
  return new Map(
    cluster.brokers.map((n) => [
      n.id,
      new AdminClient({ bootstrap: address(n), retries: 0, requestTimeoutMs: 30_000 }),
    ]),
  );
}

function clientOf(clients: Clients, n: ClusterNode | undefined): AdminClient {
  const c = clients.get(n?.id ?? -1);
  if (c === undefined) throw new Error(`no admin client for node ${n?.id}`);
  return c;
}

/** Nearest-rank percentile. */
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
}

interface Spread {
  samples: number;
  min: number;
  p50: number;
  max: number;
}

function spread(xs: readonly number[]): Spread {
  return { samples: xs.length, min: Math.min(...xs), p50: round(median(xs), 1), max: Math.max(...xs) };
}

interface Latency {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** What needs the brokers to form one cluster. */
interface ClusterFigures {
  /** Request sent to one node → the topic in Metadata of both other nodes, ms. */
  visibilityMs: Spread;
  /** Request sent → CreateTopics answered, for the same topics, ms. */
  createOneMs: Spread;
  bulk: { topics: number; batch: number; failed: number; createdMs: number; visibleEverywhereMs: number };
  metadataOneTopic: Latency;
  metadataAllTopics: Latency;
}

interface Failover {
  killed: number;
  newLeader: number;
  /** kill -9 → a surviving voter reports a new quorum leader (DescribeQuorum), ms. */
  quorumMs: number;
  /** kill -9 → a CreateTopics through a surviving broker succeeds, ms; null when the brokers are not one cluster. */
  adminMs: number | null;
  attempts: number | null;
}

interface SystemResult {
  system: ClusterSystem;
  clusterId: string;
  /** Why the brokers' figures are missing: their nodes do not form one cluster. */
  notYet: string | null;
  cluster: ClusterFigures | null;
  failovers: Failover[];
  /** Why there are no failover figures, when the quorum itself failed. */
  failoverError: string | null;
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

/** Waits until the nodes form one cluster; if they do not, why not, in one line. */
async function formed(cluster: Cluster): Promise<string | undefined> {
  try {
    await cluster.waitForBrokers(FORM_TIMEOUT_MS);
    return undefined;
  } catch {
    const views = await Promise.all(
      cluster.brokers.map(async (n) => {
        try {
          const v = await nodeView(address(n));
          return { id: n.id, v };
        } catch (err) {
          return { id: n.id, err: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const ids = new Set(views.map((x) => x.v?.clusterId));
    const what = views
      .map((x) => (x.v ? `node ${x.id} lists brokers [${x.v.brokerIds.join(", ")}]` : `node ${x.id}: ${x.err}`))
      .join(", ");
    const head =
      ids.size > 1
        ? "the nodes report different cluster ids"
        : `the ${cluster.brokers.length} nodes do not form one cluster within ${FORM_TIMEOUT_MS / 1000} s`;
    return `${head}: ${what}`;
  }
}

/** Polls one node's Metadata for `name` every POLL_MS until it is there without an error. */
async function visibleOn(admin: AdminClient, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = (await admin.describeTopics([name])).get(name);
    if (found?.topic !== undefined) return;
    if (Date.now() > deadline) throw new Error(`topic ${name} not visible within 30 s: ${found?.error?.message}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function measureVisibility(
  cluster: Cluster,
  clients: Clients,
  samples: number,
): Promise<{ visibility: number[]; create: number[] }> {
  const visibility: number[] = [];
  const create: number[] = [];
  for (let i = 0; i < samples; i++) {
    const via = cluster.brokers[i % cluster.brokers.length];
    if (via === undefined) throw new Error("no broker");
    const others = cluster.brokers.filter((n) => n.id !== via.id);
    const name = `visible-${i}`;
    const t0 = performance.now();
    const [r] = await clientOf(clients, via).createTopics([{ name, partitions: 1, replicationFactor: 1 }]);
    create.push(round(performance.now() - t0, 1));
    if (r?.error !== undefined) throw new Error(`creating ${name} through node ${via.id}: ${r.error.message}`);
    await Promise.all(others.map((n) => visibleOn(clientOf(clients, n), name)));
    visibility.push(round(performance.now() - t0, 1));
  }
  return { visibility, create };
}

async function measureBulk(cluster: Cluster, clients: Clients, topics: number) {
  const names = Array.from({ length: topics }, (_, i) => `bulk-${String(i).padStart(5, "0")}`);
  const [first] = cluster.brokers;
  if (first === undefined) throw new Error("no broker");
  const admin = clientOf(clients, first);
  let failed = 0;
  const errors: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < names.length; i += BATCH) {
    const batch = names.slice(i, i + BATCH).map((name) => ({ name, partitions: 1, replicationFactor: 1 }));
    for (const r of await admin.createTopics(batch)) {
      if (r.error !== undefined) {
        failed++;
        if (errors.length < 3) errors.push(r.error.message);
      }
    }
  }
  const createdMs = round(performance.now() - t0, 0);
  if (failed > 0) log(`${cluster.system}: ${failed} of ${topics} topics failed, e.g. ${errors.join("; ")}`);
  const want = new Set(names);
  await Promise.all(
    cluster.brokers.map((n) =>
      pollUntil(
        `${topics} topics in node ${n.id}'s Metadata`,
        async () => {
          const listed = await clientOf(clients, n).listTopics();
          return listed.filter((t) => want.has(t)).length === topics - failed;
        },
        120_000,
      ),
    ),
  );
  return { topics, batch: BATCH, failed, createdMs, visibleEverywhereMs: round(performance.now() - t0, 0) };
}

/** Sequential Metadata requests, round-robin over the nodes; the first METADATA_WARMUP are not counted. */
async function measureMetadata(
  cluster: Cluster,
  clients: Clients,
  requests: number,
  topics: string[] | null,
): Promise<Latency> {
  const ms: number[] = [];
  for (let i = 0; i < METADATA_WARMUP + requests; i++) {
    const n = cluster.brokers[i % cluster.brokers.length];
    const admin = clientOf(clients, n);
    const t0 = performance.now();
    if (topics === null) await admin.listTopics();
    else await admin.describeTopics(topics);
    if (i >= METADATA_WARMUP) ms.push(performance.now() - t0);
  }
  return {
    requests,
    p50Ms: round(percentile(ms, 50), 2),
    p99Ms: round(percentile(ms, 99), 2),
    maxMs: round(Math.max(...ms), 2),
  };
}

/**
 * kill -9 of the quorum leader, `rounds` times, each followed by a restart of the killed node. Measures the time until a
 * survivor names a new leader and, when the brokers form one cluster, until CreateTopics through a survivor succeeds
 * (both polled at once from the kill).
 */
async function measureFailovers(cluster: Cluster, rounds: number, withAdmin: boolean): Promise<Failover[]> {
  const out: Failover[] = [];
  for (let i = 0; i < rounds; i++) {
    const before = await cluster.describeQuorum();
    const killed = before.leaderId;
    const via = cluster.brokers.find((n) => n.id !== killed);
    if (via === undefined) throw new Error("no surviving broker");
    const t0 = performance.now();
    await cluster.kill(killed, "SIGKILL");
    const since = (): number => round(performance.now() - t0, 0);
    const [after, quorumMs, admin] = await Promise.all([
      cluster.describeQuorum(60_000).then((q) => [q, since()] as const),
      withAdmin
        ? createTopicUntilOk(address(via), `failover-${i}`, 60_000).then((c) => ({ ms: since(), attempts: c.attempts }))
        : null,
    ]).then(([[q, ms], a]) => [q, ms, a] as const);
    out.push({
      killed,
      newLeader: after.leaderId,
      quorumMs,
      adminMs: admin?.ms ?? null,
      attempts: admin?.attempts ?? null,
    });
    log(
      `${cluster.system}: killed controller ${killed}; ${after.leaderId} leads after ${quorumMs} ms` +
        (admin ? `; CreateTopics ok after ${admin.ms} ms` : ""),
    );
    await cluster.restart(killed);
    if (withAdmin) await cluster.waitForBrokers(REJOIN_TIMEOUT_MS);
    else
      await pollUntil(
        `node ${killed} back in the quorum`,
        async () => (await cluster.describeQuorum()).voters.some((v) => v.replicaId === killed && v.logEndOffset >= 0n),
        REJOIN_TIMEOUT_MS,
      );
  }
  return out;
}

async function measureCluster(cluster: Cluster, clients: Clients, args: Args): Promise<ClusterFigures> {
  const { system } = cluster;
  log(`${system}: one cluster ${cluster.clusterId}; visibility (${args.visibility} topics)`);
  const { visibility, create } = await measureVisibility(cluster, clients, args.visibility);
  log(`${system}: visibility p50 ${round(median(visibility), 1)} ms; creating ${args.topics} topics`);
  const bulk = await measureBulk(cluster, clients, args.topics);
  log(`${system}: ${args.topics} topics created in ${bulk.createdMs} ms, everywhere in ${bulk.visibleEverywhereMs} ms`);
  const metadataOneTopic = await measureMetadata(cluster, clients, args.metadataOne, ["bulk-00000"]);
  const metadataAllTopics = await measureMetadata(cluster, clients, args.metadataAll, null);
  log(`${system}: Metadata p50 ${metadataOneTopic.p50Ms} ms (1 topic), ${metadataAllTopics.p50Ms} ms (all)`);
  return {
    visibilityMs: spread(visibility),
    createOneMs: spread(create),
    bulk,
    metadataOneTopic,
    metadataAllTopics,
  };
}

async function benchSystem(system: ClusterSystem, args: Args): Promise<SystemResult> {
  const loadAverageStart = load();
  log(`starting 3-node ${system} (load ${loadAverageStart.join(" ")})`);
  const cluster = await startBenchCluster(system);
  const clients = adminClients(cluster);
  try {
    const notYet = (await formed(cluster)) ?? null;
    if (notYet !== null) log(`${system}: not yet: ${notYet}`);
    const figures = notYet === null ? await measureCluster(cluster, clients, args) : null;
    for (const c of clients.values()) c.close();
    clients.clear();
    let failovers: Failover[] = [];
    let failoverError: string | null = null;
    try {
      failovers = await measureFailovers(cluster, args.failovers, notYet === null);
    } catch (err) {
      failoverError = err instanceof Error ? err.message : String(err);
      log(`${system}: failover not measured: ${failoverError}`);
    }
    return {
      system,
      clusterId: cluster.clusterId,
      notYet,
      cluster: figures,
      failovers,
      failoverError,
      loadAverageStart,
      loadAverageEnd: load(),
    };
  } finally {
    for (const c of clients.values()) c.close();
    await cluster.destroy();
  }
}

/**
 * Tributary's 3 nodes under `node --cpu-prof` while they create `args.topics` topics; each node stops with SIGTERM
 * (the profile is written at exit) and its hottest frames while the topics were created are printed.
 */
async function profile(args: Args): Promise<void> {
  await profileTributary("metadata", {}, "the bulk create only", async (cluster) => {
    const clients = adminClients(cluster);
    try {
      const notYet = await formed(cluster);
      if (notYet !== undefined) throw new Error(notYet);
      const { result: bulk, window } = await inWindow(() => measureBulk(cluster, clients, args.topics));
      console.log(
        `profiled: ${args.topics} topics answered in ${bulk.createdMs} ms, everywhere in ${bulk.visibleEverywhereMs} ms`,
      );
      return window;
    } finally {
      for (const c of clients.values()) c.close();
    }
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.profile) return profile(args);
  const env = environment();
  const systems: ClusterSystem[] = args.only ? [args.only] : ["kafka", "tributary"];
  const results: SystemResult[] = [];
  for (const s of systems) results.push(await benchSystem(s, args));
  const loadEnd = load();

  const kafka = results.find((r) => r.system === "kafka");
  const trib = results.find((r) => r.system === "tributary");
  type Metric = ComparedMetric<SystemResult>;
  const fig = (get: (c: ClusterFigures) => number) => (r: SystemResult) => (r.cluster ? get(r.cluster) : undefined);
  const times = (r: SystemResult, key: "quorumMs" | "adminMs"): number[] =>
    r.failovers.flatMap((f) => (f[key] === null ? [] : [f[key]]));
  const over = (key: "quorumMs" | "adminMs", agg: (xs: number[]) => number) => (r: SystemResult) => {
    const xs = times(r, key);
    return xs.length > 0 ? agg(xs) : undefined;
  };
  const min = (xs: number[]): number => Math.min(...xs);
  const max = (xs: number[]): number => Math.max(...xs);
  const metrics: Metric[] = [
    { name: `create ${args.topics} topics (answered)`, unit: "ms", get: fig((c) => c.bulk.createdMs) },
    { name: `create ${args.topics} topics (in every node)`, unit: "ms", get: fig((c) => c.bulk.visibleEverywhereMs) },
    { name: "new topic on the other nodes, p50", unit: "ms", get: fig((c) => c.visibilityMs.p50), anchor: "130-290" },
    { name: "new topic on the other nodes, max", unit: "ms", get: fig((c) => c.visibilityMs.max) },
    { name: "CreateTopics of 1 topic, p50", unit: "ms", get: fig((c) => c.createOneMs.p50) },
    { name: "Metadata 1 topic, p50", unit: "ms", get: fig((c) => c.metadataOneTopic.p50Ms) },
    { name: "Metadata 1 topic, p99", unit: "ms", get: fig((c) => c.metadataOneTopic.p99Ms) },
    { name: "Metadata all topics, p50", unit: "ms", get: fig((c) => c.metadataAllTopics.p50Ms) },
    { name: "Metadata all topics, p99", unit: "ms", get: fig((c) => c.metadataAllTopics.p99Ms) },
    { name: "kill -9 → CreateTopics ok, min", unit: "ms", get: over("adminMs", min), anchor: "1900-3600" },
    { name: "kill -9 → CreateTopics ok, median", unit: "ms", get: over("adminMs", median) },
    { name: "kill -9 → CreateTopics ok, max", unit: "ms", get: over("adminMs", max) },
    { name: "kill -9 → new quorum leader, min", unit: "ms", get: over("quorumMs", min) },
    { name: "kill -9 → new quorum leader, median", unit: "ms", get: over("quorumMs", median) },
    { name: "kill -9 → new quorum leader, max", unit: "ms", get: over("quorumMs", max) },
  ];
  const { table, ratios } = compareSystems(metrics, kafka, trib);

  console.log("\nMetadata on 3 combined nodes: Tributary vs Apache Kafka 4.3.1 (issue 11)");
  printEnvironment(env, loadEnd);
  for (const r of results) {
    printSystemLoad(r.system, r.loadAverageStart, r.loadAverageEnd);
    if (r.notYet !== null) console.log(`             not yet: ${r.notYet}`);
    if (r.failoverError !== null) console.log(`             failover not measured: ${r.failoverError}`);
  }
  console.log(
    `workload     ${args.topics} topics (1 partition, RF 1) in CreateTopics of ${BATCH}; visibility over ` +
      `${args.visibility} topics, each created through the next node, polled every ${POLL_MS} ms; Metadata ` +
      `${args.metadataOne} × 1 topic and ${args.metadataAll} × all topics, round-robin; ${args.failovers} failovers ` +
      "(kill -9 of the quorum leader; DescribeQuorum and CreateTopics through a survivor polled until they succeed; " +
      "then restart). " +
      "Lower is better; anchors: Kafka 4.3.1 on this VM (issue 11)",
  );
  console.log();
  console.log(table);
  writeReport("metadata", env, loadEnd, {
    workload: { ...args, batch: BATCH, pollMs: POLL_MS, topology: "3 combined nodes" },
    results,
    ratios,
  });
}

await main();
