import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { requireReferenceKafka } from "../support/reference-kafka.ts";
import type { RunReport } from "./orchestrator.ts";

// The small `make chaos` inside `make test`: seeded faults on 3 nodes (every kind but the rolling restart, each at
// least once), then the history check. Against the reference Apache Kafka it proves the harness: the workload, the
// faults and the checker run end to end, and a system that keeps Kafka's promises passes. Against Tributary it is the
// promise itself: no acknowledged record lost, no duplicate, order and committed offsets kept.
//
// The two runs differ only in --duration: Kafka's is longer; Tributary's is kept short for make test's budget (the
// faults run past --duration until each kind has been injected once; both start with the same five faults of seed 12).

const RUN = fileURLToPath(new URL("./run.ts", import.meta.url));
const TSX = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));

const SMALL = {
  kafka: { duration: "45", seed: "12" },
  tributary: { duration: "30", seed: "12" },
} as const;

async function smallRun(
  system: "kafka" | "tributary",
): Promise<{ code: number | null; report: RunReport; output: string }> {
  const { duration, seed } = SMALL[system];
  const out = mkdtempSync(join(tmpdir(), `chaos-${system}-`));
  const child = spawn(
    TSX,
    [
      RUN,
      "--system",
      system,
      "--nodes",
      "3",
      "--duration",
      duration,
      "--seed",
      seed,
      "--weights",
      "roll=0",
      "--out",
      out,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  try {
    const report = JSON.parse(readFileSync(join(out, "n3", "report.json"), "utf8")) as RunReport;
    return { code, report, output };
  } catch (err) {
    throw new Error(`no report from the chaos run (exit ${code}):\n${output.slice(-6000)}`, { cause: err });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function expectClean(r: { code: number | null; report: RunReport; output: string }): void {
  const { report } = r;
  expect(report.error, r.output.slice(-4000)).toBeUndefined();
  const check = report.check;
  if (check === undefined) throw new Error("the run has no check");
  expect(check.anomalies, r.output.slice(-4000)).toEqual([]);
  expect(report.ok).toBe(true);
  expect(r.code).toBe(0);
  // Every kind but the roll was injected, and the workload really ran through them.
  expect(Object.keys(report.faults.byKind).sort()).toEqual(
    ["disk-full", "kill-controller", "kill-leader", "partition", "pause"].sort(),
  );
  expect(check.acked).toBeGreaterThan(1000);
  expect(check.verified).toBe(check.acked);
  expect(Object.values(check.groupCoverage)).toEqual([1, 1]);
}

describe("make chaos, small", () => {
  it("a 3-node Apache Kafka loses no acknowledged record under seeded faults", async () => {
    requireReferenceKafka();
    expectClean(await smallRun("kafka"));
  }, 600_000);

  it("a 3-node Tributary loses no acknowledged record under seeded faults", async () => {
    expectClean(await smallRun("tributary"));
  }, 600_000);
});
