import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { uuidFromKafkaBase64 } from "../../src/protocol/primitives/uuid.ts";
import { AckedProducer } from "../support/acked-producer.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";
import {
  brokerAddress,
  consumeAll,
  createAssigned,
  initProducerId,
  replicatedCluster,
  waitForPartitions,
} from "../support/cluster-records.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Moving replicas between the log dirs of one broker (AlterReplicaLogDirs, KIP-113) with Kafka's own tools, across
// three combined nodes: node 1 has log.dirs "logs" and "logs-b", leads RF-3 partition 0 and follows node 2 on
// partition 1, while an idempotent acks=all producer writes to each. kafka-reassign-partitions --execute, given the
// same replicas and "log_dirs" naming node 1's other dir for each (and a log dir throttle), starts the moves; --verify
// reports them complete and clears the throttle; kafka-log-dirs --describe shows the partitions in their new dirs. The
// producers write throughout; afterwards each leader serves every acknowledged record once and in order, node 1 is in
// both ISRs, the files are in the new dirs only, and the controller has recorded the new dirs (AssignReplicasToDirs).

const TOPIC = "moving";
const NODE = 1;

let cluster: Cluster | undefined;
let dir = "";

afterAll(async () => {
  await cluster?.destroy();
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** The directory.id Tributary wrote into a log dir's meta.properties when it formatted it, as a UUID. */
function directoryId(logDir: string): string {
  const line = readFileSync(join(logDir, "meta.properties"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("directory.id="));
  if (line === undefined) throw new Error(`no directory.id in ${logDir}`);
  return uuidFromKafkaBase64(line.slice("directory.id=".length).trim());
}

describe("kafka-reassign-partitions moving a replica to another log dir of its broker", () => {
  it("moves a leader's and a follower's replica while they take writes; every acknowledged record is served once, in order", async () => {
    requireReferenceKafka();
    dir = mkdtempSync(join(tmpdir(), "alter-log-dirs-"));
    cluster = await startCluster(
      replicatedCluster(
        {},
        { nodeConfig: (id): Record<string, string> => (id === NODE ? { "log.dirs": "logs,logs-b" } : {}) },
      ),
    );
    const c = cluster;
    await c.waitForBrokers(30_000);
    // Node 1 leads partition 0 and follows node 2 on partition 1.
    const leaders = [NODE, 2];
    const topicId = await createAssigned(c, NODE, TOPIC, [
      [NODE, 2, 3],
      [2, NODE, 3],
    ]);
    await waitForPartitions(c, 2, TOPIC, (p) => p.leader === leaders[p.partition] && p.isr.length === 3, 60_000);
    const nodeDir = c.node(NODE).dir;
    // Each partition's dir on node 1 now, and the other one it moves to.
    const moves = [0, 1].map((p) =>
      existsSync(join(nodeDir, "logs", `${TOPIC}-${p}`))
        ? { from: join(nodeDir, "logs"), to: join(nodeDir, "logs-b") }
        : { from: join(nodeDir, "logs-b"), to: join(nodeDir, "logs") },
    );
    for (const [p, { from }] of moves.entries()) expect(existsSync(join(from, `${TOPIC}-${p}`))).toBe(true);

    const bootstrap = brokerAddress(c, 2);
    const reassign = (...args: string[]) =>
      runKafkaClass("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", [
        "--bootstrap-server",
        bootstrap,
        ...args,
      ]);
    const plan = join(dir, "plan.json");
    writeFileSync(
      plan,
      JSON.stringify({
        version: 1,
        partitions: [
          { topic: TOPIC, partition: 0, replicas: [NODE, 2, 3], log_dirs: [moves[0]?.to, "any", "any"] },
          { topic: TOPIC, partition: 1, replicas: [2, NODE, 3], log_dirs: ["any", moves[1]?.to, "any"] },
        ],
      }),
    );

    const id = await initProducerId(c, 2);
    const producers = leaders.map((leader, p) => new AckedProducer(c, TOPIC, p, id, leader));
    let verified = "";
    try {
      // Logs of some MiB to copy, so each copy runs in several steps while the producers go on.
      await pollUntil(
        "some acknowledged records",
        () => Promise.resolve(producers.every((p) => p.acked.length >= 400)),
        90_000,
      );
      const executed = await reassign(
        "--execute",
        "--reassignment-json-file",
        plan,
        "--replica-alter-log-dirs-throttle",
        "50000000",
      );
      expect(executed.stdout).toContain("Successfully started partition reassignments for moving-0,moving-1");
      const atExecute = producers.map((p) => p.acked.length);
      await pollUntil(
        "--verify to report the move complete",
        async () => {
          verified = (await reassign("--verify", "--reassignment-json-file", plan)).stdout;
          return [0, 1].every((p) =>
            verified.includes(`Reassignment of replica ${TOPIC}-${p}-${NODE} completed successfully.`),
          );
        },
        90_000,
      );
      expect(verified).not.toContain("still in progress");
      // The throttle --execute set is cleared once everything is complete.
      expect(verified).toMatch(/Clearing broker-level throttles on brokers/);
      await pollUntil(
        "the producers to go on after the moves",
        () => Promise.resolve(producers.every((p, i) => p.acked.length >= (atExecute[i] ?? 0) + 80)),
        60_000,
      );
    } finally {
      await Promise.all(producers.map((p) => p.stop()));
    }
    expect(producers.map((p) => p.leader)).toEqual(leaders);

    // Each partition's files are in its new dir only, with nothing left of the moves.
    for (const [p, { from, to }] of moves.entries()) {
      expect(existsSync(join(to, `${TOPIC}-${p}`))).toBe(true);
      expect(existsSync(join(from, `${TOPIC}-${p}`))).toBe(false);
    }
    for (const logDir of ["logs", "logs-b"].map((d) => join(nodeDir, d)))
      expect(readdirSync(logDir).filter((n) => n.endsWith("-future") || n.endsWith("-delete"))).toEqual([]);

    // Every acknowledged record once, in order, from each leader; node 1's moved follower is back in sync.
    for (const [p, producer] of producers.entries()) {
      let served: string[] = [];
      await pollUntil(
        `partition ${p}'s leader to serve every acknowledged record`,
        async () => {
          served = await consumeAll(c, leaders[p] ?? NODE, TOPIC, p).catch(() => []);
          return served.length >= producer.acked.length;
        },
        60_000,
      );
      expect(served).toEqual(producer.acked);
    }
    await waitForPartitions(c, 2, TOPIC, (p) => p.leader === leaders[p.partition] && p.isr.length === 3, 60_000);

    // kafka-log-dirs sees the replica in its new dir, and no future replica.
    const described = await runKafkaClass("org.apache.kafka.tools.LogDirsCommand", [
      "--bootstrap-server",
      bootstrap,
      "--describe",
      "--broker-list",
      String(NODE),
      "--topic-list",
      TOPIC,
    ]);
    const json = described.stdout.split("\n").find((l) => l.startsWith("{"));
    const report = JSON.parse(json ?? "{}") as {
      brokers?: {
        broker: number;
        logDirs: { logDir: string; partitions: { partition: string; isFuture: boolean }[] }[];
      }[];
    };
    const logDirs = report.brokers?.find((b) => b.broker === NODE)?.logDirs ?? [];
    const listed = (logDir: string) =>
      (logDirs.find((d) => d.logDir === logDir)?.partitions ?? []).map(
        (x) => `${x.partition}${x.isFuture ? "-future" : ""}`,
      );
    for (const [p, { from, to }] of moves.entries()) {
      expect(listed(to)).toContain(`${TOPIC}-${p}`);
      expect(listed(from)).not.toContain(`${TOPIC}-${p}`);
    }
    expect([...listed(join(nodeDir, "logs")), ...listed(join(nodeDir, "logs-b"))].sort()).toEqual([
      `${TOPIC}-0`,
      `${TOPIC}-1`,
    ]);

    // The controller knows each replica's new dir (node 1's AssignReplicasToDirs after the swap).
    await pollUntil(
      "the new dirs to be recorded by the controller",
      () => Promise.resolve(moves.every(({ to }, p) => c.output(NODE).includes(`${topicId}:${p}@${directoryId(to)}`))),
      30_000,
    );
    console.log(
      `alter-log-dirs: on node ${NODE}, ${moves.map(({ from, to }, p) => `${TOPIC}-${p} (${p === 0 ? "leader" : "follower"}) ${from} -> ${to}`).join(", ")}; ` +
        `acknowledged ${producers.map((p) => p.acked.length).join(",")} records, all served once in order; ` +
        `producer errors ${JSON.stringify(producers.map((p) => [...p.errors]))}`,
    );
  }, 300_000);
});
