import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/runtime/exit-codes.ts";
import { waitFor } from "../network/helpers.ts";
import { binPath, cleanEnv } from "../support/bin.ts";

// The broker process with a log dir that fails at start-up (KIP-858): here a dir replaced by a file, which fails for
// root too (ENOTDIR), as a dir whose disk is gone does. It starts without a failed dir that is neither its metadata
// log dir nor its last, and stops with exit code 1 and the dir's name otherwise, as Kafka does.

const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A node's directory with server.properties (`lines` added) and, for each of `broken`, a file where a dir belongs. */
function node(lines: readonly string[], broken: readonly string[]): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "tributary-failed-dir-"));
  dirs.push(dir);
  const file = join(dir, "server.properties");
  writeFileSync(file, ["node.id=1", "listeners=PLAINTEXT://127.0.0.1:0", ...lines, ""].join("\n"));
  for (const b of broken) writeFileSync(join(dir, b), "not a directory\n");
  return { dir, file };
}

/** Runs the broker in `dir` (relative log dirs resolve there) to its exit. */
function runIn(dir: string, file: string) {
  return spawnSync(process.execPath, [binPath("tributary-broker"), "--config", file], {
    cwd: dir,
    encoding: "utf8",
    env: cleanEnv,
    timeout: 30_000,
  });
}

describe("a log dir that fails at start-up", () => {
  it("stops the node with exit code 1 when it is the metadata log dir (the first of log.dirs)", () => {
    const { dir, file } = node(["log.dirs=data,data-b"], ["data"]);
    const r = runIn(dir, file);
    expect(r.status).toBe(ExitCode.Failure);
    expect(r.stderr).toContain(`tributary-broker: the metadata log dir ${join(dir, "data")} (ENOTDIR`);
    expect(r.stderr).toContain("failed at start-up; the node cannot run without it");
  });

  it("stops the node with exit code 1 when every log dir failed, naming each", () => {
    const { dir, file } = node(["log.dirs=a,b", "metadata.log.dir=meta"], ["a", "b"]);
    const r = runIn(dir, file);
    expect(r.status).toBe(ExitCode.Failure);
    expect(r.stderr).toContain(`every log dir failed at start-up: ${join(dir, "a")} (ENOTDIR`);
    expect(r.stderr).toContain(`${join(dir, "b")} (ENOTDIR`);
  });

  it("starts and serves without a failed dir that is not its metadata log dir, logging which and why", async () => {
    const { dir, file } = node(["log.dirs=data,data-b"], ["data-b"]);
    const child = spawn(process.execPath, [binPath("tributary-broker"), "--config", file], { cwd: dir, env: cleanEnv });
    const lines: Record<string, unknown>[] = [];
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      const parts = (partial + s).split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) if (p.trim() !== "") lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await waitFor(() => lines.find((l) => l["msg"] === "Node started"), "the node to start", 60_000);
      const failed = lines.find((l) =>
        String(l["msg"]).startsWith(`Log dir ${join(dir, "data-b")} failed at start-up`),
      );
      expect(failed?.["level"]).toBe("error");
      expect(String(failed?.["msg"])).toContain("ENOTDIR");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
