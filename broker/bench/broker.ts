// Broker benchmark (issue 3): Apache Kafka 4.3.1 (Maven Central jars, e2e/reference-kafka) and Tributary, one after
// the other on this machine, driven by the same kafka-producer-perf-test / kafka-consumer-perf-test from kafka-tools.
//   npx tsx broker/bench/broker.ts [--only kafka|tributary] [--tributary-first] [--records N] [--latency-seconds S]
//   TRIBUTARY_BIN=<path to tributary-broker> npx tsx broker/bench/broker.ts ...   another build of Tributary
//   npx tsx broker/bench/broker.ts --profile [--records N] [--throughput R]
//       Tributary only, under node --cpu-prof: a produce run (acks=1, unthrottled unless R records/s), hottest frames
//   npx tsx broker/bench/broker.ts --fetch-only [--consume-runs C] [--only ...] [--tributary-first] [--records N]
//       the consume side alone: the same volume as a full run (warm-up + 2 × N records, acks=1), consumed C times
//   npx tsx broker/bench/broker.ts --fetch-only --baseline <path to another build's tributary-broker> [...]
//       an A/B of the consume side: Kafka, that build and this one all running, their consume runs taken in turn
//   npx tsx broker/bench/broker.ts --profile-fetch [--consume-runs C] [--records N]
//       Tributary only, under node --cpu-prof: hottest frames while the C consume runs fetch
// Build first (`make build`): Tributary runs from broker/dist through broker/bin/tributary-broker.
// Prints a text table and writes broker/bench/out/broker.json. No assertions on timing: targets are reported.
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, pollUntil } from "../test/support/broker-process.ts";
import { inWindow, printProfiles, type ProfileWindow } from "./cpu-profile.ts";
import {
  OUT_DIR,
  REACHED,
  compareSystems,
  environment,
  fixedRateCaveat,
  loadAverage as load,
  median,
  met,
  numberArg,
  onlyArg,
  printEnvironment,
  printSystemLoad,
  round,
  writeJson,
  writeReport,
  type ComparedMetric,
} from "./report.ts";
import {
  KAFKA_SH,
  RECORD_SIZE,
  ROOT,
  RssSampler,
  consumePerf as consumeTopic,
  log,
  producePerf as produceTopic,
  run,
  type ConsumerResult,
  type ProducerResult,
} from "./perf-tools.ts";
import { canConnect } from "../test/support/broker-process.ts";

/** TRIBUTARY_BIN=<path> runs another build of the broker (an A/B comparison of a change); default this checkout's. */
const TRIBUTARY_BIN = process.env["TRIBUTARY_BIN"] ?? join(ROOT, "broker/bin/tributary-broker");

const PARTITIONS = 6;
const TOPIC = "bench";
/** 20 MB/s as the perf tools count MB (MiB): 20 × 2^20 / 1 KiB records. */
const FIXED_MB = 20;
const FIXED_RATE = (FIXED_MB * 1024 * 1024) / RECORD_SIZE;
const WARMUP_RECORDS = 100_000;
/**
 * Records per unthrottled run: ~500 MiB, 15-60 s per run on the shared 2-core development VM. A fixed count (not one
 * derived from the warm-up, whose rate is dominated by JVM start-up) keeps both brokers on the same volume.
 */
const DEFAULT_RECORDS = 500_000;

type BrokerName = "kafka" | "tributary";

