import { AdminClient, type PartitionInfo } from "../../src/admin/index.ts";
import type { BrokerConnection } from "../../src/admin/connection.ts";
import { ProduceRequest, ProduceResponse } from "../../src/protocol/index.ts";
import { pollUntil } from "./broker-process.ts";
import { createTopic, type Cluster } from "./cluster.ts";

// What the multi-process replication tests do with partition 0 of a topic besides reading it (cluster-records.ts):
// create it on three replicas, ask a node who leads it and its ISR, and send it acks=all batches.

/** Partition 0 of `topic` as node `via` describes it; undefined when it cannot answer. */
export async function partitionInfo(cluster: Cluster, via: number, topic: string): Promise<PartitionInfo | undefined> {
  const node = cluster.node(via);
  const admin = new AdminClient({ bootstrap: `${node.host}:${node.clientPort}`, retries: 0, requestTimeoutMs: 3_000 });
  try {
    return (await admin.describeTopics([topic])).get(topic)?.topic?.partitions[0];
  } catch {
    return undefined;
  } finally {
    admin.close();
  }
}

/** Creates `topic` with one partition on three replicas and waits until all three are in its ISR. */
export async function createFullyReplicated(cluster: Cluster, topic: string): Promise<PartitionInfo> {
  await createTopic(cluster, topic, 3);
  // The ISR grows to every replica once the followers have caught up (the controller creates it as the leader).
  let info: PartitionInfo | undefined;
  await pollUntil(
    "the ISR to hold all three replicas",
    async () => {
      info = await partitionInfo(cluster, cluster.brokers[0]?.id ?? 1, topic);
      return info !== undefined && info.leader >= 0 && info.isr.length === 3;
    },
    60_000,
  );
  if (info === undefined) throw new Error(`no description of ${topic}`);
  return info;
}

/** Sends `records` to partition 0 of `topic` with acks=all; the partition's answer. */
export async function produceAcksAll(
  connection: BrokerConnection,
  topic: string,
  records: Buffer,
): Promise<{ errorCode?: number; baseOffset?: bigint }> {
  const res = await connection.send(
    ProduceRequest,
    ProduceResponse,
    9,
    {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    },
    15_000,
  );
  return res.responses[0]?.partitionResponses[0] ?? {};
}
