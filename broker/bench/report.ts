// Shared by the benchmarks: the environment they ran in, a fixed-width text table and the JSON file under bench/out.
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
    loadAverage: loadavg().map((l) => round(l, 2)),
  };
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
 * The table both multi-node benchmarks print (metric, unit, kafka, tributary, tributary/kafka) and the ratios their
 * JSON holds. A system without a figure shows "not yet" when it gave a reason (`notYet`), else "-".
 */
export function compareSystems<R extends { notYet: string | null }>(
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
    return r?.notYet != null ? "not yet" : "-";
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
