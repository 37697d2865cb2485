import { afterAll, describe, expect, it } from "vitest";
import { pollUntil } from "../support/broker-process.ts";
import { controllerView, startCluster, type Cluster } from "../support/cluster.ts";
import {
  adminRecoversAfterControllerKill,
  agreeOnOneCluster,
  restartedNodeCatchesUp,
  topicsFromAnyBrokerAppearEverywhere,
} from "./scenarios.ts";

// Three combined nodes as separate processes on loopback (ADR 22, issue 11), through the scenarios the reference Kafka
// passes too (scenarios.ts): every node agrees on the cluster id, the active controller and the 3 brokers; a topic
// created through any node is listed by all; after kill -9 of the active controller another is elected and
// CreateTopics works again (time printed); the killed node comes back and catches up.

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

  it("form one cluster: one controller, 3 brokers everywhere, topics from any node, admin after kill -9 of the controller", async () => {
    cluster = await startCluster({ system: "tributary", topology: { combined: 3 } });
    const c = cluster;
    const first = await agreedController(c);
    expect((await c.describeQuorum()).leaderId).toBe(first);
    await agreeOnOneCluster(c);
    await topicsFromAnyBrokerAppearEverywhere(c, "anywhere");

    const recoveredMs = await adminRecoversAfterControllerKill(c, "after-failover");
    console.log(`CreateTopics works again ${recoveredMs} ms after kill -9 of the active controller`);
    const second = await agreedController(c, first);

    // The killed node comes back, follows the new controller and catches up with what was created meanwhile.
    await restartedNodeCatchesUp(c, c.node(first), "while-down");
    expect(await agreedController(c)).toBe(second);
  }, 120_000);
});
