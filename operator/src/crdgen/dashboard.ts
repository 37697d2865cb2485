// The Grafana dashboard of the Helm chart (charts/tributary/dashboards/tributary.json, written by `make crds`):
// panels over the metrics the broker (broker/src/runtime/metrics.ts) and the operator (operator/src/runtime/metrics.ts)
// register, laid out here so that grid positions and ids are computed rather than hand-placed.
// operator/test/crdgen/dashboard.test.ts checks that every metric a query names exists in those registries.
//
// Broker series are selected by namespace and by kafka_cluster, the label the chart's broker PodMonitor copies from
// the pods' tributary.dev/cluster label (docs/monitoring.md); operator series need no selector (their names are the
// operator's own).

interface Query {
  expr: string;
  legend: string;
}

interface Panel {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  /** A single number (stat) instead of a time series. */
  stat?: boolean;
}

interface Row {
  title: string;
  panels: Panel[];
}

/** Broker series of the chosen namespace and clusters. */
const B = '{namespace="$namespace", kafka_cluster=~"$cluster"}';
const rate = (metric: string, by: string): string => `sum by (${by}) (rate(${metric}${B}[$__rate_interval]))`;
const p99 = (metric: string, by: string, selector = B): string =>
  `histogram_quantile(0.99, sum by (le, ${by}) (rate(${metric}_bucket${selector}[$__rate_interval])))`;

