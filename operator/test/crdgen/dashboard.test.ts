// The chart's Grafana dashboard (charts/tributary/dashboards/tributary.json) queries only metrics that exist, in
// PromQL that parses: every query is parsed with Prometheus' own PromQL grammar (@prometheus-io/lezer-promql, the one
// the Prometheus UI uses) after Grafana's variables are substituted, and every metric it selects is registered by the
// broker's createMetrics (broker/src/runtime/metrics.ts) or the operator's (operator/src/runtime/metrics.ts), process
// and Node.js defaults included, histograms by their _bucket, _sum and _count series; every label it groups or
// matches by is one of those metrics' labels or one the scrape adds. The file is the one `make crds` generates
// (make crds-check keeps it current).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parser } from "@prometheus-io/lezer-promql";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createMetrics as createOperatorMetrics } from "../../src/runtime/metrics.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

interface Target {
  expr?: string;
}
interface PanelJson {
  title?: string;
  type: string;
  targets?: Target[];
  panels?: PanelJson[];
}
interface DashboardJson {
  panels: PanelJson[];
  templating: { list: { name: string; query?: string | { query: string } }[] };
}

/** Labels a series gets from the scrape (Prometheus Operator's target labels, the PodMonitor's relabelling), not the code. */
const SCRAPE_LABELS = ["namespace", "pod", "container", "endpoint", "job", "instance", "kafka_cluster", "kafka_role"];

/** The series names a registry can expose (histograms by their _bucket, _sum and _count), and the label names. */
async function known(registry: Registry, into: { series: Set<string>; labels: Set<string> }): Promise<void> {
  for (const m of await registry.getMetricsAsJSON()) {
    into.series.add(m.name);
    if (String(m.type) === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) into.series.add(m.name + suffix);
      into.labels.add("le");
    }
    // prom-client keeps each metric's label names on the metric object.
    const metric = registry.getSingleMetric(m.name) as { labelNames?: readonly string[] } | undefined;
    for (const l of metric?.labelNames ?? []) into.labels.add(l);
  }
}

interface Parsed {
  metrics: string[];
  labels: string[];
  /** Where the grammar found a syntax error (character offsets), if anywhere. */
  errors: number[];
}

/** Grafana's variables as Prometheus would see them once Grafana has substituted them. */
function substituted(expr: string): string {
  return expr
    .replace(/\$__rate_interval/g, "5m")
    .replace(/\$namespace/g, "kafka")
    .replace(/\$cluster/g, ".*");
}

/** Parses a PromQL expression: the metric names it selects, the label names it groups or matches by, syntax errors. */
function parsePromql(expr: string): Parsed {
  const text = substituted(expr);
  const out: Parsed = { metrics: [], labels: [], errors: [] };
  parser.parse(text).iterate({
    enter: (node) => {
      if (node.type.isError) out.errors.push(node.from);
      else if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector")
        out.metrics.push(text.slice(node.from, node.to));
      else if (node.name === "LabelName") out.labels.push(text.slice(node.from, node.to));
    },
  });
  return out;
}

function queries(d: DashboardJson): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const visit = (panels: PanelJson[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ where: p.title ?? p.type, expr: t.expr });
      visit(p.panels ?? []);
    }
  };
  visit(d.panels);
  for (const v of d.templating.list) {
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    if (q !== undefined && v.name !== "datasource") out.push({ where: `variable ${v.name}`, expr: q });
  }
  return out;
}

describe("charts/tributary/dashboards/tributary.json", () => {
  it("queries, in PromQL that parses, only metrics and labels the broker and the operator register", async () => {
    const url = pathToFileURL(join(REPO, "broker", "src", "runtime", "metrics.ts")).href;
    const broker = (await import(url)) as { createMetrics(registry: Registry): { registry: Registry } };
    const have = { series: new Set<string>(), labels: new Set<string>(SCRAPE_LABELS) };
    await known(broker.createMetrics(new Registry()).registry, have);
    await known(createOperatorMetrics().registry, have);
    const d = JSON.parse(
      readFileSync(join(REPO, "charts", "tributary", "dashboards", "tributary.json"), "utf8"),
    ) as DashboardJson;
    const all = queries(d);
    expect(all.length).toBeGreaterThan(20);
    const problems: string[] = [];
    const used = new Set<string>();
    for (const q of all) {
      // A variable's label_values(selector, label) is Grafana's, not PromQL: the selector is, and the label must exist.
      const variable = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(q.expr);
      const parsed = parsePromql(variable?.[1] ?? q.expr);
      if (variable?.[2] !== undefined) parsed.labels.push(variable[2]);
      if (parsed.errors.length > 0) problems.push(`${q.where}: syntax error at ${parsed.errors.join(", ")}: ${q.expr}`);
      if (parsed.metrics.length === 0) problems.push(`${q.where}: selects no metric: ${q.expr}`);
      for (const m of parsed.metrics) {
        used.add(m.replace(/_(bucket|sum|count)$/, ""));
        if (!have.series.has(m)) problems.push(`${q.where}: no metric ${m}`);
      }
      for (const l of parsed.labels) if (!have.labels.has(l)) problems.push(`${q.where}: no label ${l}`);
    }
    expect(problems).toEqual([]);
    // Every metric of our own (not the process and Node.js defaults) is on the dashboard.
    const own = [...have.series].filter(
      (n) => !/_(bucket|sum|count)$/.test(n) && !/^tributary_(operator_)?(process|nodejs)_/.test(n),
    );
    expect(own.filter((n) => !used.has(n))).toEqual([]);
  });

  it("finds metric and label names and syntax errors in PromQL", () => {
    expect(
      parsePromql(
        'histogram_quantile(0.99, sum by (le, api) (rate(tributary_request_duration_seconds_bucket{kafka_cluster=~"$cluster"}[$__rate_interval])))',
      ),
    ).toEqual({
      metrics: ["tributary_request_duration_seconds_bucket"],
      labels: ["le", "api", "kafka_cluster"],
      errors: [],
    });
    expect(parsePromql("sum(rate(tributary_made_up_total[5m])").errors.length).toBeGreaterThan(0);
  });
});
