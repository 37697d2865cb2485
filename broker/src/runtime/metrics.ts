import { createServer, type Server } from "node:http";
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "pino";
import type { NetworkMetrics } from "../network/types.ts";
import { MAX_METADATA_VERSION } from "../controller/features.ts";
import { RELEASE } from "../release.ts";
import { bindError } from "./exit-codes.ts";

export interface PartitionStats {
  readonly topic: string;
  readonly partition: number;
  readonly logSizeBytes: number;
  /** Where this broker leads the partition: its ISR is smaller than its replicas / than min.insync.replicas. */
  readonly underReplicated?: boolean;
  readonly underMinIsr?: boolean;
}

export interface GroupLag {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** High watermark minus committed offset. */
  readonly lag: number;
}

/** A configured log dir and whether it is offline after a storage failure (at start-up or since). */
export interface LogDirStatus {
  readonly logDir: string;
  readonly offline: boolean;
}

export type StatsSource<T> = () => Iterable<T> | Promise<Iterable<T>>;

export interface BrokerMetrics {
  readonly registry: Registry;
  /** Label api is the API name (e.g. "Produce"), version the request version as a string. */
  readonly requestsTotal: Counter<"api" | "version">;
  /** Seconds from a complete request frame to its response being handed to the socket. */
  readonly requestDuration: Histogram<"api">;
  /** Responses carrying a non-zero Kafka error code, per code (numeric, as a string). */
  readonly requestErrors: Counter<"api" | "error_code">;
  /** Requests that got no regular response: malformed, unsupported API or version, handler failure. */
  readonly requestFailures: Counter<"api" | "reason">;
  readonly bytesIn: Counter<"listener">;
  readonly bytesOut: Counter<"listener">;
  readonly activeConnections: Gauge<"listener">;
  readonly connectionsTotal: Counter<"listener">;
  /** Filled at scrape time from the source given to setPartitionStatsSource. */
  readonly partitions: Gauge;
  readonly logSizeBytes: Gauge<"topic" | "partition">;
  /** Partitions this broker leads whose ISR is smaller than their replicas (Kafka's UnderReplicatedPartitions). */
  readonly underReplicatedPartitions: Gauge;
  /** Partitions this broker leads whose ISR is below min.insync.replicas (Kafka's UnderMinIsrPartitionCount). */
  readonly underMinIsrPartitions: Gauge;
  /** Record bytes served to consumers, by whether this broker led the partition or followed it (KIP-392). */
  readonly consumerFetchBytes: Counter<"served_as">;
  /** Consumer fetches of a partition the leader answered with a preferred read replica in the client's rack. */
  readonly preferredReadReplicas: Counter;
  /** Filled at scrape time from the source given to setGroupLagSource. */
  readonly consumerGroupLag: Gauge<"group" | "topic" | "partition">;
  /** Filled at scrape time from the source given to setLogDirSource. */
  readonly logDirOffline: Gauge<"log_dir">;
  /** The storage layer provides its log dirs' states; called once per scrape. */
  setLogDirSource(source: StatsSource<LogDirStatus>): void;
  /** The storage layer provides the current partitions; called once per scrape. */
  setPartitionStatsSource(source: StatsSource<PartitionStats>): void;
  /** The group coordinator provides the current lag; called once per scrape. */
  setGroupLagSource(source: StatsSource<GroupLag>): void;
  /** One finished request: counts it, its latency and, when errorCode is non-zero, the error. */
  observeRequest(api: string, version: number, seconds: number, errorCode?: number): void;
  /** A request rejected before or instead of a response, with a short machine-friendly reason. */
  observeRequestFailure(api: string, reason: string): void;
  /** The hooks the network layer calls. */
  readonly network: NetworkMetrics;
  /** The hooks the replication throttles call (Kafka's LeaderReplication / FollowerReplication byte-rate). */
  readonly replicationThrottle: ReplicationThrottleMetrics;
}

export type ReplicationSide = "leader" | "follower";

export interface ReplicationThrottleMetrics {
  /** Bytes of throttled replicas sent (leader) or fetched (follower), counted against the throttle. */
  recordThrottledBytes(side: ReplicationSide, bytes: number): void;
  /** Partitions left out of a fetch (follower) or answered without records (leader) because over the throttle. */
  recordHeldBack(side: ReplicationSide, partitions: number): void;
}

