import { afterAll, describe, expect, it } from "vitest";
import type { BrokerConnection } from "../../src/admin/connection.ts";
import { DescribeLogDirsRequest, DescribeLogDirsResponse, ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";
import {
  connectTo,
  consumeAll,
  createFullyReplicated,
  initProducerId,
  partitionInfo,
  produce,
  replicatedCluster,
} from "../support/cluster-records.ts";

// Partition replication across processes (ADR 24, issue 12): three combined nodes, an RF-3 topic written with
// acks=all from an idempotent producer. The followers fetch the leader's log until every replica holds the same bytes,
// the ISR grows to all three, and after kill -9 of the leader another replica is elected and serves every
// acknowledged record, in order, once; the producer's retry of its last batch is recognised as a duplicate there. The
// killed node, restarted, catches up as a follower and rejoins the ISR.

const TOPIC = "replicated";

function connect(cluster: Cluster, id: number): Promise<BrokerConnection> {
  return connectTo(cluster, id, "replication-test");
}

interface Producer {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  /** The sequence of the next batch's first record. */
  sequence: number;
}

/** An idempotent producer's id and epoch, from InitProducerId. */
async function initProducer(cluster: Cluster, via: number): Promise<Producer> {
  return { ...(await initProducerId(cluster, via)), sequence: 0 };
}

/** Batch `b` of 4 records from `producer`, starting at `sequence`. */
function batch(producer: Producer, b: number, sequence: number): { values: string[]; records: Buffer } {
  const values = [0, 1, 2, 3].map((i) => `record-${b}-${i}`);
  const records = encodeRecordBatch({
    records: values.map((v) => ({ value: Buffer.from(v), timestamp: BigInt(Date.now()) })),
    producerId: producer.producerId,
    producerEpoch: producer.producerEpoch,
    baseSequence: sequence,
  });
  return { values, records };
}

/** Produces batches of 4 records with acks=all to the leader; returns the values it acknowledged. */
async function produceBatches(
  cluster: Cluster,
  leader: number,
  producer: Producer,
  from: number,
  batches: number,
): Promise<string[]> {
  const connection = await connect(cluster, leader);
  const acked: string[] = [];
  try {
    for (let b = from; b < from + batches; b++) {
      const { values, records } = batch(producer, b, producer.sequence);
      const { errorCode } = await produce(connection, TOPIC, records);
      expect(errorCode, `batch ${b}`).toBe(ErrorCode.NONE);
      producer.sequence += values.length;
      acked.push(...values);
    }
  } finally {
    connection.close();
  }
  return acked;
}

/** Each running broker's size of the partition on disk (DescribeLogDirs). */
async function sizes(cluster: Cluster): Promise<Map<number, bigint>> {
  const out = new Map<number, bigint>();
  for (const node of cluster.brokers.filter((n) => cluster.isRunning(n.id))) {
    const connection = await connect(cluster, node.id);
    try {
      const res = await connection.send(DescribeLogDirsRequest, DescribeLogDirsResponse, 4, { topics: null }, 5_000);
      for (const dir of res.results)
        for (const t of dir.topics)
          if (t.name === TOPIC)
            for (const p of t.partitions) if (p.partitionIndex === 0) out.set(node.id, p.partitionSize);
    } finally {
      connection.close();
    }
  }
  return out;
}

/** Polls until every running broker holds the partition with the same (non-zero) size: the same batches. */
async function sameBytesEverywhere(cluster: Cluster): Promise<void> {
  let seen = new Map<number, bigint>();
  const running = cluster.brokers.filter((n) => cluster.isRunning(n.id)).length;
  await pollUntil(
    "every replica to hold the leader's log",
    async () => {
      seen = await sizes(cluster);
      const values = [...seen.values()];
      return seen.size === running && values.every((v) => v === values[0] && v > 0n);
    },
    30_000,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; sizes: ${JSON.stringify([...seen].map(([k, v]) => [k, String(v)]))}`);
  });
}

describe("partition replication across three processes", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("followers catch up, the ISR grows to 3, a new leader serves every acknowledged record after kill -9, the old one rejoins", async () => {
    cluster = await startCluster(replicatedCluster());
    const c = cluster;
    await c.waitForBrokers(30_000);
    const info = await createFullyReplicated(c, TOPIC);
    const leader = info.leader;
    expect(info.replicas.slice().sort()).toEqual([1, 2, 3]);

    const producer = await initProducer(c, leader);
    const acked = await produceBatches(c, leader, producer, 0, 40);

    // Every replica holds the same bytes.
    await sameBytesEverywhere(c);

    await c.kill(leader, "SIGKILL");
    const survivor = c.brokers.find((n) => n.id !== leader)?.id ?? -1;
    let next = -1;
    // Named by a survivor, and by the new leader itself: it may replay its election after the survivor asked does,
    // and until then it answers the producer's retry below NOT_LEADER_OR_FOLLOWER.
    await pollUntil(
      "another replica to lead",
      async () => {
        const now = await partitionInfo(c, survivor, TOPIC);
        next = now?.leader ?? -1;
        return next >= 0 && next !== leader && (await partitionInfo(c, next, TOPIC))?.leader === next;
      },
      60_000,
    );
    let served: string[] = [];
    await pollUntil(
      `the new leader (${next}) to serve every acknowledged record`,
      async () => {
        served = await consumeAll(c, next, TOPIC, 0).catch(() => []);
        return served.length >= acked.length;
      },
      30_000,
    );
    expect(served).toEqual(acked);

    // The producer retries its last batch, as after a lost answer: the new leader knows it from its producer state
    // (built as a follower) and answers with the original offset instead of writing it again.
    const retry = await connect(c, next);
    try {
      const last = batch(producer, 39, producer.sequence - 4);
      expect(await produce(retry, TOPIC, last.records)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 156n });
    } finally {
      retry.close();
    }
    expect(await consumeAll(c, next, TOPIC, 0)).toEqual(acked);
    console.log(`replication: ${acked.length} records acknowledged by ${leader}, all served by ${next} after kill -9`);

    // The killed leader comes back as a follower: it catches up with what the new leader took meanwhile (no
    // truncation to its own high watermark on restart, KIP-101), and the ISR holds all three replicas again.
    const more = await produceBatches(c, next, producer, 40, 10);
    await c.restart(leader);
    await sameBytesEverywhere(c);
    await pollUntil(
      "the ISR to hold the restarted replica again",
      async () => (await partitionInfo(c, next, TOPIC))?.isr.length === 3,
      60_000,
    );
    expect(await consumeAll(c, next, TOPIC, 0)).toEqual([...acked, ...more]);
  }, 180_000);
});