const ROWS: Row[] = [
  {
    title: "Replication health",
    panels: [
      {
        title: "Under-replicated partitions",
        description: "Partitions whose ISR is smaller than their replicas, counted by their leaders.",
        unit: "short",
        stat: true,
        queries: [{ expr: `sum(tributary_under_replicated_partitions${B})`, legend: "under-replicated" }],
      },
      {
        title: "Partitions under min.insync.replicas",
        description: "Partitions whose ISR is below min.insync.replicas: acks=all writes to them fail.",
        unit: "short",
        stat: true,
        queries: [{ expr: `sum(tributary_under_min_isr_partitions${B})`, legend: "under min ISR" }],
      },
      {
        title: "Partitions per broker",
        description: "Partition replicas hosted by each broker.",
        unit: "short",
        queries: [{ expr: `sum by (pod) (tributary_partitions${B})`, legend: "{{pod}}" }],
      },
      {
        title: "Under-replicated partitions per leader",
        description: "Which brokers lead partitions that miss a replica from their ISR.",
        unit: "short",
        queries: [{ expr: `sum by (pod) (tributary_under_replicated_partitions${B})`, legend: "{{pod}}" }],
      },
    ],
  },
  {
    title: "Requests",
    panels: [
      {
        title: "Requests per second by API",
        description: "Kafka requests answered, by API.",
        unit: "reqps",
        queries: [{ expr: rate("tributary_requests_total", "api"), legend: "{{api}}" }],
      },
      {
        title: "Request latency p99 by API",
        description: "From a complete request frame to its response handed to the socket.",
        unit: "s",
        queries: [{ expr: p99("tributary_request_duration_seconds", "api"), legend: "{{api}}" }],
      },
      {
        title: "Error responses per second",
        description: "Responses carrying a Kafka error code, by API and code.",
        unit: "reqps",
        queries: [
          { expr: rate("tributary_request_errors_total", "api, error_code"), legend: "{{api}} {{error_code}}" },
        ],
      },
      {
        title: "Rejected requests per second",
        description: "Requests that got no regular response (malformed, unsupported, handler failure).",
        unit: "reqps",
        queries: [{ expr: rate("tributary_request_failures_total", "api, reason"), legend: "{{api}} {{reason}}" }],
      },
    ],
  },
  {
    title: "Network and clients",
    panels: [
      {
        title: "Bytes in per broker",
        description: "Bytes received from clients.",
        unit: "Bps",
        queries: [{ expr: rate("tributary_network_bytes_in_total", "pod"), legend: "{{pod}}" }],
      },
      {
        title: "Bytes out per broker",
        description: "Bytes sent to clients.",
        unit: "Bps",
        queries: [{ expr: rate("tributary_network_bytes_out_total", "pod"), legend: "{{pod}}" }],
      },
      {
        title: "Open connections",
        description: "Client connections per broker and listener.",
        unit: "short",
        queries: [
          { expr: `sum by (pod, listener) (tributary_connections_active${B})`, legend: "{{pod}} {{listener}}" },
        ],
      },
      {
        title: "New connections per second",
        description: "Connections accepted; a high rate with few open connections means clients reconnect.",
        unit: "cps",
        queries: [{ expr: rate("tributary_connections_total", "pod"), legend: "{{pod}}" }],
      },
      {
        title: "Consumer fetch bytes by role",
        description: "Record bytes served to consumers by leaders and by followers (fetch from follower, KIP-392).",
        unit: "Bps",
        queries: [{ expr: rate("tributary_consumer_fetch_bytes_total", "served_as"), legend: "{{served_as}}" }],
      },
      {
        title: "Fetches redirected to a rack-local replica",
        description: "Consumer fetches a leader answered with a preferred read replica in the client's rack.",
        unit: "reqps",
        queries: [
          {
            expr: `sum(rate(tributary_fetch_preferred_read_replica_total${B}[$__rate_interval]))`,
            legend: "preferred read replica",
          },
        ],
      },
    ],
  },
  {
    title: "Storage and consumer lag",
    panels: [
      {
        title: "Log size by topic",
        description: "Bytes on disk, summed over partitions and replicas.",
        unit: "bytes",
        queries: [{ expr: `sum by (topic) (tributary_log_size_bytes${B})`, legend: "{{topic}}" }],
      },
      {
        title: "Log size per broker",
        description: "Bytes on disk per broker: compare with the volume size (spec.storage.size).",
        unit: "bytes",
        queries: [{ expr: `sum by (pod) (tributary_log_size_bytes${B})`, legend: "{{pod}}" }],
      },
      {
        title: "Offline log dirs",
        description:
          "1 for each log dir a broker took offline after a storage error (full disk, I/O error, read-only at start-up): its replicas moved to other brokers; replace or repair the volume and restart the broker.",
        unit: "short",
        queries: [{ expr: `max by (pod, log_dir) (tributary_log_dir_offline${B})`, legend: "{{pod}} {{log_dir}}" }],
      },
      {
        title: "Consumer group lag",
        description: "Messages between each group's committed offsets and the high watermarks.",
        unit: "short",
        queries: [{ expr: `sum by (group) (tributary_consumer_group_lag${B})`, legend: "{{group}}" }],
      },
      {
        title: "Consumer group lag by topic",
        description: "The same lag, per group and topic.",
        unit: "short",
        queries: [{ expr: `sum by (group, topic) (tributary_consumer_group_lag${B})`, legend: "{{group}} {{topic}}" }],
      },
    ],
  },
  {
    title: "Replication throttle",
    panels: [
      {
        title: "Throttled replication bytes",
        description: "Bytes of throttled replicas (reassignments, scaling) counted against the throttle.",
        unit: "Bps",
        queries: [{ expr: rate("tributary_replication_throttled_bytes_total", "side"), legend: "{{side}}" }],
      },
      {
        title: "Fetches held back by the throttle",
        description: "Partition fetches left out or answered empty because the throttle was exceeded.",
        unit: "short",
        queries: [{ expr: rate("tributary_replication_throttle_held_back_total", "side"), legend: "{{side}}" }],
      },
    ],
  },
  {
    title: "Broker processes",
    panels: [
      {
        title: "Resident memory",
        description: "RSS of each broker process.",
        unit: "bytes",
        queries: [{ expr: `sum by (pod) (tributary_process_resident_memory_bytes${B})`, legend: "{{pod}}" }],
      },
      {
        title: "CPU",
        description: "CPU seconds per second of each broker process.",
        unit: "short",
        queries: [{ expr: rate("tributary_process_cpu_seconds_total", "pod"), legend: "{{pod}}" }],
      },
      {
        title: "Event loop lag p99",
        description: "How late the broker's event loop runs: every request waits at least this long.",
        unit: "s",
        queries: [{ expr: `max by (pod) (tributary_nodejs_eventloop_lag_p99_seconds${B})`, legend: "{{pod}}" }],
      },
      {
        title: "Heap used",
        description: "V8 heap in use per broker.",
        unit: "bytes",
        queries: [{ expr: `sum by (pod) (tributary_nodejs_heap_size_used_bytes${B})`, legend: "{{pod}}" }],
      },
      {
        title: "Brokers by release",
        description:
          "How many brokers run each release, with the highest metadata.version it supports: during a version upgrade the brokers move from the old release to the new one, and metadata.version can be raised once none runs the old.",
        unit: "short",
        queries: [
          {
            expr: `count by (version, max_metadata_version) (tributary_build_info${B})`,
            legend: "{{version}} (metadata.version level {{max_metadata_version}})",
          },
        ],
      },
    ],
  },
  {
    title: "Operator",
    panels: [
      {
        title: "Reconciles per second",
        description: "Reconcile passes by kind and result.",
        unit: "ops",
        queries: [
          {
            expr: "sum by (kind, result) (rate(tributary_operator_reconciles_total[$__rate_interval]))",
            legend: "{{kind}} {{result}}",
          },
        ],
      },
      {
        title: "Reconcile errors per second",
        description: "Passes that failed and are retried with backoff.",
        unit: "ops",
        queries: [
          {
            expr: "sum by (kind) (rate(tributary_operator_reconcile_errors_total[$__rate_interval]))",
            legend: "{{kind}}",
          },
        ],
      },
      {
        title: "Reconcile duration p99",
        description: "Duration of one reconcile pass, by kind.",
        unit: "s",
        queries: [{ expr: p99("tributary_operator_reconcile_duration_seconds", "kind", ""), legend: "{{kind}}" }],
      },
      {
        title: "Work queue depth",
        description: "Keys waiting to be reconciled, by kind.",
        unit: "short",
        queries: [{ expr: "sum by (kind) (tributary_operator_queue_depth)", legend: "{{kind}}" }],
      },
      {
        title: "Kubernetes API requests per second",
        description: "Requests to the API server by verb and status code.",
        unit: "reqps",
        queries: [
          {
            expr: "sum by (verb, code) (rate(tributary_operator_api_requests_total[$__rate_interval]))",
            legend: "{{verb}} {{code}}",
          },
        ],
      },
      {
        title: "Operator memory",
        description: "RSS of each operator replica.",
        unit: "bytes",
        queries: [{ expr: "sum by (pod) (tributary_operator_process_resident_memory_bytes)", legend: "{{pod}}" }],
      },
    ],
  },
];

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };
const WIDTH = 24;
const HEIGHT = 8;
const STAT_HEIGHT = 4;

