// Failover benchmark (issue 12): a 3-node Apache Kafka 4.3.1 and a 3-node Tributary, one after the other, each 3
// combined KRaft nodes on loopback (the cluster harness), Tributary at its defaults and Kafka with the same
// broker.session.timeout.ms. One topic of 3 partitions, RF 3, min.insync.replicas 2.
//   - kill -9 of a partition leader (never the active controller, so that only the broker's failure is measured; with
//     `--victim controller` the active controller, which then leads a partition too), then the time until a Java
//     producer writing to that partition, one acks=all send at a time with a 1 s delivery timeout, gets its first ack;
//     on the same clock, until Metadata names a new leader and until a commit of a group whose coordinator was the
//     killed node succeeds (the group coordinator moved), and the steps between: a new quorum leader (DescribeQuorum)
//     and the killed broker fenced (gone from Metadata's brokers). The node is restarted after each.
//   - SIGSTOP of a follower: the time until no partition's ISR holds it, then SIGCONT and the time until every ISR
//     holds 3 replicas again.
//   npx tsx broker/bench/failover.ts [--only kafka|tributary] [--tributary-first] [--kills N] [--pauses N]
//                                    [--victim leader|controller] [--keep-dirs] [--set key=value ...]
// Build first (`make build`) and install the jars (`make reference-kafka`). Prints a text table and writes
// broker/bench/out/failover.json. No assertions on timing.
import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { AdminClient, type PartitionInfo } from "../src/admin/index.ts";
import type { Cluster, ClusterNode, ClusterSystem } from "../test/support/cluster.ts";
import { startBenchCluster, topicPartitions } from "./bench-cluster.ts";
import { ROOT, log } from "./perf-tools.ts";
import {
  compareSystems,
  environment,
  loadAverage as load,
  median,
  met,
  numberArg,
  onlyArg,
  printEnvironment,
  printSystemLoad,
  setArg,
  writeReport,
  type ComparedMetric,
} from "./report.ts";

const TOPIC = "failover";
const PARTITIONS = 3;
const REPLICATION_FACTOR = 3;
const MIN_ISR = 2;
/** Tributary's default broker.session.timeout.ms (docs/configuration.md), given to Kafka explicitly. */
const SESSION_TIMEOUT_MS = "9000";
/** Issue 12's goal: at default settings, a killed leader's partitions take writes again within this. */
const GOAL_MS = 3_000;
/** How long one measurement may take before the round is reported as failed. */
const ROUND_TIMEOUT_MS = 90_000;
const POLL_MS = 100;
/** An answer stamped within this of the kill may have left the killed node before it died (see Probe.firstAfter). */
const IN_FLIGHT_MS = 50;

