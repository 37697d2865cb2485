// The KEDA example of docs/operator.md, read from the document itself (so the docs cannot drift from what is tested),
// and what KEDA 2.21.1 declares for it (operator/test/docs/keda/README.md says where those files come from).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const VENDORED = join(REPO, "operator", "test", "docs", "keda");

export interface ScaledObject {
  apiVersion: string;
  kind: "ScaledObject";
  metadata: { name: string; namespace?: string };
  spec: { triggers: { type: string; metadata: Record<string, unknown> }[]; [key: string]: unknown };
}

/** The one ScaledObject in the yaml blocks of docs/operator.md. */
export function kedaExample(): ScaledObject {
  const markdown = readFileSync(join(REPO, "docs", "operator.md"), "utf8");
  const found = [...markdown.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)]
    .flatMap((m) => parseAllDocuments(m[1] ?? "").map((d) => d.toJS() as { kind?: string }))
    .filter((o): o is ScaledObject => o.kind === "ScaledObject");
  if (found.length !== 1) throw new Error(`docs/operator.md has ${found.length} ScaledObjects in yaml blocks, not one`);
  return found[0] as ScaledObject;
}

/** KEDA's ScaledObject CRD (YAML). */
export function kedaScaledObjectCrd(): string {
  return readFileSync(join(VENDORED, "keda.sh_scaledobjects.yaml"), "utf8");
}

export interface TriggerParameter {
  name: string;
  required: boolean;
  default?: string;
}

/** The trigger metadata parameters KEDA's kafka scaler reads. */
export function kafkaScalerParameters(): TriggerParameter[] {
  const doc = JSON.parse(readFileSync(join(VENDORED, "kafka-scaler-trigger-metadata.json"), "utf8")) as {
    triggerMetadata: TriggerParameter[];
  };
  return doc.triggerMetadata;
}
