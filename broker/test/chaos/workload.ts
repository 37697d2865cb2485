import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync, type WriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { pollUntil } from "../support/broker-process.ts";
import { parseEvent, type HistoryEvent } from "./history.ts";

// The workload's client processes (clients/): one librdkafka driver (Python, confluent-kafka) and one Java-client
// driver, each a producer, two members of its own consumer group and, for the Python one, an observer of both groups'
// committed offsets. Their history lines go to one file (history.jsonl); everything else they print to one log each.

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");

export interface ClientTools {
  /** The compat venv's python (e2e/compat/librdkafka/setup.sh). */
  python: string;
  /** The reference Kafka's libs directory (kafka-clients and its dependencies). */
  kafkaLibs: string;
}

export interface WorkloadOptions {
  tools: ClientTools;
  bootstrap: string;
  topic: string;
  partitions: number;
  /** Records per second per producer. */
  rate: number;
  outDir: string;
}

export const GROUPS = ["chaos-rdkafka", "chaos-java"] as const;
export const PRODUCERS = ["rdk-p1", "java-p1"] as const;

interface Driver {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  log: WriteStream;
}

export class Workload {
  readonly #opts: WorkloadOptions;
  readonly #history: WriteStream;
  readonly #drivers: Driver[] = [];
  /** Last committed offset an observer saw, per group and partition. */
  readonly committed = new Map<string, number>();
  readonly acks = new Map<string, number>();
  readonly notes: { a: string; msg: string }[] = [];
  #lines = 0;

  constructor(opts: WorkloadOptions) {
    this.#opts = opts;
    this.#history = createWriteStream(join(opts.outDir, "history.jsonl"));
  }

  get historyFile(): string {
    return join(this.#opts.outDir, "history.jsonl");
  }

  get events(): number {
    return this.#lines;
  }

  #record(e: HistoryEvent): void {
    if (e.ev === "committed") this.committed.set(`${e.g}/${e.p}`, e.o);
    else if (e.ev === "ack") this.acks.set(e.a, (this.acks.get(e.a) ?? 0) + 1);
    else if (e.ev === "note") this.notes.push({ a: e.a, msg: e.msg });
  }