export interface MetricsOptions {
  /** Process metrics (CPU, RSS, event-loop lag, GC); off in tests that build many registries. */
  readonly defaultMetrics?: boolean;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(registry: Registry, options: MetricsOptions = {}): BrokerMetrics {
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "tributary_" });

  let partitionSource: StatsSource<PartitionStats> | undefined;
  let lagSource: StatsSource<GroupLag> | undefined;
  let logDirSource: StatsSource<LogDirStatus> | undefined;

  // The release identity, as Kafka's app-info version; an upgrade shows up as the value of this label changing.
  new Gauge({
    name: "tributary_build_info",
    help: "Always 1; the labels say which release this broker is and the highest metadata.version it supports",
    labelNames: ["version", "max_metadata_version"] as const,
    registers,
  }).set({ version: RELEASE.version, max_metadata_version: String(MAX_METADATA_VERSION) }, 1);
  const requestsTotal = new Counter({
    name: "tributary_requests_total",
    help: "Requests handled, by API and version",
    labelNames: ["api", "version"] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: "tributary_request_duration_seconds",
    help: "Time from a complete request to its response being written, by API",
    labelNames: ["api"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const requestErrors = new Counter({
    name: "tributary_request_errors_total",
    help: "Responses with a non-zero Kafka error code, by API and error code",
    labelNames: ["api", "error_code"] as const,
    registers,
  });
  const requestFailures = new Counter({
    name: "tributary_request_failures_total",
    help: "Requests rejected without a regular response (malformed, unsupported, handler failure), by API and reason",
    labelNames: ["api", "reason"] as const,
    registers,
  });
  const perListener = (name: string, help: string) =>
    new Counter({ name, help: `${help}, by listener`, labelNames: ["listener"] as const, registers });
  const bytesIn = perListener("tributary_network_bytes_in_total", "Bytes received from clients");
  const bytesOut = perListener("tributary_network_bytes_out_total", "Bytes sent to clients");
  const connectionsTotal = perListener("tributary_connections_total", "Client connections accepted");
  const activeConnections = new Gauge({
    name: "tributary_connections_active",
    help: "Open client connections, by listener",
    labelNames: ["listener"] as const,
    registers,
  });
  // prom-client collects all metrics of a scrape concurrently; sharing one in-flight read asks the source once.
  let partitionRead: Promise<PartitionStats[]> | null = null;
  const readPartitions = (): Promise<PartitionStats[]> => {
    const source = partitionSource;
    if (!source) return Promise.resolve([]);
    partitionRead ??= Promise.resolve(source())
      .then((it) => [...it])
      .finally(() => (partitionRead = null));
    return partitionRead;
  };
  const logSizeBytes = new Gauge({
    name: "tributary_log_size_bytes",
    help: "Bytes on disk per partition log",
    labelNames: ["topic", "partition"] as const,
    registers,
    async collect() {
      const stats = await readPartitions();
      this.reset();
      for (const p of stats) this.set({ topic: p.topic, partition: String(p.partition) }, p.logSizeBytes);
    },
  });
  const partitions = new Gauge({
    name: "tributary_partitions",
    help: "Partitions hosted by this broker",
    registers,
    async collect() {
      this.set((await readPartitions()).length);
    },
  });
  const underReplicatedPartitions = new Gauge({
    name: "tributary_under_replicated_partitions",
    help: "Partitions led by this broker whose ISR is smaller than their replicas",
    registers,
    async collect() {
      this.set((await readPartitions()).filter((p) => p.underReplicated === true).length);
    },
  });
  const underMinIsrPartitions = new Gauge({
    name: "tributary_under_min_isr_partitions",
    help: "Partitions led by this broker whose ISR is smaller than min.insync.replicas",
    registers,
    async collect() {
      this.set((await readPartitions()).filter((p) => p.underMinIsr === true).length);
    },
  });
  const consumerFetchBytes = new Counter({
    name: "tributary_consumer_fetch_bytes_total",
    help: "Record bytes returned to consumers, by whether this broker led the partition or served as its follower",
    labelNames: ["served_as"] as const,
    registers,
  });
  const preferredReadReplicas = new Counter({
    name: "tributary_fetch_preferred_read_replica_total",
    help: "Consumer fetches of a partition this leader answered with a preferred read replica (replica.selector.class)",
    registers,
  });
  // Kafka's LogDirectoryOffline gauge, one per dir: DescribeLogDirs answers such a dir with KAFKA_STORAGE_ERROR.
  const logDirOffline = new Gauge({
    name: "tributary_log_dir_offline",
    help: "1 for a log dir taken offline after a storage failure (at start-up or since), 0 for one in service",
    labelNames: ["log_dir"] as const,
    registers,
    async collect() {
      const dirs = logDirSource ? await logDirSource() : [];
      this.reset();
      for (const d of dirs) this.set({ log_dir: d.logDir }, d.offline ? 1 : 0);
    },
  });
  const consumerGroupLag = new Gauge({
    name: "tributary_consumer_group_lag",
    help: "Messages between a group's committed offset and the high watermark, per partition",
    labelNames: ["group", "topic", "partition"] as const,
    registers,
    async collect() {
      const lags = lagSource ? await lagSource() : [];
      this.reset();
      for (const l of lags) this.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag);
    },
  });

  const throttledBytes = new Counter({
    name: "tributary_replication_throttled_bytes_total",
    help: "Bytes of throttled replicas counted against the replication throttle, by side (leader sent, follower fetched)",
    labelNames: ["side"] as const,
    registers,
  });
  const throttleHeldBack = new Counter({
    name: "tributary_replication_throttle_held_back_total",
    help: "Partition fetches held back because the replication throttle was exceeded, by side",
    labelNames: ["side"] as const,
    registers,
  });

  return {
    registry,
    requestsTotal,
    requestDuration,
    requestErrors,
    requestFailures,
    bytesIn,
    bytesOut,
    activeConnections,
    connectionsTotal,
    partitions,
    logSizeBytes,
    underReplicatedPartitions,
    underMinIsrPartitions,
    consumerFetchBytes,
    preferredReadReplicas,
    consumerGroupLag,
    logDirOffline,
    setLogDirSource(source) {
      logDirSource = source;
    },
    setPartitionStatsSource(source) {
      partitionSource = source;
    },
    setGroupLagSource(source) {
      lagSource = source;
    },
    observeRequest(api, version, seconds, errorCode) {
      requestsTotal.inc({ api, version: String(version) });
      requestDuration.observe({ api }, seconds);
      if (errorCode !== undefined && errorCode !== 0) requestErrors.inc({ api, error_code: String(errorCode) });
    },
    observeRequestFailure(api, reason) {
      requestFailures.inc({ api, reason });
    },
    network: {
      connectionOpened(listener) {
        connectionsTotal.inc({ listener });
        activeConnections.inc({ listener });
      },
      connectionClosed(listener) {
        activeConnections.dec({ listener });
      },
      bytesReceived(listener, n) {
        bytesIn.inc({ listener }, n);
      },
      bytesSent(listener, n) {
        bytesOut.inc({ listener }, n);
      },
    },
    replicationThrottle: {
      recordThrottledBytes(side, bytes) {
        throttledBytes.inc({ side }, bytes);
      },
      recordHeldBack(side, partitions) {
        throttleHeldBack.inc({ side }, partitions);
      },
    },
  };
}

/** Per-request hooks keyed by numeric API key, the shape the request dispatcher reports in. */
export interface ApiRequestMetrics {
  requestCompleted(apiKey: number, apiVersion: number, seconds: number): void;
  requestFailed(apiKey: number, reason: string): void;
}

/** Adapts BrokerMetrics to numeric API keys; apiName turns a key into its label (e.g. 0 → "Produce"). */
export function apiRequestMetrics(metrics: BrokerMetrics, apiName: (apiKey: number) => string): ApiRequestMetrics {
  return {
    requestCompleted: (apiKey, apiVersion, seconds) => metrics.observeRequest(apiName(apiKey), apiVersion, seconds),
    requestFailed: (apiKey, reason) => metrics.observeRequestFailure(apiName(apiKey), reason),
  };
}

export interface MetricsServerOptions {
  readonly registry: Registry;
  readonly host: string;
  /** 0 picks a free port (see MetricsServer.port). */
  readonly port: number;
  readonly logger: Logger;
  /** GET /v1/restart-safety answers this as JSON; without it (a node with no broker role) the path is not found. */
  readonly restartSafety?: () => object;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics in the Prometheus text format, GET /healthz for liveness probes, and on brokers
 * GET /v1/restart-safety (whether this broker can stop now and whether it has caught up, as JSON).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, logger } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/metrics") {
      registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
        (err: unknown) => {
          logger.error({ err }, "Metrics collection failed");
          res.writeHead(500, { "content-type": "text/plain" }).end("metrics collection failed\n");
        },
      );
    } else if (path === "/v1/restart-safety" && options.restartSafety !== undefined) {
      res.writeHead(200, { "content-type": "application/json" }).end(`${JSON.stringify(options.restartSafety())}\n`);
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found; try /metrics\n");
    }
  });
  // Kept connections outlive the operator's pass interval and Prometheus' scrape interval (the operator's restart-safety
  // client closes its idle ones after 30 s, before this, so it never sends on a connection being closed).
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        bindError(
          err,
          options.host,
          options.port,
          "metrics.port",
          "set metrics.port to another port, or -1 to disable",
        ),
      ),
    );
    server.listen({ host: options.host, port: options.port }, resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  logger.info({ host: options.host, port }, "Serving metrics on /metrics");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
