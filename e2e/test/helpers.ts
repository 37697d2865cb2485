// Shared by the cluster tests: a console logger (passed in, never global) and the cluster a suite runs against.
import { existsSync } from "node:fs";
import { afterAll, afterEach, beforeAll } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  attachCluster,
  binDir,
  localTierUnavailable,
  startCluster,
  type Cluster,
  type ClusterLogger,
  type Tier,
} from "../src/cluster/index.ts";
import { pollUntil } from "../src/cluster/proc.ts";

export const testLogger: ClusterLogger = {
  info: (obj, msg) => console.log(msg, JSON.stringify(obj)),
  warn: (obj, msg) => console.warn(msg, JSON.stringify(obj)),
};

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** OCI archives written by `make image`. */
export function imageArchive(name: string): string {
  return join(REPO, ".cache", "images", `${name}.oci.tar`);
}

/**
 * Tier 3, or the cluster in $TRIBUTARY_E2E_KUBECONFIG (make e2e KIND=1): everything after this call is the same code.
 * `nodes`: kubelet nodes (default 1); `firstNodeImages`: archives only the first of them gets.
 */
export async function localOrAttached(
  images: readonly string[],
  multi: { nodes: number; firstNodeImages: readonly string[] } | undefined = undefined,
): Promise<Cluster> {
  const kubeconfig = process.env["TRIBUTARY_E2E_KUBECONFIG"];
  if (kubeconfig !== undefined && kubeconfig !== "") return attachCluster({ kubeconfig });
  const present = (archives: readonly string[]): string[] => archives.filter((i) => existsSync(i));
  const local = { tier: "local", logger: testLogger, images: present(images) } as const;
  return startCluster(
    multi === undefined ? local : { ...local, nodes: multi.nodes, firstNodeImages: present(multi.firstNodeImages) },
  );
}

export async function startTier(tier: Tier, nodes?: number): Promise<Cluster> {
  return startCluster({ tier, logger: testLogger, ...(nodes === undefined ? {} : { nodes }) });
}

/** Polls a kubectl jsonpath query until `accept` returns true for its output. */
export async function waitForKubectl(
  cluster: Cluster,
  what: string,
  args: readonly string[],
  accept: (out: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  return pollUntil(
    what,
    timeoutMs,
    async () => {
      const out = await cluster.kubectl(args);
      return accept(out) ? out : undefined;
    },
    [],
    500,
  );
}

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

/**
 * Why a suite that installs the chart on tier 3 cannot run here, or undefined: the built operator, helm, a usable
 * tier 3 and the images `make image` writes.
 */
export function chartSuiteUnavailable(images: readonly string[]): string | undefined {
  if (!existsSync(join(REPO, "operator", "dist", "src", "main.js"))) return "operator/dist is not built (npx tsc -b)";
  if (!existsSync(join(binDir(), "helm"))) return `no helm in ${binDir()} (make k8s-tools)`;
  const local = localTierUnavailable();
  if (local !== undefined) return local;
  for (const image of images) {
    if (!existsSync(imageArchive(image))) return `no ${image} image: run 'make image' first`;
  }
  return undefined;
}

/** FIGURE lines: printed as they come, and all together by `print` (a suite's afterAll). */
export function figureLog(): { figure: (line: string) => void; print: (title: string) => void } {
  const lines: string[] = [];
  return {
    figure: (line) => {
      lines.push(line);
      console.log(`FIGURE ${line}`);
    },
    print: (title) => {
      if (lines.length > 0) console.log(`Figures (${title}):\n  ${lines.join("\n  ")}`);
    },
  };
}

/** Prints each kubectl query's output (a failed suite's post-mortem); a failing query prints its error. */
export async function printKubectl(cluster: Cluster, queries: readonly (readonly string[])[]): Promise<void> {
  for (const args of queries) console.warn(`kubectl ${args.join(" ")}\n${await cluster.kubectl(args).catch(String)}`);
}

/** A failed operator suite's post-mortem: the operator's log, the clusters, pods, events and the brokers' logs. */
export async function printOperatorPostMortem(
  cluster: Cluster,
  where: { systemNs: string; release: string; ns: string; cluster: string },
): Promise<void> {
  await printKubectl(cluster, [
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
  ]);
}
