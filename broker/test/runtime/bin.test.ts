import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/runtime/exit-codes.ts";
import { occupyPort, TestClient, waitFor } from "../network/helpers.ts";
import { binPath, cleanEnv, runBin } from "../support/bin.ts";

const brokerDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = binPath("tributary-broker");

function sourcesNewerThanBuild(): boolean {
  const roots = ["main.ts", "config", "runtime", "network"].map((p) => join(brokerDir, "src", p));
  const files = roots.flatMap((r) =>
    r.endsWith(".ts") ? [r] : readdirSync(r, { recursive: true, encoding: "utf8" }).map((f) => join(r, f)),
  );
  return files
    .filter((f) => f.endsWith(".ts"))
    .some((f) => {
      const out = join(brokerDir, "dist", relative(brokerDir, f).replace(/\.ts$/, ".js"));
      try {
        return statSync(out).mtimeMs < statSync(f).mtimeMs;
      } catch {
        return true;
      }
    });
}

beforeAll(() => {
  // The bin runs the compiled output; make test builds it first, a lone vitest run may need to.
  if (sourcesNewerThanBuild()) spawnSync("npx", ["tsc", "-b"], { cwd: join(brokerDir, ".."), stdio: "ignore" });
}, 120_000);

function tempConfig(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "tributary-bin-"));
  const file = join(dir, "server.properties");
  writeFileSync(file, text);
  return { dir, file };
}

function run(args: string[], env: Record<string, string> = {}) {
  return runBin("tributary-broker", args, env);
}

describe("tributary-broker", () => {
  it("prints usage with --help and exits 0", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: tributary-broker --config <server\.properties>/);
  });

  it("exits 2 and names the key, value and expectation for an invalid value", () => {
    const { file } = tempConfig("node.id=1\nlisteners=PLAINTEXT://127.0.0.1:0\n");
    const r = run(["--config", file, "--override", "num.partitions=-3"]);
    expect(r.code).toBe(ExitCode.Config);
    expect(r.stderr).toContain('invalid value "-3" for num.partitions (--override): expected an integer ≥ 1');
  });

  it("exits 2 for a bad environment value and names the variable", () => {
    const { file } = tempConfig("node.id=1\n");
    const r = run(["--config", file], { TRIBUTARY_AUTO_CREATE_TOPICS_ENABLE: "maybe" });
    expect(r.code).toBe(ExitCode.Config);
    expect(r.stderr).toContain(
      "auto.create.topics.enable (env TRIBUTARY_AUTO_CREATE_TOPICS_ENABLE): expected true or false",
    );
  });

  it("exits 2 without --config or with a missing file", () => {
    expect(run([]).code).toBe(ExitCode.Config);
    const missing = run(["--config", "/nonexistent/server.properties"]);
    expect(missing.code).toBe(ExitCode.Config);
    expect(missing.stderr).toContain("cannot read /nonexistent/server.properties (ENOENT)");
  });

  it("exits 3 with a clear message when the listener port is taken", async () => {
    const { port, release } = await occupyPort();
    try {
      const { dir, file } = tempConfig("");
      writeFileSync(file, `node.id=1\nlisteners=PLAINTEXT://127.0.0.1:${port}\nlog.dirs=${join(dir, "data")}\n`);
      const r = run(["--config", file]);
      expect(r.code).toBe(ExitCode.Bind);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use (listener PLAINTEXT)`);
    } finally {
      await release();
    }
  });

  it("starts, serves metrics, warns about unknown keys, and stops cleanly on SIGTERM", async () => {
    const { dir, file } = tempConfig(
      "node.id=1\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=data\nmetrics.port=0\nmetrics.host=127.0.0.1\nmystery.key=1\n",
    );
    const child = spawn(process.execPath, [bin, "--config", file], { cwd: dir, env: cleanEnv });
    const lines: Array<Record<string, unknown>> = [];
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      const parts = (partial + s).split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) if (p.trim() !== "") lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      const byMsg = (msg: string) => lines.find((l) => l["msg"] === msg);
      await waitFor(() => byMsg("Node started"), "the node to start", 20_000);
      expect(lines.find((l) => l["key"] === "mystery.key")?.["msg"]).toMatch(/unknown configuration key mystery\.key/);
      // The client listener; the controller listener of this quorum of one listens too, on a loopback port of its own.
      const listenPort = Number(lines.find((l) => l["msg"] === "Listening" && l["listener"] === "PLAINTEXT")?.["port"]);
      const metricsPort = Number(byMsg("Serving metrics on /metrics")?.["port"]);
      // ApiVersions v0 (header v1: key 18, version 0, correlation id 7, client id "test") proves the wiring.
      const apiVersions = await TestClient.connect(listenPort);
      apiVersions.send(Buffer.from([0, 18, 0, 0, 0, 0, 0, 7, 0, 4, ...Buffer.from("test")]));
      const [response] = await waitFor(() => apiVersions.responses.length > 0 && apiVersions.responses, "a response");
      expect(response?.readInt32BE(0)).toBe(7);
      expect(response?.readInt16BE(4)).toBe(0);
      const client = await TestClient.connect(listenPort);
      client.send("anything");
      await client.waitForClose();
      apiVersions.destroy();
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(text).toMatch(/^tributary_connections_total\{listener="PLAINTEXT"\} 2$/m);
      expect(text).toMatch(/^tributary_requests_total\{api="ApiVersions",version="0"\} 1$/m);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(byMsg("Stopped")?.["exitCode"]).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
