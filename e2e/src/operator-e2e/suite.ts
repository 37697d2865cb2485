// The set-up every operator suite on tier 3 shares: the cluster (started by the suite's own `start`, which picks the
// images and nodes), the suite's namespace, and a teardown that, when a test failed, prints the post-mortem kubectl
// queries while the cluster still runs, then the suite's FIGURE lines.
import { afterAll } from "vitest";
import type { Cluster } from "../cluster/index.ts";
import { printKubectl, useCluster, type SuiteCluster } from "../suite.ts";

export interface OperatorSuiteOptions {
  /** Starts tier 3 (or attaches to a cluster); the suite's namespace is created on it. */
  start: () => Promise<Cluster>;
  /** The namespace the suite's KafkaClusters and Jobs live in. */
  namespace: string;
  /** kubectl queries whose output is printed (console.warn) when a test of the suite failed. */
  postMortem: readonly (readonly string[])[];
  figures: { print: (title: string) => void };
  /** The heading of the suite's FIGURE lines. */
  figuresTitle: string;
  /** Runs first in the teardown, whether a test failed or not (e.g. resuming a paused broker). */
  beforeTeardown?: () => void;
  /** Deletes the namespace at the end when attached to a cluster that outlives the suite (tier 3 is thrown away). */
  deleteNamespace?: boolean;
}

/** The operator's log, the clusters, pods, PDBs and events, and the brokers' logs of KafkaCluster `cluster`. */
export function operatorPostMortem(where: {
  systemNs: string;
  release: string;
  ns: string;
  cluster: string;
}): string[][] {
  return [
    ["logs", "-n", where.systemNs, `deployment/${where.release}-operator`, "--tail=200"],
    ["get", "kafkacluster", "-A", "-o", "yaml"],
    ["get", "pods,pdb", "-A", "-o", "wide"],
    ["get", "events", "-n", where.ns, "--sort-by=.lastTimestamp"],
    [
      "logs",
      "-n",
      where.ns,
      "-l",
      `tributary.dev/cluster=${where.cluster}`,
      "--all-containers",
      "--prefix",
      "--tail=60",
    ],
  ];
}

/** Registers an operator suite's hooks (call it first in the describe block); returns its cluster. */
export function useOperatorSuite(options: OperatorSuiteOptions): SuiteCluster {
  const cluster = useCluster(async () => {
    const c = await options.start();
    await c.kubectl(["create", "namespace", options.namespace]);
    return c;
  });
  // Registered after useCluster's hooks, so it runs before the cluster stops.
  afterAll(async () => {
    const c = cluster.get();
    options.beforeTeardown?.();
    if (cluster.failed()) await printKubectl(c, options.postMortem);
    options.figures.print(options.figuresTitle);
    if (options.deleteNamespace === true) {
      await c.kubectl(["delete", "namespace", options.namespace, "--wait=false"]).catch(() => "");
    }
  });
  return cluster;
}
