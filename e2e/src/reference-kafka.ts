// Starts and stops the reference Apache Kafka (a single KRaft broker+controller from Maven Central jars) for tests and
// benchmarks. The work is done by e2e/reference-kafka/{install,kafka}.sh so that shell users and tests share one recipe.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The part of a pino logger this module uses; pass the caller's logger (or a child of it). */
export interface ReferenceKafkaLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ReferenceKafkaOptions {
  logger: ReferenceKafkaLogger;
  /** Where Kafka keeps its logs, config and PID file; formatted on first use and reused afterwards. */
  dataDir: string;
  /** Client listener on 127.0.0.1; a free port is chosen when omitted. */
  port?: number;
  /** KRaft controller listener on 127.0.0.1; a free port is chosen when omitted. */
  controllerPort?: number;
  /** JVM heap (-Xms/-Xmx), for example "1G" (the default, as kafka-server-start uses). */
  heap?: string;
  /** How long to wait for the broker to accept connections. Default 90 s. */
  startTimeoutMs?: number;
  /** Extra server.properties entries. */
  config?: Readonly<Record<string, string | number | boolean>>;
}

export interface ReferenceKafka {
  readonly pid: number;
  readonly port: number;
  /** "127.0.0.1:<port>", for bootstrap.servers. */
  readonly bootstrap: string;
  readonly dataDir: string;
  /** The broker's stdout/stderr. */
  readonly logFile: string;
  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs` (default 30 s). Safe to call twice. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** The directory that holds install.sh and kafka.sh, from src/ under tsx or dist/src/ once compiled. */
function scriptsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, "..", "reference-kafka"), join(here, "..", "..", "reference-kafka")]) {
    if (existsSync(join(candidate, "kafka.sh"))) return candidate;
  }
  throw new Error(`reference-kafka: cannot find e2e/reference-kafka/kafka.sh from ${here}`);
}

function run(script: string, args: readonly string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      join(scriptsDir(), script),
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${script} ${args.join(" ")} failed: ${error.message}\n${stderr}`, { cause: error }));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

/** An ephemeral port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("reference-kafka: could not get a free port"));
      });
    });
  });
}

/** Downloads the Kafka jars into ~/.cache/tributary/kafka/<version>/libs unless already there; returns that path. */
export async function installReferenceKafka(logger: ReferenceKafkaLogger, timeoutMs = 15 * 60_000): Promise<string> {
  const { stdout, stderr } = await run("install.sh", [], timeoutMs);
  const libs = stdout.trim();
  if (stderr.trim() !== "") logger.info({ libs, output: stderr.trim() }, "reference Kafka installed");
  return libs;
}

export async function startReferenceKafka(options: ReferenceKafkaOptions): Promise<ReferenceKafka> {
  const { logger, dataDir } = options;
  const port = options.port ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  await installReferenceKafka(logger);

  const args = ["start", "--port", String(port), "--controller-port", String(controllerPort), "--data-dir", dataDir];
  args.push("--timeout", String(Math.ceil(startTimeoutMs / 1000)));
  if (options.heap !== undefined) args.push("--heap", options.heap);
  for (const [key, value] of Object.entries(options.config ?? {})) args.push("--set", `${key}=${String(value)}`);

  logger.info({ port, controllerPort, dataDir }, "starting reference Kafka");
  const { stdout } = await run("kafka.sh", args, startTimeoutMs + 30_000);
  const pid = Number.parseInt(stdout.trim().split("\n").at(-1) ?? "", 10);
  if (!Number.isSafeInteger(pid)) throw new Error(`reference-kafka: kafka.sh start printed no PID: ${stdout}`);
  logger.info({ pid, port }, "reference Kafka started");

  let stopped: Promise<void> | undefined;
  return {
    pid,
    port,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    logFile: join(dataDir, "kafka.log"),
    stop(timeoutMs = 30_000): Promise<void> {
      stopped ??= (async () => {
        logger.info({ pid }, "stopping reference Kafka");
        const stopArgs = ["stop", "--data-dir", dataDir, "--timeout", String(Math.ceil(timeoutMs / 1000))];
        const { stderr } = await run("kafka.sh", stopArgs, timeoutMs + 30_000);
        if (stderr.trim() !== "") logger.warn({ pid, output: stderr.trim() }, "reference Kafka stop");
      })();
      return stopped;
    },
  };
}

/**
 * The libs directory of the installed reference Kafka. Installs nothing: when the jars are missing it throws an error
 * that says to run `make reference-kafka`, so a test that needs Kafka's tools fails clearly instead of downloading.
 */
export async function requireReferenceKafka(timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await run("install.sh", ["--check"], timeoutMs);
    return stdout.trim();
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    const said = /reference-kafka: .*make reference-kafka/.exec(cause)?.[0];
    throw new Error(said ?? `reference-kafka: cannot check the installed jars (run make reference-kafka): ${cause}`, {
      cause: err,
    });
  }
}

/** Main classes of Kafka 4.3.1's command-line tools, as bin/kafka-*.sh run them. */
export const KAFKA_TOOLS = {
  /** kafka-topics.sh */
  topics: "org.apache.kafka.tools.TopicCommand",
  /** kafka-configs.sh (still Scala, in the kafka_2.13 jar) */
  configs: "kafka.admin.ConfigCommand",
} as const;

/** Runs a Kafka main class from the reference jars, for example org.apache.kafka.tools.ProducerPerformance. */
export function runKafkaClass(mainClass: string, args: readonly string[], timeoutMs: number): Promise<CommandResult> {
  return run("kafka.sh", ["run-class", mainClass, ...args], timeoutMs);
}
