// Replicated benchmark (issue 12): a 3-node Apache Kafka 4.3.1 and a 3-node Tributary, one after the other on this
// machine, each 3 combined KRaft nodes on loopback started by the cluster harness (broker/test/support/cluster.ts),
// one topic with replication factor 3 and min.insync.replicas 2, written with acks=all and read by the same
// kafka-producer-perf-test / kafka-consumer-perf-test the single-broker benchmark uses (broker/bench/broker.ts).
//   npx tsx broker/bench/replicated.ts [--only kafka|tributary] [--tributary-first] [--records N] [--rate-mb M]
//                                      [--latency-seconds S] [--keep-dirs] [--set key=value ...]
//   npx tsx broker/bench/replicated.ts --profile [--records N]
//       Tributary only, its 3 nodes under node --cpu-prof: hottest frames of each during one acks=all produce run
//   TRIBUTARY_BIN=<path to tributary-broker> npx tsx broker/bench/replicated.ts ...   another build of Tributary
// Build first (`make build`) and install the jars (`make reference-kafka`). Prints a text table and writes
// broker/bench/out/replicated.json. No assertions on timing. A system whose replicas do not form an ISR of at least
// min.insync.replicas gets "not yet: <why>" instead of figures, and the run still finishes.
import { AdminClient, type PartitionInfo } from "../src/admin/index.ts";
import type { Cluster, ClusterSystem } from "../test/support/cluster.ts";
import { profileTributary, startBenchCluster, topicPartitions } from "./bench-cluster.ts";
import { inWindow } from "./cpu-profile.ts";
import {
  RECORD_SIZE,
  PRODUCER_PROPS,
  RssSampler,
  consumePerf,
  cpuSeconds,
  log,
  producePerf,
  type ConsumerResult,
  type ProducerResult,
} from "./perf-tools.ts";
import {
  compareSystems,
  environment,
  fixedRateCaveat,
  loadAverage as load,
  met,
  numberArg,
  onlyArg,
  printEnvironment,
  printSystemLoad,
  round,
  setArg,
  writeReport,
  type ComparedMetric,
} from "./report.ts";

const TOPIC = "bench-rf3";
const PARTITIONS = 6;
const REPLICATION_FACTOR = 3;
const MIN_ISR = 2;
const WARMUP_RECORDS = 50_000;
/** ~195 MiB per unthrottled run: each record is written three times, on a machine the three brokers share. */
const DEFAULT_RECORDS = 200_000;
/**
 * The fixed rate of the latency run, MB/s (MiB as the perf tools count): below what either 3-node cluster sustained
 * unthrottled with acks=all on the shared 2-core VM (3.9-6.4 MB/s at load averages 15-50), so that p50/p99 measure
 * the request path rather than a queue. Raise it with --rate-mb on a quiet machine.
 */
const DEFAULT_RATE_MB = 2;
/** How long the followers get to join the ISR of every partition after the topic is created. */
const ISR_TIMEOUT_MS = 60_000;
const GiB = 2 ** 30;

