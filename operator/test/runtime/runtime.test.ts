// The operator's runtime pieces: environment parsing, and the HTTP endpoints probes and Prometheus use.
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/runtime/config.ts";
import { startHealthServer, type HealthServer } from "../../src/runtime/http.ts";
import { createMetrics } from "../../src/runtime/metrics.ts";

describe("loadConfig", () => {
  it("defaults to all namespaces, leader election on, port 8080, and an identity from the host", () => {
    const c = loadConfig({}, "host-a");
    expect(c.namespaces).toEqual([]);
    expect(c.leaderElection).toMatchObject({ enabled: true, namespace: "default", name: "tributary-operator" });
    expect(c.leaderElection.identity).toMatch(/^host-a-\d+$/);
    expect(c.http).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("reads what the chart's Deployment sets", () => {
    const c = loadConfig(
      {
        POD_NAME: "op-0",
        POD_NAMESPACE: "tributary-system",
        TRIBUTARY_WATCH_NAMESPACES: "a, b,,c",
        TRIBUTARY_LEADER_ELECTION: "false",
        TRIBUTARY_HTTP_PORT: "9000",
        TRIBUTARY_BROKER_IMAGE: "tributary/broker:0.1.0",
        TRIBUTARY_BROKER_IMAGE_PULL_POLICY: "Never",
      },
      "h",
    );
    expect(c.namespaces).toEqual(["a", "b", "c"]);
    expect(c.leaderElection).toEqual({
      enabled: false,
      namespace: "tributary-system",
      name: "tributary-operator",
      identity: "op-0",
    });
    expect(c.http.port).toBe(9000);
    expect(c.broker).toEqual({ image: "tributary/broker:0.1.0", pullPolicy: "Never" });
  });

  it("names the variable of a bad value", () => {
    expect(() => loadConfig({ TRIBUTARY_HTTP_PORT: "http" }, "h")).toThrow(/TRIBUTARY_HTTP_PORT/);
    expect(() => loadConfig({ TRIBUTARY_LEADER_ELECTION: "yes" }, "h")).toThrow(/TRIBUTARY_LEADER_ELECTION/);
  });
});

describe("health server", () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it("serves /healthz always, /readyz by the readiness callback, and the registry on /metrics", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.reconciles.inc({ kind: "KafkaCluster", result: "success" });
    let ready = false;
    server = await startHealthServer({ host: "127.0.0.1", port: 0, registry: metrics.registry, ready: () => ready });
    const get = async (path: string): Promise<[number, string]> => {
      const res = await fetch(`http://127.0.0.1:${server?.port ?? 0}${path}`);
      return [res.status, await res.text()];
    };
    expect((await get("/healthz"))[0]).toBe(200);
    expect((await get("/readyz"))[0]).toBe(503);
    ready = true;
    expect((await get("/readyz"))[0]).toBe(200);
    const [code, text] = await get("/metrics");
    expect(code).toBe(200);
    expect(text).toContain('tributary_operator_reconciles_total{kind="KafkaCluster",result="success"} 1');
    expect(text).toContain("tributary_operator_queue_depth");
    expect((await get("/nope"))[0]).toBe(404);
  });
});