  #spawn(name: string, command: string, args: readonly string[]): Driver {
    const log = createWriteStream(join(this.#opts.outDir, `${name}.log`));
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.stderr?.pipe(log, { end: false });
    const lines = createInterface({ input: child.stdout ?? process.stdin });
    lines.on("line", (line) => {
      if (!line.startsWith("{")) {
        log.write(`${line}\n`);
        return;
      }
      let e: HistoryEvent;
      try {
        e = parseEvent(line, name);
      } catch (err) {
        log.write(`unparsable history line: ${err instanceof Error ? err.message : String(err)}\n`);
        return;
      }
      this.#lines++;
      this.#history.write(`${line}\n`);
      this.#record(e);
    });
    const d = { name, child, exited, log };
    this.#drivers.push(d);
    return d;
  }

  start(): void {
    const o = this.#opts;
    const common = ["--bootstrap", o.bootstrap, "--topic", o.topic, "--partitions", String(o.partitions)];
    this.#spawn("rdkafka", o.tools.python, [
      join(here, "clients", "rdkafka_client.py"),
      "run",
      ...common,
      "--rate",
      String(o.rate),
      "--producer",
      "rdk-p1",
      "--consumer",
      `rdk-c1:${GROUPS[0]}`,
      "--consumer",
      `rdk-c2:${GROUPS[0]}`,
      "--observer",
      `obs:${GROUPS.join(",")}`,
    ]);
    this.#spawn("java", "java", [
      "-Xmx256m",
      `-Dlog4j2.configurationFile=${join(repo, "e2e", "reference-kafka", "tools-log4j2.properties")}`,
      "-cp",
      `${o.tools.kafkaLibs}/*`,
      join(here, "clients", "ChaosClient.java"),
      ...common,
      "--rate",
      String(o.rate),
      "--producer",
      "java-p1",
      "--consumer",
      `java-c1:${GROUPS[1]}`,
      "--consumer",
      `java-c2:${GROUPS[1]}`,
    ]);
  }

  /** Fails if a driver exited on its own (a workload that died would make the run prove nothing). */
  assertRunning(): void {
    for (const d of this.#drivers) {
      if (d.child.exitCode !== null || d.child.signalCode !== null) {
        throw new Error(
          `chaos: the ${d.name} client exited (${d.child.exitCode ?? d.child.signalCode}); see ${d.name}.log`,
        );
      }
    }
  }

  /** Waits until every producer has had at least one ack. */
  async waitForAcks(timeoutMs: number): Promise<void> {
    try {
      await pollUntil(
        `an acknowledged record from each producer (${PRODUCERS.join(", ")})`,
        () => {
          this.assertRunning();
          return PRODUCERS.every((p) => (this.acks.get(p) ?? 0) > 0);
        },
        timeoutMs,
      );
    } catch (err) {
      // Say why, from what the clients last logged (e.g. every produce refused with NOT_ENOUGH_REPLICAS).
      const tails = this.#drivers.map((d) => {
        let text = "";
        try {
          text = readFileSync(join(this.#opts.outDir, `${d.name}.log`), "utf8");
        } catch {
          // Nothing logged yet.
        }
        const lines = text.split("\n").filter((l) => l.trim() !== "");
        return `${d.name}: ${
          lines
            .slice(-2)
            .map((l) => l.slice(0, 300))
            .join(" | ") || "(nothing logged)"
        }`;
      });
      throw new Error(
        `${err instanceof Error ? err.message : String(err)}; the clients last logged: ${tails.join("; ")}`,
        {
          cause: err,
        },
      );
    }
  }

  #send(command: string): void {
    for (const d of this.#drivers) d.child.stdin?.write(`${command}\n`);
  }

  /** Stops the producers and waits until each driver has the outcome of every send. */
  async stopProducers(timeoutMs: number): Promise<void> {
    const before = this.notes.filter((n) => n.a === "driver" && n.msg === "producers-stopped").length;
    this.#send("stop-producers");
    await pollUntil(
      "every driver to report producers-stopped",
      () =>
        this.notes.filter((n) => n.a === "driver" && n.msg === "producers-stopped").length >=
        before + this.#drivers.length,
      timeoutMs,
    );
  }

  /** Waits until the observer sees each group's committed offsets at `ends` (what the dump found). */
  async waitForGroupsAt(ends: ReadonlyMap<number, number>, timeoutMs: number): Promise<void> {
    await pollUntil(
      "both groups to commit up to the end of every partition",
      () =>
        GROUPS.every((g) => [...ends].every(([p, end]) => end === 0 || (this.committed.get(`${g}/${p}`) ?? 0) >= end)),
      timeoutMs,
    );
  }

  /** Asks the drivers to stop; kills any that has not exited by the deadline. */
  async stop(timeoutMs = 60_000): Promise<void> {
    this.#send("stop");
    for (const d of this.#drivers) d.child.stdin?.end();
    await Promise.all(
      this.#drivers.map(async (d) => {
        const timer = setTimeout(() => d.child.kill("SIGKILL"), timeoutMs);
        await d.exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(this.#drivers.map((d) => new Promise((r) => d.log.end(r))));
  }

  kill(): void {
    for (const d of this.#drivers) d.child.kill("SIGKILL");
  }

  /** Runs the dump (rdkafka_client.py dump) into the history; resolves with each partition's end offset. */
  async dump(timeoutMs: number): Promise<Map<number, number>> {
    const o = this.#opts;
    const d = this.#spawn("dump", o.tools.python, [
      join(here, "clients", "rdkafka_client.py"),
      "dump",
      "--bootstrap",
      o.bootstrap,
      "--topic",
      o.topic,
      "--partitions",
      String(o.partitions),
      "--timeout",
      String(Math.floor(timeoutMs / 1000)),
    ]);
    const ends = new Map<number, number>();
    const lines = createInterface({ input: d.child.stdout ?? process.stdin });
    lines.on("line", (line) => {
      if (line.startsWith('{"ev":"log-end"')) {
        const e = parseEvent(line, "dump");
        if (e.ev === "log-end") ends.set(e.p, e.end);
      }
    });
    const timer = setTimeout(() => d.child.kill("SIGKILL"), timeoutMs + 10_000);
    const code = await d.exited;
    clearTimeout(timer);
    this.#drivers.splice(this.#drivers.indexOf(d), 1);
    if (code !== 0) throw new Error(`chaos: the dump exited with ${code}; see dump.log`);
    return ends;
  }

  async close(): Promise<void> {
    await new Promise((r) => this.#history.end(r));
  }
}
