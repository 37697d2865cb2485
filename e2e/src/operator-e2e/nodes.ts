// The kubelet nodes of a multi-node tier as kubectl reports them: name, zone label and readiness.
import type { Cluster } from "../cluster/index.ts";
import { jsonpath } from "./workloads.ts";

export interface NodeView {
  name: string;
  zone: string;
  ready: boolean;
}

export async function kubeletNodes(c: Cluster): Promise<NodeView[]> {
  const out = await c.kubectl([
    "get",
    "nodes",
    "-o",
    jsonpath(
      `{range .items[*]}{.metadata.name} {.metadata.labels.topology\\.kubernetes\\.io/zone}. ` +
        `{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}`,
    ),
  ]);
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [name = "", zone = "", ready = ""] = l.trim().split(" ");
      return { name, zone: zone.slice(0, -1), ready: ready === "True" };
    });
}
