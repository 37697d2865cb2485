// Where helm is and how to run it: $TRIBUTARY_HELM, else $TRIBUTARY_K8S_BIN/helm, else the cache that
// `make k8s-tools-helm` (or `make k8s-tools`) fills, keyed on K8S_VERSION in e2e/k8s-tools/versions.env.
import { execFile } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export function helmBinary(repo: string, env: NodeJS.ProcessEnv = process.env): string {
  const own = env["TRIBUTARY_HELM"];
  if (own !== undefined && own !== "") return own;
  const bin = env["TRIBUTARY_K8S_BIN"];
  if (bin !== undefined && bin !== "") return join(bin, "helm");
  const pins = readFileSync(join(repo, "e2e", "k8s-tools", "versions.env"), "utf8");
  const version = /^K8S_VERSION=(\S+)/m.exec(pins)?.[1];
  if (version === undefined) throw new Error("K8S_VERSION missing from e2e/k8s-tools/versions.env");
  const cache =
    env["TRIBUTARY_K8S_CACHE"] ?? join(env["TRIBUTARY_CACHE"] ?? join(homedir(), ".cache", "tributary"), "k8s");
  return join(cache, version, "bin", "helm");
}

/** Runs helm and returns stdout; throws with stderr, or with the command that builds helm when it is missing. */
export async function helm(repo: string, args: readonly string[]): Promise<string> {
  const binary = helmBinary(repo);
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(`helm not found at ${binary}: run 'make k8s-tools-helm' (or set TRIBUTARY_HELM)`);
  }
  return new Promise((resolve, reject) => {
    execFile(binary, args, { cwd: repo, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`helm ${args.join(" ")} failed: ${error.message}\n${stderr}`, { cause: error }));
      else resolve(stdout);
    });
  });
}
