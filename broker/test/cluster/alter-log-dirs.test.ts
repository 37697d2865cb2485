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

// Moving a replica between the log dirs of one broker (AlterReplicaLogDirs, KIP-113) with Kafka's own tools, across
// three combined nodes: node 1 has log.dirs "logs" and "logs-b" and leads an RF-3 partition while an idempotent
// acks=all producer writes to it. kafka-reassign-partitions --execute, given the same replicas and a "log_dirs" entry
// naming node 1's other dir (and a log dir throttle), starts the move; --verify reports it complete and clears the
// throttle; kafka-log-dirs --describe shows the partition in its new dir. The producer writes throughout; afterwards
// node 1 serves every acknowledged record once and in order, the partition's files are in the new dir only, and
// the controller has recorded the new dir (AssignReplicasToDirs).

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
  it("moves the leader's replica while it takes writes; every acknowledged record is served once, in order", async () => {
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
    const topicId = await createAssigned(c, NODE, TOPIC, [[NODE, 2, 3]]);
    await waitForPartitions(c, 2, TOPIC, (p) => p.leader === NODE && p.isr.length === 3, 60_000);
    const nodeDir = c.node(NODE).dir;
    const [from, to] = existsSync(join(nodeDir, "logs", `${TOPIC}-0`))
      ? [join(nodeDir, "logs"), join(nodeDir, "logs-b")]
      : [join(nodeDir, "logs-b"), join(nodeDir, "logs")];
    expect(existsSync(join(from, `${TOPIC}-0`))).toBe(true);

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
        partitions: [{ topic: TOPIC, partition: 0, replicas: [NODE, 2, 3], log_dirs: [to, "any", "any"] }],
      }),
    );

    const producer = new AckedProducer(c, TOPIC, 0, await initProducerId(c, 2), NODE);
    let verified = "";
    try {
      // A log of some MiB to copy, so the copy runs in several steps while the producer goes on.
      await pollUntil("some acknowledged records", () => Promise.resolve(producer.acked.length >= 400), 90_000);
      const executed = await reassign(
        "--execute",
        "--reassignment-json-file",
        plan,
        "--replica-alter-log-dirs-throttle",
        "50000000",
      );
      expect(executed.stdout).toContain("Successfully started partition reassignment for moving-0");
      const atExecute = producer.acked.length;
      await pollUntil(
        "--verify to report the move complete",
        async () => {
          verified = (await reassign("--verify", "--reassignment-json-file", plan)).stdout;
          return verified.includes(`Reassignment of replica ${TOPIC}-0-${NODE} completed successfully.`);
        },
        90_000,
      );
      expect(verified).not.toContain("still in progress");
      // The throttle --execute set is cleared once everything is complete.
      expect(verified).toMatch(/Clearing broker-level throttles on brokers/);
      await pollUntil(
        "the producer to go on after the move",
        () => Promise.resolve(producer.acked.length >= atExecute + 80),
        60_000,
      );
    } finally {
      await producer.stop();
    }
    expect(producer.leader).toBe(NODE);

    // The partition's files are in the new dir only, with nothing left of the move.
    expect(existsSync(join(to, `${TOPIC}-0`))).toBe(true);
    expect(existsSync(join(from, `${TOPIC}-0`))).toBe(false);
    for (const logDir of [from, to])
      expect(readdirSync(logDir).filter((n) => n.endsWith("-future") || n.endsWith("-delete"))).toEqual([]);

    let served: string[] = [];
    await pollUntil(
      "node 1 to serve every acknowledged record",
      async () => {
        served = await consumeAll(c, NODE, TOPIC, 0).catch(() => []);
        return served.length >= producer.acked.length;
      },
      60_000,
    );
    expect(served).toEqual(producer.acked);

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
    expect(logDirs.find((d) => d.logDir === to)?.partitions).toMatchObject([
      { partition: `${TOPIC}-0`, isFuture: false },
    ]);
    expect(logDirs.find((d) => d.logDir === from)?.partitions).toEqual([]);

    // The controller knows the replica's new dir (node 1's AssignReplicasToDirs after the swap).
    await pollUntil(
      "the new dir to be recorded by the controller",
      () => Promise.resolve(c.output(NODE).includes(`${topicId}:0@${directoryId(to)}`)),
      30_000,
    );
    console.log(
      `alter-log-dirs: ${TOPIC}-0 moved from ${from} to ${to} on node ${NODE}; acknowledged ${producer.acked.length} ` +
        `records, all served once in order; producer errors ${JSON.stringify([...producer.errors])}`,
    );
  }, 300_000);
});
