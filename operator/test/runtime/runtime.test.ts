// The operator's runtime pieces: environment parsing, and the HTTP endpoints probes and Prometheus use.
import { afterEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, OPERATOR_ENV_KEYS, loadConfig, unknownEnvKeys } from "../../src/runtime/config.ts";
import { REPO, buildOperator } from "../integration/harness.ts";
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

  it("refuses a TRIBUTARY_* variable it does not know, naming it and every setting it knows", () => {
    let error: unknown;
    try {
      loadConfig({ TRIBUTARY_WATCH_NAMESPACE: "kafka", TRIBUTARY_RESYNC_SECONDS: "60" }, "h");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^invalid operator environment: unknown variable TRIBUTARY_WATCH_NAMESPACE \(misspelt\?\)/);
    for (const key of OPERATOR_ENV_KEYS) expect(message).toContain(key);
    expect(OPERATOR_ENV_KEYS).toContain("TRIBUTARY_WATCH_NAMESPACES");
    expect(() => loadConfig({ TRIBUTARY_B: "1", TRIBUTARY_A: "2" }, "h")).toThrow(
      /unknown variables TRIBUTARY_A, TRIBUTARY_B \(/,
    );
  });

  it("leaves other variables alone, and those of the project's tooling", () => {
    const c = loadConfig(
      { KAFKA_HEAP_OPTS: "-Xmx1g", TRIBUTARY_CACHE: "/c", TRIBUTARY_K8S_BIN: "/b", TRIBUTARY_COMPAT_NODES: "3" },
      "h",
    );
    expect(c.resyncMs).toBe(600_000);
    expect(unknownEnvKeys({ TRIBUTARY_CACHE: "/c", TRIBUTARY_COMPAT_RF: "3", TRIBUTARY_LOG_LEVEL: "info" })).toEqual(
      [],
    );
  });

  it("sets only variables it knows in the chart's Deployment and manifests/install.yaml", () => {
    for (const file of ["charts/tributary/templates/operator/deployment.yaml", "manifests/install.yaml"]) {
      const names = [...readFileSync(join(REPO, file), "utf8").matchAll(/name: (TRIBUTARY_[A-Z0-9_]+)/g)].map(
        (m) => m[1] ?? "",
      );
      expect(names.length, file).toBeGreaterThan(0);
      expect(unknownEnvKeys(Object.fromEntries(names.map((n) => [n, "x"]))), file).toEqual([]);
    }
  });

  it("stops the operator process with exit code 2 and the message, before it does anything", async () => {
    const main = await buildOperator();
    const { code, stderr } = await new Promise<{ code: unknown; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [main],
        { env: { PATH: process.env["PATH"] ?? "", TRIBUTARY_LOGLEVEL: "debug" }, timeout: 30_000 },
        // A non-zero exit is an error whose code is the exit code.
        (err, _stdout, stderr) => resolve({ code: err === null ? 0 : err.code, stderr }),
      );
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^tributary-operator: invalid operator environment: unknown variable TRIBUTARY_LOGLEVEL /);
    expect(stderr).toContain("TRIBUTARY_LOG_LEVEL");
    expect(stderr).not.toMatch(/\n\s+at /);
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