interface Args {
  only: BrokerName | undefined;
  records: number;
  latencySeconds: number;
  profile: boolean;
  /** Run Tributary first (default Kafka first), to see whether the order biases a shared machine's figures. */
  tributaryFirst: boolean;
  /** Records per second of the profiled produce run; -1 is unthrottled. */
  throughput: number;
  /** Only fill the topic and consume it `consumeRuns` times (issue 12: fetch-only consume is the weakest ratio). */
  fetchOnly: boolean;
  /** Profile Tributary's consume runs instead of a produce run. */
  profileFetch: boolean;
  consumeRuns: number;
  /** Another build's tributary-broker, for --fetch-only: all three systems run and take turns consuming. */
  baseline: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    only: undefined,
    records: DEFAULT_RECORDS,
    latencySeconds: 20,
    profile: false,
    tributaryFirst: false,
    throughput: -1,
    fetchOnly: false,
    profileFetch: false,
    consumeRuns: 3,
    baseline: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--only") args.only = onlyArg(argv[++i]);
    else if (a === "--records") args.records = numberArg(a, argv[++i], { min: 1 }, true);
    else if (a === "--latency-seconds") args.latencySeconds = numberArg(a, argv[++i], { above: 0 });
    else if (a === "--profile") args.profile = true;
    else if (a === "--tributary-first") args.tributaryFirst = true;
    // -1: unthrottled, as the perf tool takes it.
    else if (a === "--throughput") args.throughput = numberArg(a, argv[++i], { min: -1 });
    else if (a === "--fetch-only") args.fetchOnly = true;
    else if (a === "--profile-fetch") args.profileFetch = true;
    else if (a === "--consume-runs") args.consumeRuns = numberArg(a, argv[++i], { min: 1 }, true);
    else if (a === "--baseline") args.baseline = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

// ---- processes ----

interface RunningBroker {
  name: BrokerName;
  pid: number;
  bootstrap: string;
  dataDir: string;
  stop(): Promise<void>;
}

async function startKafka(dataDir: string): Promise<RunningBroker> {
  const port = await freePort();
  const controllerPort = await freePort();
  const args = ["start", "--port", String(port), "--controller-port", String(controllerPort), "--data-dir", dataDir];
  args.push("--timeout", "180", "--set", `num.partitions=${PARTITIONS}`);
  const started = await run(KAFKA_SH, args, 240_000);
  const pid = Number.parseInt(started.stdout.trim().split("\n").at(-1) ?? "", 10);
  if (started.code !== 0 || !Number.isSafeInteger(pid)) {
    throw new Error(`kafka.sh start failed (${started.code}):\n${started.stdout}\n${started.stderr}`);
  }
  return {
    name: "kafka",
    pid,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    async stop() {
      await run(KAFKA_SH, ["stop", "--data-dir", dataDir, "--timeout", "60"], 120_000);
    },
  };
}

async function startTributary(dataDir: string, profileDir?: string, bin = TRIBUTARY_BIN): Promise<RunningBroker> {
  const port = await freePort();
  const config = join(dataDir, "server.properties");
  writeFileSync(
    config,
    [
      "node.id=1",
      "process.roles=broker,controller",
      `listeners=PLAINTEXT://127.0.0.1:${port}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT",
      `log.dirs=${join(dataDir, "logs")}`,
      `num.partitions=${PARTITIONS}`,
      "offsets.topic.replication.factor=1",
      "group.initial.rebalance.delay.ms=0",
      "metrics.port=-1",
      "",
    ].join("\n"),
  );
  const logFd = openSync(join(dataDir, "tributary.log"), "a");
  const nodeArgs = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const child = spawn(process.execPath, [...nodeArgs, bin, "--config", config], {
    cwd: dataDir,
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  await pollUntil(`Tributary on port ${port}`, async () => {
    if (gone) throw new Error(`Tributary exited during start; see ${join(dataDir, "tributary.log")}`);
    return canConnect(port);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("Tributary has no pid");
  return {
    name: "tributary",
    pid,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    async stop() {
      if (gone) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const producePerf = (bootstrap: string, records: number, acks: string, throughput: number): Promise<ProducerResult> =>
  produceTopic(bootstrap, TOPIC, records, acks, throughput);
const consumePerf = (bootstrap: string, records: number): Promise<ConsumerResult> =>
  consumeTopic(bootstrap, TOPIC, records);

// ---- one broker ----

interface BrokerResult {
  broker: BrokerName;
  recordsPerRun: number;
  warmup: ProducerResult;
  produceAcks1: ProducerResult;
  produceAcksAll: ProducerResult;
  consume: ConsumerResult;
  fixedRate: ProducerResult;
  peakRssMiB: number;
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

async function benchBroker(name: BrokerName, args: Args): Promise<BrokerResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const loadAverageStart = load();
  log(`starting ${name} (data in ${dataDir}, load ${loadAverageStart.join(" ")})`);
  const broker = name === "kafka" ? await startKafka(dataDir) : await startTributary(dataDir);
  const rss = new RssSampler(broker.pid);
  try {
    log(`${name} pid ${broker.pid} on ${broker.bootstrap}; warm-up ${WARMUP_RECORDS} records (creates the topic)`);
    const warmup = await producePerf(broker.bootstrap, WARMUP_RECORDS, "1", -1);
    const recordsPerRun = args.records;
    log(`${name}: warm-up ${warmup.mbPerSec} MB/s; ${recordsPerRun} records per run`);
    const produceAcks1 = await producePerf(broker.bootstrap, recordsPerRun, "1", -1);
    log(`${name}: acks=1 ${produceAcks1.mbPerSec} MB/s in ${produceAcks1.wallSeconds} s`);
    const produceAcksAll = await producePerf(broker.bootstrap, recordsPerRun, "all", -1);
    log(`${name}: acks=all ${produceAcksAll.mbPerSec} MB/s in ${produceAcksAll.wallSeconds} s`);
    const consume = await consumePerf(broker.bootstrap, WARMUP_RECORDS + 2 * recordsPerRun);
    log(`${name}: consume ${consume.mbPerSec} MB/s in ${consume.wallSeconds} s`);
    const fixedRate = await producePerf(
      broker.bootstrap,
      Math.round(FIXED_RATE * args.latencySeconds),
      "all",
      FIXED_RATE,
    );
    log(`${name}: fixed 20 MB/s p50 ${fixedRate.p50Ms} ms p99 ${fixedRate.p99Ms} ms`);
    return {
      broker: name,
      recordsPerRun,
      warmup,
      produceAcks1,
      produceAcksAll,
      consume,
      fixedRate,
      peakRssMiB: round(rss.stop() / 1024, 1),
      loadAverageStart,
      loadAverageEnd: load(),
    };
  } finally {
    rss.stop();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- fetch-only mode ----

interface FetchResult {
  broker: BrokerName;
  /** Records in the topic: the warm-up and 2 × records, as many as a full run's consume reads. */
  records: number;
  consumes: ConsumerResult[];
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

/** Fills the topic as a full run does (acks=1 instead of one acks=1 and one acks=all run) and runs `consume`. */
async function withFilledTopic<T>(
  broker: RunningBroker,
  args: Args,
  consume: (records: number) => Promise<T>,
): Promise<T> {
  await producePerf(broker.bootstrap, WARMUP_RECORDS, "1", -1);
  const fill = await producePerf(broker.bootstrap, 2 * args.records, "1", -1);
  log(`${broker.name}: filled with ${WARMUP_RECORDS + 2 * args.records} records (${fill.mbPerSec} MB/s)`);
  return consume(WARMUP_RECORDS + 2 * args.records);
}

async function consumeRuns(broker: RunningBroker, records: number, runs: number): Promise<ConsumerResult[]> {
  const consumes: ConsumerResult[] = [];
  for (let i = 0; i < runs; i++) {
    const c = await consumePerf(broker.bootstrap, records);
    log(`${broker.name}: consume ${c.mbPerSec} MB/s, fetch only ${c.fetchMbPerSec} MB/s; load ${load().join(" ")}`);
    consumes.push(c);
  }
  return consumes;
}

async function fetchBroker(name: BrokerName, args: Args): Promise<FetchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const loadAverageStart = load();
  log(`starting ${name} (data in ${dataDir}, load ${loadAverageStart.join(" ")})`);
  const broker = name === "kafka" ? await startKafka(dataDir) : await startTributary(dataDir);
  try {
    const consumes = await withFilledTopic(broker, args, (records) => consumeRuns(broker, records, args.consumeRuns));
    const records = WARMUP_RECORDS + 2 * args.records;
    return { broker: name, records, consumes, loadAverageStart, loadAverageEnd: load() };
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Kafka, the baseline build and this build all started, each topic filled in turn; then rounds in which each consumes
 * once, the order rotating, so that all three meet the same changing load (an A/B on a shared machine).
 */
async function interleaved(args: Args, baseline: string): Promise<{ results: FetchResult[]; base: FetchResult }> {
  const systems: { name: BrokerName; bin?: string }[] = [{ name: "kafka" }, { name: "tributary", bin: baseline }];
  systems.push({ name: "tributary" });
  const records = WARMUP_RECORDS + 2 * args.records;
  const dirs: string[] = [];
  const running: RunningBroker[] = [];
  try {
    for (const s of systems) {
      const dataDir = mkdtempSync(join(tmpdir(), `bench-${s.name}-`));
      dirs.push(dataDir);
      running.push(s.name === "kafka" ? await startKafka(dataDir) : await startTributary(dataDir, undefined, s.bin));
    }
    const results = running.map((b): FetchResult => ({
      broker: b.name,
      records,
      consumes: [],
      loadAverageStart: load(),
      loadAverageEnd: [],
    }));
    for (const b of running) await withFilledTopic(b, args, () => Promise.resolve());
    for (let round = 0; round < args.consumeRuns; round++) {
      for (let k = 0; k < running.length; k++) {
        const i = (round + k) % running.length;
        const b = running[i];
        const r = results[i];
        if (b === undefined || r === undefined) continue;
        log(`round ${round + 1}: ${i === 1 ? "baseline" : b.name}`);
        r.consumes.push(...(await consumeRuns(b, records, 1)));
      }
    }
    for (const r of results) r.loadAverageEnd = load();
    const [kafka, base, trib] = results;
    if (kafka === undefined || base === undefined || trib === undefined) throw new Error("a system is missing");
    return { results: [kafka, trib], base };
  } finally {
    for (const b of running) await b.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

async function fetchOnly(args: Args): Promise<void> {
  const env = environment();
  const both: BrokerName[] = args.tributaryFirst ? ["tributary", "kafka"] : ["kafka", "tributary"];
  let results: FetchResult[] = [];
  let base: FetchResult | undefined;
  if (args.baseline !== undefined) ({ results, base } = await interleaved(args, args.baseline));
  else for (const name of args.only ? [args.only] : both) results.push(await fetchBroker(name, args));
  const loadEnd = load();
  const fetchMb = (r: FetchResult) => r.consumes.map((c) => c.fetchMbPerSec);
  const metrics: ComparedMetric<FetchResult>[] = [
    { name: "consume (fetch only), median", unit: "MB/s", get: (r) => median(fetchMb(r)) },
    { name: "consume (fetch only), min", unit: "MB/s", get: (r) => Math.min(...fetchMb(r)) },
    { name: "consume (fetch only), max", unit: "MB/s", get: (r) => Math.max(...fetchMb(r)) },
    { name: "consume, median", unit: "MB/s", get: (r) => median(r.consumes.map((c) => c.mbPerSec)) },
  ];
  const kafka = results.find((r) => r.broker === "kafka");
  const { table, ratios } = compareSystems(
    metrics,
    kafka,
    results.find((r) => r.broker === "tributary"),
  );
  console.log("\nTributary vs Apache Kafka 4.3.1, fetch-only consume (issue 12)");
  printEnvironment(env, loadEnd);
  for (const r of results)
    printSystemLoad(r.broker, r.loadAverageStart, r.loadAverageEnd, `${r.records} records × ${r.consumes.length}, `);
  console.log();
  console.log(table);
  const baseline = base === undefined ? undefined : compareSystems(metrics, kafka, base);
  if (baseline !== undefined) {
    console.log(`\nthe baseline (${args.baseline ?? ""}) in the same rounds, as "tributary":\n`);
    console.log(baseline.table);
  }
  writeReport("broker-fetch", env, loadEnd, {
    workload: { topic: TOPIC, partitions: PARTITIONS, recordSize: RECORD_SIZE, consumeRuns: args.consumeRuns },
    results,
    ratios,
    ...(base === undefined ? {} : { baseline: { bin: args.baseline, result: base, ratios: baseline?.ratios } }),
  });
}

// ---- profile mode ----

async function profileTributary(args: Args): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-profile-"));
  const profileDir = join(OUT_DIR, "profile");
  rmSync(profileDir, { recursive: true, force: true });
  const broker = await startTributary(dataDir, profileDir);
  let produce: ProducerResult;
  try {
    await producePerf(broker.bootstrap, WARMUP_RECORDS, "1", -1);
    produce = await producePerf(broker.bootstrap, args.records, "1", args.throughput);
    console.log(
      `profiled produce run: ${produce.mbPerSec} MB/s, ${produce.records} records, acks=1, ` +
        `p50 ${produce.p50Ms} ms, p99 ${produce.p99Ms} ms, throughput limit ${args.throughput} records/s`,
    );
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const [summary] = printProfiles(profileDir, ROOT, "whole broker lifetime", undefined, 25);
  if (summary === undefined) throw new Error(`no .cpuprofile in ${profileDir}`);
  writeJson("broker-profile.json", {
    profile: summary.path,
    produce,
    self: summary.self,
    inclusive: summary.inclusive,
  });
}

/** Tributary under --cpu-prof: the hottest frames while the consume runs fetch (not the fill before them). */
async function profileFetch(args: Args): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-profile-"));
  const profileDir = join(OUT_DIR, "profile-fetch");
  rmSync(profileDir, { recursive: true, force: true });
  const broker = await startTributary(dataDir, profileDir);
  let measured: { result: ConsumerResult[]; window: ProfileWindow };
  try {
    measured = await withFilledTopic(broker, args, (records) =>
      inWindow(() => consumeRuns(broker, records, args.consumeRuns)),
    );
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const runs = measured.result.map((c) => c.fetchMbPerSec).join(", ");
  console.log(`profiled consume runs: fetch only ${runs} MB/s`);
  const [summary] = printProfiles(profileDir, ROOT, "the consume runs", measured.window, 30);
  if (summary === undefined) throw new Error(`no .cpuprofile in ${profileDir}`);
  writeJson("broker-fetch-profile.json", {
    profile: summary.path,
    consumes: measured.result,
    self: summary.self,
    inclusive: summary.inclusive,
  });
}

// ---- main ----

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.profile) return profileTributary(args);
  if (args.profileFetch) return profileFetch(args);
  if (args.fetchOnly) return fetchOnly(args);
  const env = environment();
  const both: BrokerName[] = args.tributaryFirst ? ["tributary", "kafka"] : ["kafka", "tributary"];
  const names: BrokerName[] = args.only ? [args.only] : both;
  const results: BrokerResult[] = [];
  for (const name of names) results.push(await benchBroker(name, args));
  const loadEnd = load();

  const kafka = results.find((r) => r.broker === "kafka");
  const trib = results.find((r) => r.broker === "tributary");
  const metrics: ComparedMetric<BrokerResult>[] = [
    { name: "produce acks=1", unit: "MB/s", get: (r) => r.produceAcks1.mbPerSec },
    { name: "produce acks=all", unit: "MB/s", get: (r) => r.produceAcksAll.mbPerSec },
    { name: "consume", unit: "MB/s", get: (r) => r.consume.mbPerSec },
    { name: "consume (fetch only)", unit: "MB/s", get: (r) => r.consume.fetchMbPerSec },
    { name: "p50 @ 20 MB/s acks=all", unit: "ms", get: (r) => r.fixedRate.p50Ms },
    { name: "p99 @ 20 MB/s acks=all", unit: "ms", get: (r) => r.fixedRate.p99Ms },
    { name: "achieved fixed rate", unit: "MB/s", get: (r) => r.fixedRate.mbPerSec },
    { name: "peak broker RSS", unit: "MiB", get: (r) => r.peakRssMiB },
  ];
  const { table, ratios } = compareSystems(metrics, kafka, trib);

  const targets =
    kafka && trib
      ? {
          produceAtLeastHalf:
            trib.produceAcks1.mbPerSec >= 0.5 * kafka.produceAcks1.mbPerSec &&
            trib.produceAcksAll.mbPerSec >= 0.5 * kafka.produceAcksAll.mbPerSec,
          consumeAtLeastHalf: trib.consume.mbPerSec >= 0.5 * kafka.consume.mbPerSec,
          p99AtMostDouble: trib.fixedRate.p99Ms <= 2 * Math.max(kafka.fixedRate.p99Ms, 1),
          rssNotAboveKafka: trib.peakRssMiB <= kafka.peakRssMiB,
          fixedRateReachedByBoth:
            kafka.fixedRate.mbPerSec >= REACHED * FIXED_MB && trib.fixedRate.mbPerSec >= REACHED * FIXED_MB,
        }
      : undefined;

  console.log("\nTributary vs Apache Kafka 4.3.1 (issue 3)");
  printEnvironment(env, loadEnd);
  for (const r of results)
    printSystemLoad(r.broker, r.loadAverageStart, r.loadAverageEnd, `${r.recordsPerRun} records/run, `);
  console.log(
    `workload     1 topic × ${PARTITIONS} partitions, ${RECORD_SIZE} B records, batch.size=65536 linger.ms=5, ` +
      `fixed rate ${FIXED_RATE} records/s for ${args.latencySeconds} s; MB = MiB as the Kafka tools count`,
  );
  console.log();
  console.log(table);
  if (targets) {
    console.log();
    console.log(`target produce >= 0.5x Kafka     ${met(targets.produceAtLeastHalf)}`);
    console.log(`target consume >= 0.5x Kafka     ${met(targets.consumeAtLeastHalf)}`);
    const caveat = fixedRateCaveat(
      results.map((r) => ({ system: r.broker, mbPerSec: r.fixedRate.mbPerSec })),
      FIXED_MB,
    );
    console.log(`target p99 <= 2x Kafka           ${met(targets.p99AtMostDouble)}${caveat}`);
    console.log(`target RSS <= Kafka              ${met(targets.rssNotAboveKafka)}`);
  }
  writeReport("broker", env, loadEnd, {
    workload: {
      topic: TOPIC,
      partitions: PARTITIONS,
      recordSize: RECORD_SIZE,
      producerProps: { "batch.size": 65536, "linger.ms": 5 },
      warmupRecords: WARMUP_RECORDS,
      fixedRateRecordsPerSec: FIXED_RATE,
      fixedRateAcks: "all",
      latencySeconds: args.latencySeconds,
    },
    results,
    ratios,
    targets: targets ?? null,
  });
}

await main();
