// Tier 1 ("api"): etcd + kube-apiserver start on loopback with a kubeconfig, an object round-trips through kubectl,
// and stop() tears everything down. `make test` builds the binaries first (make k8s-tools-api); without them this
// test fails and names the command that builds them.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { startTier } from "./helpers.ts";
import { useCluster } from "../src/suite.ts";

describe("cluster tier api", () => {
  const cluster = useCluster(() => startTier("api"));

  it("starts with a usable kubeconfig (budget 15 s warm, fails above 30 s)", () => {
    const c = cluster.get();
    expect(existsSync(c.kubeconfig)).toBe(true);
    console.log(`tier api started in ${c.startMs} ms`);
    // The 15 s budget is for a warm machine; allow slack for a loaded shared CI runner but flag regressions.
    expect(c.startMs).toBeLessThan(30_000);
  });

  it("creates and reads back a ConfigMap through kubectl", async () => {
    const c = cluster.get();
    const name = `tier1-${Date.now()}`;
    const manifest = JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: "default" },
      data: { hello: "tributary" },
    });
    await c.kubectl(["create", "-f", "-"], manifest);
    const got = JSON.parse(await c.kubectl(["get", "configmap", name, "-n", "default", "-o", "json"])) as {
      data?: Record<string, string>;
    };
    expect(got.data).toEqual({ hello: "tributary" });
  });

  it("reports the pinned server version", async () => {
    const version = JSON.parse(await cluster.get().kubectl(["version", "-o", "json"])) as {
      serverVersion?: { gitVersion?: string };
    };
    expect(version.serverVersion?.gitVersion).toMatch(/^v1\.34\.\d+$/);
  });

  it("stop() removes the scratch directory and every process", async () => {
    const c = cluster.get();
    await c.stop();
    expect(existsSync(c.workDir)).toBe(false);
  });
});
