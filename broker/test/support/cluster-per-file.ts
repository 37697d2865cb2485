import { afterAll, beforeAll } from "vitest";
import { startCluster, type Cluster, type ClusterOptions } from "./cluster.ts";

/**
 * One cluster for every test of a file: `before` (e.g. a check that a tool is installed) and then the cluster start,
 * with its brokers agreeing on one another, before the first test; the cluster destroyed after the last. Returns a
 * getter, which throws before the start.
 */
export function clusterPerFile(options: ClusterOptions, before?: () => void): () => Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    before?.();
    cluster = await startCluster(options);
    await cluster.waitForBrokers(60_000);
  }, 120_000);
  afterAll(async () => {
    await cluster?.destroy();
  });
  return () => {
    if (cluster === undefined) throw new Error("the cluster has not started");
    return cluster;
  };
}
