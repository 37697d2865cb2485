import { afterAll, describe, expect, it } from "vitest";
import {
  DescribeTopicPartitionsRequest,
  DescribeTopicPartitionsResponse,
  ErrorCode,
  type DescribeTopicPartitionsResponsePartition,
} from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";
import {
  connectTo,
  consumeAll,
  createFullyReplicated,
  produce,
  replicatedCluster,
} from "../support/cluster-records.ts";

// Eligible leader replicas (KIP-966) across processes: one controller and three brokers formatted with the defaults
// (metadata.version 4.0-IV1 and eligible.leader.replicas.version=1, as a new Kafka 4.1+ cluster), a topic of
// replication factor 3 and min.insync.replicas 2. Both followers stop cleanly (SIGTERM), so the ISR shrinks to the leader alone and the second
// follower to leave is in the ELR; then the leader is killed with SIGKILL. Without ELR the partition would wait for
// that leader, its last ISR member; with it, the ELR member that restarts leads at once, with every acknowledged
// record, and once the other follower is back and in the ISR, acks=all writes go on.

const TOPIC = "elr";

async function describeOne(
  cluster: Cluster,
  via: number,
): Promise<DescribeTopicPartitionsResponsePartition | undefined> {
  const connection = await connectTo(cluster, via, "elr-test");
  try {
    const res = await connection.send(
      DescribeTopicPartitionsRequest,
      DescribeTopicPartitionsResponse,
      0,
      { topics: [{ name: TOPIC }], responsePartitionLimit: 10, cursor: null },
      5_000,
    );
    return res.topics[0]?.partitions[0];
  } catch {
    return undefined;
  } finally {
    connection.close();
  }
}

async function waitForPartition(
  cluster: Cluster,
  via: number,
  what: string,
  test: (p: DescribeTopicPartitionsResponsePartition) => boolean,
  timeoutMs = 30_000,
): Promise<DescribeTopicPartitionsResponsePartition> {
  let last: DescribeTopicPartitionsResponsePartition | undefined;
  await pollUntil(
    what,
    async () => {
      last = await describeOne(cluster, via);
      return last !== undefined && test(last);
    },
    timeoutMs,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; last seen ${JSON.stringify(last)}`, { cause: err });
  });
  if (last === undefined) throw new Error("no description");
  return last;
}

/** Produces `values` one batch each to `leader` with `acks`; the values it acknowledged. */
async function produceValues(cluster: Cluster, leader: number, values: string[], acks = -1): Promise<string[]> {
  const connection = await connectTo(cluster, leader, "elr-test");
  const acked: string[] = [];
  try {
    for (const value of values) {
      const records = encodeRecordBatch({ records: [{ value: Buffer.from(value), timestamp: BigInt(Date.now()) }] });
      const res = await produce(connection, TOPIC, records, { acks });
      if (res.errorCode === ErrorCode.NONE) acked.push(value);
    }
  } finally {
    connection.close();
  }
  return acked;
}

describe("eligible leader replicas across four processes", () => {
  let cluster: Cluster | undefined;
  afterAll(async () => {
    await cluster?.destroy();
  });

  it("elects a cleanly stopped ELR member when the last ISR member is killed, losing no acknowledged record", async () => {
    requireReferenceKafka();
    cluster = await startCluster({
      ...replicatedCluster({ "replica.lag.time.max.ms": "5000" }),
      topology: { controllers: 1, brokers: 3 },
    });
    const c = cluster;
    await c.waitForBrokers(30_000);
    // Kafka 4.3.1's kafka-features shows what a default format finalized.
    const features = await runKafkaClass("org.apache.kafka.tools.FeatureCommand", [
      "--bootstrap-server",
      c.bootstrap(),
      "describe",
    ]);
    expect(features.stdout).toMatch(
      /Feature: eligible\.leader\.replicas\.version\s+SupportedMinVersion: 0\s+SupportedMaxVersion: 1\s+FinalizedVersionLevel: 1\s/,
    );
    expect(features.stdout).toMatch(
      /Feature: metadata\.version\s+SupportedMinVersion: 3\.9-IV0\s+SupportedMaxVersion: 4\.0-IV1\s+FinalizedVersionLevel: 4\.0-IV1\s/,
    );
    const { leader, replicas } = await createFullyReplicated(c, TOPIC);
    const [first, second] = replicas.filter((id) => id !== leader);
    if (first === undefined || second === undefined) throw new Error(`replicas ${replicas.join(",")}`);

    const acked = await produceValues(c, leader, ["a0", "a1", "a2"]);
    expect(acked).toHaveLength(3);
    // Stopped cleanly one after the other: the first leaves an ISR still at min ISR (not eligible), the second one
    // leaving makes it smaller than min ISR, so the second is eligible.
    expect(await c.kill(first, "SIGTERM")).toBe(0);
    await waitForPartition(c, leader, "the ISR without the first follower", (p) => p.isrNodes.length === 2);
    acked.push(...(await produceValues(c, leader, ["b0", "b1"])));
    expect(acked).toHaveLength(5);
    expect(await c.kill(second, "SIGTERM")).toBe(0);
    const shrunk = await waitForPartition(c, leader, "the ISR of the leader alone", (p) => p.isrNodes.length === 1);
    expect(shrunk).toMatchObject({ leaderId: leader, isrNodes: [leader], eligibleLeaderReplicas: [second] });
    // Kafka 4.3.1's kafka-topics --describe reads them through DescribeTopicPartitions.
    const described = await runKafkaClass("org.apache.kafka.tools.TopicCommand", [
      "--bootstrap-server",
      `127.0.0.1:${c.node(leader).clientPort ?? 0}`,
      "--describe",
      "--topic",
      TOPIC,
    ]);
    expect(described.stdout).toMatch(new RegExp(`Isr: ${leader}\\s+Elr: ${second}\\s+LastKnownElr: \\s*$`, "m"));
    // Below min ISR nothing more is acknowledged with acks=all.
    expect(await produceValues(c, leader, ["c0"])).toEqual([]);

    expect(await c.kill(leader, "SIGKILL")).toBe(null);
    const restartAt = Date.now();
    await c.restart(second);
    const elected = await waitForPartition(c, second, "the ELR member to lead", (p) => p.leaderId === second);
    const electedMs = Date.now() - restartAt;
    // The killed leader was fenced meanwhile: it left the ISR for the ELR and is the last known leader.
    expect(elected).toMatchObject({ isrNodes: [second], eligibleLeaderReplicas: [leader] });

    await c.restart(first);
    await waitForPartition(c, second, "the first follower back in the ISR", (p) => p.isrNodes.length === 2);
    acked.push(...(await produceValues(c, second, ["d0"])));
    expect(acked).toHaveLength(6);
    const read = await consumeAll(c, second, TOPIC, 0);
    expect(read.filter((v) => acked.includes(v))).toEqual(acked);
    console.log(
      `elr: broker ${second} (ELR) led ${electedMs} ms after its restart began, with leader ${leader} still down; ` +
        `${acked.length} acknowledged records, all read back`,
    );
  }, 180_000);
});
