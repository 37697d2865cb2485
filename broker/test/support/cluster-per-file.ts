import { afterAll, beforeAll } from "vitest";
import { startCluster, type Cluster, type ClusterOptions } from "./cluster.ts";

/**
 * One cluster for every test of a file: `before` (e.g. a check that a tool is installed) and then the cluster start,
 * with its brokers agreeing on one another, before the first test; the cluster destroyed after the last, also when
 * the start outlived its hook (its nodes would otherwise run on after the test process, as the reference Kafka's did
 * in reference-kafka-cluster.test.ts). Returns a getter, which throws before the start.
 */
export function clusterPerFile(options: ClusterOptions, before?: () => void): () => Cluster {
  let cluster: Cluster | undefined;
  let starting: Promise<Cluster> | undefined;
  beforeAll(async () => {
    before?.();
    starting = startCluster(options);
    cluster = await starting;
    await cluster.waitForBrokers(60_000);
  }, 120_000);
  // startCluster's own bounds (each node's format, then its start) end a start that hangs.
  afterAll(async () => {
    await (cluster ?? (await starting?.catch(() => undefined)))?.destroy();
  }, 300_000);
  return () => {
    if (cluster === undefined) throw new Error("the cluster has not started");
    return cluster;
  };
}
