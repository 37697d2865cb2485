// Metadata replay benchmark (issue 11): how long a combined node takes, and how much CPU it spends, to replay a large
// metadata log at start until its first image is published and its controller is active. The partition logs are not
// part of it: no broker storage subscribes, so what is measured is decoding and applying the committed records (in
// every MetadataLoader the node runs) and the quorum's own start.
//   npx tsx broker/bench/metadata-replay.ts [--topics N] [--partitions P] [--runs R] [--dist DIR]...
// The log (N topics of P partitions, 100 topics per batch as CreateTopics writes them, no snapshot) is written once
// with this tree's code; each run copies it and replays it in a fresh process. --dist (repeatable) replays with
// another build's broker/dist (e.g. one built before a change); without it, this tree's broker/dist (build first).
// Runs of the builds alternate. Prints a table and writes broker/bench/out/metadata-replay.json.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { pino } from "pino";
import { environment, formatTable, loadAverage, median, printEnvironment, round, writeJson } from "./report.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const THIS_DIST = resolve(HERE, "../dist");
const CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg";
const TOPICS_PER_BATCH = 100;

interface Args {
  topics: number;
  partitions: number;
  runs: number;
  dists: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { topics: 1000, partitions: 10, runs: 3, dists: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const v = argv[++i];
    const n = Number(v);
    if (a === "--dist" && v !== undefined) args.dists.push(resolve(v));
    else if ((a === "--topics" || a === "--partitions" || a === "--runs") && Number.isInteger(n) && n >= 1) {
      args[a.slice(2) as "topics" | "partitions" | "runs"] = n;
    } else throw new Error(`unknown argument or bad value: ${a} ${v ?? ""}`);
  }
  if (args.dists.length === 0) args.dists.push(THIS_DIST);
  return args;
}

/** The modules a run needs, from one build's broker/dist (typed loosely: older builds differ in details). */
interface Build {
  resolveBrokerConfig: (o: { overrides: string[]; cwd: string }) => { config: { logDirs: string[] } };
  planNode: (config: unknown) => { voters: unknown[] };
  MetadataQuorum: {
    create(o: object): {
      start(): Promise<void>;
      close(): Promise<void>;
      firstImage: Promise<unknown>;
      driver: Driver;
      controllerPort(): unknown;
      loader?: unknown;
    };
  };
  startController: (o: object) => { runtime: { isActive: boolean }; close(): void };
}

interface Driver {
  propose(records: Uint8Array[]): number[] | null;
  status(): { highWatermark: number; logEndOffset: number };
}

async function load(dist: string): Promise<Build> {
  const mod = async (path: string): Promise<Record<string, unknown>> =>
    (await import(pathToFileURL(join(dist, "src", path)).href)) as Record<string, unknown>;
  return {
    ...(await mod("config/broker-config.js")),
    ...(await mod("node/node-plan.js")),
    ...(await mod("node/metadata-quorum.js")),
    ...(await mod("quorum/controller-runtime.js")),
  } as unknown as Build;
}

