import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { AdminClient } from "../../src/admin/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster, type ClusterSystem } from "../support/cluster.ts";
import { mountSmallDisk, type SmallDisk } from "../support/small-disk.ts";
import { check, type CheckResult } from "./checker.ts";
import { explainAnomalies } from "./explain.ts";
import { partitionLinks, schedule, type FaultKind, type PlannedFault } from "./faults.ts";
import { parseHistory } from "./history.ts";
import { emptyMonitorReport, LeaderMonitor, type MonitorReport } from "./monitor.ts";
import { describeNamespaces, setLinkCut, type Netns } from "./netns.ts";
import { Workload, type ClientTools } from "./workload.ts";

// One chaos run against one cluster, inside the hub network namespace (run.ts starts it there with `ip netns exec`):
// start the cluster with each node in its own namespace, one node's log dir on a small tmpfs; create the topic; start
// the workload; inject seeded faults until the duration is up, healing each and restarting what was killed, and
// waiting (with a deadline) for the cluster to recover before the next; then heal everything, stop the producers,
// dump the log, let the groups catch up, and check the history. Writes report.json into the run's directory.

export interface InnerOptions {
  system: ClusterSystem;
  nodes: number;
  durationMs: number;
  seed: number;
  weights: Record<FaultKind, number>;
  /** The pid that created the namespaces (their names derive from it). */
  nsPid: number;
  outDir: string;
  tools: ClientTools;
  partitions: number;
  rate: number;
  /** min.insync.replicas of the topic (and the brokers' default). */
  minIsr: number;
  /**
   * Eligible leader replicas (KIP-966) on the Tributary cluster: on (and absent) is the default format, on as for a
   * new Kafka 4.1+ cluster; false formats with eligible.leader.replicas.version=0.
   */
  elr?: boolean;
}

export const TOPIC = "chaos";
const RF = 3;
/** The small disk: big enough for the run's data, so only the disk-full fault fills it. */
const DISK_BYTES = 512 * 1024 * 1024;

export interface FaultRecord {
  n: number;
  kind: FaultKind;
  /** What was done, e.g. "SIGKILL node 2 (leader of chaos-3)". */
  what: string;
  /** Faults this one counts as (a roll of N nodes is N SIGTERM restarts). */
  count: number;
  at: number;
  healedAt: number;
  recoveredAt: number | undefined;
  /** Why recovery did not complete before the deadline, if it did not. */
  notRecovered?: string;
}

export interface RunReport {
  system: ClusterSystem;
  nodes: number;
  seed: number;
  durationMs: number;
  /** Set when the run could not complete (then there is no check): what went wrong. */
  error?: string;
  minIsr: number;
  faults: { total: number; byKind: Record<string, number>; recoveryTimeouts: number };
  check: CheckResult | undefined;
  leaders: MonitorReport;
  /** Restarts of a node that had exited on its own (e.g. Kafka shutting down on a failed log dir). */
  crashRestarts: number;
  finalPhase: string[];
  ok: boolean;
}

