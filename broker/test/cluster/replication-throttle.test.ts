import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient, type ConfigResult } from "../../src/admin/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import {
  brokerAddress,
  connectTo,
  createAssigned,
  partitionInfo,
  produce,
  replicatedCluster,
  waitForPartitions,
} from "../support/cluster-records.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Replication throttles (KIP-73) across three Tributary processes, driven by Kafka's own kafka-reassign-partitions:
// a partition holding 12 MB on brokers 1 and 2 gets broker 3 with --throttle 1 MB/s. The copy cannot be faster than
// the throttle allows (Kafka's rate lets the first one-second window through at once, and one fetch of at most
// replica.fetch.max.bytes may overshoot, so at least (12 - 1 - 1) MB / 1 MB/s = 10 s); the test asserts a lower
// bound well below that and well above an unthrottled copy on loopback (done before 6 MB more are written). Meanwhile
// an unthrottled partition on the same brokers, broker 3 in its ISR, takes 6 MB with acks=all faster than the throttle
// would let it, and before the copy ends. The throttle shows in DescribeConfigs while the reassignment runs, and
// --verify removes it afterwards.

const MB = 1_000_000;
const THROTTLE = 1 * MB;
const SLOW_BYTES = 12 * MB;
const FREE_BYTES = 6 * MB;
/** Lower bound on the throttled copy, against the ~10 s the throttle allows at best. */
const MIN_COPY_MS = 7_000;
/** A batch under message.max.bytes (1048588). */
const RECORD_BYTES = 64 * 1024;
const RECORDS_PER_BATCH = 15;

const running = clusterPerFile(replicatedCluster(), requireReferenceKafka);
let dir = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "throttle-"));
});

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

const reassign = (...args: string[]) =>
  runKafkaClass("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", [
    "--bootstrap-server",
    brokerAddress(running(), 1),
    ...args,
  ]);

/** Creates a one-partition topic on exactly `replicas` (the first leads). */
async function createOn(topic: string, replicas: number[]): Promise<void> {
  await createAssigned(running(), 1, topic, [replicas]);
  const all = replicas.join(",");
  await waitForPartitions(
    running(),
    1,
    topic,
    (p) => p.leader === replicas[0] && p.isr.length === replicas.length,
    30_000,
  );
  expect((await partitionInfo(running(), 1, topic))?.replicas.join(",")).toBe(all);
}

/** Writes `bytes` (whole batches) to partition 0 of `topic` at its leader, acks=all. */
async function fill(topic: string, leader: number, bytes: number): Promise<void> {
  const connection = await connectTo(running(), leader, "throttle-test");
  try {
    const value = Buffer.alloc(RECORD_BYTES, 7);
    for (let written = 0; written < bytes; written += RECORD_BYTES * RECORDS_PER_BATCH) {
      const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({ value, timestamp: BigInt(Date.now()) }));
      const answer = await produce(connection, topic, encodeRecordBatch({ records }));
      expect(answer.errorCode).toBe(ErrorCode.NONE);
    }
  } finally {
    connection.close();
  }
}

async function describe3(): Promise<{ topic: ConfigResult; brokers: ConfigResult[] }> {
  const admin = new AdminClient({ bootstrap: brokerAddress(running(), 1), retries: 2, requestTimeoutMs: 10_000 });
  try {
    const [topic, ...brokers] = await admin.describeConfigs([
      { type: "topic", name: "slow" },
      ...[1, 2, 3].map((id) => ({ type: "broker" as const, name: String(id) })),
    ]);
    if (topic === undefined) throw new Error("no topic configs");
    return { topic, brokers };
  } finally {
    admin.close();
  }
}

const valueOf = (result: ConfigResult, name: string) => result.configs.find((c) => c.name === name);

/**
 * describe3() once `settled` holds of its answer, or its last answer after 30 s. The tool's config changes are committed
 * by the controller before it exits, but each broker answers DescribeConfigs from its own metadata, which replays them
 * on its own time.
 */
async function describe3When(
  settled: (d: { topic: ConfigResult; brokers: ConfigResult[] }) => boolean,
): Promise<{ topic: ConfigResult; brokers: ConfigResult[] }> {
  let last = await describe3();
  await pollUntil(
    "every broker to describe the tool's configs",
    async () => settled((last = await describe3())),
    30_000,
  ).catch(() => undefined);
  return last;
}