interface Args {
  only: ClusterSystem | undefined;
  tributaryFirst: boolean;
  records: number;
  rateMb: number;
  latencySeconds: number;
  keepDirs: boolean;
  profile: boolean;
  /** server.properties overrides for every node of both systems (`--set key=value`), e.g. to try a setting. */
  set: Record<string, string>;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    only: undefined,
    tributaryFirst: false,
    records: DEFAULT_RECORDS,
    rateMb: DEFAULT_RATE_MB,
    latencySeconds: 20,
    keepDirs: false,
    profile: false,
    set: {},
  };
  const positive = (a: string, v: string | undefined): number => numberArg(a, v, { above: 0 });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--tributary-first") args.tributaryFirst = true;
    else if (a === "--keep-dirs") args.keepDirs = true;
    else if (a === "--profile") args.profile = true;
    else if (a === "--set") setArg(argv[++i], args.set);
    else if (a === "--only") args.only = onlyArg(argv[++i]);
    else if (a === "--records") args.records = Math.round(positive(a, argv[++i]));
    else if (a === "--rate-mb") args.rateMb = positive(a, argv[++i]);
    else if (a === "--latency-seconds") args.latencySeconds = positive(a, argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/** CPU seconds the cluster's broker processes used during `work`, summed over the nodes. */
async function clusterCpu<T>(pids: readonly number[], work: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const before = pids.map(cpuSeconds);
  const result = await work();
  const after = pids.map(cpuSeconds);
  return {
    result,
    cpu: round(
      after.reduce((s, x, i) => s + x - (before[i] ?? 0), 0),
      2,
    ),
  };
}

const isrSizes = (parts: readonly PartitionInfo[]): string =>
  parts.map((p) => `${p.partition}:${p.leader}/[${p.isr.join(",")}]`).join(" ");

const partitions = (admin: AdminClient): Promise<PartitionInfo[]> => topicPartitions(admin, TOPIC);

/**
 * Creates the topic and waits until every partition has a leader and all 3 replicas in its ISR. Resolves with the
 * time that took, or, when the ISR did not reach 3 within ISR_TIMEOUT_MS, with why; rejects only when some partition
 * has fewer than min.insync.replicas in its ISR (acks=all could not be answered at all).
 */
async function createTopic(admin: AdminClient): Promise<{ isrMs: number | null; isrNote: string | null }> {
  const t0 = performance.now();
  const [created] = await admin.createTopics([
    {
      name: TOPIC,
      partitions: PARTITIONS,
      replicationFactor: REPLICATION_FACTOR,
      configs: { "min.insync.replicas": String(MIN_ISR) },
    },
  ]);
  if (created?.error !== undefined) throw new Error(`creating ${TOPIC}: ${created.error.message}`);
  let last: PartitionInfo[] = [];
  const deadline = Date.now() + ISR_TIMEOUT_MS;
  for (;;) {
    try {
      last = await partitions(admin);
    } catch {
      // not yet in this broker's metadata
    }
    const full = last.length === PARTITIONS && last.every((p) => p.leader >= 0 && p.isr.length === REPLICATION_FACTOR);
    if (full) return { isrMs: round(performance.now() - t0, 0), isrNote: null };
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seen = `leader/[ISR] per partition: ${isrSizes(last)}`;
  if (last.length < PARTITIONS || last.some((p) => p.leader < 0 || p.isr.length < MIN_ISR)) {
    throw new Error(
      `the ISR of some partition did not reach min.insync.replicas ${MIN_ISR} in ${ISR_TIMEOUT_MS / 1000} s; ${seen}`,
    );
  }
  return { isrMs: null, isrNote: `the ISR did not reach ${REPLICATION_FACTOR} in ${ISR_TIMEOUT_MS / 1000} s; ${seen}` };
}

interface Figures {
  /** Topic created → every partition's ISR holds all 3 replicas, ms; null when it did not within ISR_TIMEOUT_MS. */
  isrFormedMs: number | null;
  warmup: ProducerResult;
  produce: ProducerResult;
  /** Broker CPU seconds (user + system, summed over the 3 processes) during the unthrottled produce run. */
  produceCpuSeconds: number;
  produceCpuSecondsPerGiB: number;
  consume: ConsumerResult;
  fixedRate: ProducerResult;
  fixedRateCpuSeconds: number;
  fixedRateCpuSecondsPerGiB: number;
  /** Leader/[ISR] of each partition after the unthrottled produce run and at the end: did the ISR shrink under load? */
  isrAfterProduce: string;
  isrAtEnd: string;
}

interface SystemResult {
  system: ClusterSystem;
  /** Why the figures are missing. */
  notYet: string | null;
  /** Something the figures should be read with (e.g. the ISR never reached 3). */
  note: string | null;
  figures: Figures | null;
  /** Each broker process's peak RSS (VmHWM), MiB, by node id. */
  peakRssMiB: Record<number, number>;
  peakRssSumMiB: number;
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

async function measure(cluster: Cluster, admin: AdminClient, pids: number[], args: Args): Promise<Figures> {
  const { system } = cluster;
  const bootstrap = cluster.bootstrap();
  const { isrMs, isrNote } = await createTopic(admin);
  if (isrNote !== null) log(`${system}: ${isrNote}`);
  log(`${system}: ISR of all ${PARTITIONS} partitions formed in ${isrMs} ms; warm-up ${WARMUP_RECORDS} records`);
  const warmup = await producePerf(bootstrap, TOPIC, WARMUP_RECORDS, "all", -1);
  log(`${system}: warm-up ${warmup.mbPerSec} MB/s; ${args.records} records acks=all`);
  const produced = await clusterCpu(pids, () => producePerf(bootstrap, TOPIC, args.records, "all", -1));
  const produce = produced.result;
  const isrAfterProduce = isrSizes(await partitions(admin));
  log(
    `${system}: acks=all ${produce.mbPerSec} MB/s in ${produce.wallSeconds} s, ${produced.cpu} CPU s; ${isrAfterProduce}`,
  );
  const consume = await consumePerf(bootstrap, TOPIC, WARMUP_RECORDS + args.records);
  log(`${system}: consume ${consume.mbPerSec} MB/s (fetch only ${consume.fetchMbPerSec}) in ${consume.wallSeconds} s`);
  const rate = Math.round((args.rateMb * 2 ** 20) / RECORD_SIZE);
  const fixed = await clusterCpu(pids, () =>
    producePerf(bootstrap, TOPIC, Math.round(rate * args.latencySeconds), "all", rate),
  );
  const fixedRate = fixed.result;
  log(`${system}: fixed ${args.rateMb} MB/s: p50 ${fixedRate.p50Ms} ms, p99 ${fixedRate.p99Ms} ms`);
  const gib = (p: ProducerResult): number => (p.records * RECORD_SIZE) / GiB;
  return {
    isrFormedMs: isrMs,
    warmup,
    produce,
    produceCpuSeconds: produced.cpu,
    produceCpuSecondsPerGiB: round(produced.cpu / gib(produce), 1),
    consume,
    fixedRate,
    fixedRateCpuSeconds: fixed.cpu,
    fixedRateCpuSecondsPerGiB: round(fixed.cpu / gib(fixedRate), 1),
    isrAfterProduce,
    isrAtEnd: isrSizes(await partitions(admin)),
  };
}

async function benchSystem(system: ClusterSystem, args: Args): Promise<SystemResult> {
  const loadAverageStart = load();
  log(`starting 3-node ${system} (load ${loadAverageStart.join(" ")})`);
  const cluster = await startBenchCluster(system, {
    keepDirs: args.keepDirs,
    config: { "min.insync.replicas": String(MIN_ISR), ...args.set },
  });
  const pids = cluster.brokers.map((n) => {
    const pid = cluster.pid(n.id);
    if (pid === undefined) throw new Error(`${system} node ${n.id} has no process`);
    return pid;
  });
  const rss = new Map(cluster.brokers.map((n, i) => [n.id, new RssSampler(pids[i] ?? 0)]));
  const admin = new AdminClient({ bootstrap: cluster.bootstrap(), retries: 5, requestTimeoutMs: 30_000 });
  let figures: Figures | null = null;
  let notYet: string | null = null;
  try {
    await cluster.waitForBrokers(60_000);
    figures = await measure(cluster, admin, pids, args);
  } catch (err) {
    notYet = err instanceof Error ? err.message : String(err);
    log(`${system}: not yet: ${notYet}`);
  } finally {
    admin.close();
    if (args.keepDirs) log(`${system}: node directories kept under ${cluster.node(1).dir}/..`);
  }
  const peakRssMiB = Object.fromEntries([...rss].map(([id, s]) => [id, round(s.stop() / 1024, 1)]));
  await cluster.destroy();
  return {
    system,
    notYet,
    note: figures?.isrFormedMs === null ? "the ISR did not reach 3 replicas on every partition" : null,
    figures,
    peakRssMiB,
    peakRssSumMiB: round(
      Object.values(peakRssMiB).reduce((s, x) => s + x, 0),
      1,
    ),
    loadAverageStart,
    loadAverageEnd: load(),
  };
}

/**
 * Tributary's 3 nodes under `node --cpu-prof`: the topic, a warm-up, then one unthrottled acks=all produce run; each
 * node stops with SIGTERM (the profile is written at exit) and its hottest frames during that run are printed.
 */
async function profile(args: Args): Promise<void> {
  const config = { "min.insync.replicas": String(MIN_ISR), ...args.set };
  await profileTributary("replicated", { config }, "the unthrottled acks=all produce run only", async (cluster) => {
    const admin = new AdminClient({ bootstrap: cluster.bootstrap(), retries: 5, requestTimeoutMs: 30_000 });
    try {
      await cluster.waitForBrokers(60_000);
      await createTopic(admin);
      await producePerf(cluster.bootstrap(), TOPIC, WARMUP_RECORDS, "all", -1);
      const { result: produce, window } = await inWindow(() =>
        producePerf(cluster.bootstrap(), TOPIC, args.records, "all", -1),
      );
      console.log(
        `profiled: ${produce.records} records acks=all, ${produce.mbPerSec} MB/s, p50 ${produce.p50Ms} ms, ` +
          `p99 ${produce.p99Ms} ms; load ${load().join(" ")}`,
      );
      return window;
    } finally {
      admin.close();
    }
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.profile) return profile(args);
  const env = environment();
  const both: ClusterSystem[] = args.tributaryFirst ? ["tributary", "kafka"] : ["kafka", "tributary"];
  const results: SystemResult[] = [];
  for (const s of args.only ? [args.only] : both) results.push(await benchSystem(s, args));
  const loadEnd = load();

  const kafka = results.find((r) => r.system === "kafka");
  const trib = results.find((r) => r.system === "tributary");
  type Metric = ComparedMetric<SystemResult>;
  const fig = (get: (f: Figures) => number) => (r: SystemResult) => (r.figures ? get(r.figures) : undefined);
  const rate = `${args.rateMb} MB/s`;
  const metrics: Metric[] = [
    { name: "produce acks=all", unit: "MB/s", get: fig((f) => f.produce.mbPerSec) },
    { name: "consume", unit: "MB/s", get: fig((f) => f.consume.mbPerSec) },
    { name: "consume (fetch only)", unit: "MB/s", get: fig((f) => f.consume.fetchMbPerSec) },
    { name: `p50 @ ${rate} acks=all`, unit: "ms", get: fig((f) => f.fixedRate.p50Ms) },
    { name: `p99 @ ${rate} acks=all`, unit: "ms", get: fig((f) => f.fixedRate.p99Ms) },
    { name: "achieved fixed rate", unit: "MB/s", get: fig((f) => f.fixedRate.mbPerSec) },
    {
      name: "peak RSS, sum of 3 brokers",
      unit: "MiB",
      get: (r) => (r.peakRssSumMiB > 0 ? r.peakRssSumMiB : undefined),
    },
    { name: "broker CPU per GiB produced", unit: "s", get: fig((f) => f.produceCpuSecondsPerGiB) },
    { name: `broker CPU per GiB @ ${rate}`, unit: "s", get: fig((f) => f.fixedRateCpuSecondsPerGiB) },
    { name: "ISR of 3 formed after create", unit: "ms", get: fig((f) => f.isrFormedMs ?? Number.NaN) },
  ];
  const { table, ratios } = compareSystems(metrics, kafka, trib);

  console.log(
    "\nReplicated: 3 brokers, RF 3, min.insync.replicas 2, acks=all: Tributary vs Apache Kafka 4.3.1 (issue 12)",
  );
  printEnvironment(env, loadEnd);
  for (const r of results) {
    printSystemLoad(r.system, r.loadAverageStart, r.loadAverageEnd);
    if (r.notYet !== null) console.log(`             not yet: ${r.notYet}`);
    if (r.note !== null) console.log(`             note: ${r.note}`);
    if (r.figures) console.log(`             leader/[ISR] after produce: ${r.figures.isrAfterProduce}`);
  }
  console.log(
    `workload     3 combined nodes; 1 topic × ${PARTITIONS} partitions, RF ${REPLICATION_FACTOR}, ` +
      `min.insync.replicas ${MIN_ISR}; ${RECORD_SIZE} B records, acks=all, ${PRODUCER_PROPS.join(" ")}; ` +
      `${WARMUP_RECORDS} warm-up + ${args.records} records unthrottled, then ${rate} for ${args.latencySeconds} s; ` +
      "MB = MiB as the Kafka tools count; RSS is the sum of each broker's peak (VmHWM); CPU is utime+stime from " +
      "/proc/<pid>/stat summed over the 3 brokers during the run named",
  );
  console.log();
  console.log(table);
  if (kafka?.figures && trib?.figures) {
    const k = kafka.figures;
    const t = trib.figures;
    const caveat = fixedRateCaveat(
      results.flatMap((r) => (r.figures ? [{ system: r.system, mbPerSec: r.figures.fixedRate.mbPerSec }] : [])),
      args.rateMb,
    );
    console.log();
    console.log(`target produce >= 1.0x Kafka     ${met(t.produce.mbPerSec >= k.produce.mbPerSec)}`);
    console.log(`target consume >= 1.0x Kafka     ${met(t.consume.mbPerSec >= k.consume.mbPerSec)}`);
    console.log(`target p99 <= Kafka              ${met(t.fixedRate.p99Ms <= k.fixedRate.p99Ms)}${caveat}`);
  }
  writeReport("replicated", env, loadEnd, {
    workload: {
      topic: TOPIC,
      partitions: PARTITIONS,
      replicationFactor: REPLICATION_FACTOR,
      minInsyncReplicas: MIN_ISR,
      recordSize: RECORD_SIZE,
      producerProps: PRODUCER_PROPS,
      warmupRecords: WARMUP_RECORDS,
      ...args,
    },
    results,
    ratios,
  });
}

await main();