/** How long a fault holds before it is healed: its length, not synchronisation (every wait on the system polls). */
const hold = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function log(msg: string): void {
  process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export async function runInner(o: InnerOptions): Promise<RunReport> {
  mkdirSync(o.outDir, { recursive: true });
  const ns: Netns = describeNamespaces(o.nsPid);
  const down = new Set<number>();
  const paused = new Set<number>();
  const diskNode = 1 + (o.seed % o.nodes);
  let disk: SmallDisk | undefined;
  let cluster: Cluster | undefined;
  let workload: Workload | undefined;
  let monitor: LeaderMonitor | undefined;
  const faults: FaultRecord[] = [];
  const cuts = new Set<string>();
  let crashRestarts = 0;
  const finalPhase: string[] = [];
  const faultLog = join(o.outDir, "faults.jsonl");
  const writeReport = (result: CheckResult | undefined, leaders: MonitorReport, error?: string): RunReport => {
    const byKind: Record<string, number> = {};
    for (const f of faults) byKind[f.kind] = (byKind[f.kind] ?? 0) + f.count;
    const report: RunReport = {
      system: o.system,
      nodes: o.nodes,
      seed: o.seed,
      durationMs: o.durationMs,
      ...(error === undefined ? {} : { error }),
      minIsr: o.minIsr,
      faults: {
        total: faults.reduce((s, f) => s + f.count, 0),
        byKind,
        recoveryTimeouts: faults.filter((f) => f.notRecovered !== undefined).length,
      },
      check: result,
      leaders,
      crashRestarts,
      finalPhase,
      ok: error === undefined && result?.ok === true,
    };
    writeFileSync(join(o.outDir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  };
  writeFileSync(faultLog, "");
  /** Where a failed run keeps the nodes' directories. */
  const keptDir = join(o.outDir, "data");
  // Replaced by the check's result, or by the error that ended the run.
  let outcome: { result: CheckResult | undefined; leaders: MonitorReport; error?: string } = {
    result: undefined,
    leaders: emptyMonitorReport(),
    error: "the run ended before its check",
  };

  const healAll = async (): Promise<void> => {
    for (const key of [...cuts]) {
      const [a, b] = key.split("-").map(Number) as [number, number];
      setLinkCut(ns, a, b, false);
      monitor?.markFaulted([a, b], false);
      cuts.delete(key);
    }
    for (const id of [...paused]) {
      const pid = cluster?.pid(id);
      if (pid !== undefined) process.kill(pid, "SIGCONT");
      paused.delete(id);
      down.delete(id);
      monitor?.markFaulted([id], false);
    }
    await disk?.free();
  };

  try {
    log(
      `${o.system}${o.system === "tributary" ? (o.elr === false ? " (ELR off)" : " (ELR on)") : ""}, ${o.nodes} nodes, seed ${o.seed}, ${Math.round(o.durationMs / 1000)} s of faults; node ${diskNode} on a ${DISK_BYTES >> 20} MiB tmpfs`,
    );
    cluster = await startCluster({
      system: o.system,
      topology: { combined: o.nodes },
      host: (id) => ns.nodeAddress(id),
      wrap: (id) => ["ip", "netns", "exec", ns.nodeNamespace(id)],
      keepDirs: true,
      kafkaHeap: "384M",
      startTimeoutMs: 180_000,
      ...(o.elr === false && o.system === "tributary"
        ? { formatArgs: ["--feature", "eligible.leader.replicas.version=0"] }
        : {}),
      config: {
        "default.replication.factor": String(RF),
        "min.insync.replicas": String(o.minIsr),
        "offsets.topic.num.partitions": "6",
        "auto.create.topics.enable": "false",
      },
      prepare: (n) => {
        if (n.id !== diskNode) return;
        const d = mountSmallDisk(DISK_BYTES);
        if ("unavailable" in d) throw new Error(d.unavailable);
        disk = d;
        // The node's log dir (the harness puts log.dirs at <dir>/logs) is a directory on the tmpfs, beside the
        // filler file the disk-full fault writes, so the broker never sees a stray file in its log dir.
        mkdirSync(join(d.dir, "logs"));
        mkdirSync(join(n.dir, "logs"), { recursive: true });
        execFileSync("mount", ["--bind", join(d.dir, "logs"), join(n.dir, "logs")]);
      },
    });
    const c = cluster;
    await c.waitForBrokers(120_000);
    log(`cluster up: ${c.bootstrap()}`);

    const admin = new AdminClient({ bootstrap: c.bootstrap(), requestTimeoutMs: 30_000, retries: 5 });
    try {
      const [created] = await admin.createTopics([
        {
          name: TOPIC,
          partitions: o.partitions,
          replicationFactor: RF,
          configs: { "min.insync.replicas": String(o.minIsr) },
        },
      ]);
      if (created?.error !== undefined) throw new Error(`creating ${TOPIC}: ${created.error.message}`);
    } finally {
      admin.close();
    }
    monitor = new LeaderMonitor(c, TOPIC, down);
    const m = monitor;
    let initialIsr = RF;
    await pollUntil(
      `${TOPIC} with ${o.partitions} partitions, each with a leader`,
      async () => {
        const ps = await m.describe();
        if (ps?.length !== o.partitions || !ps.every((p) => p.leader >= 0)) return false;
        initialIsr = Math.min(...ps.map((p) => p.isr.length));
        return true;
      },
      60_000,
    );
    log(
      `topic ${TOPIC}: ${o.partitions} partitions, RF ${RF}, min.insync.replicas ${o.minIsr}; initial ISR ${initialIsr}`,
    );
    monitor.start();

    workload = new Workload({
      tools: o.tools,
      bootstrap: c.bootstrap(),
      topic: TOPIC,
      partitions: o.partitions,
      rate: o.rate,
      outDir: o.outDir,
    });
    const w = workload;
    w.start();
    await w.waitForAcks(180_000);
    log("workload running: both producers have acks");
    // The ISR the cluster keeps when nothing is wrong, which recovery after each fault waits for: Kafka's is the
    // replication factor from the start; followers that catch up later bring it there (given a minute); a system that
    // does not replicate keeps a one-replica ISR, and waiting for more after every fault would only burn the run.
    let steadyIsr = initialIsr;
    await pollUntil(
      `every partition's ISR at ${RF}`,
      async () => {
        const ps = await m.describe();
        if (ps?.length === o.partitions) steadyIsr = Math.min(...ps.map((p) => p.isr.length));
        return steadyIsr >= RF;
      },
      60_000,
    ).catch(() => undefined);
    const wantIsr = Math.min(steadyIsr, o.minIsr);
    log(`steady ISR ${steadyIsr}: after each fault, recovery waits for an ISR of ${wantIsr}`);

    const restartDead = async (): Promise<void> => {
      for (const n of c.nodes) {
        if (c.isRunning(n.id)) continue;
        if (!down.has(n.id)) {
          crashRestarts++;
          log(`node ${n.id} had exited on its own; restarting it`);
          appendFileSync(faultLog, `${JSON.stringify({ crashRestart: n.id, t: Date.now() })}\n`);
        }
        await c.restart(n.id);
        down.delete(n.id);
        monitor?.markFaulted([n.id], false);
      }
    };

    /** "" when recovered, else what is still wrong. */
    const unhealthy = async (): Promise<string> => {
      const notRunning = c.nodes.filter((n) => !c.isRunning(n.id)).map((n) => n.id);
      if (notRunning.length > 0) return `nodes ${notRunning.join(",")} not running`;
      const ps = await m.describe();
      if (ps === undefined) return "no broker answered Metadata";
      // A running broker missing from Metadata is fenced (or not registered yet): it takes no part until it is back,
      // so the next fault would hit a smaller cluster than the run claims.
      const listed = new Set(m.listedBrokers ?? []);
      const fenced = c.brokers.filter((n) => !listed.has(n.id)).map((n) => n.id);
      if (fenced.length > 0) return `brokers ${fenced.join(",")} not in Metadata (fenced or not registered)`;
      const bad = ps.filter((p) => p.leader < 0 || p.isr.length < wantIsr);
      if (bad.length > 0) {
        return bad.map((p) => `${TOPIC}-${p.partition} leader ${p.leader} isr [${p.isr.join(",")}]`).join("; ");
      }
      return "";
    };

    const recover = async (rec: FaultRecord): Promise<void> => {
      let last = "";
      try {
        await restartDead();
        await pollUntil(
          "the cluster to recover",
          async () => {
            await restartDead();
            last = await unhealthy();
            return last === "";
          },
          120_000,
        );
        rec.recoveredAt = Date.now();
      } catch (err) {
        rec.notRecovered = `${err instanceof Error ? err.message : String(err)}: ${last}`;
        log(`fault ${rec.n} (${rec.kind}): not recovered: ${rec.notRecovered}`);
      }
    };

    const leaderOf = async (pick: number): Promise<{ node: number; partition: number } | undefined> => {
      const ps = await m.describe();
      if (ps === undefined || ps.length === 0) return undefined;
      const p = ps[pick % ps.length];
      if (p === undefined || p.leader < 0 || !c.isRunning(p.leader)) return undefined;
      return { node: p.leader, partition: p.partition };
    };

    const live = (): number[] => c.nodes.filter((n) => c.isRunning(n.id) && !down.has(n.id)).map((n) => n.id);

    const inject = async (f: PlannedFault, rec: FaultRecord): Promise<void> => {
      switch (f.kind) {
        case "kill-leader":
        case "kill-controller": {
          let target: number | undefined;
          if (f.kind === "kill-leader") {
            const l = await leaderOf(f.pick);
            target = l?.node;
            rec.what = l === undefined ? "" : `SIGKILL node ${l.node} (leader of ${TOPIC}-${l.partition})`;
          } else {
            const q = await c.describeQuorum(15_000).catch(() => undefined);
            target = q?.leaderId;
            rec.what = target === undefined ? "" : `SIGKILL node ${target} (active controller)`;
          }
          if (target === undefined) {
            const l = live();
            target = l[f.pick % l.length];
            if (target === undefined) throw new Error("no live node to kill");
            rec.what = `SIGKILL node ${target} (no ${f.kind === "kill-leader" ? "leader" : "controller"} found)`;
          }
          down.add(target);
          monitor?.markFaulted([target], true);
          await c.kill(target, "SIGKILL");
          await hold(f.holdMs);
          rec.healedAt = Date.now();
          await c.restart(target);
          down.delete(target);
          monitor?.markFaulted([target], false);
          return;
        }
        case "pause": {
          const l = live();
          const target = l[f.pick % l.length] as number;
          const pid = c.pid(target);
          if (pid === undefined) throw new Error(`node ${target} has no pid`);
          rec.what = `SIGSTOP node ${target} for ${f.holdMs} ms`;
          down.add(target);
          monitor?.markFaulted([target], true);
          paused.add(target);
          process.kill(pid, "SIGSTOP");
          await hold(f.holdMs);
          process.kill(pid, "SIGCONT");
          paused.delete(target);
          down.delete(target);
          monitor?.markFaulted([target], false);
          rec.healedAt = Date.now();
          return;
        }
        case "partition": {
          const links = partitionLinks(
            c.nodes.map((n) => n.id),
            f,
          );
          rec.what = `${f.shape}: cut ${links.map(([a, b]) => `${a}-${b}`).join(", ")} for ${f.holdMs} ms`;
          for (const [a, b] of links) {
            setLinkCut(ns, a, b, true);
            monitor?.markFaulted([a, b], true);
            cuts.add(`${a}-${b}`);
          }
          await hold(f.holdMs);
          for (const [a, b] of links) {
            setLinkCut(ns, a, b, false);
            monitor?.markFaulted([a, b], false);
            cuts.delete(`${a}-${b}`);
          }
          rec.healedAt = Date.now();
          return;
        }
        case "disk-full": {
          if (disk === undefined) throw new Error("no small disk");
          rec.what = `fill node ${diskNode}'s log dir for ${f.holdMs} ms`;
          monitor?.markFaulted([diskNode], true);
          await disk.fill();
          await hold(f.holdMs);
          await disk.free();
          monitor?.markFaulted([diskNode], false);
          rec.healedAt = Date.now();
          if (!c.isRunning(diskNode)) rec.what += ` (node ${diskNode} exited)`;
          return;
        }
        case "roll": {
          rec.what = `rolling restart with SIGTERM of nodes ${c.nodes.map((n) => n.id).join(",")}`;
          rec.count = c.nodes.length;
          for (const n of c.nodes) {
            down.add(n.id);
            monitor?.markFaulted([n.id], true);
            const code = await c.kill(n.id, "SIGTERM", 60_000);
            rec.what += `; node ${n.id} exited ${code}`;
            await c.restart(n.id);
            down.delete(n.id);
            monitor?.markFaulted([n.id], false);
            await recover(rec);
          }
          rec.healedAt = Date.now();
          return;
        }
      }
    };

    const plan = schedule(o.seed, o.weights);
    const deadline = Date.now() + o.durationMs;
    // The schedule starts with one fault of each kind; a short run goes on past its duration until it has them all.
    const kinds = Object.values(o.weights).filter((x) => x > 0).length;
    while (Date.now() < deadline || faults.length < kinds) {
      w.assertRunning();
      const f = plan.next().value;
      const rec: FaultRecord = {
        n: faults.length + 1,
        kind: f.kind,
        what: "",
        count: 1,
        at: Date.now(),
        healedAt: 0,
        recoveredAt: undefined,
      };
      faults.push(rec);
      await inject(f, rec);
      await recover(rec);
      appendFileSync(faultLog, `${JSON.stringify(rec)}\n`);
      const acks = [...w.acks.values()].reduce((a, b) => a + b, 0);
      log(
        `fault ${rec.n} ${rec.kind}: ${rec.what}; ${rec.recoveredAt === undefined ? "NOT recovered" : `recovered in ${rec.recoveredAt - rec.healedAt} ms`}; ${acks} acks so far`,
      );
    }

    // The end: heal, stop producing, dump the log, let the groups catch up, stop.
    await healAll();
    const endRec: FaultRecord = {
      n: 0,
      kind: "pause",
      what: "final",
      count: 0,
      at: Date.now(),
      healedAt: Date.now(),
      recoveredAt: undefined,
    };
    await recover(endRec);
    finalPhase.push(endRec.notRecovered === undefined ? "recovered" : `not recovered: ${endRec.notRecovered}`);
    await w.stopProducers(240_000).then(
      () => finalPhase.push("producers stopped, every send has an outcome"),
      (err: unknown) => finalPhase.push(`producers did not finish: ${String(err)}`),
    );
    const ends = await w.dump(300_000);
    finalPhase.push(`dumped ${[...ends.values()].reduce((a, b) => a + b, 0)} offsets`);
    await w.waitForGroupsAt(ends, 180_000).then(
      () => finalPhase.push("both groups committed up to the end of every partition"),
      (err: unknown) => finalPhase.push(`groups did not catch up: ${String(err)}`),
    );
    await w.stop();
    await w.close();
    const leaders = monitor.stop();

    const history = parseHistory(readFileSync(w.historyFile, "utf8"), "history.jsonl");
    outcome = { result: check(history, o.partitions), leaders };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    log(`the run failed: ${error}`);
    outcome = { result: undefined, leaders: monitor?.stop() ?? emptyMonitorReport(), error };
  } finally {
    monitor?.stop();
    workload?.kill();
    await workload?.close();
    try {
      await healAll();
    } catch (err) {
      log(`healing at the end failed: ${String(err)}`);
    }
    if (cluster !== undefined) {
      for (const n of cluster.nodes) {
        try {
          copyFileSync(join(n.dir, "output.log"), join(o.outDir, `node-${n.id}.log`));
        } catch {
          // A node that never started has no output.
        }
      }
      await cluster.destroy();
      // A failed run keeps every node's directory (log dirs, metadata log, config) for a post-mortem: explain.ts reads
      // the batches behind each anomaly from them, and log-dump.ts reads them by hand.
      if (outcome.result?.ok !== true) {
        for (const n of cluster.nodes) {
          try {
            cpSync(n.dir, join(keptDir, `node-${n.id}`), { recursive: true });
          } catch (err) {
            log(`could not keep node ${n.id}'s directory: ${String(err)}`);
          }
        }
      }
      const diskDir = cluster.node(diskNode).dir;
      try {
        execFileSync("umount", [join(diskDir, "logs")]);
      } catch {
        // Not mounted (the cluster failed before it).
      }
      disk?.unmount();
      rmSync(dirname(diskDir), { recursive: true, force: true });
    } else {
      disk?.unmount();
    }
  }
  if (outcome.result !== undefined && !outcome.result.ok && existsSync(keptDir)) {
    const logDirs = new Map(
      readdirSync(keptDir)
        .map((d) => /^node-(\d+)$/.exec(d))
        .filter((m) => m !== null)
        .map((m) => [Number(m[1]), join(keptDir, m[0], "logs")] as const),
    );
    await explainAnomalies(outcome.result.anomalies, TOPIC, logDirs).catch((err: unknown) =>
      log(`could not read the anomalies' batches: ${String(err)}`),
    );
  }
  return writeReport(outcome.result, outcome.leaders, outcome.error);
}
