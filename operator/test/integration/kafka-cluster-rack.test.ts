// Rack awareness against a real kube-apiserver (tier api): the per-cluster ClusterRoleBinding gives the broker
// ServiceAccount get on nodes and nothing more (kubectl auth can-i), the init step (broker/bin/tributary-rack, run
// here as a process with that ServiceAccount's token) reads a node's label through it, status.racks reports each
// broker's rack (from the operator's node cache, no GET per pass), a node without the label raises a Warning that a
// label change clears, and the binding goes with spec.rack or the cluster.
// Tier 1 has no scheduler or kubelet: the test creates the Nodes and the pods (with spec.nodeName) itself.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { REPO, condition, eventually, getJson, metricValue, useOperatorSuite, type Obj } from "./harness.ts";

const NS = "kafka-rack";
const ZONE = "topology.kubernetes.io/zone";
const BINDING = `tributary-rack.${NS}.racky`;
const SA = `system:serviceaccount:${NS}:racky-kafka`;
const execFileP = promisify(execFile);

describe("KafkaCluster rack awareness against a real API server (tier api)", () => {
  const suite = useOperatorSuite(
    { beforeAll, afterAll, afterEach },
    { tier: "api", namespace: NS, identity: "operator-rack" },
  );
  const c = suite.cluster;
  const kc = (): Promise<Obj | undefined> => getJson(c(), ["kafkacluster", "racky", "-n", NS]);
  const canI = async (verb: string, resource: string, as = SA): Promise<string> => {
    // kubectl auth can-i prints "yes" and exits 0, or exits 1 for "no".
    try {
      return (await c().kubectl(["auth", "can-i", verb, resource, "--as", as])).trim();
    } catch (err) {
      if ((err as { cause?: { code?: unknown } }).cause?.code === 1) return "no";
      throw err;
    }
  };
  const patch = (type: "json" | "merge", body: unknown) =>
    c().kubectl(["patch", "kafkacluster", "racky", "-n", NS, `--type=${type}`, "-p", JSON.stringify(body)]);
  const bindingGone = () =>
    eventually("the binding gone", async () =>
      (await getJson(c(), ["clusterrolebinding", BINDING])) === undefined ? true : undefined,
    );
  const node = (name: string, labels: Record<string, string>) =>
    JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name, labels } });

  it("binds get on nodes, and nothing more, to the cluster's broker ServiceAccount", async () => {
    for (const [name, labels] of [
      ["rack-node-a", { [ZONE]: "zone-a" }],
      ["rack-node-b", { [ZONE]: "zone-b" }],
      ["rack-node-x", { other: "x" }],
    ] as const)
      await c().kubectl(["create", "-f", "-"], node(name, labels));
    await c().kubectl(
      ["apply", "--server-side", "-f", "-"],
      JSON.stringify({
        apiVersion: "tributary.dev/v1alpha1",
        kind: "KafkaCluster",
        metadata: { name: "racky", namespace: NS },
        spec: { replicas: 3, rack: { topologyKey: ZONE } },
      }),
    );
    const binding = await eventually("the rack ClusterRoleBinding", () =>
      getJson(c(), ["clusterrolebinding", BINDING]),
    );
    expect(binding.metadata.labels?.["tributary.dev/namespace"]).toBe(NS);
    expect(await canI("get", "nodes")).toBe("yes");
    const denied: [string, string][] = [
      ["list", "nodes"],
      ["watch", "nodes"],
      ["patch", "nodes"],
      ["get", "pods"],
      ["get", "secrets"],
      ["get", "configmaps"],
    ];
    for (const [verb, resource] of denied)
      expect(`${verb} ${resource}: ${await canI(verb, resource)}`).toBe(`${verb} ${resource}: no`);
    // Bound for that ServiceAccount only: another one in the same namespace may not.
    expect(await canI("get", "nodes", `system:serviceaccount:${NS}:default`)).toBe("no");
  });

  it("lets the init step read its node's label with the ServiceAccount's token and write broker.rack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-rack-it-"));
    const token = (await c().kubectl(["create", "token", "racky-kafka", "-n", NS, "--duration=10m"])).trim();
    const kubeconfig = JSON.parse(
      await c().kubectl(["config", "view", "--raw", "--minify", "--flatten", "-o", "json"]),
    ) as { clusters: { cluster: { server: string; "certificate-authority-data": string } }[] };
    const server = kubeconfig.clusters[0]?.cluster;
    if (server === undefined) throw new Error("the admin kubeconfig names no cluster");
    writeFileSync(join(dir, "token"), token);
    writeFileSync(join(dir, "ca.crt"), Buffer.from(server["certificate-authority-data"], "base64"));
    const run = async (nodeName: string) => {
      const output = join(dir, `${nodeName}.properties`);
      // Outside a pod there is no KUBERNETES_SERVICE_HOST: the server is passed instead.
      const args = ["-k", ZONE, "-o", output, "--credentials", dir, "--server", server.server, "-n", nodeName];
      await execFileP(process.execPath, [join(REPO, "broker", "bin", "tributary-rack"), ...args], { timeout: 20_000 });
      return readFileSync(output, "utf8");
    };
    expect(await run("rack-node-a")).toMatch(/^broker\.rack=zone-a$/m);
    expect(await run("rack-node-x")).not.toMatch(/^broker\.rack/m);
  });

  // Stand in for the scheduler and the StatefulSet controller: broker pods bound to the nodes.
  const createPod = (i: number, nodeName: string) =>
    c().kubectl(
      ["create", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `racky-broker-${i}`,
          namespace: NS,
          labels: {
            "tributary.dev/cluster": "racky",
            "app.kubernetes.io/component": "broker",
            "app.kubernetes.io/managed-by": "tributary-operator",
          },
        },
        spec: {
          nodeName,
          serviceAccountName: "racky-kafka",
          automountServiceAccountToken: false,
          containers: [{ name: "kafka", image: "tributary/broker:test" }],
        },
      }),
    );

  it("reports each broker's rack in status, and a Warning naming a node without the label", async () => {
    await createPod(0, "rack-node-a");
    await createPod(1, "rack-node-b");
    await createPod(2, "rack-node-x");
    const o = await eventually("status.racks of three scheduled brokers", async () => {
      const k = await kc();
      const racks = (k?.status?.["racks"] ?? []) as { node?: string }[];
      return racks.filter((r) => r.node !== undefined).length === 3 ? k : undefined;
    });
    expect(o.status?.["racks"]).toEqual([
      { brokerId: 0, pod: "racky-broker-0", node: "rack-node-a", rack: "zone-a" },
      { brokerId: 1, pod: "racky-broker-1", node: "rack-node-b", rack: "zone-b" },
      { brokerId: 2, pod: "racky-broker-2", node: "rack-node-x" },
    ]);
    expect(condition(o, "Warning")).toMatchObject({ status: "True", reason: "NodeLabelMissing" });
    expect(condition(o, "Warning")?.message).toMatch(/^node rack-node-x \(racky-broker-2\) has no label topology/);
  });

  it("clears the Warning once the node is labelled", async () => {
    // The label change alone starts a pass: the node watch maps a node to the clusters with a pod on it.
    await c().kubectl(["label", "node", "rack-node-x", `${ZONE}=zone-c`]);
    const o = await eventually("the Warning cleared", async () => {
      const k = await kc();
      return condition(k, "Warning")?.status === "False" ? k : undefined;
    });
    expect((o.status?.["racks"] as { rack?: string }[]).map((r) => r.rack)).toEqual(["zone-a", "zone-b", "zone-c"]);
  });

  it("removes the binding when spec.rack is removed, and empties status.racks", async () => {
    await patch("json", [{ op: "remove", path: "/spec/rack" }]);
    await bindingGone();
    await eventually("status.racks emptied", async () => {
      const k = await kc();
      return (k?.status?.["racks"] as unknown[] | undefined)?.length === 0 ? true : undefined;
    });
    expect(await canI("get", "nodes")).toBe("no");
  });

  it("removes the binding with the cluster (cluster-scoped, it has no owner reference for the GC)", async () => {
    await patch("merge", { spec: { rack: { topologyKey: ZONE } } });
    await eventually("the binding back", () => getJson(c(), ["clusterrolebinding", BINDING]));
    await c().kubectl(["delete", "kafkacluster", "racky", "-n", NS, "--wait=false"]);
    await bindingGone();
  });

  it("never met a forbidden request: the chart's RBAC covers binding the role and reading nodes", () => {
    const forbidden = readFileSync(suite.operator().logFile, "utf8")
      .split("\n")
      .filter((line) => /forbidden|"statusCode":403\b|: 403 /i.test(line));
    expect(forbidden).toEqual([]);
  });

  it("read the nodes from its watch cache: not one GET of a Node in all these passes", async () => {
    const [, metrics] = await suite.operator().get("/metrics");
    expect(
      metricValue(metrics, "tributary_operator_api_requests_total", { verb: "list", resource: "Node" }),
    ).toBeGreaterThan(0);
    expect(metricValue(metrics, "tributary_operator_api_requests_total", { verb: "get", resource: "Node" })).toBe(0);
  });
});
