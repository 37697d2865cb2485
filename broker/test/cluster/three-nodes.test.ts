import { afterAll, describe, expect, it } from "vitest";
import { BrokerConnection } from "../../src/admin/connection.ts";
import { DescribeClusterRequest, DescribeClusterResponse } from "../../src/protocol/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";

// Three combined nodes as separate processes on loopback (ADR 22, issue 11): one metadata quorum across them, every
// node agreeing on the cluster id and the active controller, and a new controller elected after kill -9 of the active
// one.

/** What one controller listener says: its cluster id and the active controller it knows (-1 for none). */
async function controllerView(port: number): Promise<{ clusterId: string; controllerId: number }> {
  const connection = await BrokerConnection.open({
    host: "127.0.0.1",
    port,
    clientId: "three-nodes-test",
    connectTimeoutMs: 2_000,
  });
  try {
    const response = await connection.send(
      DescribeClusterRequest,
      DescribeClusterResponse,
      1,
      { ...DescribeClusterRequest.create(), endpointType: 2 },
      2_000,
    );
    return { clusterId: response.clusterId, controllerId: response.controllerId };
  } finally {
    connection.close();
  }
}

/** Polls until every running controller names the same active controller, other than `not`; resolves with it. */
async function agreedController(cluster: Cluster, not = -1, timeoutMs = 30_000): Promise<number> {
  let agreed = -1;
  await pollUntil(
    "every running node to name the same active controller",
    async () => {
      const views = await Promise.all(
        cluster.controllers
          .filter((n) => cluster.isRunning(n.id))
          .map((n) => controllerView(n.controllerPort ?? 0).catch(() => null)),
      );
      const ids = new Set(views.map((v) => v?.controllerId ?? -1));
      const [id] = ids;
      if (ids.size !== 1 || id === undefined || id < 0 || id === not || !cluster.isRunning(id)) return false;
      expect(views.map((v) => v?.clusterId)).toEqual(views.map(() => cluster.clusterId));
      agreed = id;
      return true;
    },
    timeoutMs,
  );
  return agreed;
}

describe("three combined nodes", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("agree on the cluster id and the active controller, and elect a new one after kill -9 of it", async () => {
    cluster = await startCluster({ system: "tributary", topology: { combined: 3 } });
    const c = cluster;
    const first = await agreedController(c);
    const quorum = await c.describeQuorum();
    expect(quorum.leaderId).toBe(first);
    expect(quorum.voters.map((v) => v.replicaId).sort()).toEqual([1, 2, 3]);

    const killedAt = performance.now();
    await c.kill(first, "SIGKILL");
    const second = await agreedController(c, first);
    const recoveredMs = performance.now() - killedAt;
    console.log(`controller failover after kill -9 of node ${first}: node ${second} in ${recoveredMs.toFixed(0)} ms`);
    expect(second).not.toBe(first);

    // The killed node comes back as a follower of the new controller.
    await c.restart(first);
    expect(await agreedController(c)).toBe(second);
  });
});
