// The real broker executable (broker/bin/tributary-broker, built by `npx tsc -b`) on a free loopback port, for the
// client conformance suites in e2e/test/compat. It can be stopped with SIGTERM or SIGKILL and started again on the
// same port and data directory.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, logTail, pollUntil, startProcess, type ManagedProcess } from "../cluster/proc.ts";

const brokerBin = fileURLToPath(new URL("../../../broker/bin/tributary-broker", import.meta.url));

export interface CompatBroker {
  readonly port: number;
  /** host:port for the clients' bootstrap list. */
  readonly bootstrap: string;
  readonly dataDir: string;
  /** Stops with SIGTERM (clean shutdown) or SIGKILL (crash) and waits until the process has gone. */
  stop(signal: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts again on the same port and data directory and waits until it accepts connections. */
  start(): Promise<void>;
  /**
   * Stops the broker leading the partition with `signal` and starts it again: this broker, or on a cluster
   * (CompatCluster) the node leading it, which comes back once every broker lists all of them again.
   */
  restartLeaderOf(topic: string, partition: number, signal: "SIGTERM" | "SIGKILL"): Promise<void>;
  /**
   * Resolves once every broker lists a new topic with its partitions and their leaders: at once for one broker; a
   * cluster's brokers each learn of it when they apply the controller's records (CompatCluster).
   */
  awaitTopic(topic: string, partitions: number): Promise<void>;
  /** Bytes of segment files (*.log) in one partition's directory, on the broker leading it. */
  segmentBytes(topic: string, partition: number): Promise<number>;
  /** Last lines of the broker's log, for failure messages. */
  logTail(): string;
  /** Stops (SIGKILL if still running) and deletes the data directory. */
  destroy(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.connect(port, "127.0.0.1");
  });
}

/** Starts one broker; `overrides` are extra server.properties keys. */
export async function startCompatBroker(overrides: Record<string, string> = {}): Promise<CompatBroker> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "tributary-compat-"));
  const logDir = join(dataDir, "logs");
  const logFile = join(dataDir, "broker.log");
  const settings: Record<string, string> = {
    "node.id": "1",
    "process.roles": "broker,controller",
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT",
    "log.dirs": logDir,
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "group.initial.rebalance.delay.ms": "0",
    "metrics.port": "-1",
    ...overrides,
  };
  const config = join(dataDir, "server.properties");
  writeFileSync(config, "# every key is an --override\n");
  const args = [
    brokerBin,
    "--config",
    config,
    ...Object.entries(settings).flatMap(([k, v]) => ["--override", `${k}=${v}`]),
  ];
  let proc: ManagedProcess | undefined;

  const start = async (): Promise<void> => {
    const p = startProcess({ name: "tributary-broker", command: process.execPath, args, logFile, cwd: dataDir });
    proc = p;
    await pollUntil(`broker on 127.0.0.1:${port}`, 30_000, async () => ((await accepts(port)) ? true : undefined), [p]);
  };
  const stop = async (signal: "SIGTERM" | "SIGKILL"): Promise<void> => {
    const p = proc;
    if (p === undefined || p.exitStatus() !== null) return;
    process.kill(p.pid, signal);
    await p.exited;
  };

  await start();
  return {
    port,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    stop,
    start,
    async restartLeaderOf(_topic, _partition, signal) {
      await stop(signal);
      await start();
    },
    segmentBytes: (topic, partition) => Promise.resolve(segmentBytesIn(join(logDir, `${topic}-${partition}`))),
    awaitTopic: () => Promise.resolve(),
    logTail: () => logTail(logFile, 40),
    async destroy() {
      await stop("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Bytes of segment files (*.log) in a partition directory. */
export function segmentBytesIn(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

/** Polls `probe` every 100 ms until it returns a value (not undefined) or `timeoutMs` passes. */
export function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000) {
  return pollUntil(what, timeoutMs, async () => probe());
}

/** A value large enough to compress well, so a codec's effect shows in the segment size. */
export function compressibleValue(i: number): string {
  return `record-${i}-`.padEnd(1000, "abcdefgh");
}
