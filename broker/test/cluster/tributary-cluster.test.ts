import { afterAll, beforeAll, describe, it } from "vitest";
import { startCluster, type Cluster } from "../support/cluster.ts";
import {
  adminRecoversAfterControllerKill,
  agreeOnOneCluster,
  restartedNodeCatchesUp,
  topicsFromAnyBrokerAppearEverywhere,
} from "./scenarios.ts";

// Tributary as separate processes on loopback forms one cluster (issue 11), in both topologies of the issue, with
// the same scenarios the reference Kafka passes (reference-kafka-cluster.test.ts).

for (const [label, topology] of [
  ["3 combined nodes", { combined: 3 }],
  ["3 controllers and 3 brokers", { controllers: 3, brokers: 3 }],
] as const) {
  describe(`Tributary, ${label}`, () => {
    let cluster: Cluster | undefined;
    const started = (): Cluster => {
      if (cluster === undefined) throw new Error("no cluster");
      return cluster;
    };
    beforeAll(async () => {
      cluster = await startCluster({ system: "tributary", topology });
    });
    afterAll(() => cluster?.destroy());

    it("agrees on the cluster id, the brokers and the voters", () => agreeOnOneCluster(started()));

    it("lists a topic created through any broker on every broker", () =>
      topicsFromAnyBrokerAppearEverywhere(started(), "anywhere"));

    it("catches a restarted broker up on topics created while it was down", async () => {
      const c = started();
      const last = c.brokers.at(-1);
      if (last === undefined) throw new Error("no broker");
      await restartedNodeCatchesUp(c, last, "while-down");
    });

    it("elects a new controller after kill -9 of the active one, and admin works again", () =>
      adminRecoversAfterControllerKill(started(), "after-failover"));
  });
}
