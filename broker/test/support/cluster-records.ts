import { BrokerConnection } from "../../src/admin/connection.ts";
import { AdminClient, type PartitionInfo } from "../../src/admin/index.ts";
import {
  CreateTopicsRequest,
  CreateTopicsResponse,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  InitProducerIdRequest,
  InitProducerIdResponse,
  ProduceRequest,
  ProduceResponse,
} from "../../src/protocol/index.ts";
import { decodeRecordBatch, splitBatches } from "../../src/protocol/records/index.ts";
import { expect } from "vitest";
import { pollUntil } from "./broker-process.ts";
import { createTopic, type Cluster, type ClusterOptions } from "./cluster.ts";

// What the multi-process tests (broker/test/cluster) do with a topic's partitions, written once: start three combined
// nodes for replication, ask a node who leads and what is in sync, produce, read every record back, and get an
// idempotent producer id.

/**
 * Three combined Tributary nodes as the replication tests run them: min.insync.replicas=2 and a broker session short
 * enough that a killed node is fenced within seconds; `config` adds or overrides keys.
 */
export function replicatedCluster(
  config: Readonly<Record<string, string>> = {},
  options: Partial<ClusterOptions> = {},
): ClusterOptions {
  return {
    system: "tributary",
    topology: { combined: 3 },
    ...options,
    config: {
      "min.insync.replicas": "2",
      "broker.session.timeout.ms": "4000",
      "broker.heartbeat.interval.ms": "1000",
      ...config,
    },
  };
}

/** "host:port" of node `id`'s client listener, for a client bound to that node alone. */
export function brokerAddress(cluster: Cluster, id: number): string {
  const node = cluster.node(id);
  if (node.clientPort === undefined) throw new Error(`node ${id} is not a broker`);
  return `${node.host}:${node.clientPort}`;
}

/** The metrics port node `id` logged at its latest start (metrics.port=0 picks a free one). */
export function metricsPort(cluster: Cluster, id: number): number {
  const lines = cluster
    .output(id)
    .split("\n")
    .filter((l) => l.includes("Serving metrics on /metrics"));
  const port = (JSON.parse(lines.at(-1) ?? "{}") as { port?: number }).port;
  if (port === undefined) throw new Error(`node ${id} logged no metrics port`);
  return port;
}

/** A connection to a node's client listener. */
export async function connectTo(cluster: Cluster, id: number, clientId: string): Promise<BrokerConnection> {
  const node = cluster.node(id);
  return BrokerConnection.open({ host: node.host, port: node.clientPort ?? 0, clientId, connectTimeoutMs: 2_000 });
}

/** Every partition of `topic` as node `via` describes it; undefined when it cannot answer. */
export async function describePartitions(
  cluster: Cluster,
  via: number,
  topic: string,
  timeouts: { requestTimeoutMs?: number; connectTimeoutMs?: number } = {},
): Promise<PartitionInfo[] | undefined> {
  const admin = new AdminClient({
    bootstrap: brokerAddress(cluster, via),
    retries: 0,
    requestTimeoutMs: 3_000,
    ...timeouts,
  });
  try {
    return (await admin.describeTopics([topic])).get(topic)?.topic?.partitions;
  } catch {
    return undefined;
  } finally {
    admin.close();
  }
}

/** Partition 0 of `topic` as node `via` describes it; undefined when it cannot answer. */
export async function partitionInfo(cluster: Cluster, via: number, topic: string): Promise<PartitionInfo | undefined> {
  return (await describePartitions(cluster, via, topic))?.find((p) => p.partition === 0);
}

/** Polls node `via` until `topic` has partitions and every one satisfies `test`; the last description. */
export async function waitForPartitions(
  cluster: Cluster,
  via: number,
  topic: string,
  test: (p: PartitionInfo) => boolean,
  timeoutMs: number,
): Promise<PartitionInfo[]> {
  let last: PartitionInfo[] = [];
  await pollUntil(
    `the partitions of ${topic} as expected`,
    async () => {
      last = (await describePartitions(cluster, via, topic, { requestTimeoutMs: 5_000 })) ?? [];
      return last.length > 0 && last.every(test);
    },
    timeoutMs,
  ).catch((err: unknown) => {
    const seen = last.map((p) => `${p.partition}: leader ${p.leader} isr [${p.isr.join(",")}]`).join("; ");
    throw new Error(`${err instanceof Error ? err.message : String(err)}; last seen ${seen}`, { cause: err });
  });
  return last;
}

/**
 * Creates `topic` through node `via` with partition i on the brokers `replicas[i]` (the first leads); resolves with its
 * topic id, and fails the test on an error.
 */
export async function createAssigned(
  cluster: Cluster,
  via: number,
  topic: string,
  replicas: readonly (readonly number[])[],
): Promise<string> {
  const connection = await connectTo(cluster, via, "create-assigned");
  try {
    const res = await connection.send(
      CreateTopicsRequest,
      CreateTopicsResponse,
      7,
      {
        topics: [
          {
            name: topic,
            numPartitions: -1,
            replicationFactor: -1,
            assignments: replicas.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds: [...brokerIds] })),
            configs: [],
          },
        ],
        timeoutMs: 30_000,
        validateOnly: false,
      },
      35_000,
    );
    const created = res.topics[0];
    expect(created?.errorCode).toBe(ErrorCode.NONE);
    return created?.topicId ?? "";
  } finally {
    connection.close();
  }
}

