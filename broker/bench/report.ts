// Shared by the benchmarks: the environment they ran in, their argument checks, a fixed-width text table, the
// Kafka-versus-Tributary comparison and target lines, and the JSON file under bench/out.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), "out");

export interface Environment {
  node: string;
  platform: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  /** 1, 5 and 15 minute load averages; the machine is shared, so read every figure against these. */
  loadAverage: number[];
}

export function environment(): Environment {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpuModel: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    loadAverage: loadAverage(),
  };
}

/** The 1, 5 and 15 minute load averages now. */
export function loadAverage(): number[] {
  return loadavg().map((l) => round(l, 2));
}

/** A system's line under the environment: its name and the load when its run started and ended. */
export function printSystemLoad(system: string, start: readonly number[], end: readonly number[], more = ""): void {
  console.log(`${system.padEnd(9)}    ${more}load ${start.join(" ")} -> ${end.join(" ")}`);
}

export function printEnvironment(env: Environment, loadAfter?: number[]): void {
  console.log(`node         ${env.node} (${env.platform})`);
  console.log(`cpu          ${env.cpuModel}, ${env.cores} cores, ${env.memoryGiB} GiB`);
  console.log(`load average ${env.loadAverage.join(" ")} (start)${loadAfter ? `, ${loadAfter.join(" ")} (end)` : ""}`);
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Right-aligns every column but the first; the same rows always print the same layout. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length === 0) return Number.NaN;
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export function writeJson(name: string, value: unknown): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const path = join(OUT_DIR, name);
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  return path;
}

/** One row of a Kafka-versus-Tributary table; `get` is undefined where the system has no figure. */
export interface ComparedMetric<R> {
  name: string;
  unit: string;
  get: (result: R) => number | undefined;
  /** Kafka's figure on this VM from the issue, shown in its own column when any row has one. */
  anchor?: string;
}

/**
 * The table the Kafka-versus-Tributary benchmarks print (metric, unit, kafka, tributary, tributary/kafka) and the
 * ratios their JSON holds. A system without a figure shows "not yet" when it gave a reason (`notYet`), else "-".
 */
export function compareSystems<R extends object>(
  metrics: readonly ComparedMetric<R>[],
  kafka: R | undefined,
  tributary: R | undefined,
): { table: string; ratios: Record<string, number | null> } {
  const value = (r: R | undefined, m: ComparedMetric<R>): number | undefined => {
    const x = r ? m.get(r) : undefined;
    return x === undefined || Number.isNaN(x) ? undefined : x;
  };
  const cell = (r: R | undefined, m: ComparedMetric<R>): string => {
    const x = value(r, m);
    if (x !== undefined) return String(round(x, 2));
    return r !== undefined && "notYet" in r && r.notYet != null ? "not yet" : "-";
  };
  const ratioOf = (m: ComparedMetric<R>): number | undefined => {
    const k = value(kafka, m);
    const t = value(tributary, m);
    return k !== undefined && t !== undefined && k > 0 ? t / k : undefined;
  };
  const anchors = metrics.some((m) => m.anchor !== undefined);
  const table = formatTable(
    ["metric", "unit", "kafka", "tributary", "tributary/kafka", ...(anchors ? ["kafka anchor"] : [])],
    metrics.map((m) => {
      const r = ratioOf(m);
      const row = [m.name, m.unit, cell(kafka, m), cell(tributary, m), r === undefined ? "-" : `${r.toFixed(2)}x`];
      return anchors ? [...row, m.anchor ?? ""] : row;
    }),
  );
  const ratios = Object.fromEntries(
    metrics.map((m) => {
      const r = ratioOf(m);
      return [m.name, r === undefined ? null : round(r, 3)];
    }),
  );
  return { table, ratios };
}

/** The value of --only: which one system to run. */
export function onlyArg(value: string | undefined): "kafka" | "tributary" {
  if (value !== "kafka" && value !== "tributary") throw new Error(`--only takes kafka or tributary, not ${value}`);
  return value;
}

/**
 * The number a flag was given, which must be `> above` or `>= min` (and whole with `integer`); a clear error
 * otherwise.
 */
export function numberArg(
  flag: string,
  value: string | undefined,
  bound: { min: number } | { above: number },
  integer = false,
): number {
  if (value === undefined) throw new Error(`${flag} needs a value`);
  const n = value.trim() === "" ? Number.NaN : Number(value);
  const inRange = "min" in bound ? n >= bound.min : n > bound.above;
  if (!Number.isFinite(n) || !inRange || (integer && !Number.isInteger(n))) {
    const range = "min" in bound ? `>= ${bound.min}` : `> ${bound.above}`;
    throw new Error(`${flag} takes ${integer ? "an integer" : "a number"} ${range}, not ${value}`);
  }
  return n;
}

/** Adds the value of a --set flag (`key=value`, a server.properties override) to `into`; a clear error otherwise. */
export function setArg(value: string | undefined, into: Record<string, string>): void {
  const kv = value ?? "";
  const eq = kv.indexOf("=");
  if (eq <= 0) throw new Error(`--set takes key=value, not ${kv}`);
  into[kv.slice(0, eq)] = kv.slice(eq + 1);
}

/** A system that reaches less than this share of a fixed rate was saturated: its latencies measure a queue. */
export const REACHED = 0.9;

/** A target line's verdict. */
export const met = (yes: boolean): string => (yes ? "met" : "NOT met");

/**
 * What a latency target must be read with: the fixed-rate runs that fell short of REACHED of `askedMb` MB/s, as
 * " (fixed rate not reached: <system> <MB/s>, ... of <askedMb> MB/s; latencies not comparable)"; "" when none did.
 */
export function fixedRateCaveat(runs: readonly { system: string; mbPerSec: number }[], askedMb: number): string {
  const short = runs.filter((r) => r.mbPerSec < REACHED * askedMb).map((r) => `${r.system} ${r.mbPerSec}`);
  return short.length > 0
    ? ` (fixed rate not reached: ${short.join(", ")} of ${askedMb} MB/s; latencies not comparable)`
    : "";
}

/**
 * Writes bench/out/<benchmark>.json with what every benchmark records besides `body` (its workload, results, ratios
 * and anything else): the date, the environment with the load average at the end, the Kafka version compared with.
 */
export function writeReport(
  benchmark: string,
  env: Environment,
  loadEnd: readonly number[],
  body: { workload: unknown; results: unknown; ratios: Record<string, number | null> } & Record<string, unknown>,
): void {
  const path = writeJson(`${benchmark}.json`, {
    benchmark,
    date: new Date().toISOString(),
    environment: { ...env, loadAverageEnd: loadEnd },
    kafkaVersion: "4.3.1",
    ...body,
  });
  console.log(`\nwrote ${path}`);
}
