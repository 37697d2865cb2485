import { AdminClient, type PartitionInfo } from "../../src/admin/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "./broker-process.ts";
import { connectTo, describePartitions, produce, waitForPartitions } from "./cluster-records.ts";
import { createTopic, type Cluster } from "./cluster.ts";

// kill -9 of a partition leader and the first acks=all write after it, for the multi-process failover tests (ADR 26,
// 29, 30).

/**
 * kill -9 of `victim`, which leads `partition` of `topic`; then polls the survivors until another replica leads it and
 * takes an acks=all write, for at most `withinMs`. The ms from the kill to that ack, and the partition as the survivors
 * then describe it.
 */
export async function firstAckAfterKill(
  c: Cluster,
  topic: string,
  victim: number,
  partition: number,
  withinMs: number,
): Promise<{ elapsed: number; leader: PartitionInfo | undefined }> {
  const survivors = c.brokers.map((n) => n.id).filter((id) => id !== victim);
  const killedAt = Date.now();
  await c.kill(victim, "SIGKILL");
  let leader: PartitionInfo | undefined;
  let ackedAt = 0;
  await pollUntil(
    `an acks=all write to partition ${partition} after kill -9 of its leader ${victim}`,
    async () => {
      for (const via of survivors) {
        leader = (await describePartitions(c, via, topic))?.find((p) => p.partition === partition);
        if (leader === undefined || leader.leader < 0 || leader.leader === victim) continue;
        const connection = await connectTo(c, leader.leader, "kill-leader-test").catch(() => null);
        if (connection === null) continue;
        try {
          const records = encodeRecordBatch({
            records: [{ value: Buffer.from("after"), timestamp: BigInt(Date.now()) }],
          });
          const answer = await produce(connection, topic, records, { partition, waitMs: 5_000 });
          if (answer.errorCode === ErrorCode.NONE) {
            ackedAt = Date.now();
            return true;
          }
        } catch {
          // The new leader may not be known everywhere yet; ask again.
        } finally {
          connection.close();
        }
      }
      return false;
    },
    withinMs,
  );
  return { elapsed: ackedAt - killedAt, leader };
}

/**
 * Waits for `topic` to have every replica in sync with leadership on the preferred replicas (one partition each when
 * the replicas were spread so), and answers the active controller and a partition of `topic` it leads.
 */
export async function partitionLedByController(
  c: Cluster,
  topic: string,
): Promise<{ controller: number; partition: number }> {
  await waitForPartitions(c, 1, topic, (p) => p.leader >= 0 && p.isr.length === 3, 60_000);
  const admin = new AdminClient({ bootstrap: c.bootstrap(), retries: 5 });
  try {
    await admin.electLeaders({ partitions: null });
  } finally {
    admin.close();
  }
  const controller = (await c.describeQuorum()).leaderId;
  const full = await waitForPartitions(c, 1, topic, (p) => p.leader === p.replicas[0] && p.isr.length === 3, 60_000);
  const target = full.find((p) => p.leader === controller);
  if (target === undefined) throw new Error(`the controller ${controller} leads no partition of ${topic}`);
  return { controller, partition: target.partition };
}

/**
 * Creates `topic` (3 partitions, RF 3), waits for every replica in sync, and answers the active controller and a
 * partition of `topic` led by another node (the victim), so that only a broker's failure is measured.
 */
export async function partitionLedByOtherNode(
  c: Cluster,
  topic: string,
): Promise<{ controller: number; victim: number; partition: number }> {
  await createTopic(c, topic, 3, 3);
  const full = await waitForPartitions(c, 1, topic, (p) => p.leader >= 0 && p.isr.length === 3, 60_000);
  const controller = (await c.describeQuorum()).leaderId;
  const target = full.find((p) => p.leader !== controller);
  if (target === undefined) throw new Error(`the controller ${controller} leads every partition of ${topic}`);
  return { controller, victim: target.leader, partition: target.partition };
}
