// Vitest hooks shared by the cluster suites (e2e/test): the cluster a suite runs against, and for the suites that
// install something on it (the operator suites, e2e/src/operator-e2e/suite.ts) their namespace, their post-mortem on
// failure and their FIGURE lines.
import { afterAll, afterEach, beforeAll } from "vitest";
import type { Cluster } from "./cluster/index.ts";

export interface SuiteCluster {
  /** The running cluster (throws before beforeAll has started it). */
  get(): Cluster;
  /** Whether a test in this suite has failed so far. */
  failed(): boolean;
}

/**
 * Registers the suite's hooks: start the cluster before all tests, and stop it after them, saving logs and cluster
 * state to e2e/artifacts when a test failed.
 */
export function useCluster(start: () => Promise<Cluster>): SuiteCluster {
  let cluster: Cluster | undefined;
  let failed = false;
  beforeAll(async () => {
    cluster = await start();
  });
  afterEach(({ task }) => {
    if (task.result?.state === "fail") failed = true;
  });
  afterAll(async () => {
    const stopping = Date.now();
    const saved = await cluster?.stop({ failed });
    console.log(`cluster stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
    if (saved !== undefined) console.warn(`cluster logs saved to ${saved}`);
  });
  return {
    get: () => {
      if (cluster === undefined) throw new Error("the cluster did not start");
      return cluster;
    },
    failed: () => failed,
  };
}

/** Prints each kubectl query's output (a failed suite's post-mortem); a failing query prints its error. */
export async function printKubectl(cluster: Cluster, queries: readonly (readonly string[])[]): Promise<void> {
  for (const args of queries) console.warn(`kubectl ${args.join(" ")}\n${await cluster.kubectl(args).catch(String)}`);
}
