// What the broker benchmarks share: Kafka's own perf tools (kafka-producer-perf-test / kafka-consumer-perf-test from
// the kafka-tools jars, run through e2e/reference-kafka/kafka.sh) and samplers of a broker process's /proc entries.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { round } from "./report.ts";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const KAFKA_SH = join(ROOT, "e2e/reference-kafka/kafka.sh");
export const RECORD_SIZE = 1024;
/** The producer settings every run uses, for both systems. */
export const PRODUCER_PROPS = ["batch.size=65536", "linger.ms=5"] as const;

export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<Exited> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Polls /proc/<pid>/status; VmHWM is the kernel's own peak RSS, VmRSS the polled fallback. */
export class RssSampler {
  peakKiB = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 250);
  }
  sample(): void {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
      for (const key of ["VmHWM", "VmRSS"]) {
        const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
        if (m?.[1]) this.peakKiB = Math.max(this.peakKiB, Number(m[1]));
      }
    } catch {
      // the process has exited; keep the last peak
    }
  }
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return this.peakKiB;
  }
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ); 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLK_TCK = 100;

/**
 * CPU seconds a process has used so far, user + system (fields 14 and 15 of /proc/<pid>/stat, counted after the
 * command name, which may itself hold spaces and parentheses). Children's times are not included: a broker is one
 * process (Kafka's JVM with all its threads, or Tributary's node).
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat: ${stat}`);
  return (utime + stime) / CLK_TCK;
}

export interface ProducerResult {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgMs: number;
  maxMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  wallSeconds: number;
}

export interface ConsumerResult {
  records: number;
  mb: number;
  mbPerSec: number;
  /** Excludes the group join (rebalance) time. */
  fetchMbPerSec: number;
  rebalanceMs: number;
  wallSeconds: number;
}

export async function producePerf(
  bootstrap: string,
  topic: string,
  records: number,
  acks: string,
  throughput: number,
): Promise<ProducerResult> {
  const args = ["run-class", "org.apache.kafka.tools.ProducerPerformance", "--topic", topic];
  args.push("--num-records", String(records), "--record-size", String(RECORD_SIZE), "--throughput", String(throughput));
  args.push("--producer-props", `bootstrap.servers=${bootstrap}`, `acks=${acks}`, ...PRODUCER_PROPS);
  const t0 = performance.now();
  const out = await run(KAFKA_SH, args, 15 * 60_000);
  const wallSeconds = (performance.now() - t0) / 1000;
  const m =
    /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/.exec(
      out.stdout,
    );
  if (out.code !== 0 || !m) throw new Error(`ProducerPerformance failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  const n = (i: number): number => Number(m[i]);
  return {
    records: n(1),
    recordsPerSec: n(2),
    mbPerSec: n(3),
    avgMs: n(4),
    maxMs: n(5),
    p50Ms: n(6),
    p95Ms: n(7),
    p99Ms: n(8),
    p999Ms: n(9),
    wallSeconds: round(wallSeconds, 1),
  };
}

export async function consumePerf(bootstrap: string, topic: string, records: number): Promise<ConsumerResult> {
  const args = ["run-class", "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap];
  args.push("--topic", topic, "--num-records", String(records), "--group", `bench-${Date.now()}`, "--timeout", "30000");
  const t0 = performance.now();
  const out = await run(KAFKA_SH, args, 15 * 60_000);
  const wallSeconds = (performance.now() - t0) / 1000;
  // Header "start.time, end.time, data.consumed.in.MB, MB.sec, ..." then one row of the same columns.
  const lines = out.stdout.split("\n").map((l) => l.trim());
  const h = lines.findIndex((l) => l.startsWith("start.time"));
  const header = lines[h]?.split(/,\s*/) ?? [];
  const row = lines[h + 1]?.split(/,\s*/) ?? [];
  const col = (name: string): number => Number(row[header.indexOf(name)]);
  if (out.code !== 0 || h < 0 || !Number.isFinite(col("MB.sec"))) {
    throw new Error(`ConsumerPerformance failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  }
  return {
    records: col("data.consumed.in.nMsg"),
    mb: col("data.consumed.in.MB"),
    mbPerSec: col("MB.sec"),
    fetchMbPerSec: col("fetch.MB.sec"),
    rebalanceMs: col("rebalance.time.ms"),
    wallSeconds: round(wallSeconds, 1),
  };
}

export function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}
