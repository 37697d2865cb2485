import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_METADATA_VERSION } from "../../src/controller/features.ts";
import { RELEASE } from "../../src/release.ts";
import { ExitCode, StartupError } from "../../src/runtime/exit-codes.ts";
import {
  apiRequestMetrics,
  createMetrics,
  startMetricsServer,
  type MetricsServer,
  type PartitionStats,
} from "../../src/runtime/metrics.ts";
import { occupyPort } from "../network/helpers.ts";

const silent = pino({ level: "silent" });

function sample(text: string, line: string): number | undefined {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe("createMetrics", () => {
  it("counts requests, latency and errors by API", async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    m.observeRequest("Produce", 9, 0.002);
    m.observeRequest("Produce", 9, 0.004, 0);
    m.observeRequest("Fetch", 12, 0.3, 1);
    const text = await m.registry.metrics();
    expect(sample(text, 'tributary_requests_total{api="Produce",version="9"}')).toBe(2);
    expect(sample(text, 'tributary_requests_total{api="Fetch",version="12"}')).toBe(1);
    expect(sample(text, 'tributary_request_duration_seconds_count{api="Produce"}')).toBe(2);
    expect(sample(text, 'tributary_request_duration_seconds_bucket{le="0.0025",api="Produce"}')).toBe(1);
    expect(sample(text, 'tributary_request_errors_total{api="Fetch",error_code="1"}')).toBe(1);
    expect(text).not.toMatch(/tributary_request_errors_total\{api="Produce"/);
    m.observeRequestFailure("unknown", "unsupported_api");
    expect(
      sample(await m.registry.metrics(), 'tributary_request_failures_total{api="unknown",reason="unsupported_api"}'),
    ).toBe(1);
  });

  it("says which release the broker is (the build stamp, src/release.ts)", async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    const line = `tributary_build_info{version="${RELEASE.version}",max_metadata_version="${MAX_METADATA_VERSION}"}`;
    expect(sample(await m.registry.metrics(), line)).toBe(1);
  });

  it("adapts numeric API keys to named labels for the dispatcher", async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    const api = apiRequestMetrics(m, (k) => (k === 18 ? "ApiVersions" : `api-${k}`));
    api.requestCompleted(18, 3, 0.001);
    api.requestFailed(99, "unsupported_api");
    const text = await m.registry.metrics();
    expect(sample(text, 'tributary_requests_total{api="ApiVersions",version="3"}')).toBe(1);
    expect(sample(text, 'tributary_request_failures_total{api="api-99",reason="unsupported_api"}')).toBe(1);
  });

  it("counts throttled replication bytes and held-back partition fetches by side", async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    m.replicationThrottle.recordThrottledBytes("leader", 1_000);
    m.replicationThrottle.recordThrottledBytes("leader", 500);
    m.replicationThrottle.recordThrottledBytes("follower", 7);
    m.replicationThrottle.recordHeldBack("follower", 2);
    const text = await m.registry.metrics();
    expect(sample(text, 'tributary_replication_throttled_bytes_total{side="leader"}')).toBe(1_500);
    expect(sample(text, 'tributary_replication_throttled_bytes_total{side="follower"}')).toBe(7);
    expect(sample(text, 'tributary_replication_throttle_held_back_total{side="follower"}')).toBe(2);
  });

  it("counts connections and bytes from the network hooks", async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    m.network.connectionOpened("PLAINTEXT");
    m.network.connectionOpened("PLAINTEXT");
    m.network.connectionClosed("PLAINTEXT");
    m.network.bytesReceived("PLAINTEXT", 100);
    m.network.bytesSent("PLAINTEXT", 40);
    const text = await m.registry.metrics();
    expect(sample(text, 'tributary_connections_active{listener="PLAINTEXT"}')).toBe(1);
    expect(sample(text, 'tributary_connections_total{listener="PLAINTEXT"}')).toBe(2);
    expect(sample(text, 'tributary_network_bytes_in_total{listener="PLAINTEXT"}')).toBe(100);
    expect(sample(text, 'tributary_network_bytes_out_total{listener="PLAINTEXT"}')).toBe(40);
  });

  it("asks the partition and lag sources at every scrape and drops what they no longer report", async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    let partitions: PartitionStats[] = [
      { topic: "a", partition: 0, logSizeBytes: 10, underReplicated: true, underMinIsr: true },
      { topic: "a", partition: 1, logSizeBytes: 20, underReplicated: true },
    ];
    let calls = 0;
    m.setPartitionStatsSource(() => {
      calls++;
      return partitions;
    });
    m.setGroupLagSource(() => Promise.resolve([{ group: "g", topic: "a", partition: 0, lag: 7 }]));
    m.setLogDirSource(() => [
      { logDir: "/d/a", offline: false },
      { logDir: "/d/b", offline: true },
    ]);
    let text = await m.registry.metrics();
    expect(sample(text, 'tributary_log_dir_offline{log_dir="/d/a"}')).toBe(0);
    expect(sample(text, 'tributary_log_dir_offline{log_dir="/d/b"}')).toBe(1);
    expect(calls).toBe(1);
    expect(sample(text, "tributary_partitions")).toBe(2);
    expect(sample(text, "tributary_under_replicated_partitions")).toBe(2);
    expect(sample(text, "tributary_under_min_isr_partitions")).toBe(1);
    expect(sample(text, 'tributary_log_size_bytes{topic="a",partition="1"}')).toBe(20);
    expect(sample(text, 'tributary_consumer_group_lag{group="g",topic="a",partition="0"}')).toBe(7);
    partitions = [{ topic: "a", partition: 0, logSizeBytes: 15 }];
    text = await m.registry.metrics();
    expect(sample(text, "tributary_partitions")).toBe(1);
    expect(sample(text, "tributary_under_replicated_partitions")).toBe(0);
    expect(sample(text, 'tributary_log_size_bytes{topic="a",partition="0"}')).toBe(15);
    expect(text).not.toMatch(/partition="1"/);
  });

  it("adds process metrics unless told not to", async () => {
    const m = createMetrics(new Registry());
    expect(await m.registry.metrics()).toMatch(/^tributary_process_resident_memory_bytes /m);
  });
});

describe("startMetricsServer", () => {
  const started: MetricsServer[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.close()));
  });

  it("serves /metrics, /healthz and 404 elsewhere", async () => {
    const m = createMetrics(new Registry(), { defaultMetrics: false });
    m.observeRequest("Metadata", 12, 0.001);
    const server = await startMetricsServer({ registry: m.registry, host: "127.0.0.1", port: 0, logger: silent });
    started.push(server);
    const base = `http://127.0.0.1:${server.port}`;
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(sample(await res.text(), 'tributary_requests_total{api="Metadata",version="12"}')).toBe(1);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it("says which port is taken, names metrics.port, and carries the bind exit code", async () => {
    const { port, release } = await occupyPort();
    try {
      const err: unknown = await startMetricsServer({
        registry: new Registry(),
        host: "127.0.0.1",
        port,
        logger: silent,
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StartupError);
      expect((err as StartupError).exitCode).toBe(ExitCode.Bind);
      expect((err as StartupError).message).toBe(
        `port ${port} on 127.0.0.1 is already in use (metrics.port); stop the other process or set metrics.port to another port, or -1 to disable`,
      );
    } finally {
      await release();
    }
  });
});
