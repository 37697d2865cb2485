import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { brokerAddress, connectTo, produce, waitForPartitions } from "../support/cluster-records.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Kafka's own kafka-reassign-partitions against three combined Tributary processes: AlterPartitionReassignments and
// ListPartitionReassignments are forwarded by the broker to the active controller, and the throttles the tool sets
// (leader/follower.replication.throttled.replicas on the topic, the throttled rates on brokers) are accepted and
// cleared again by --verify. A reorder of a partition's replicas completes at once; a move to a new broker stays in
// progress until that broker is in the ISR (while it is, --list shows it and --cancel takes it back). The moved
// partition holds 3 MB and the throttle is 10 kB/s, with quota samples of 10 s: a throttled fetch brings at most
// replica.fetch.max.bytes (1 MiB), and the next waits until that burst's sample is dropped, 11 samples later (110 s),
// so the new replica cannot catch up while the test looks. (Empty, it caught up within a second or two, often
// between two tool runs: --cancel then found nothing to cancel.)

const MOVED_BYTES = 3 * 1_000_000;
const THROTTLE = 10_000;
/** A batch under message.max.bytes (1048588). */
const RECORD_BYTES = 64 * 1024;
const RECORDS_PER_BATCH = 15;

const cluster = clusterPerFile(
  { system: "tributary", topology: { combined: 3 }, config: { "replication.quota.window.size.seconds": "10" } },
  requireReferenceKafka,
);
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

/** Writes MOVED_BYTES to partition 1 of "move" at its leader, broker 2 (acks=all: its ISR is [2, 3]). */
async function fillPartition1(): Promise<void> {
  await waitForPartitions(
    cluster(),
    2,
    "move",
    (p) => p.partition !== 1 || (p.leader === 2 && p.isr.length === 2),
    30_000,
  );
  const connection = await connectTo(cluster(), 2, "reassign-test");
  try {
    const value = Buffer.alloc(RECORD_BYTES, 7);
    for (let written = 0; written < MOVED_BYTES; written += RECORD_BYTES * RECORDS_PER_BATCH) {
      const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({ value, timestamp: BigInt(Date.now()) }));
      expect((await produce(connection, "move", encodeRecordBatch({ records }), { partition: 1 })).errorCode).toBe(
        ErrorCode.NONE,
      );
    }
  } finally {
    connection.close();
  }
}

/**
 * Expects node 2 to describe `topic` with these replicas. The tool's change is committed by the controller before the
 * tool exits, but node 2 replays it on its own time: poll for it, then compare.
 */
async function expectReplicas(topic: string, expected: number[][]): Promise<void> {
  let seen: number[][] = [];
  await pollUntil(
    `node 2 to describe the replicas of ${topic} as ${JSON.stringify(expected)}`,
    async () => JSON.stringify((seen = await replicasOf(topic))) === JSON.stringify(expected),
    30_000,
  ).catch(() => undefined);
  expect(seen).toEqual(expected);
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
    await fillPartition1();

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
    const executed = await reassign("--execute", "--reassignment-json-file", plan, "--throttle", String(THROTTLE));
    expect(executed.stdout).toContain("Successfully started partition reassignments for move-0,move-1");
    // Partition 0 only changed its order: done at once. Partition 1 adds broker 1, which is not in its ISR yet.
    await pollUntil(
      "the reassignment to show in the metadata",
      async () => {
        const [p0, p1] = (await replicasOf("move")).map((r) => r.join(","));
        return p0 === "2,1" && p1 === "3,1,2";
      },
      30_000,
    );

    // Broker 1 is still copying the partition, held back by the throttle: listed, in progress, then cancelled.
    const listed = await reassign("--list");
    expect(listed.stdout).toMatch(
      /Current partition reassignments:\s+move-1: replicas: 3,1,2\. adding: 1\. removing: 2\./,
    );
    const verified = await reassign("--verify", "--reassignment-json-file", plan);
    expect(verified.stdout).toContain("Reassignment of partition move-0 is completed.");
    expect(verified.stdout).toContain("Reassignment of partition move-1 is still in progress.");
    const cancelled = await reassign("--cancel", "--reassignment-json-file", plan);
    expect(cancelled.stdout).toContain("Successfully cancelled partition reassignment for: move-1");
    // As Kafka reverts: the current replicas without the added ones, in their current order.
    await expectReplicas("move", [
      [2, 1],
      [3, 2],
    ]);
    const reverified = await reassign("--verify", "--reassignment-json-file", plan);
    expect(reverified.stdout).toContain(
      "There is no active reassignment of partition move-1, but replica set is 3,2 rather than 3,1.",
    );
    expect(reverified.stdout).toMatch(/Clearing broker-level throttles on brokers 1,2,3/);
    expect(reverified.stdout).toContain("Clearing topic-level throttles on topic move");
  }, 180_000);
});
