import { afterAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { BrokerConnection } from "../../src/admin/connection.ts";
import { OFFSETS_TOPIC } from "../../src/coordinator/index.ts";
import {
  ErrorCode,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  type FindCoordinatorResponseCoordinator,
} from "../../src/protocol/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";

// Three combined nodes: __consumer_offsets does not exist until the first FindCoordinator for a group (as in Kafka),
// so the controller places its 50 partitions once all three brokers are registered, and groups' coordinators spread
// over the brokers. Before, each broker created it as soon as it was unfenced and the first one up led all 50.

/** FindCoordinator v4 for group keys through one broker, retried as a client retries COORDINATOR_NOT_AVAILABLE. */
async function coordinators(port: number, keys: string[]): Promise<FindCoordinatorResponseCoordinator[]> {
  const connection = await BrokerConnection.open({
    host: "127.0.0.1",
    port,
    clientId: "offsets-spread-test",
    connectTimeoutMs: 2_000,
  });
  let answered: FindCoordinatorResponseCoordinator[] = [];
  try {
    await pollUntil(
      "every group to have a coordinator",
      async () => {
        const response = await connection.send(
          FindCoordinatorRequest,
          FindCoordinatorResponse,
          4,
          { ...FindCoordinatorRequest.create(), keyType: 0, coordinatorKeys: keys },
          5_000,
        );
        answered = response.coordinators ?? [];
        return answered.length === keys.length && answered.every((c) => c.errorCode === ErrorCode.NONE);
      },
      30_000,
    );
    return answered;
  } finally {
    connection.close();
  }
}

describe("__consumer_offsets on three combined nodes", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("is created on the first FindCoordinator, led by all three brokers, and groups' coordinators spread", async () => {
    cluster = await startCluster({ system: "tributary", topology: { combined: 3 } });
    const c = cluster;
    await c.waitForBrokers(30_000);
    const admin = new AdminClient({ bootstrap: c.bootstrap(), retries: 0, requestTimeoutMs: 5_000 });
    try {
      // Nothing made it at startup.
      expect((await admin.describeTopics([OFFSETS_TOPIC])).get(OFFSETS_TOPIC)?.topic).toBeUndefined();

      const groups = Array.from({ length: 12 }, (_, g) => `spread-${g}`);
      const firstPort = c.brokers[0]?.clientPort ?? 0;
      const found = await coordinators(firstPort, groups);
      const byBroker = new Map<number, number>();
      for (const { nodeId = -1 } of found) byBroker.set(nodeId, (byBroker.get(nodeId) ?? 0) + 1);
      console.log(`coordinators of 12 groups per broker: ${JSON.stringify([...byBroker].sort())}`);
      expect(byBroker.size).toBeGreaterThan(1);

      const topic = (await admin.describeTopics([OFFSETS_TOPIC])).get(OFFSETS_TOPIC)?.topic;
      const leaders = new Map<number, number>();
      for (const p of topic?.partitions ?? []) leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
      console.log(`__consumer_offsets partitions led per broker: ${JSON.stringify([...leaders].sort())}`);
      expect(topic?.partitions).toHaveLength(50);
      expect([...leaders.keys()].sort()).toEqual(c.brokers.map((n) => n.id).sort());

      // Every broker names the same coordinator for each group.
      for (const n of c.brokers.slice(1)) {
        expect((await coordinators(n.clientPort ?? 0, groups)).map((x) => x.nodeId)).toEqual(
          found.map((x) => x.nodeId),
        );
      }
    } finally {
      admin.close();
    }
  }, 120_000);
});
