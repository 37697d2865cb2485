// Where the Kubernetes binaries are: $TRIBUTARY_K8S_BIN (bring your own, like envtest's KUBEBUILDER_ASSETS) or the
// cache that `make k8s-tools` fills (~/.cache/tributary/k8s/<K8S_VERSION>/bin).
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type Tier = "api" | "sim" | "local";

export const TIER_BINARIES: Readonly<Record<Tier, readonly string[]>> = {
  api: ["etcd", "kube-apiserver", "kubectl"],
  sim: ["etcd", "kube-apiserver", "kubectl", "kube-controller-manager", "kube-scheduler", "kwok"],
  local: [
    "etcd",
    "kube-apiserver",
    "kubectl",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "coredns",
    "pause",
  ],
};

/** e2e/k8s-tools, from src/cluster under tsx/vitest or dist/src/cluster once compiled. */
export function k8sToolsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, "..", "..", "k8s-tools"), join(here, "..", "..", "..", "k8s-tools")]) {
    if (existsSync(join(candidate, "versions.env"))) return candidate;
  }
  throw new Error(`cluster: cannot find e2e/k8s-tools/versions.env from ${here}`);
}

/** The pins in e2e/k8s-tools/versions.env (K8S_VERSION, ETCD_VERSION, PAUSE_VERSION, ...). */
export function versions(): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(k8sToolsDir(), "versions.env"), "utf8").split("\n")) {
    const match = /^([A-Z0-9_]+)=(\S*)/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) out[match[1]] = match[2];
  }
  return out;
}

/** The project's own cache: $TRIBUTARY_CACHE, or ~/.cache/tributary (what the install scripts use too). */
export function tributaryCache(env: NodeJS.ProcessEnv = process.env): string {
  return env["TRIBUTARY_CACHE"] ?? join(homedir(), ".cache", "tributary");
}

export function binDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env["TRIBUTARY_K8S_BIN"];
  if (own !== undefined && own !== "") return own;
  const k8s = versions()["K8S_VERSION"];
  if (k8s === undefined) throw new Error("cluster: K8S_VERSION missing from e2e/k8s-tools/versions.env");
  const cache = env["TRIBUTARY_K8S_CACHE"] ?? join(tributaryCache(env), "k8s");
  return join(cache, k8s, "bin");
}

/** The binaries the tier needs that are absent or not executable. */
export function missingBinaries(tier: Tier, dir = binDir()): string[] {
  return TIER_BINARIES[tier].filter((name) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

/** Absolute paths of the tier's binaries; throws with the command that builds them when any is missing. */
export function requireBinaries(tier: Tier, dir = binDir()): (name: string) => string {
  const missing = missingBinaries(tier, dir);
  if (missing.length > 0) {
    throw new Error(
      `cluster tier '${tier}': missing ${missing.join(", ")} in ${dir}. ` +
        `Run 'make k8s-tools' (or set TRIBUTARY_K8S_BIN to a directory holding them).`,
    );
  }
  return (name) => join(dir, name);
}
