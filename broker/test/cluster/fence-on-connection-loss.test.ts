import { describe, expect, it } from "vitest";
import { AdminClient, type PartitionInfo } from "../../src/admin/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { connectTo, describePartitions, produce, waitForPartitions } from "../support/cluster-records.ts";
import { createTopic, type Cluster } from "../support/cluster.ts";

// Fencing on connection loss (ADR 26) across processes: three combined nodes, a topic of 3 partitions with RF 3 and
// min.insync.replicas 2. kill -9 of a partition leader that is not the active controller closes its connection to
// the controller at once (its kernel does), so the controller fences it after broker.connection.loss.grace.ms
// (default: heartbeat interval + 500 ms), not after broker.session.timeout.ms, and another replica leads and takes
// an acks=all write. kill -9 of the active controller while it leads a partition (ADR 29): the other voters see
// their connections to it close and elect a new quorum leader after a short grace, and the new active controller
// fences the dead node's broker the same grace after that loss instead of starting its session afresh. The session
// timeout is long here (30 s) so that "before the session timeout" cannot be reached by the timeout itself, however
// loaded the machine is.

const SESSION_TIMEOUT_MS = 30_000;
const TOPIC = "fence-on-loss";

const cluster = clusterPerFile({
  system: "tributary",
  topology: { combined: 3 },
  config: { "min.insync.replicas": "2", "broker.session.timeout.ms": String(SESSION_TIMEOUT_MS) },
});

/**
 * kill -9 of `victim`, which leads `partition`; then polls the survivors until another replica leads it and takes an
 * acks=all write. The ms from the kill to that ack, and the partition as the survivors then describe it.
 */
async function firstAckAfterKill(
  c: Cluster,
  victim: number,
  partition: number,
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
        leader = (await describePartitions(c, via, TOPIC))?.find((p) => p.partition === partition);
        if (leader === undefined || leader.leader < 0 || leader.leader === victim) continue;
        const connection = await connectTo(c, leader.leader, "fence-on-loss-test").catch(() => null);
        if (connection === null) continue;
        try {
          const records = encodeRecordBatch({
            records: [{ value: Buffer.from("after"), timestamp: BigInt(Date.now()) }],
          });
          const answer = await produce(connection, TOPIC, records, { partition, waitMs: 5_000 });
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
    SESSION_TIMEOUT_MS,
  );
  return { elapsed: ackedAt - killedAt, leader };
}

describe("fencing a killed broker on connection loss", () => {
  it("elects a new leader and takes an acks=all write well before the session timeout", async () => {
    const c = cluster();
    await createTopic(c, TOPIC, 3, 3);
    const full = await waitForPartitions(c, 1, TOPIC, (p) => p.leader >= 0 && p.isr.length === 3, 60_000);
    const controller = (await c.describeQuorum()).leaderId;
    const target = full.find((p) => p.leader !== controller);
    if (target === undefined) throw new Error(`the controller ${controller} leads every partition`);
    const victim = target.leader;

    const { elapsed, leader } = await firstAckAfterKill(c, victim, target.partition);
    console.log(
      `fence-on-connection-loss: kill -9 of leader ${victim} → first acks=all ack on ${leader?.leader}: ${elapsed} ms`,
    );
    expect(leader?.leader).not.toBe(victim);
    expect(leader?.isr).not.toContain(victim);
    expect(elapsed).toBeLessThan(SESSION_TIMEOUT_MS);
    expect(c.output(controller)).toContain("Lost the connection brokers heartbeat on");
    await c.restart(victim);
  }, 180_000);

  it("after kill -9 of the active controller that leads a partition, a new leader takes an acks=all write", async () => {
    const c = cluster();
    await c.waitForBrokers(60_000);
    await waitForPartitions(c, 1, TOPIC, (p) => p.leader >= 0 && p.isr.length === 3, 60_000);
    // Leadership back on the preferred replicas (one partition each), so the active controller leads one.
    const admin = new AdminClient({ bootstrap: c.bootstrap(), retries: 5 });
    try {
      await admin.electLeaders({ partitions: null });
    } finally {
      admin.close();
    }
    const controller = (await c.describeQuorum()).leaderId;
    const full = await waitForPartitions(c, 1, TOPIC, (p) => p.leader === p.replicas[0] && p.isr.length === 3, 60_000);
    const target = full.find((p) => p.leader === controller);
    if (target === undefined) throw new Error(`the controller ${controller} leads no partition of ${TOPIC}`);

    const { elapsed, leader } = await firstAckAfterKill(c, controller, target.partition);
    const next = (await c.describeQuorum()).leaderId;
    console.log(
      `fence-on-connection-loss: kill -9 of the active controller ${controller} (leader of ${TOPIC}-` +
        `${target.partition}) → first acks=all ack on ${leader?.leader}: ${elapsed} ms; new controller ${next}`,
    );
    expect(leader?.leader).not.toBe(controller);
    expect(leader?.isr).not.toContain(controller);
    // Before ADR 29 the new controller started the dead broker's session afresh: no fence before the session timeout.
    expect(elapsed).toBeLessThan(SESSION_TIMEOUT_MS / 2);
    expect(c.output(next)).toContain("The previous quorum leader closed its connections");
  }, 180_000);
});
