import { afterAll, describe, it } from "vitest";
import { startCluster, type Cluster } from "../support/cluster.ts";
import {
  adminRecoversAfterControllerKill,
  agreeOnOneCluster,
  restartedNodeCatchesUp,
  topicsFromAnyBrokerAppearEverywhere,
} from "./scenarios.ts";

// Three controller-only nodes and three broker-only nodes as separate processes on loopback (ADR 22): the brokers are
// observers of the controllers' quorum, register with the active controller, and forward admin writes to it; a broker
// restarted after kill -9 observes the quorum again and catches up.

describe("three controllers and three brokers", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("form one cluster: 3 brokers everywhere, topics from any broker, admin after kill -9 of the controller, a restarted broker catches up", async () => {
    cluster = await startCluster({ system: "tributary", topology: { controllers: 3, brokers: 3 } });
    await agreeOnOneCluster(cluster);
    await topicsFromAnyBrokerAppearEverywhere(cluster, "anywhere");
    const recoveredMs = await adminRecoversAfterControllerKill(cluster, "after-failover");
    console.log(`3+3: CreateTopics works again ${recoveredMs} ms after kill -9 of the active controller`);
    const broker = cluster.brokers.at(-1);
    if (broker === undefined) throw new Error("no broker");
    await restartedNodeCatchesUp(cluster, broker, "while-down");
  }, 120_000);
});
