// Tier 2 ("sim"): pods are scheduled onto kwok's fake nodes and reported Running; a zone spread constraint places them
// evenly over topology.kubernetes.io/zone a, b and c.
import { describe, expect, it } from "vitest";
import { ZONES } from "../src/cluster/index.ts";
import { startTier, waitForKubectl } from "./helpers.ts";
import { useCluster } from "../src/suite.ts";

describe("cluster tier sim", () => {
  const cluster = useCluster(() => startTier("sim", 6));

  it("has six Ready fake nodes across three zones", async () => {
    const out = await cluster
      .get()
      .kubectl([
        "get",
        "nodes",
        "-l",
        "type=kwok",
        "-o",
        'jsonpath={range .items[*]}{.metadata.labels.topology\\.kubernetes\\.io/zone}{"\\n"}{end}',
      ]);
    expect(out.trim().split("\n").sort()).toEqual(["a", "a", "b", "b", "c", "c"]);
    console.log(`tier sim started in ${cluster.get().startMs} ms`);
  });

  it("spreads a Deployment's pods evenly over the zones", async () => {
    const c = cluster.get();
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "spread", namespace: "default" },
      spec: {
        replicas: 6,
        selector: { matchLabels: { app: "spread" } },
        template: {
          metadata: { labels: { app: "spread" } },
          spec: {
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: "topology.kubernetes.io/zone",
                whenUnsatisfiable: "DoNotSchedule",
                labelSelector: { matchLabels: { app: "spread" } },
              },
            ],
            containers: [{ name: "app", image: "tributary/not-pulled:sim" }],
          },
        },
      },
    };
    await c.kubectl(["apply", "-f", "-"], JSON.stringify(deployment));
    const running = await waitForKubectl(
      c,
      "6 spread pods Running",
      [
        "get",
        "pods",
        "-l",
        "app=spread",
        "-o",
        'jsonpath={range .items[*]}{.status.phase} {.spec.nodeName}{"\\n"}{end}',
      ],
      (out) => out.split("\n").filter((l) => l.startsWith("Running ")).length === 6,
      60_000,
    );
    const zoneOf = (node: string): string => ZONES[Number(node.replace("kwok-", "")) % ZONES.length] ?? "?";
    const zones = running
      .trim()
      .split("\n")
      .map((l) => zoneOf(l.split(" ")[1] ?? ""));
    expect(zones.sort()).toEqual(["a", "a", "b", "b", "c", "c"]);
  });
});
