// Figures for the operator e2e (issue 5): reads the operator's Prometheus text exposition and the RSS of its
// container process, and turns the reconcile-duration histogram into percentiles.
import { readFileSync, readdirSync } from "node:fs";

export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** Parses Prometheus text format 0.0.4 (comments skipped; timestamps ignored). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  const line = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split("\n")) {
    if (raw.startsWith("#") || raw.trim() === "") continue;
    const m = line.exec(raw);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(label)) labels[l[1] ?? ""] = (l[2] ?? "").replace(/\\(.)/g, "$1");
    const value = m[3] === "+Inf" ? Infinity : Number(m[3]);
    samples.push({ name: m[1] ?? "", labels, value });
  }
  return samples;
}

/** The first sample of `name` whose labels include `match`. */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  match: Readonly<Record<string, string>> = {},
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))?.value;
}

export interface HistogramSummary {
  count: number;
  sumSeconds: number;
  /** Percentile → seconds, linearly interpolated inside a bucket (as PromQL's histogram_quantile). */
  quantiles: Readonly<Record<string, number>>;
}

/** Percentiles of a cumulative histogram `<name>_bucket{le=...}` filtered by `match`. */
export function histogram(
  samples: readonly Sample[],
  name: string,
  match: Readonly<Record<string, string>>,
  percentiles: readonly number[] = [50, 90, 99],
): HistogramSummary {
  const matches = (s: Sample): boolean => Object.entries(match).every(([k, v]) => s.labels[k] === v);
  const buckets = samples
    .filter((s) => s.name === `${name}_bucket` && matches(s))
    .map((s) => ({ le: s.labels["le"] === "+Inf" ? Infinity : Number(s.labels["le"]), count: s.value }))
    .sort((a, b) => a.le - b.le);
  const count = sampleValue(samples, `${name}_count`, match) ?? 0;
  const sumSeconds = sampleValue(samples, `${name}_sum`, match) ?? 0;
  const quantiles: Record<string, number> = {};
  for (const p of percentiles) {
    const rank = (p / 100) * count;
    let lower = 0;
    let below = 0;
    let result = NaN;
    for (const b of buckets) {
      if (b.count >= rank && count > 0) {
        // In the +Inf bucket the best estimate is the highest finite bound.
        result = b.le === Infinity ? lower : lower + ((b.le - lower) * (rank - below)) / Math.max(b.count - below, 1);
        break;
      }
      lower = b.le;
      below = b.count;
    }
    quantiles[`p${p}`] = result;
  }
  return { count, sumSeconds, quantiles };
}

/** VmRSS in bytes of every host process whose command line contains `needle` (container processes included). */
export function hostRss(needle: string): { pid: number; rssBytes: number }[] {
  const found: { pid: number; rssBytes: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (!cmdline.includes(needle)) continue;
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1];
      if (kb !== undefined) found.push({ pid: Number(entry), rssBytes: Number(kb) * 1024 });
    } catch {
      // The process exited while we looked.
    }
  }
  return found;
}

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
export const ms = (seconds: number): string => `${(seconds * 1000).toFixed(0)} ms`;

/** Nearest-rank percentiles of `values` (unsorted), keyed p50, p90, ... */
export function percentiles(values: readonly number[], ps: readonly number[] = [50, 90, 99]): Record<string, number> {
  const sorted = [...values].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const p of ps) out[`p${p}`] = sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
  return out;
}

/** `durationMs` of the operator's debug "Reconciled" log lines (pino JSON, one object a line), of one kind if given. */
export function reconcileDurationsMs(logs: string, kind?: string): number[] {
  const out: number[] = [];
  for (const line of logs.split("\n")) {
    if (!line.includes('"Reconciled"')) continue;
    try {
      const entry: unknown = JSON.parse(line);
      if (
        typeof entry === "object" &&
        entry !== null &&
        "durationMs" in entry &&
        typeof entry.durationMs === "number" &&
        (kind === undefined || ("kind" in entry && entry.kind === kind))
      ) {
        out.push(entry.durationMs);
      }
    } catch {
      // Not a JSON line.
    }
  }
  return out;
}