function panelJson(p: Panel, id: number, gridPos: { x: number; y: number; w: number; h: number }) {
  const targets = p.queries.map((q, i) => ({
    datasource: DATASOURCE,
    expr: q.expr,
    legendFormat: q.legend,
    refId: String.fromCharCode(65 + i),
  }));
  const common = {
    id,
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    gridPos: { h: gridPos.h, w: gridPos.w, x: gridPos.x, y: gridPos.y },
    targets,
  };
  if (p.stat === true) {
    return {
      ...common,
      type: "stat",
      fieldConfig: {
        defaults: {
          unit: p.unit,
          thresholds: {
            mode: "absolute",
            steps: [
              { color: "green", value: null },
              { color: "red", value: 1 },
            ],
          },
        },
        overrides: [],
      },
      options: { colorMode: "background", graphMode: "none", reduceOptions: { calcs: ["lastNotNull"] } },
    };
  }
  return {
    ...common,
    type: "timeseries",
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options: { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi", sort: "desc" } },
  };
}

function variable(name: string, label: string, query: string, multi: boolean) {
  return {
    name,
    label,
    type: "query",
    datasource: DATASOURCE,
    query: { query, refId: `${name}-variable` },
    definition: query,
    refresh: 2,
    sort: 1,
    multi,
    includeAll: multi,
    ...(multi ? { allValue: ".*" } : {}),
  };
}

/** The dashboard as Grafana's JSON model. */
export function dashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({ id: id++, type: "row", title: row.title, collapsed: false, gridPos: { h: 1, w: WIDTH, x: 0, y } });
    y += 1;
    // Stats share one short line, the time series go two to a line.
    const stats = row.panels.filter((p) => p.stat === true);
    stats.forEach((p, i) => {
      const w = WIDTH / stats.length;
      panels.push(panelJson(p, id++, { x: i * w, y, w, h: STAT_HEIGHT }));
    });
    if (stats.length > 0) y += STAT_HEIGHT;
    const series = row.panels.filter((p) => p.stat !== true);
    series.forEach((p, i) => {
      panels.push(
        panelJson(p, id++, { x: (i % 2) * (WIDTH / 2), y: y + Math.floor(i / 2) * HEIGHT, w: WIDTH / 2, h: HEIGHT }),
      );
    });
    y += Math.ceil(series.length / 2) * HEIGHT;
  }
  return {
    uid: "tributary",
    title: "Tributary",
    description:
      "Tributary brokers (scraped through the chart's broker PodMonitor, which adds kafka_cluster) and the " +
      "Tributary operator. Generated by operator/src/crdgen/dashboard.ts (make crds); edit that file, not this one.",
    tags: ["kafka", "tributary"],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-3h", to: "now" },
    timezone: "browser",
    templating: {
      list: [
        {
          name: "datasource",
          label: "Data source",
          type: "datasource",
          query: "prometheus",
          refresh: 1,
        },
        variable("namespace", "Namespace", "label_values(tributary_requests_total, namespace)", false),
        variable(
          "cluster",
          "KafkaCluster",
          'label_values(tributary_requests_total{namespace="$namespace"}, kafka_cluster)',
          true,
        ),
      ],
    },
    annotations: { list: [] },
    links: [],
    panels,
  };
}

/** The dashboard file as `make crds` writes it. */
export function dashboardJson(): string {
  return JSON.stringify(dashboard(), null, 2) + "\n";
}