interface Args {
  only: ClusterSystem | undefined;
  tributaryFirst: boolean;
  kills: number;
  pauses: number;
  keepDirs: boolean;
  /** Whom to kill: a partition leader that is not the active controller, or the active controller (leading one). */
  victim: "leader" | "controller";
  set: Record<string, string>;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    only: undefined,
    tributaryFirst: false,
    kills: 3,
    pauses: 3,
    keepDirs: false,
    victim: "leader",
    set: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--tributary-first") args.tributaryFirst = true;
    else if (a === "--keep-dirs") args.keepDirs = true;
    else if (a === "--set") setArg(argv[++i], args.set);
    else if (a === "--only") args.only = onlyArg(argv[++i]);
    else if (a === "--kills") args.kills = numberArg(a, argv[++i], { min: 0 }, true);
    else if (a === "--pauses") args.pauses = numberArg(a, argv[++i], { min: 0 }, true);
    else if (a === "--victim") {
      const v = argv[++i];
      if (v !== "leader" && v !== "controller") throw new Error(`--victim takes leader or controller, not ${v}`);
      args.victim = v;
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

interface Kill {
  victim: number;
  partition: number;
  group: string;
  /** The victim was the quorum leader too (no other node led a partition). */
  victimWasController: boolean;
  /** From the kill: first acks=all write acknowledged, Metadata naming a new leader, first offset commit. */
  firstAckMs: number | null;
  newLeaderMs: number | null;
  firstCommitMs: number | null;
  /** From the kill: DescribeQuorum naming another quorum leader, and the killed broker gone from Metadata (fenced). */
  quorumLeaderMs: number | null;
  fencedMs: number | null;
  /** Failed attempts the probe reported between the kill and its first ack. */
  failedSends: number;
  /** The probe's produce events from the last ack before the kill to the first after it (to read an odd round). */
  produceEvents: ProbeEvent[];
  loadAverage: number[];
}

interface Pause {
  paused: number;
  /** SIGSTOP → no partition's ISR holds the paused node; SIGCONT → every ISR holds 3 again. */
  shrinkMs: number | null;
  expandMs: number | null;
  loadAverage: number[];
}

interface SystemResult {
  system: ClusterSystem;
  notYet: string | null;
  kills: Kill[];
  pauses: Pause[];
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

const address = (n: ClusterNode): string => `${n.host}:${n.clientPort}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One admin client per node, bound to it alone, so that a dead node's client is simply not asked. */
class Admins {
  readonly #byNode = new Map<number, AdminClient>();
  constructor(private readonly cluster: Cluster) {
    for (const n of cluster.brokers) {
      this.#byNode.set(n.id, new AdminClient({ bootstrap: address(n), retries: 0, requestTimeoutMs: 5_000 }));
    }
  }
  /** A running node's client other than `except`. */
  live(except?: number): AdminClient {
    for (const [id, admin] of this.#byNode) if (id !== except && this.cluster.isRunning(id)) return admin;
    throw new Error("no running node");
  }
  close(): void {
    for (const a of this.#byNode.values()) a.close();
  }
}

const partitions = (admin: AdminClient): Promise<PartitionInfo[]> => topicPartitions(admin, TOPIC);

/** Polls `check` every POLL_MS (errors count as "not yet") until it holds; ms since `t0`, or null after the timeout. */
async function sinceUntil(
  t0: number,
  check: () => Promise<boolean> | boolean,
  timeoutMs = ROUND_TIMEOUT_MS,
): Promise<number | null> {
  for (;;) {
    try {
      if (await check()) return Date.now() - t0;
    } catch {
      // a node between states; ask again
    }
    if (Date.now() - t0 > timeoutMs) return null;
    await sleep(POLL_MS);
  }
}

async function waitFullIsr(admins: Admins, what: string): Promise<void> {
  const t0 = Date.now();
  const ms = await sinceUntil(t0, async () => {
    const parts = await partitions(admins.live());
    return parts.length === PARTITIONS && parts.every((p) => p.leader >= 0 && p.isr.length === REPLICATION_FACTOR);
  });
  if (ms === null) throw new Error(`the ISR of ${TOPIC} did not reach ${REPLICATION_FACTOR} ${what}`);
}

interface ProbeEvent {
  ev: "group" | "ack" | "commit" | "fail";
  t?: number;
  group?: string;
  what?: string;
  err?: string;
  offset?: number;
}

/** The Java producer and committer (clients/FailoverProbe.java), its events as they arrive. */
class Probe {
  readonly events: ProbeEvent[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #stderr = "";

  constructor(kafkaLibs: string, bootstrap: string, partition: number, coordinator: number) {
    this.#child = spawn(
      "java",
      [
        "-Xmx128m",
        `-Dlog4j2.configurationFile=${join(ROOT, "e2e", "reference-kafka", "tools-log4j2.properties")}`,
        "-cp",
        `${kafkaLibs}/*`,
        join(ROOT, "broker", "bench", "clients", "FailoverProbe.java"),
        ...["--bootstrap", bootstrap, "--topic", TOPIC, "--partition", String(partition)],
        ...["--coordinator", String(coordinator)],
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    this.#exited = new Promise((r) => this.#child.once("exit", () => r()));
    this.#child.stderr?.on("data", (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-4000)));
    createInterface({ input: this.#child.stdout ?? process.stdin }).on("line", (line) => {
      if (line.startsWith("{")) this.events.push(JSON.parse(line) as ProbeEvent);
    });
  }

  get group(): string | undefined {
    return this.events.find((e) => e.ev === "group")?.group;
  }

  count(ev: ProbeEvent["ev"]): number {
    return this.events.filter((e) => e.ev === ev).length;
  }

  /** Waits until the group is picked and both loops have succeeded `n` times. */
  async ready(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.group === undefined || this.count("ack") < n || this.count("commit") < n) {
      if (this.#child.exitCode !== null) throw new Error(`the failover probe exited: ${this.#stderr}`);
      if (Date.now() > deadline) {
        throw new Error(
          `the failover probe was not ready in ${timeoutMs / 1000} s (group ${this.group}, ` +
            `${this.count("ack")} acks, ${this.count("commit")} commits): ${this.#stderr.slice(-1000)}`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * The first success of kind `ev` after the kill at `t0`, as ms since t0. An answer the killed node sent just before
   * it died can still be stamped after t0, so when an attempt failed after the kill, the first success after that
   * failure counts; when none did (a client retry reached the new leader within one attempt), the first success more
   * than IN_FLIGHT_MS after the kill.
   */
  firstAfter(ev: "ack" | "commit", t0: number): number | undefined {
    const what = ev === "ack" ? "produce" : "commit";
    const failed = this.events.find((x) => x.ev === "fail" && x.what === what && (x.t ?? 0) > t0)?.t;
    const from = failed ?? t0 + IN_FLIGHT_MS;
    const e = this.events.find((x) => x.ev === ev && (x.t ?? 0) > from);
    return e?.t === undefined ? undefined : e.t - t0;
  }

  async stop(): Promise<void> {
    this.#child.stdin?.end();
    const killed = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    await this.#exited;
    clearTimeout(killed);
  }
}

/**
 * Kills (-9) the leader of one partition, never the quorum leader unless it leads every partition, and times what
 * the probe and Metadata see from then on; then restarts the node and waits for every ISR to hold 3 again.
 */
async function measureKill(cluster: Cluster, admins: Admins, kafkaLibs: string, target: Args["victim"]): Promise<Kill> {
  // Leadership back on the preferred replicas, so the restarted node of the last round leads again (and coordinates
  // groups); partitions already led by their preferred replica answer ELECTION_NOT_NEEDED, which is fine.
  await admins.live().electLeaders({ partitions: null });
  const controller = (await cluster.describeQuorum()).leaderId;
  const parts = await partitions(admins.live());
  const pick =
    target === "controller"
      ? parts.find((p) => p.leader === controller)
      : (parts.find((p) => p.leader >= 0 && p.leader !== controller) ?? parts[0]);
  if (pick === undefined || pick.leader < 0) {
    throw new Error(`${TOPIC} has no partition led by ${target === "controller" ? "the active controller" : "a node"}`);
  }
  const victim = pick.leader;
  const probe = new Probe(kafkaLibs, cluster.bootstrap(), pick.partition, victim);
  // The survivors' controller listeners: only the quorum leader answers DescribeQuorum.
  const quorum = new AdminClient({
    bootstrap: cluster.controllers
      .filter((n) => n.id !== victim && n.controllerPort !== undefined)
      .map((n) => `${n.host}:${n.controllerPort}`),
    retries: 0,
    requestTimeoutMs: 2_000,
    connectTimeoutMs: 2_000,
  });
  try {
    await probe.ready(3, 120_000);
    const loadAverage = load();
    const t0 = Date.now();
    const killed = cluster.kill(victim, "SIGKILL");
    const survivor = admins.live(victim);
    const newLeader = sinceUntil(t0, async () => {
      const p = (await partitions(survivor)).find((x) => x.partition === pick.partition);
      return p !== undefined && p.leader >= 0 && p.leader !== victim;
    });
    const fenced = sinceUntil(t0, async () => !(await survivor.cluster()).brokers.some((b) => b.nodeId === victim));
    const quorumLeader = sinceUntil(t0, async () => {
      const leaderId = (await quorum.describeQuorum()).leaderId;
      return leaderId >= 0 && leaderId !== victim;
    });
    const seen = (ev: "ack" | "commit"): Promise<number | null> =>
      sinceUntil(t0, () => probe.firstAfter(ev, t0) !== undefined).then((ms) =>
        ms === null ? null : (probe.firstAfter(ev, t0) ?? null),
      );
    await killed;
    const [firstAckMs, newLeaderMs, firstCommitMs, fencedMs, quorumLeaderMs] = await Promise.all([
      seen("ack"),
      newLeader,
      seen("commit"),
      fenced,
      quorumLeader,
    ]);
    const firstAckAt = firstAckMs === null ? Number.POSITIVE_INFINITY : t0 + firstAckMs;
    const failedSends = probe.events.filter(
      (e) => e.ev === "fail" && e.what === "produce" && (e.t ?? 0) > t0 && (e.t ?? 0) < firstAckAt,
    ).length;
    const lastAckBefore = probe.events.findLast((e) => e.ev === "ack" && (e.t ?? 0) <= t0)?.t ?? t0;
    const produceEvents = probe.events.filter(
      (e) => (e.ev === "ack" || e.what === "produce") && (e.t ?? 0) >= lastAckBefore && (e.t ?? 0) <= firstAckAt,
    );
    return {
      victim,
      partition: pick.partition,
      group: probe.group ?? "",
      victimWasController: victim === controller,
      firstAckMs,
      newLeaderMs,
      firstCommitMs,
      quorumLeaderMs,
      fencedMs,
      failedSends,
      produceEvents,
      loadAverage,
    };
  } finally {
    quorum.close();
    await probe.stop();
    if (!cluster.isRunning(victim)) await cluster.restart(victim);
    await cluster.waitForBrokers(120_000);
    await waitFullIsr(admins, `after node ${victim} restarted`);
  }
}

/** SIGSTOP of a follower (not the quorum leader): ISR shrink, then SIGCONT and the ISR back to 3. */
async function measurePause(cluster: Cluster, admins: Admins): Promise<Pause> {
  const controller = (await cluster.describeQuorum()).leaderId;
  const node = cluster.brokers.find((n) => n.id !== controller);
  const pid = node === undefined ? undefined : cluster.pid(node.id);
  if (node === undefined || pid === undefined) throw new Error("no running node other than the quorum leader");
  const survivor = admins.live(node.id);
  const loadAverage = load();
  const t0 = Date.now();
  process.kill(pid, "SIGSTOP");
  let shrinkMs: number | null;
  try {
    shrinkMs = await sinceUntil(t0, async () => (await partitions(survivor)).every((p) => !p.isr.includes(node.id)));
  } finally {
    process.kill(pid, "SIGCONT");
  }
  const t1 = Date.now();
  const expandMs = await sinceUntil(t1, async () =>
    (await partitions(survivor)).every((p) => p.isr.length === REPLICATION_FACTOR),
  );
  if (expandMs === null) await waitFullIsr(admins, `after node ${node.id} was resumed`);
  return { paused: node.id, shrinkMs, expandMs, loadAverage };
}

async function benchSystem(system: ClusterSystem, args: Args, kafkaLibs: string): Promise<SystemResult> {
  const loadAverageStart = load();
  log(`starting 3-node ${system} (load ${loadAverageStart.join(" ")})`);
  const sessionTimeout = system === "kafka" ? { "broker.session.timeout.ms": SESSION_TIMEOUT_MS } : {};
  const cluster = await startBenchCluster(system, {
    keepDirs: args.keepDirs,
    config: { ...sessionTimeout, ...args.set },
  });
  const admins = new Admins(cluster);
  const kills: Kill[] = [];
  const pauses: Pause[] = [];
  let notYet: string | null = null;
  try {
    await cluster.waitForBrokers(60_000);
    const [created] = await admins.live().createTopics([
      {
        name: TOPIC,
        partitions: PARTITIONS,
        replicationFactor: REPLICATION_FACTOR,
        configs: { "min.insync.replicas": String(MIN_ISR) },
      },
    ]);
    if (created?.error !== undefined) throw new Error(`creating ${TOPIC}: ${created.error.message}`);
    await waitFullIsr(admins, "after the create");
    for (let i = 0; i < args.kills; i++) {
      const k = await measureKill(cluster, admins, kafkaLibs, args.victim);
      kills.push(k);
      log(
        `${system}: kill -9 of node ${k.victim} (leader of ${TOPIC}-${k.partition}, coordinator of ${k.group}` +
          `${k.victimWasController ? ", active controller" : ""}): new quorum leader ${k.quorumLeaderMs} ms, ` +
          `fenced ${k.fencedMs} ms, new leader in Metadata ${k.newLeaderMs} ms, first ack ${k.firstAckMs} ms, ` +
          `first commit ${k.firstCommitMs} ms (${k.failedSends} failed sends; load ${k.loadAverage.join(" ")})`,
      );
    }
    for (let i = 0; i < args.pauses; i++) {
      const p = await measurePause(cluster, admins);
      pauses.push(p);
      log(
        `${system}: SIGSTOP of node ${p.paused}: out of every ISR after ${p.shrinkMs} ms; SIGCONT: ISR of 3 after ` +
          `${p.expandMs} ms (load ${p.loadAverage.join(" ")})`,
      );
    }
  } catch (err) {
    notYet = err instanceof Error ? err.message : String(err);
    log(`${system}: not yet: ${notYet}`);
  } finally {
    admins.close();
    if (args.keepDirs) log(`${system}: node directories kept under ${cluster.node(1).dir}/..`);
    await cluster.destroy();
  }
  return { system, notYet, kills, pauses, loadAverageStart, loadAverageEnd: load() };
}

const samples = (xs: readonly (number | null)[]): number[] => xs.flatMap((x) => (x === null ? [] : [x]));
const medianOf = (xs: readonly (number | null)[]): number | undefined => {
  const s = samples(xs);
  return s.length === 0 ? undefined : median(s);
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const kafkaLibs = execFileSync(join(ROOT, "e2e", "reference-kafka", "install.sh"), { encoding: "utf8" }).trim();
  const env = environment();
  const both: ClusterSystem[] = args.tributaryFirst ? ["tributary", "kafka"] : ["kafka", "tributary"];
  const results: SystemResult[] = [];
  for (const s of args.only ? [args.only] : both) results.push(await benchSystem(s, args, kafkaLibs));
  const loadEnd = load();

  const kafka = results.find((r) => r.system === "kafka");
  const trib = results.find((r) => r.system === "tributary");
  const metrics: ComparedMetric<SystemResult>[] = [
    {
      name: "kill -9 leader → first acks=all ack",
      unit: "ms",
      get: (r) => medianOf(r.kills.map((k) => k.firstAckMs)),
      anchor: "8,900-11,500",
    },
    {
      name: "kill -9 leader → new leader (Metadata)",
      unit: "ms",
      get: (r) => medianOf(r.kills.map((k) => k.newLeaderMs)),
    },
    {
      name: "kill -9 coordinator → first commit",
      unit: "ms",
      get: (r) => medianOf(r.kills.map((k) => k.firstCommitMs)),
      anchor: "7,700-10,000",
    },
    {
      name: "SIGSTOP → out of every ISR",
      unit: "ms",
      get: (r) => medianOf(r.pauses.map((p) => p.shrinkMs)),
      anchor: "8,200-10,200",
    },
    {
      name: "SIGCONT → ISR of 3",
      unit: "ms",
      get: (r) => medianOf(r.pauses.map((p) => p.expandMs)),
      anchor: "1,100-1,600",
    },
  ];
  const { table, ratios } = compareSystems(metrics, kafka, trib);

  console.log(`\nFailover: 3 combined nodes, RF 3, min.insync.replicas 2: Tributary vs Apache Kafka 4.3.1 (issue 12)`);
  printEnvironment(env, loadEnd);
  for (const r of results) {
    printSystemLoad(r.system, r.loadAverageStart, r.loadAverageEnd);
    if (r.notYet !== null) console.log(`             not yet: ${r.notYet}`);
    for (const k of r.kills) {
      console.log(
        `             kill -9 node ${k.victim}${k.victimWasController ? " (also the quorum leader)" : ""}: ` +
          `quorum leader ${k.quorumLeaderMs}, fenced ${k.fencedMs}, leader ${k.newLeaderMs}, ack ${k.firstAckMs}, ` +
          `commit ${k.firstCommitMs} ms; load ${k.loadAverage[0]}`,
      );
    }
    for (const p of r.pauses) {
      console.log(
        `             SIGSTOP node ${p.paused}: shrink ${p.shrinkMs}, SIGCONT → 3 in ${p.expandMs} ms; ` +
          `load ${p.loadAverage[0]}`,
      );
    }
  }
  console.log(
    `workload     1 topic × ${PARTITIONS} partitions, RF ${REPLICATION_FACTOR}, min.insync.replicas ${MIN_ISR}; ` +
      `Tributary at its defaults, Kafka with broker.session.timeout.ms=${SESSION_TIMEOUT_MS}` +
      `${Object.keys(args.set).length > 0 ? ` (both: ${JSON.stringify(args.set)})` : ""}; ` +
      `${args.kills} kills of ${
        args.victim === "controller"
          ? "the active controller, leading a partition"
          : "a partition leader that is not the quorum leader"
      } (restarted after each), ` +
      `${args.pauses} pauses of a follower; one Java acks=all send and one offset commit at a time, 1 s per attempt; ` +
      "medians, ms from the signal",
  );
  console.log();
  console.log(table);
  if (trib !== undefined && trib.kills.length > 0) {
    const worst = Math.max(...trib.kills.map((k) => k.firstAckMs ?? Number.POSITIVE_INFINITY));
    console.log();
    console.log(`target writes again within ${GOAL_MS / 1000} s of kill -9 (every round)  ${met(worst <= GOAL_MS)}`);
  }
  writeReport("failover", env, loadEnd, {
    workload: {
      topic: TOPIC,
      partitions: PARTITIONS,
      replicationFactor: REPLICATION_FACTOR,
      minInsyncReplicas: MIN_ISR,
      kafkaSessionTimeoutMs: Number(SESSION_TIMEOUT_MS),
      ...args,
    },
    results,
    ratios,
  });
}

await main();
