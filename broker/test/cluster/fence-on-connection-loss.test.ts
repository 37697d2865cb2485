import { describe, expect, it } from "vitest";
import type { PartitionInfo } from "../../src/admin/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { connectTo, describePartitions, produce, waitForPartitions } from "../support/cluster-records.ts";
import { createTopic } from "../support/cluster.ts";

// Fencing on connection loss (ADR 26) across processes: three combined nodes, a topic of 3 partitions with RF 3 and
// min.insync.replicas 2. kill -9 of a partition leader that is not the active controller closes its connection to
// the controller at once (its kernel does), so the controller fences it after broker.connection.loss.grace.ms
// (default: heartbeat interval + 500 ms), not after broker.session.timeout.ms, and another replica leads and takes
// an acks=all write. The session timeout is long here (30 s) so that "before the session timeout" cannot be reached
// by the timeout itself, however loaded the machine is.

const SESSION_TIMEOUT_MS = 30_000;
const TOPIC = "fence-on-loss";

const cluster = clusterPerFile({
  system: "tributary",
  topology: { combined: 3 },
  config: { "min.insync.replicas": "2", "broker.session.timeout.ms": String(SESSION_TIMEOUT_MS) },
});

describe("fencing a killed broker on connection loss", () => {
  it("elects a new leader and takes an acks=all write well before the session timeout", async () => {
    const c = cluster();
    await createTopic(c, TOPIC, 3, 3);
    const full = await waitForPartitions(c, 1, TOPIC, (p) => p.leader >= 0 && p.isr.length === 3, 60_000);
    const controller = (await c.describeQuorum()).leaderId;
    const target = full.find((p) => p.leader !== controller);
    if (target === undefined) throw new Error(`the controller ${controller} leads every partition`);
    const victim = target.leader;
    const survivors = c.brokers.map((n) => n.id).filter((id) => id !== victim);

    const killedAt = Date.now();
    await c.kill(victim, "SIGKILL");
    let leader: PartitionInfo | undefined;
    let ackedAt = 0;
    await pollUntil(
      `an acks=all write to partition ${target.partition} after kill -9 of its leader ${victim}`,
      async () => {
        for (const via of survivors) {
          leader = (await describePartitions(c, via, TOPIC))?.find((p) => p.partition === target.partition);
          if (leader === undefined || leader.leader < 0 || leader.leader === victim) continue;
          const connection = await connectTo(c, leader.leader, "fence-on-loss-test").catch(() => null);
          if (connection === null) continue;
          try {
            const records = encodeRecordBatch({
              records: [{ value: Buffer.from("after"), timestamp: BigInt(Date.now()) }],
            });
            const answer = await produce(connection, TOPIC, records, { partition: target.partition, waitMs: 5_000 });
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
    const elapsed = ackedAt - killedAt;
    console.log(
      `fence-on-connection-loss: kill -9 of leader ${victim} → first acks=all ack on ${leader?.leader}: ${elapsed} ms`,
    );
    expect(leader?.leader).not.toBe(victim);
    expect(leader?.isr).not.toContain(victim);
    expect(elapsed).toBeLessThan(SESSION_TIMEOUT_MS);
    expect(c.output(controller)).toContain("Lost the connection brokers heartbeat on");
  }, 180_000);
});
