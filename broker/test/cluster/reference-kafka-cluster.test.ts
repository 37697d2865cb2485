import { afterAll, beforeAll, describe, it } from "vitest";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { requireReferenceKafka } from "../support/reference-kafka.ts";
import {
  adminRecoversAfterControllerKill,
  agreeOnOneCluster,
  topicsFromAnyBrokerAppearEverywhere,
} from "./scenarios.ts";

// The multi-process cluster harness and the cluster scenarios against the reference Apache Kafka: what a 3-node
// Tributary cluster must also do (issue 11). Three combined KRaft nodes on loopback agree on one cluster, and after
// kill -9 of the active controller the survivors elect another and topic admin works again. (A restart and catch-up
// costs another JVM start, too slow for make test; restartedNodeCatchesUp was checked against Kafka by hand.)

/**
 * Three Kafka JVMs starting at once on a shared 2-core machine said "Kafka Server started" after 85-92 s at load
 * averages of 55-65; the old bounds (50 s for the start, 60 s for the hook), which the CI machine alone meets, failed
 * four runs of four at load averages of 50-95. Nothing here is measured: the bound only keeps a hung start from
 * hanging the run.
 */
const KAFKA_START_MS = 150_000;

describe("a 3-node Apache Kafka cluster from the harness", () => {
  let cluster: Cluster | undefined;
  const started = () => {
    if (cluster === undefined) throw new Error("no cluster");
    return cluster;
  };
  let starting: Promise<Cluster> | undefined;
  beforeAll(async () => {
    requireReferenceKafka();
    starting = startCluster({ system: "kafka", topology: { combined: 3 }, startTimeoutMs: KAFKA_START_MS });
    cluster = await starting;
  }, KAFKA_START_MS + 10_000);
  // A start that outlives the hook (its storage formats are bounded apart) still ends in a cluster: destroy that too,
  // or its three JVMs run on, orphaned, once the test process goes (they did, three at a time, after hook timeouts).
  afterAll(async () => {
    await (cluster ?? (await starting?.catch(() => undefined)))?.destroy();
  }, 300_000);

  it("lists 3 brokers everywhere, serves topics from any broker and recovers admin after kill -9 of the active controller", async () => {
    await agreeOnOneCluster(started());
    await topicsFromAnyBrokerAppearEverywhere(started(), "anywhere");
    await adminRecoversAfterControllerKill(started(), "after-failover");
  }, 60_000);
});
