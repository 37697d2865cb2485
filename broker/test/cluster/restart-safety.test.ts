import { afterAll, describe, expect, it } from "vitest";
import type { RestartSafety } from "../../src/replication/restart-safety.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import {
  connectTo,
  createFullyReplicated,
  metricsPort,
  produce,
  replicatedCluster,
} from "../support/cluster-records.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";

// GET /v1/restart-safety on the metrics port (issue 13) across three processes: with every replica in sync each
// broker can stop and has caught up; with one follower paused (SIGSTOP) and behind until its leader drops it from the ISR, the
// other two cannot stop (the partition's ISR would fall below min.insync.replicas=2) and name it; after SIGCONT the
// follower rejoins and all is well again.

const TOPIC = "guarded";

async function safety(cluster: Cluster, id: number): Promise<RestartSafety | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${metricsPort(cluster, id)}/v1/restart-safety`, {
      signal: AbortSignal.timeout(2_000),
    });
    return res.ok ? ((await res.json()) as RestartSafety) : undefined;
  } catch {
    return undefined;
  }
}

describe("GET /v1/restart-safety across three processes", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("says every broker can stop with all in sync, and names the partition a paused follower left", async () => {
    cluster = await startCluster(
      replicatedCluster({
        "metrics.port": "0",
        "metrics.host": "127.0.0.1",
        "replica.lag.time.max.ms": "2000",
        "broker.session.timeout.ms": "60000",
      }),
    );
    const c = cluster;
    await c.waitForBrokers(30_000);
    // Every broker describes the partition before the first poll: a broker that has not replayed the topic yet holds no
    // replica of it, so it would answer that it can stop and has caught up.
    const { leader } = await createFullyReplicated(c, TOPIC);
    const all = async (): Promise<(RestartSafety | undefined)[]> => Promise.all([1, 2, 3].map((id) => safety(c, id)));
    let answers: (RestartSafety | undefined)[] = [];
    await pollUntil(
      "every broker to be caught up and free to stop",
      async () => (answers = await all()).every((a) => a?.canStop === true && a.caughtUp),
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; answers ${JSON.stringify(answers)}`);
    });

    // Pause a follower that neither leads the partition nor is the active controller.
    const controller = (await c.describeQuorum()).leaderId;
    const follower = [1, 2, 3].find((id) => id !== leader && id !== controller);
    if (follower === undefined) throw new Error("no follower to pause");
    c.pause(follower);
    // A write the paused follower cannot fetch: it falls behind, and the leader drops it after replica.lag.time.max.ms.
    const connection = await connectTo(c, leader, "restart-safety-test");
    try {
      const records = encodeRecordBatch({ records: [{ value: Buffer.from("v"), timestamp: BigInt(Date.now()) }] });
      expect((await produce(connection, TOPIC, records, { acks: 1 })).errorCode).toBe(ErrorCode.NONE);
    } finally {
      connection.close();
    }
    const others = [1, 2, 3].filter((id) => id !== follower);
    await pollUntil(
      "the other brokers to say they cannot stop",
      async () => {
        answers = await Promise.all(others.map((id) => safety(c, id)));
        return answers.every((a) => a?.canStop === false);
      },
      30_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; answers ${JSON.stringify(answers)}`);
    });
    for (const a of answers) {
      expect(a?.blockingPartitions.map((p) => `${p.topic}-${p.partition}`)).toEqual([`${TOPIC}-0`]);
      expect(a?.canStopReasons.join("\n")).toContain(`${TOPIC}-0`);
      expect(a?.canStopReasons.join("\n")).toContain("min.insync.replicas=2");
    }

    c.resume(follower);
    // Back from the pause the follower catches up and rejoins the ISR.
    await pollUntil(
      "every broker to be caught up and free to stop again",
      async () => (answers = await all()).every((a) => a?.canStop === true && a.caughtUp),
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; answers ${JSON.stringify(answers)}`);
    });
  }, 180_000);
});
