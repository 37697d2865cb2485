import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ANOMALY_KINDS, type Anomaly } from "./checker.ts";
import { parseWeights, type FaultKind } from "./faults.ts";
import { createNamespaces, deleteNamespaces, deleteStaleNamespaces, killAllIn, type Netns } from "./netns.ts";
import { runInner, type InnerOptions, type RunReport } from "./orchestrator.ts";

// `make chaos`: seeded fault injection against real multi-process clusters on this machine (issue 12), then a check of
// the recorded history (checker.ts). See docs/testing.md#chaos.
//
//   npx tsx broker/test/chaos/run.ts [--system tributary|kafka] [--nodes 3,5] [--duration SECONDS] [--seed N]
//       [--weights kill-leader=4,pause=0,...] [--partitions 6] [--rate 50] [--min-isr 2] [--elr on|off] [--out DIR]
//
// --duration is the fault phase of the whole run, shared equally by the cluster sizes in --nodes (each also takes
// its start, warm-up and final check). Environment defaults: CHAOS_SYSTEM, CHAOS_NODES, CHAOS_DURATION, CHAOS_SEED,
// CHAOS_WEIGHTS, CHAOS_PARTITIONS, CHAOS_RATE, CHAOS_MIN_ISR, CHAOS_ELR. A Tributary cluster starts with eligible
// leader replicas (KIP-966) on, as a new one does by default (and as a new Kafka 4.1+ cluster, so the reference Kafka
// 4.3.1 has them too); --elr off formats it with eligible.leader.replicas.version=0. Needs root (network namespaces,
// tmpfs). Exits 0 only when every cluster's history checks clean.
//
// Structure: this process (in the host's namespaces) creates the hub and node namespaces, runs the harness itself
// inside the hub (`ip netns exec <hub> tsx run.ts --inner ...`), and afterwards kills any process left in those
// namespaces (by pid, from `ip netns pids`) and deletes them, also when the inner run failed or was killed.

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "..", "..", "..");