async function until(check: () => boolean, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A combined single-voter node's quorum and controller on `dir`, as start-node.ts wires them. */
async function startNode(build: Build, dir: string) {
  const logger = pino({ level: process.env["REPLAY_LOG"] ?? "silent" });
  const { config } = build.resolveBrokerConfig({ overrides: ["node.id=1", `log.dirs=${dir}`], cwd: dir });
  const plan = build.planNode(config);
  const quorum = build.MetadataQuorum.create({
    config,
    plan,
    voters: plan.voters,
    clusterId: CLUSTER_ID,
    metadataDir: dir,
    logger,
  });
  await quorum.start();
  const controller = build.startController({
    driver: quorum.driver,
    loader: quorum.loader,
    quorum: quorum.controllerPort(),
    config,
    logger,
  });
  return { quorum, controller };
}

/** Writes the log with this tree's code: bootstrap records, then the topics 100 at a time. */
async function writeLog(dir: string, topics: number, partitions: number): Promise<void> {
  const { encodeRecord, record } = await import("../src/controller/records.ts");
  const { PartitionRecord, TopicRecord } = await import("../src/protocol/index.ts");
  const build = await load(THIS_DIST);
  const { quorum, controller } = await startNode(build, dir);
  await quorum.firstImage;
  for (let first = 0; first < topics; first += TOPICS_PER_BATCH) {
    const records: Uint8Array[] = [];
    for (let t = first; t < Math.min(topics, first + TOPICS_PER_BATCH); t++) {
      const topicId = randomUUID();
      records.push(encodeRecord(record(TopicRecord, { name: `replay-${t}`, topicId }, 0)));
      for (let p = 0; p < partitions; p++) {
        records.push(
          encodeRecord(
            record(
              PartitionRecord,
              { topicId, partitionId: p, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
              0,
            ),
          ),
        );
      }
    }
    if (quorum.driver.propose(records) === null) throw new Error("the node does not lead its quorum");
    const end = quorum.driver.status().logEndOffset;
    await until(() => quorum.driver.status().highWatermark >= end, "the topics to commit");
  }
  controller.close();
  await quorum.close();
}

interface RunResult {
  wallMs: number;
  cpuMs: number;
}

/** One replay, in this (fresh) process: from the quorum's start until the first image and an active controller. */
async function replayChild(dist: string, dir: string): Promise<void> {
  const build = await load(dist);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { quorum, controller } = await startNode(build, dir);
  await quorum.firstImage;
  await until(() => controller.runtime.isActive, "the controller to be active");
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  controller.close();
  await quorum.close();
  const result: RunResult = { wallMs: round(wallMs, 0), cpuMs: round((cpu.user + cpu.system) / 1000, 0) };
  process.stdout.write(JSON.stringify(result));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child") return replayChild(argv[1] ?? "", argv[2] ?? "");
  const args = parseArgs(argv);
  const env = environment();
  const root = mkdtempSync(join(tmpdir(), "metadata-replay-"));
  try {
    const source = join(root, "source");
    console.error(`writing ${args.topics} topics × ${args.partitions} partitions`);
    await writeLog(source, args.topics, args.partitions);
    const results = new Map<string, RunResult[]>(args.dists.map((d) => [d, []]));
    for (let run = 0; run < args.runs; run++) {
      for (const dist of args.dists) {
        const dir = join(root, `run-${run}`);
        cpSync(source, dir, { recursive: true });
        const out = execFileSync(
          process.execPath,
          [...process.execArgv, fileURLToPath(import.meta.url), "--child", dist, dir],
          {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
          },
        );
        const r = JSON.parse(out) as RunResult;
        results.get(dist)?.push(r);
        console.error(`run ${run + 1} ${dist}: ${r.wallMs} ms, ${r.cpuMs} ms CPU (load ${loadavg()[0]?.toFixed(2)})`);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(
      `\nMetadata replay: ${args.topics} topics × ${args.partitions} partitions (${args.topics * (args.partitions + 1)} ` +
        `records in batches of ${TOPICS_PER_BATCH} topics), one combined node, until its first image and active controller`,
    );
    printEnvironment(env, loadAverage());
    const rows = [...results].map(([dist, rs]) => [
      dist,
      String(rs.length),
      String(round(median(rs.map((r) => r.wallMs)), 0)),
      String(Math.min(...rs.map((r) => r.wallMs))),
      String(round(median(rs.map((r) => r.cpuMs)), 0)),
      String(Math.min(...rs.map((r) => r.cpuMs))),
    ]);
    console.log();
    console.log(formatTable(["build", "runs", "wall ms p50", "wall ms min", "CPU ms p50", "CPU ms min"], rows));
    const path = writeJson("metadata-replay.json", {
      benchmark: "metadata-replay",
      date: new Date().toISOString(),
      environment: env,
      workload: { topics: args.topics, partitions: args.partitions, batch: TOPICS_PER_BATCH },
      results: Object.fromEntries(results),
    });
    console.log(`\nwrote ${path}`);
  } finally {
    if (process.env["REPLAY_KEEP"] === undefined) rmSync(root, { recursive: true, force: true });
  }
}

await main();
