import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { createTopicUntilOk, nodeView, startCluster, type Cluster } from "../support/cluster.ts";
import { requireReferenceKafka } from "../support/reference-kafka.ts";

// The multi-process cluster harness against the reference Apache Kafka: what a 3-node Tributary cluster must also do
// (issue 11). Three combined KRaft nodes on loopback agree on one cluster, and after kill -9 of the active controller
// the survivors elect another and topic admin works again.

describe("a 3-node Apache Kafka cluster from the harness", () => {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    requireReferenceKafka();
    cluster = await startCluster({ system: "kafka", topology: { combined: 3 }, startTimeoutMs: 50_000 });
  }, 60_000);
  afterAll(() => cluster?.destroy());

  it("lists 3 brokers everywhere and recovers admin after kill -9 of the active controller", async () => {
    const c = cluster;
    if (c === undefined) throw new Error("no cluster");
    await c.waitForBrokers(30_000);
    for (const n of c.brokers) {
      expect(await nodeView(`127.0.0.1:${n.clientPort}`)).toEqual({ clusterId: c.clusterId, brokerIds: [1, 2, 3] });
    }
    const before = await c.describeQuorum();
    expect(before.voters.map((v) => v.replicaId).sort()).toEqual([1, 2, 3]);

    await c.kill(before.leaderId, "SIGKILL");
    expect(c.isRunning(before.leaderId)).toBe(false);
    const survivors = c.brokers.filter((n) => n.id !== before.leaderId);
    const [via, other] = survivors;
    if (via === undefined || other === undefined) throw new Error("expected two surviving brokers");
    const t0 = performance.now();
    const created = await createTopicUntilOk(`127.0.0.1:${via.clientPort}`, "after-failover", 30_000);
    const recoveredMs = Math.round(performance.now() - t0);

    const after = await c.describeQuorum();
    expect(after.leaderId).not.toBe(before.leaderId);
    expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    // The topic created through one survivor is served by the other.
    const admin = new AdminClient({ bootstrap: `127.0.0.1:${other.clientPort}`, retries: 0 });
    try {
      await expect
        .poll(async () => (await admin.describeTopics([created.name])).get(created.name)?.error?.message, {
          timeout: 10_000,
        })
        .toBeUndefined();
    } finally {
      admin.close();
    }
    console.log(
      `kafka: controller ${before.leaderId} killed, ${after.leaderId} leads epoch ${after.leaderEpoch}; ` +
        `CreateTopics succeeded after ${recoveredMs} ms (${created.attempts} attempts)`,
    );
  }, 60_000);
});