interface Args {
  system: "tributary" | "kafka";
  nodes: number[];
  durationS: number;
  seed: number;
  weights: Record<FaultKind, number>;
  partitions: number;
  rate: number;
  minIsr: number;
  elr: boolean;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const env = process.env;
  const get = (flag: string, fallback: string): string => {
    const i = argv.indexOf(flag);
    if (i >= 0) {
      const v = argv[i + 1];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    }
    return fallback;
  };
  for (let i = 0; i < argv.length; i += 2) {
    if (
      ![
        "--system",
        "--nodes",
        "--duration",
        "--seed",
        "--weights",
        "--partitions",
        "--rate",
        "--min-isr",
        "--elr",
        "--out",
      ].includes(argv[i] ?? "")
    ) {
      throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  const system = get("--system", env["CHAOS_SYSTEM"] ?? "tributary");
  if (system !== "tributary" && system !== "kafka")
    throw new Error(`--system must be tributary or kafka, not ${system}`);
  const nodes = get("--nodes", env["CHAOS_NODES"] ?? "3,5")
    .split(",")
    .map((s) => Number(s.trim()));
  if (nodes.some((n) => !Number.isInteger(n) || n < 3 || n > 9))
    throw new Error("--nodes: sizes 3..9, comma-separated");
  const int = (flag: string, envKey: string, fallback: number, min: number): number => {
    const raw = get(flag, env[envKey] ?? String(fallback));
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: an integer >= ${min}, not ${raw}`);
    return n;
  };
  const elr = get("--elr", env["CHAOS_ELR"] ?? "on");
  if (elr !== "on" && elr !== "off") throw new Error(`--elr must be on or off, not ${elr}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  return {
    system,
    nodes,
    durationS: int("--duration", "CHAOS_DURATION", 1200, 1),
    seed: int("--seed", "CHAOS_SEED", 1, 0),
    weights: parseWeights(get("--weights", env["CHAOS_WEIGHTS"] ?? "")),
    partitions: int("--partitions", "CHAOS_PARTITIONS", 6, 1),
    rate: int("--rate", "CHAOS_RATE", 50, 1),
    minIsr: int("--min-isr", "CHAOS_MIN_ISR", 2, 1),
    elr: elr === "on",
    out: get("--out", join(repo, "e2e", "artifacts", "chaos", `${stamp}-${system}`)),
  };
}

/** Kills what is left in our namespaces (only processes this run started live there), then deletes them. */
function cleanup(ns: Netns, ids: readonly number[]): void {
  killAllIn([ns.hub, ...ids.map((id) => ns.nodeNamespace(id))]);
  deleteNamespaces(ns, ids);
}

async function runOne(a: Args, nodes: number, durationMs: number, tools: InnerOptions["tools"]): Promise<RunReport> {
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  const ns = createNamespaces(ids);
  const outDir = join(a.out, `n${nodes}`);
  mkdirSync(outDir, { recursive: true });
  const inner: InnerOptions = {
    system: a.system,
    nodes,
    durationMs,
    seed: a.seed,
    weights: a.weights,
    nsPid: process.pid,
    outDir,
    tools,
    partitions: a.partitions,
    rate: a.rate,
    minIsr: a.minIsr,
    elr: a.elr,
  };
  const tsx = join(repo, "node_modules", ".bin", "tsx");
  const child = spawn(
    "ip",
    ["netns", "exec", ns.hub, tsx, fileURLToPath(import.meta.url), "--inner", JSON.stringify(inner)],
    {
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const stop = (): void => void child.kill("SIGTERM");
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    const file = join(outDir, "report.json");
    if (code !== 0 || !existsSync(file))
      throw new Error(`the chaos run on ${nodes} nodes failed (exit ${code}); see ${outDir}`);
    return JSON.parse(readFileSync(file, "utf8")) as RunReport;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    cleanup(ns, ids);
  }
}

/**
 * Of the duplicates the checker kept as examples (it keeps a bounded number per kind), how many went in under one
 * producer epoch (a broker bug) and how many under a client's new epoch (explain.ts).
 */
function duplicateCauses(anomalies: readonly Anomaly[]): string {
  const dups = anomalies.filter((a) => a.kind === "duplicate");
  if (dups.length === 0) return "";
  const same = dups.filter((a) => a.duplicateCause === "same-epoch").length;
  const renumbered = dups.filter((a) => a.duplicateCause === "new-epoch").length;
  const unread = dups.length - same - renumbered;
  return ` (of ${dups.length} examined: ${same} within one producer epoch, ${renumbered} resent by the client under a new epoch${unread > 0 ? `, ${unread} not found in the kept logs` : ""})`;
}

export function summary(r: RunReport): string {
  const c = r.check;
  if (c === undefined) {
    return [
      `${r.system}, ${r.nodes} nodes, seed ${r.seed}: FAIL, the run did not complete: ${r.error ?? "no check"}`,
      `  faults injected before that: ${r.faults.total} (${Object.entries(r.faults.byKind)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")})`,
    ].join("\n");
  }
  const gap = (g: RunReport["leaders"]["longestNoLeader"]): string =>
    g === undefined ? "none" : `${(g.ms / 1000).toFixed(1)} s (partition ${g.partition})`;
  const anomalies = ANOMALY_KINDS.filter((k) => c.counts[k] > 0).map((k) => `${k} ${c.counts[k]}`);
  return [
    `${r.system}, ${r.nodes} nodes, seed ${r.seed}, min.insync.replicas ${r.minIsr}: ${r.ok ? "PASS" : "FAIL"}`,
    `  faults: ${r.faults.total} (${Object.entries(r.faults.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}); recovery timeouts ${r.faults.recoveryTimeouts}; nodes that exited on their own ${r.crashRestarts}`,
    `  records: ${c.acked} acknowledged, ${c.verified} verified in the log, ${c.nacked} failed sends, ${c.logRecords} in the log`,
    `  lost ${c.counts.lost}, duplicates ${c.counts.duplicate}${duplicateCauses(c.anomalies)}, other anomalies: ${anomalies.filter((s) => !s.startsWith("lost") && !s.startsWith("duplicate")).join(", ") || "none"}`,
    `  consumers: ${c.reads} reads, ${c.commits} commits; group coverage ${Object.entries(c.groupCoverage)
      .map(([g, x]) => `${g} ${(x * 100).toFixed(1)}%`)
      .join(", ")}`,
    `  longest time between two acks: ${Object.entries(c.longestAckGapMs)
      .map(([p, ms]) => `${p} ${(ms / 1000).toFixed(1)} s`)
      .join(", ")}`,
    `  longest without a leader: ${gap(r.leaders.longestNoLeader)} in Metadata; ${gap(r.leaders.longestLeaderDown)} counting a killed or paused leader (${r.leaders.polls} polls)`,
    `  brokers dropped from Metadata while running: ${r.leaders.fencings}, of which ${r.leaders.liveFencings.length} no fault had touched in the 20 s before`,
    `  end: ${r.finalPhase.join("; ")}`,
    ...c.anomalies
      .slice(0, 10)
      .flatMap((x) => [`  ! ${x.kind}: ${x.detail}`, ...(x.batches ?? []).map((b) => `      ${b}`)]),
  ].join("\n");
}

async function outer(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error("make chaos needs root (network namespaces and a tmpfs)");
  const stale = deleteStaleNamespaces();
  if (stale.length > 0) process.stdout.write(`deleted namespaces left by an earlier run: ${stale.join(", ")}\n`);
  const python = execFileSync(join(repo, "e2e", "compat", "librdkafka", "setup.sh"), { encoding: "utf8" }).trim();
  const kafkaLibs = execFileSync(join(repo, "e2e", "reference-kafka", "install.sh"), { encoding: "utf8" }).trim();
  mkdirSync(a.out, { recursive: true });
  process.stdout.write(
    `chaos: ${a.system}, nodes ${a.nodes.join(" and ")}, ${a.durationS} s of faults, seed ${a.seed}; output in ${a.out}\n`,
  );
  const reports: RunReport[] = [];
  const perRun = Math.floor((a.durationS * 1000) / a.nodes.length);
  for (const n of a.nodes) {
    const r = await runOne(a, n, perRun, { python, kafkaLibs });
    process.stdout.write(`${summary(r)}\n`);
    reports.push(r);
  }
  const total = reports.reduce((s, r) => s + r.faults.total, 0);
  const lost = reports.reduce((s, r) => s + (r.check?.counts.lost ?? 0), 0);
  const ok = reports.every((r) => r.ok);
  process.stdout.write(
    `chaos: ${ok ? "PASS" : "FAIL"}: ${total} faults, ${reports.reduce((s, r) => s + (r.check?.acked ?? 0), 0)} acknowledged records, ${lost} lost; replay with --seed ${a.seed}\n`,
  );
  return ok ? 0 : 1;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf("--inner");
  if (i >= 0) {
    // Inside the hub namespace. Exiting runs the cluster harness's exit hook, which kills the nodes.
    process.once("SIGTERM", () => process.exit(143));
    const opts = JSON.parse(process.argv[i + 1] ?? "{}") as InnerOptions;
    await runInner(opts);
    process.exit(0);
  }
  try {
    process.exit(await outer());
  } catch (err) {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  }
}

await main();
