import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Socket, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Runs the real broker executable (broker/bin/tributary-broker, built by `make build`) on a free loopback port, for
// tests that drive it with unmodified Kafka clients.

const bin = fileURLToPath(new URL("../../bin/tributary-broker", import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/**
 * `count` different free ports. Each freePort() call closes its socket before returning, so two calls in a row may be
 * handed the same port; these are all held open until every one is chosen.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
    }
    return servers.map((s) => {
      const address = s.address();
      if (typeof address !== "object" || address === null) throw new Error("no port");
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Whether something accepts TCP connections on `host`:`port`. */
export function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, host);
  });
}

export async function pollUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface BrokerProcess {
  readonly port: number;
  readonly bootstrap: string;
  readonly dataDir: string;
  /** Everything the broker printed so far (structured logs). */
  output(): string;
  /** Stops with SIGTERM (clean shutdown) or SIGKILL (crash) and waits for the process to exit. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<number | null>;
  /** Starts again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops if running and deletes the data directory. */
  destroy(): Promise<void>;
}

export interface BrokerProcessOptions {
  /** Extra server.properties keys, as key=value overrides. */
  overrides?: Record<string, string>;
  dataDir?: string;
  /** The client port, when the overrides set listeners themselves; a free one otherwise. */
  port?: number;
  /**
   * When the process counts as started: by default once its client port accepts connections; a pattern instead waits
   * for its output to match (a node that cannot reach its quorum never opens the client port).
   */
  readyWhen?: RegExp;
}

export async function startBrokerProcess(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "tributary-test-"));
  const overrides: Record<string, string> = {
    "node.id": "1",
    "process.roles": "broker,controller",
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT",
    "log.dirs": join(dataDir, "logs"),
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "group.initial.rebalance.delay.ms": "0",
    "metrics.port": "-1",
    ...options.overrides,
  };
  let child: ChildProcess | undefined;
  let output = "";
  let exited: Promise<number | null> = Promise.resolve(null);

  const launch = async () => {
    // The executable requires a properties file; every key comes from the overrides.
    const config = join(dataDir, "server.properties");
    writeFileSync(config, "");
    const args = [
      bin,
      "--config",
      config,
      ...Object.entries(overrides).flatMap(([k, v]) => ["--override", `${k}=${v}`]),
    ];
    const proc = spawn(process.execPath, args, {
      cwd: dataDir,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    proc.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    exited = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
    let gone = false;
    void exited.then(() => (gone = true));
    const readyWhen = options.readyWhen;
    try {
      await pollUntil(
        readyWhen ? `broker output matching ${String(readyWhen)}` : `broker on port ${port}`,
        async () => {
          if (gone) throw new Error(`broker exited during start:\n${output}`);
          return readyWhen ? readyWhen.test(output) : canConnect(port);
        },
      );
    } catch (err) {
      // A start that never got ready must not leave the process behind on a shared machine.
      proc.kill("SIGKILL");
      throw err;
    }
  };
  await launch();

  const stop = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    child.kill(signal);
    return exited;
  };
  return {
    port,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    output: () => output,
    stop,
    restart: launch,
    async destroy() {
      await stop("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