async function ongoing(): Promise<string[]> {
  const admin = new AdminClient({ bootstrap: brokerAddress(running(), 1), retries: 2, requestTimeoutMs: 10_000 });
  try {
    return (await admin.listPartitionReassignments()).map((r) => `${r.topic}-${r.partition}`);
  } finally {
    admin.close();
  }
}

describe("replication throttles across three Tributary nodes (KIP-73)", () => {
  it("copies a reassigned replica no faster than --throttle, leaves an unthrottled partition alone, and --verify clears it", async () => {
    await createOn("slow", [1, 2]);
    await createOn("free", [1, 2, 3]);
    await fill("slow", 1, SLOW_BYTES);

    const plan = join(dir, "plan.json");
    writeFileSync(
      plan,
      JSON.stringify({ version: 1, partitions: [{ topic: "slow", partition: 0, replicas: [1, 2, 3] }] }),
    );
    const executed = await reassign("--execute", "--reassignment-json-file", plan, "--throttle", String(THROTTLE));
    // The copy began before the tool exited: timing from here understates it, which only makes the bound safer.
    const started = Date.now();
    expect(executed.stdout).toContain("Successfully started partition reassignment");

    const during = await describe3When(
      (d) =>
        valueOf(d.topic, "follower.replication.throttled.replicas")?.value === "0:3" &&
        d.brokers.every((b) => valueOf(b, "follower.replication.throttled.rate")?.value === String(THROTTLE)),
    );
    expect(valueOf(during.topic, "leader.replication.throttled.replicas")?.value).toMatch(/^(0:1,0:2|0:2,0:1)$/);
    expect(valueOf(during.topic, "follower.replication.throttled.replicas")?.value).toBe("0:3");
    for (const broker of during.brokers) {
      for (const side of ["leader", "follower"]) {
        expect(valueOf(broker, `${side}.replication.throttled.rate`)).toMatchObject({
          value: String(THROTTLE),
          source: "DYNAMIC_BROKER_CONFIG",
        });
      }
    }

    // The unthrottled partition, replicated by the same brokers (broker 3 in its ISR), while the copy is held back.
    const freeStarted = Date.now();
    await fill("free", 1, FREE_BYTES);
    const freeMs = Date.now() - freeStarted;
    expect(await ongoing()).toEqual(["slow-0"]);
    expect((await partitionInfo(running(), 1, "free"))?.isr.sort()).toEqual([1, 2, 3]);
    expect(freeMs).toBeLessThan((FREE_BYTES / THROTTLE) * 1_000);

    await waitForPartitions(running(), 1, "slow", (p) => p.isr.length === 3 && p.replicas.length === 3, 45_000);
    await pollUntil("the reassignment to complete", async () => (await ongoing()).length === 0, 10_000);
    const copyMs = Date.now() - started;
    console.log(
      `throttled copy of ${SLOW_BYTES / MB} MB: ${copyMs} ms; unthrottled ${FREE_BYTES / MB} MB: ${freeMs} ms`,
    );
    expect(copyMs).toBeGreaterThanOrEqual(MIN_COPY_MS);

    const verified = await reassign("--verify", "--reassignment-json-file", plan);
    expect(verified.stdout).toContain("Reassignment of partition slow-0 is completed.");
    expect(verified.stdout).toMatch(/Clearing broker-level throttles on brokers 1,2,3/);
    expect(verified.stdout).toContain("Clearing topic-level throttles on topic slow");
    const after = await describe3When(
      (d) =>
        (valueOf(d.topic, "follower.replication.throttled.replicas")?.value ?? "") === "" &&
        d.brokers.every((b) => valueOf(b, "leader.replication.throttled.rate")?.source !== "DYNAMIC_BROKER_CONFIG"),
    );
    expect(valueOf(after.topic, "leader.replication.throttled.replicas")?.value ?? "").toBe("");
    expect(valueOf(after.topic, "follower.replication.throttled.replicas")?.value ?? "").toBe("");
    for (const broker of after.brokers)
      expect(valueOf(broker, "leader.replication.throttled.rate")?.source).not.toBe("DYNAMIC_BROKER_CONFIG");
  }, 90_000);
});
