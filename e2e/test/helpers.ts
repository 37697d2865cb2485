// Shared by the cluster tests: a console logger (passed in, never global) and the cluster a suite runs against
// (its hooks: e2e/src/suite.ts).
import { existsSync } from "node:fs";
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

/**
 * Tier 3 with `nodes` kubelet nodes for an operator suite that pins the operator and its client Jobs to the first node
 * (which stays): the broker image on every node, the operator's and the client's on the first only.
 */
export async function operatorOnFirstNode(nodes: number): Promise<Cluster> {
  return localOrAttached([imageArchive("broker")], {
    nodes,
    firstNodeImages: [imageArchive("operator"), imageArchive("e2e-client")],
  });
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
