// The chart's Grafana dashboard (charts/tributary/dashboards/tributary.json) queries only metrics that exist: every
// metric name in a panel or variable query is registered by the broker's createMetrics (broker/src/runtime/metrics.ts)
// or the operator's (operator/src/runtime/metrics.ts), process and Node.js defaults included, histograms by their
// _bucket, _sum and _count series. The file is the one `make crds` generates (make crds-check keeps it current).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
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

/** The series names a registry can expose: each metric's name, plus _bucket, _sum and _count for histograms. */
async function seriesNames(registry: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram" || String(m.type) === "summary") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(m.name + suffix);
    }
  }
  return names;
}

/** Metric names in a PromQL expression: label matchers ({...}) removed, every tributary_* identifier left. */
function metricsIn(expr: string): string[] {
  return [...expr.replace(/\{[^}]*\}/g, "").matchAll(/\btributary_[a-zA-Z0-9_]*/g)].map((m) => m[0]);
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
  it("queries only metrics the broker and the operator register", async () => {
    const url = pathToFileURL(join(REPO, "broker", "src", "runtime", "metrics.ts")).href;
    const broker = (await import(url)) as { createMetrics(registry: Registry): { registry: Registry } };
    const known = new Set([
      ...(await seriesNames(broker.createMetrics(new Registry()).registry)),
      ...(await seriesNames(createOperatorMetrics().registry)),
    ]);
    const d = JSON.parse(
      readFileSync(join(REPO, "charts", "tributary", "dashboards", "tributary.json"), "utf8"),
    ) as DashboardJson;
    const all = queries(d);
    expect(all.length).toBeGreaterThan(20);
    const unknown = all.flatMap((q) =>
      metricsIn(q.expr)
        .filter((m) => !known.has(m))
        .map((m) => `${q.where}: ${m}`),
    );
    expect(unknown).toEqual([]);
    // Every panel queries at least one of them, and every registered Tributary metric is on the dashboard once.
    for (const q of all) expect(metricsIn(q.expr).length, q.where).toBeGreaterThan(0);
    const used = new Set(all.flatMap((q) => metricsIn(q.expr)).map((m) => m.replace(/_(bucket|sum|count)$/, "")));
    const own = [...known].filter(
      (n) => !/_(bucket|sum|count)$/.test(n) && !/^tributary_(operator_)?(process|nodejs)_/.test(n),
    );
    expect(own.filter((n) => !used.has(n))).toEqual([]);
  });

  it("finds metric names in PromQL, and not label names", () => {
    expect(
      metricsIn(
        'histogram_quantile(0.99, sum by (le, api) (rate(tributary_request_duration_seconds_bucket{kafka_cluster=~"tributary_x"}[5m])))',
      ),
    ).toEqual(["tributary_request_duration_seconds_bucket"]);
    expect(metricsIn("sum(tributary_made_up_metric)")).toEqual(["tributary_made_up_metric"]);
  });
});