/** Creates `topic` with one partition on three replicas and waits until all three are in its ISR. */
export async function createFullyReplicated(cluster: Cluster, topic: string): Promise<PartitionInfo> {
  await createTopic(cluster, topic, 3);
  // The controller creates the partition with every replica in its ISR, so one node's description says nothing of
  // whether the leader has replayed that record yet: a Produce sent to the leader before it has answers
  // UNKNOWN_TOPIC_OR_PARTITION. Wait until every running broker describes the same leader and a full ISR.
  const ids = cluster.brokers.map((b) => b.id).filter((id) => cluster.pid(id) !== undefined);
  let seen: (PartitionInfo | undefined)[] = [];
  await pollUntil(
    `every broker to describe ${topic} with one leader and all three replicas in sync`,
    async () => {
      seen = await Promise.all(ids.map((id) => partitionInfo(cluster, id, topic)));
      const first = seen[0];
      return (
        first !== undefined &&
        first.leader >= 0 &&
        seen.every((p) => p !== undefined && p.leader === first.leader && p.isr.length === 3)
      );
    },
    60_000,
  ).catch((err: unknown) => {
    const described = seen.map(
      (p, i) => `node ${ids[i]}: ${p === undefined ? "none" : `leader ${p.leader} isr [${p.isr.join(",")}]`}`,
    );
    throw new Error(`${err instanceof Error ? err.message : String(err)}; last seen ${described.join("; ")}`, {
      cause: err,
    });
  });
  const info = seen[0];
  if (info === undefined) throw new Error(`no description of ${topic}`);
  return info;
}

/**
 * Sends `records` to one partition of `topic` (Produce v9, a 10 s broker-side timeout); the partition's answer.
 * @param options.acks -1 (all) unless given; options.partition 0 unless given; options.waitMs how long the client
 * waits for the answer, 15 s unless given.
 */
export async function produce(
  connection: BrokerConnection,
  topic: string,
  records: Buffer,
  options: { acks?: number; partition?: number; waitMs?: number } = {},
): Promise<{ errorCode?: number; baseOffset?: bigint }> {
  const res = await connection.send(
    ProduceRequest,
    ProduceResponse,
    9,
    {
      transactionalId: null,
      acks: options.acks ?? -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: options.partition ?? 0, records }] }],
    },
    options.waitMs ?? 15_000,
  );
  return res.responses[0]?.partitionResponses[0] ?? {};
}

/** Every record value `leader` serves to a consumer of the partition, from offset 0 up to its high watermark. */
export async function consumeAll(
  cluster: Cluster,
  leader: number,
  topic: string,
  partition: number,
): Promise<string[]> {
  const connection = await connectTo(cluster, leader, "cluster-records");
  const values: string[] = [];
  try {
    let offset = 0n;
    for (;;) {
      const res = await connection.send(
        FetchRequest,
        FetchResponse,
        12,
        {
          ...FetchRequest.create(),
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
        },
        5_000,
      );
      const p = res.responses[0]?.partitions[0];
      if (p?.errorCode !== ErrorCode.NONE) throw new Error(`fetch from ${leader} at ${offset}: error ${p?.errorCode}`);
      const { batches } = splitBatches(p.records ?? Buffer.alloc(0));
      if (batches.length === 0) return values;
      for (const batch of batches) {
        for (const r of decodeRecordBatch(batch).records) {
          if (r.offset < offset) continue;
          values.push(r.value?.toString() ?? "");
          offset = r.offset + 1n;
        }
      }
    }
  } finally {
    connection.close();
  }
}

/**
 * A new idempotent producer id and epoch, from InitProducerId sent to node `via`. The node answers
 * COORDINATOR_LOAD_IN_PROGRESS while it cannot get a block of ids from the active controller (not reachable yet, or
 * being elected); a producer retries that, and so does this, for up to 30 s. Any other error throws.
 */
export async function initProducerId(
  cluster: Cluster,
  via: number,
): Promise<{ producerId: bigint; producerEpoch: number }> {
  const connection = await connectTo(cluster, via, "cluster-records");
  try {
    let id: { producerId: bigint; producerEpoch: number } | undefined;
    await pollUntil(
      `a producer id from node ${via}`,
      async () => {
        const res = await connection.send(
          InitProducerIdRequest,
          InitProducerIdResponse,
          4,
          { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 },
          10_000,
        );
        if (res.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return false;
        if (res.errorCode !== ErrorCode.NONE) throw new Error(`InitProducerId via ${via}: error ${res.errorCode}`);
        id = { producerId: res.producerId, producerEpoch: res.producerEpoch };
        return true;
      },
      30_000,
    );
    if (id === undefined) throw new Error(`InitProducerId via ${via}: no answer`);
    return id;
  } finally {
    connection.close();
  }
}
