// The Argo CD health checks of docs/argocd.md run on statuses a real operator wrote: the operator's test helper
// (operator/test/docs/argocd.ts: the Lua read from the document, run by e2e/argocd-lua with gopher-lua) loaded at
// run time, since it belongs to the operator's TypeScript project, which this one does not reference.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Health {
  status?: string;
  message?: string;
  error?: string;
}

const HELPER = join(fileURLToPath(new URL("../../..", import.meta.url)), "operator", "test", "docs", "argocd.ts");

/** What Argo CD makes of `obj` with the health check of docs/argocd.md for its kind. */
export async function argocdHealthOf(obj: { kind: string }): Promise<Health> {
  const helper = (await import(HELPER)) as { argocdHealthOf: (o: { kind: string }) => Promise<Health> };
  return helper.argocdHealthOf(obj);
}
