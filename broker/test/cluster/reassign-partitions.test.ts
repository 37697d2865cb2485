import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { brokerAddress } from "../support/cluster-records.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Kafka's own kafka-reassign-partitions against three combined Tributary processes: AlterPartitionReassignments and
// ListPartitionReassignments are forwarded by the broker to the active controller, and the throttles the tool sets
// (leader/follower.replication.throttled.replicas on the topic, the throttled rates on brokers) are accepted and
// cleared again by --verify. A reorder of a partition's replicas completes at once; a move to a new broker stays in
// progress until that broker is in the ISR (while it is, --list shows it and --cancel takes it back).

const cluster = clusterPerFile({ system: "tributary", topology: { combined: 3 } }, requireReferenceKafka);
let dir = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "reassign-"));
});

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

const bootstrap = (): string => brokerAddress(cluster(), 2);

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const reassign = (...args: string[]) =>
  runKafkaClass("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", [
    "--bootstrap-server",
    bootstrap(),
    ...args,
  ]);

async function replicasOf(topic: string): Promise<number[][]> {
  const admin = new AdminClient({ bootstrap: bootstrap(), retries: 0, requestTimeoutMs: 5_000 });
  try {
    const t = (await admin.describeTopics([topic])).get(topic)?.topic;
    return (t?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => p.replicas);
  } finally {
    admin.close();
  }
}

describe("kafka-reassign-partitions against three Tributary nodes", () => {
  it("generates, executes with throttles, verifies, lists and cancels", async () => {
    await runKafkaClass("org.apache.kafka.tools.TopicCommand", [
      "--bootstrap-server",
      bootstrap(),
      "--create",
      "--topic",
      "move",
      "--replica-assignment",
      "1:2,2:3",
    ]);
    await pollUntil("the topic to be listed", async () => (await replicasOf("move")).length === 2, 30_000);

    const generated = await reassign(
      "--generate",
      "--topics-to-move-json-file",
      file("topics.json", { version: 1, topics: [{ topic: "move" }] }),
      "--broker-list",
      "1,2,3",
    );
    expect(generated.stdout).toContain("Current partition replica assignment");
    expect(generated.stdout).toContain("Proposed partition reassignment configuration");
    expect(generated.stdout).toContain('"topic":"move"');

    const plan = file("plan.json", {
      version: 1,
      partitions: [
        { topic: "move", partition: 0, replicas: [2, 1] },
        { topic: "move", partition: 1, replicas: [3, 1] },
      ],
    });
    const executed = await reassign("--execute", "--reassignment-json-file", plan, "--throttle", "1000000");
    expect(executed.stdout).toContain("Successfully started partition reassignments for move-0,move-1");
    // Partition 0 only changed its order: done at once. Partition 1 adds broker 1, which is not in its ISR yet.
    await pollUntil(
      "the reassignment to show in the metadata",
      async () => {
        const [p0, p1] = (await replicasOf("move")).map((r) => r.join(","));
        return p0 === "2,1" && (p1 === "3,1,2" || p1 === "3,1");
      },
      30_000,
    );

    const listed = await reassign("--list");
    const verified = await reassign("--verify", "--reassignment-json-file", plan);
    expect(verified.stdout).toContain("Reassignment of partition move-0 is completed.");
    let reverified = verified;
    if (verified.stdout.includes("Reassignment of partition move-1 is still in progress.")) {
      // Broker 1 has not joined the ISR yet (until followers fetch it cannot): listed, then cancelled.
      expect(listed.stdout).toMatch(
        /Current partition reassignments:\s+move-1: replicas: 3,1,2\. adding: 1\. removing: 2\./,
      );
      const cancelled = await reassign("--cancel", "--reassignment-json-file", plan);
      expect(cancelled.stdout).toContain("Successfully cancelled partition reassignment for: move-1");
      // As Kafka reverts: the current replicas without the added ones, in their current order.
      expect(await replicasOf("move")).toEqual([
        [2, 1],
        [3, 2],
      ]);
      reverified = await reassign("--verify", "--reassignment-json-file", plan);
      expect(reverified.stdout).toContain(
        "There is no active reassignment of partition move-1, but replica set is 3,2 rather than 3,1.",
      );
    } else {
      // Broker 1 caught up and joined the ISR: the reassignment completed and broker 2 left.
      expect(verified.stdout).toContain("Reassignment of partition move-1 is completed.");
      expect(await replicasOf("move")).toEqual([
        [2, 1],
        [3, 1],
      ]);
    }
    expect(reverified.stdout).toMatch(/Clearing broker-level throttles on brokers 1,2,3/);
    expect(reverified.stdout).toContain("Clearing topic-level throttles on topic move");
  }, 180_000);
});
