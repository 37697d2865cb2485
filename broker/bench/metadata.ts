// Metadata benchmark (issue 11): a 3-node Apache Kafka 4.3.1 and a 3-node Tributary, one after the other on this
// machine, each 3 combined KRaft nodes on loopback started by the cluster harness (broker/test/support/cluster.ts) and
// driven by the same client (@tributary/broker/admin).
//   npx tsx broker/bench/metadata.ts [--only kafka|tributary] [--topics N] [--failovers N] [--visibility N]
//                                   [--metadata-requests N]
// Build first (`make build`) and install the jars (`make reference-kafka`). Prints a text table and writes
// broker/bench/out/metadata.json. No assertions on timing. A system whose nodes do not form one cluster gets
// "not yet: <why>" instead of figures, and the run still finishes.
import { loadavg } from "node:os";
import { AdminClient } from "../src/admin/index.ts";
import { pollUntil } from "../test/support/broker-process.ts";
import {
  createTopicUntilOk,
  nodeView,
  startCluster,
  type Cluster,
  type ClusterNode,
  type ClusterSystem,
} from "../test/support/cluster.ts";
import { environment, formatTable, median, printEnvironment, round, writeJson } from "./report.ts";

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
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    only: undefined,
    topics: 1000,
    failovers: 3,
    visibility: 20,
    metadataOne: 1000,
    metadataAll: 100,
  };
  const count = (a: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${a} takes an integer >= ${min}, not ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const v = argv[++i];
    if (a === "--only") {
      if (v !== "kafka" && v !== "tributary") throw new Error("--only takes kafka or tributary");
      args.only = v;
    } else if (a === "--topics") args.topics = count(a, v, 1);
    else if (a === "--failovers") args.failovers = count(a, v, 0);
    else if (a === "--visibility") args.visibility = count(a, v, 1);
    else if (a === "--metadata-requests") args.metadataOne = count(a, v, 1);
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

const load = (): number[] => loadavg().map((l) => round(l, 2));
const address = (n: ClusterNode): string => `127.0.0.1:${n.clientPort}`;

/** One admin client per broker, each bound to that broker alone, so a figure is the named node's. */
type Clients = Map<number, AdminClient>;

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

interface SystemResult {
  system: ClusterSystem;
  clusterId: string;
  /** Request sent to one node → the topic in Metadata of both other nodes, ms. */
  visibilityMs: Spread;
  /** Request sent → CreateTopics answered, for the same topics, ms. */
  createOneMs: Spread;
  bulk: { topics: number; batch: number; failed: number; createdMs: number; visibleEverywhereMs: number };
  metadataOneTopic: Latency;
  metadataAllTopics: Latency;
  /** kill -9 of the active controller → a CreateTopics through a survivor succeeds, ms, one per failover. */
  failoverMs: number[];
  failovers: { killed: number; newLeader: number; ms: number; attempts: number }[];
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

interface NotYet {
  system: ClusterSystem;
  notYet: string;
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

async function measureFailovers(cluster: Cluster, rounds: number): Promise<SystemResult["failovers"]> {
  const out: SystemResult["failovers"] = [];
  for (let i = 0; i < rounds; i++) {
    const before = await cluster.describeQuorum();
    const killed = before.leaderId;
    const via = cluster.brokers.find((n) => n.id !== killed);
    if (via === undefined) throw new Error("no surviving broker");
    const t0 = performance.now();
    await cluster.kill(killed, "SIGKILL");
    const created = await createTopicUntilOk(address(via), `failover-${i}`, 60_000);
    const ms = round(performance.now() - t0, 0);
    const after = await cluster.describeQuorum();
    out.push({ killed, newLeader: after.leaderId, ms, attempts: created.attempts });
    log(`${cluster.system}: killed controller ${killed}; ${after.leaderId} leads; CreateTopics ok after ${ms} ms`);
    await cluster.restart(killed);
    await cluster.waitForBrokers(REJOIN_TIMEOUT_MS);
  }
  return out;
}

async function benchSystem(system: ClusterSystem, args: Args): Promise<SystemResult | NotYet> {
  const loadAverageStart = load();
  log(`starting 3-node ${system} (load ${loadAverageStart.join(" ")})`);
  const cluster = await startCluster({ system, topology: { combined: 3 }, kafkaHeap: "1G", startTimeoutMs: 180_000 });
  const clients = new Map(
    cluster.brokers.map((n) => [
      n.id,
      new AdminClient({ bootstrap: address(n), retries: 0, requestTimeoutMs: 30_000 }),
    ]),
  );
  try {
    const why = await formed(cluster);
    if (why !== undefined) {
      log(`${system}: not yet: ${why}`);
      return { system, notYet: why };
    }
    log(`${system}: one cluster ${cluster.clusterId}; visibility (${args.visibility} topics)`);
    const { visibility, create } = await measureVisibility(cluster, clients, args.visibility);
    log(`${system}: visibility p50 ${median(visibility)} ms; creating ${args.topics} topics`);
    const bulk = await measureBulk(cluster, clients, args.topics);
    log(
      `${system}: ${args.topics} topics created in ${bulk.createdMs} ms, everywhere in ${bulk.visibleEverywhereMs} ms`,
    );
    const metadataOneTopic = await measureMetadata(cluster, clients, args.metadataOne, ["bulk-00000"]);
    const metadataAllTopics = await measureMetadata(cluster, clients, args.metadataAll, null);
    log(`${system}: Metadata p50 ${metadataOneTopic.p50Ms} ms (1 topic), ${metadataAllTopics.p50Ms} ms (all)`);
    for (const c of clients.values()) c.close();
    clients.clear();
    const failovers = await measureFailovers(cluster, args.failovers);
    return {
      system,
      clusterId: cluster.clusterId,
      visibilityMs: spread(visibility),
      createOneMs: spread(create),
      bulk,
      metadataOneTopic,
      metadataAllTopics,
      failoverMs: failovers.map((f) => f.ms),
      failovers,
      loadAverageStart,
      loadAverageEnd: load(),
    };
  } finally {
    for (const c of clients.values()) c.close();
    await cluster.destroy();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const env = environment();
  const systems: ClusterSystem[] = args.only ? [args.only] : ["kafka", "tributary"];
  const results: (SystemResult | NotYet)[] = [];
  for (const s of systems) results.push(await benchSystem(s, args));
  const loadEnd = load();

  const measured = (s: ClusterSystem): SystemResult | undefined => {
    const r = results.find((x) => x.system === s);
    return r !== undefined && !("notYet" in r) ? r : undefined;
  };
  const kafka = measured("kafka");
  const trib = measured("tributary");
  const f = (r: SystemResult): number[] => (r.failoverMs.length > 0 ? r.failoverMs : [Number.NaN]);
  const metrics: { name: string; unit: string; get: (r: SystemResult) => number; anchor?: string }[] = [
    { name: `create ${args.topics} topics (answered)`, unit: "ms", get: (r) => r.bulk.createdMs },
    { name: `create ${args.topics} topics (in every node)`, unit: "ms", get: (r) => r.bulk.visibleEverywhereMs },
    { name: "new topic on the other nodes, p50", unit: "ms", get: (r) => r.visibilityMs.p50, anchor: "130-290" },
    { name: "new topic on the other nodes, max", unit: "ms", get: (r) => r.visibilityMs.max },
    { name: "CreateTopics of 1 topic, p50", unit: "ms", get: (r) => r.createOneMs.p50 },
    { name: "Metadata 1 topic, p50", unit: "ms", get: (r) => r.metadataOneTopic.p50Ms },
    { name: "Metadata 1 topic, p99", unit: "ms", get: (r) => r.metadataOneTopic.p99Ms },
    { name: "Metadata all topics, p50", unit: "ms", get: (r) => r.metadataAllTopics.p50Ms },
    { name: "Metadata all topics, p99", unit: "ms", get: (r) => r.metadataAllTopics.p99Ms },
    { name: "failover after kill -9, min", unit: "ms", get: (r) => Math.min(...f(r)), anchor: "1900-3600" },
    { name: "failover after kill -9, median", unit: "ms", get: (r) => median(f(r)) },
    { name: "failover after kill -9, max", unit: "ms", get: (r) => Math.max(...f(r)) },
  ];
  const notYet = (s: ClusterSystem): string | undefined => {
    const r = results.find((x) => x.system === s);
    return r !== undefined && "notYet" in r ? r.notYet : undefined;
  };
  const cell = (s: ClusterSystem, r: SystemResult | undefined, m: (typeof metrics)[number]): string => {
    if (notYet(s) !== undefined) return "not yet";
    if (r === undefined) return "-";
    const x = m.get(r);
    return Number.isFinite(x) ? String(round(x, 2)) : "-";
  };
  const table = formatTable(
    ["metric", "unit", "kafka", "tributary", "tributary/kafka", "kafka anchor"],
    metrics.map((m) => {
      const k = kafka ? m.get(kafka) : Number.NaN;
      const t = trib ? m.get(trib) : Number.NaN;
      const ratio = Number.isFinite(k) && Number.isFinite(t) && k > 0 ? `${(t / k).toFixed(2)}x` : "-";
      return [m.name, m.unit, cell("kafka", kafka, m), cell("tributary", trib, m), ratio, m.anchor ?? ""];
    }),
  );

  console.log("\nMetadata on 3 combined nodes: Tributary vs Apache Kafka 4.3.1 (issue 11)");
  printEnvironment(env, loadEnd);
  for (const r of results) {
    if ("notYet" in r) console.log(`${r.system.padEnd(9)}    not yet: ${r.notYet}`);
    else console.log(`${r.system.padEnd(9)}    load ${r.loadAverageStart.join(" ")} -> ${r.loadAverageEnd.join(" ")}`);
  }
  console.log(
    `workload     ${args.topics} topics (1 partition, RF 1) in CreateTopics of ${BATCH}; visibility over ` +
      `${args.visibility} topics, each created through the next node, polled every ${POLL_MS} ms; Metadata ` +
      `${args.metadataOne} × 1 topic and ${args.metadataAll} × all topics, round-robin; ${args.failovers} failovers ` +
      "(kill -9 of the quorum leader, CreateTopics through a survivor until it succeeds, then restart). " +
      "Lower is better; anchors: Kafka 4.3.1 on this VM (issue 11)",
  );
  console.log();
  console.log(table);
  const path = writeJson("metadata.json", {
    benchmark: "metadata",
    date: new Date().toISOString(),
    environment: { ...env, loadAverageEnd: loadEnd },
    kafkaVersion: "4.3.1",
    workload: { ...args, batch: BATCH, pollMs: POLL_MS, topology: "3 combined nodes" },
    results,
    ratios: Object.fromEntries(
      metrics.map((m) => [m.name, kafka && trib && m.get(kafka) > 0 ? round(m.get(trib) / m.get(kafka), 3) : null]),
    ),
  });
  console.log(`\nwrote ${path}`);
}

await main();
