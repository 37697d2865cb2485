// Argo CD health checks of docs/argocd.md, runnable from any test: the Lua read from the document itself (so the docs
// cannot drift from what is tested) and run by e2e/argocd-lua, which embeds gopher-lua as Argo CD does. The runner is
// built by e2e/argocd-lua/build.sh on first use, once per test process (13 s of CPU with Go's caches empty, 0.2 s
// once built; `make test` builds it before the tests).
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const execFileP = promisify(execFile);
const KEY = "resource.customizations.health.tributary.dev_";

export type HealthKind = "KafkaCluster" | "KafkaTopic" | "KafkaUser";

export interface Health {
  status?: string;
  message?: string;
  error?: string;
}

/** The three scripts, from the argocd-cm ConfigMap in docs/argocd.md (YAML anchors resolved as kubectl would). */
export function healthScripts(): Record<HealthKind, string> {
  const markdown = readFileSync(join(REPO, "docs", "argocd.md"), "utf8");
  const blocks = [...markdown.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");
  const configMaps = blocks
    .flatMap((b) => parseAllDocuments(b).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } }))
    .filter((o) => o.kind === "ConfigMap" && o.metadata?.name === "argocd-cm") as { data?: Record<string, string> }[];
  if (configMaps.length !== 1) {
    throw new Error(`docs/argocd.md has ${configMaps.length} argocd-cm ConfigMaps in yaml blocks, not one`);
  }
  const data = configMaps[0]?.data ?? {};
  const script = (kind: HealthKind): string => {
    const s = data[KEY + kind];
    if (typeof s !== "string" || s.trim() === "") throw new Error(`docs/argocd.md has no ${KEY}${kind}`);
    return s;
  };
  return { KafkaCluster: script("KafkaCluster"), KafkaTopic: script("KafkaTopic"), KafkaUser: script("KafkaUser") };
}

let runner: Promise<string> | undefined;

/** The runner's path, built first if need be. */
export function argocdRunner(): Promise<string> {
  runner ??= execFileP(join(REPO, "e2e", "argocd-lua", "build.sh"), [], { timeout: 300_000 }).then((r) =>
    r.stdout.trim(),
  );
  return runner;
}

/** Runs each script against its object in one go of the runner; one result per case. */
export async function argocdHealth(cases: { script: string; obj: unknown }[]): Promise<Health[]> {
  const child = execFileP(await argocdRunner(), [], { timeout: 30_000 });
  child.child.stdin?.end(JSON.stringify({ cases }));
  const { stdout } = await child;
  return JSON.parse(stdout) as Health[];
}

/** What Argo CD makes of one of our objects with the health check of docs/argocd.md for its kind. */
export async function argocdHealthOf(obj: { kind: string }): Promise<Health> {
  const scripts = healthScripts();
  if (!(obj.kind in scripts)) throw new Error(`no Argo CD health check for kind ${obj.kind}`);
  const [h] = await argocdHealth([{ script: scripts[obj.kind as HealthKind], obj }]);
  return h ?? {};
}
