// charts/tributary: helm lint, and `helm template` asserted object by object (security, probes, least-privilege
// RBAC, values.schema.json refusing bad values, watchNamespaces, the optional ServiceMonitor, broker PodMonitor and
// Grafana dashboard ConfigMap), plus every values.yaml key documented with @param.
// Needs helm (make k8s-tools-helm); without it every test fails and names the command.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { KafkaCluster } from "../../src/api/v1alpha1/index.ts";
import { DEFAULT_BROKER_IMAGE, desired } from "../../src/controllers/kafka-cluster/desired.ts";
import { ChartValues } from "../../src/crdgen/chart-values.ts";
import { dashboard } from "../../src/crdgen/dashboard.ts";
import { controllerRef } from "../../src/kube/index.ts";
import { helm } from "../../src/crdgen/helm.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CHART = join("charts", "tributary");

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface Container {
  image: string;
  securityContext: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: Record<string, unknown>;
  env: { name: string; value?: string }[];
}
interface DeploymentSpec {
  replicas: number;
  template: { spec: { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[] } };
}

async function template(...args: string[]): Promise<K8sObject[]> {
  const out = await helm(REPO, ["template", "tributary", CHART, "--namespace", "tributary-system", ...args]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0] as K8sObject;
}

function operatorContainer(objects: K8sObject[]): Container {
  const spec = only(objects, "Deployment")["spec"] as DeploymentSpec;
  const container = spec.template.spec.containers[0];
  if (container === undefined) throw new Error("no container");
  return container;
}

async function refusal(...args: string[]): Promise<string> {
  try {
    await template(...args);
  } catch (error) {
    return String(error);
  }
  throw new Error(`helm template ${args.join(" ")} was accepted`);
}

describe("charts/tributary", () => {
  it("passes helm lint --strict", async () => {
    const out = await helm(REPO, ["lint", "--strict", CHART]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it("renders exactly the operator's objects with default values", async () => {
    const objects = await template();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      "ClusterRole/tributary-operator",
      "ClusterRole/tributary-operator-kafka-rack",
      "ClusterRole/tributary-operator-nodes",
      "ClusterRole/tributary-operator-rack",
      "ClusterRole/tributary-operator-storageclasses",
      "ClusterRoleBinding/tributary-operator",
      "ClusterRoleBinding/tributary-operator-nodes",
      "ClusterRoleBinding/tributary-operator-rack",
      "ClusterRoleBinding/tributary-operator-storageclasses",
      "Deployment/tributary-operator",
      "Role/tributary-operator-leader-election",
      "RoleBinding/tributary-operator-leader-election",
      "ServiceAccount/tributary-operator",
    ]);
    for (const o of objects) expect(o.metadata.labels?.["app.kubernetes.io/part-of"], o.kind).toBe("tributary");
  });

  it("runs the operator non-root on a read-only root filesystem, with probes, resources and the chart's image", async () => {
    const objects = await template();
    const spec = only(objects, "Deployment")["spec"] as DeploymentSpec;
    expect(spec.template.spec.serviceAccountName).toBe("tributary-operator");
    expect(spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    const c = operatorContainer(objects);
    expect(c.image).toBe("docker.io/tributary/operator:0.1.0");
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(c.resources).toEqual({ requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } });
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      TRIBUTARY_WATCH_NAMESPACES: "",
      TRIBUTARY_LEADER_ELECTION: "true",
      TRIBUTARY_HTTP_PORT: "8080",
      TRIBUTARY_RESYNC_SECONDS: "600",
      TRIBUTARY_BROKER_IMAGE: DEFAULT_BROKER_IMAGE,
    });
  });

  it("takes the image from values (tag or digest)", async () => {
    expect(
      operatorContainer(await template("--set", "image.repository=r.example/op", "--set", "image.tag=1.2.3")).image,
    ).toBe("r.example/op:1.2.3");
    const digest = `sha256:${"a".repeat(64)}`;
    expect(operatorContainer(await template("--set", `image.digest=${digest}`)).image).toBe(
      `docker.io/tributary/operator@${digest}`,
    );
  });

  it("grants least privilege: read on our kinds, status and finalizers writes, apply on owned kinds, leases in one namespace", async () => {
    const objects = await template();
    const rules = (kind: string, name: string) => only(objects, kind, name)["rules"] as Rule[];
    const all = [
      ...rules("ClusterRole", "tributary-operator"),
      ...rules("ClusterRole", "tributary-operator-storageclasses"),
      ...rules("Role", "tributary-operator-leader-election"),
    ];
    for (const rule of all) {
      expect(rule.verbs).not.toContain("*");
      expect(rule.resources).not.toContain("*");
      expect(rule.apiGroups).not.toContain("*");
    }
    const cluster = rules("ClusterRole", "tributary-operator");
    const verbsOf = (group: string, resource: string) =>
      cluster
        .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
        .flatMap((r) => r.verbs)
        .sort();
    // Nothing that could write a spec but the KafkaTopic finalizer's patch; never update on the main resources.
    expect(verbsOf("tributary.dev", "kafkaclusters")).toEqual(["get", "list", "watch"]);
    expect(verbsOf("tributary.dev", "kafkausers")).toEqual(["get", "list", "watch"]);
    expect(verbsOf("tributary.dev", "kafkatopics")).toEqual(["get", "list", "patch", "watch"]);
    expect(verbsOf("tributary.dev", "kafkaclusters/status")).toEqual(["patch"]);
    expect(verbsOf("tributary.dev", "kafkatopics/status")).toEqual(["patch"]);
    expect(verbsOf("tributary.dev", "kafkaclusters/finalizers")).toEqual(["update"]);
    expect(verbsOf("", "pods")).toEqual(["delete", "list", "watch"]);
    expect(verbsOf("", "events")).toEqual(["create"]);
    // Volume expansion: claims grow by patch, a StatefulSet is re-created by orphan deletion.
    expect(verbsOf("", "persistentvolumeclaims")).toEqual(["list", "patch", "watch"]);
    expect(verbsOf("apps", "statefulsets")).toEqual(["create", "delete", "list", "patch", "watch"]);
    // Pruning (prune.ts): Services the spec no longer asks for are deleted; nothing else is.
    expect(verbsOf("", "services")).toEqual(["create", "delete", "list", "patch", "watch"]);
    for (const [group, resource] of [
      ["", "configmaps"],
      ["", "serviceaccounts"],
      ["policy", "poddisruptionbudgets"],
    ] as const) {
      expect(verbsOf(group, resource), `${group}/${resource}`).toEqual(["create", "list", "patch", "watch"]);
    }
    // Nothing the operator does not use yet.
    const granted = cluster.flatMap((r) => r.resources);
    for (const unused of ["secrets", "persistentvolumes", "storageclasses", "nodes", "leases", "kafkausers/status"]) {
      expect(granted, unused).not.toContain(unused);
    }
    expect(objects.filter((o) => o.kind === "ClusterRole").map((o) => o.metadata.name)).toEqual([
      "tributary-operator",
      "tributary-operator-storageclasses",
      "tributary-operator-nodes",
      "tributary-operator-kafka-rack",
      "tributary-operator-rack",
    ]);
    // Nodes: read-only (drains.ts).
    expect(rules("ClusterRole", "tributary-operator-nodes")).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
    ]);
    // A StorageClass by name (does it allow volume expansion?).
    expect(rules("ClusterRole", "tributary-operator-storageclasses")).toEqual([
      { apiGroups: ["storage.k8s.io"], resources: ["storageclasses"], verbs: ["get"] },
    ]);
    // Rack awareness: the brokers' init step may get nodes and nothing more; the operator manages the per-cluster
    // bindings of that role (it reads nodes through tributary-operator-nodes).
    expect(rules("ClusterRole", "tributary-operator-kafka-rack")).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
    ]);
    expect(rules("ClusterRole", "tributary-operator-rack")).toEqual([
      {
        apiGroups: ["rbac.authorization.k8s.io"],
        resources: ["clusterrolebindings"],
        verbs: ["create", "patch", "delete"],
      },
    ]);
    const env = Object.fromEntries(operatorContainer(objects).env.map((e) => [e.name, e.value]));
    expect(env["TRIBUTARY_RACK_CLUSTER_ROLE"]).toBe("tributary-operator-kafka-rack");
    const lease = only(objects, "Role", "tributary-operator-leader-election");
    expect(lease.metadata.namespace).toBe("tributary-system");
    expect(rules("Role", "tributary-operator-leader-election")).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
    ]);
  });

  it("gives one Role per watched namespace and no cluster-wide access to our objects", async () => {
    const objects = await template("--set", "watchNamespaces={team-a,team-b}");
    const roles = objects.filter((o) => o.kind === "Role" && o.metadata.name === "tributary-operator");
    expect(roles.map((r) => r.metadata.namespace)).toEqual(["team-a", "team-b"]);
    expect(objects.filter((o) => o.kind === "RoleBinding" && o.metadata.name === "tributary-operator")).toHaveLength(2);
    expect(objects.some((o) => o.kind === "ClusterRole" && o.metadata.name === "tributary-operator")).toBe(false);
    // StorageClasses are cluster-scoped: that read stays cluster-wide whichever namespaces are watched.
    expect(
      objects.some((o) => o.kind === "ClusterRoleBinding" && o.metadata.name === "tributary-operator-storageclasses"),
    ).toBe(true);
    const env = Object.fromEntries(operatorContainer(objects).env.map((e) => [e.name, e.value]));
    expect(env["TRIBUTARY_WATCH_NAMESPACES"]).toBe("team-a,team-b");
  });

  it("refuses bad values through values.schema.json", async () => {
    expect(await refusal("--set", "replicaCount=0")).toMatch(/at '\/replicaCount': minimum: got 0, want 1/);
    expect(await refusal("--set", "logLevel=loud")).toMatch(/at '\/logLevel': value must be one of/);
    expect(await refusal("--set", "imageTag=1.0")).toMatch(/additional properties 'imageTag' not allowed/);
    expect(await refusal("--set", "image.digest=latest")).toMatch(/at '\/image\/digest': 'latest' does not match/);
  });

  it("documents every values.yaml key with ## @param, and values.yaml satisfies the zod schema", () => {
    const text = readFileSync(join(REPO, CHART, "values.yaml"), "utf8");
    const documented = new Set([...text.matchAll(/^## @param (\S+) /gm)].map((m) => m[1] ?? ""));
    const values = parse(text) as Record<string, unknown>;
    const undocumented: string[] = [];
    const visit = (node: Record<string, unknown>, prefix: string) => {
      for (const [key, value] of Object.entries(node)) {
        const path = prefix === "" ? key : `${prefix}.${key}`;
        if (documented.has(path)) continue;
        const isMap = typeof value === "object" && value !== null && !Array.isArray(value);
        if (isMap && Object.keys(value).length > 0) visit(value as Record<string, unknown>, path);
        else undocumented.push(path);
      }
    };
    visit(values, "");
    expect(undocumented).toEqual([]);
    const lookup = (path: string) =>
      path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], values);
    expect([...documented].filter((path) => lookup(path) === undefined)).toEqual([]);
    expect(ChartValues.safeParse(values).error).toBeUndefined();
  });

  it("renders no monitoring objects by default, and each one when asked", async () => {
    const kinds = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);
    const off = kinds(await template());
    for (const kind of ["ServiceMonitor", "PodMonitor", "ConfigMap", "Service"]) {
      expect(
        off.filter((k) => k.startsWith(`${kind}/`)),
        kind,
      ).toEqual([]);
    }
    const on = kinds(
      await template(
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.brokerPodMonitor.enabled=true",
        "--set",
        "grafanaDashboard.enabled=true",
      ),
    );
    expect(on.filter((k) => !off.includes(k)).sort()).toEqual([
      "ConfigMap/tributary-operator-dashboard",
      "PodMonitor/tributary-operator-brokers",
      "Service/tributary-operator-metrics",
      "ServiceMonitor/tributary-operator",
    ]);
    const lint = await helm(REPO, [
      "lint",
      "--strict",
      CHART,
      ...["metrics.serviceMonitor.enabled", "metrics.brokerPodMonitor.enabled", "grafanaDashboard.enabled"].flatMap(
        (key) => ["--set", `${key}=true`],
      ),
    ]);
    expect(lint).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(await refusal("--set", "metrics.brokerPodMonitor.interval=often")).toMatch(
      /at '\/metrics\/brokerPodMonitor\/interval': 'often' does not match/,
    );
  });

  it("scrapes the operator's http port through a Service the ServiceMonitor selects", async () => {
    const objects = await template(
      "--set",
      "metrics.serviceMonitor.enabled=true",
      "--set",
      "metrics.serviceMonitor.interval=30s",
      "--set",
      "metrics.serviceMonitor.labels.release=prom",
    );
    const service = only(objects, "Service", "tributary-operator-metrics");
    const serviceSpec = service["spec"] as {
      selector: Record<string, string>;
      ports: { name: string; port: number }[];
    };
    const deployment = only(objects, "Deployment")["spec"] as {
      template: { metadata: { labels: Record<string, string> } };
    };
    expect(deployment.template.metadata.labels).toMatchObject(serviceSpec.selector);
    expect(serviceSpec.ports).toEqual([{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
    const monitor = only(objects, "ServiceMonitor");
    expect(monitor.metadata.labels?.["release"]).toBe("prom");
    const spec = monitor["spec"] as { selector: { matchLabels: Record<string, string> }; endpoints: unknown[] };
    expect(service.metadata.labels).toMatchObject(spec.selector.matchLabels);
    expect(spec.endpoints).toEqual([{ port: "http", path: "/metrics", interval: "30s" }]);
  });

  it("has a broker PodMonitor that selects the pods desired() renders for a KafkaCluster, on their metrics port", async () => {
    interface PodMonitorSpec {
      selector: {
        matchLabels: Record<string, string>;
        matchExpressions: { key: string; operator: string }[];
      };
      namespaceSelector: { any?: boolean; matchNames?: string[] };
      podMetricsEndpoints: { port: string; path: string; relabelings: { targetLabel: string }[] }[];
    }
    const monitorOf = async (...args: string[]) =>
      only(await template("--set", "metrics.brokerPodMonitor.enabled=true", ...args), "PodMonitor")[
        "spec"
      ] as PodMonitorSpec;
    const spec = await monitorOf();
    expect(spec.namespaceSelector).toEqual({ any: true });
    expect((await monitorOf("--set", "watchNamespaces={team-a}")).namespaceSelector).toEqual({
      matchNames: ["team-a"],
    });
    expect(
      (await monitorOf("--set", "watchNamespaces={team-a}", "--set", "metrics.brokerPodMonitor.namespaces={kafka}"))
        .namespaceSelector,
    ).toEqual({ matchNames: ["kafka"] });

    // The pods of a KafkaCluster with dedicated controllers: brokers and controllers are selected, on "metrics".
    const raw = {
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "events", namespace: "team-a", uid: "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b" },
      spec: { replicas: 3, controller: { mode: "dedicated", replicas: 3 } },
    };
    const cluster = KafkaCluster.parse(raw);
    const state = desired(
      { name: "events", namespace: "team-a", uid: raw.metadata.uid, spec: cluster.spec },
      controllerRef(raw),
    );
    type Sts = {
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: { name: string; ports?: { name: string }[] }[] };
        };
      };
    };
    const templates = state.objects
      .filter((o) => o.kind === "StatefulSet")
      .map((o) => (o as unknown as Sts).spec.template);
    expect(templates.length).toBeGreaterThan(0);
    for (const t of templates) {
      expect(t.metadata.labels).toMatchObject(spec.selector.matchLabels);
      for (const e of spec.selector.matchExpressions)
        expect(e.operator === "Exists" && e.key in t.metadata.labels).toBe(true);
      const ports = t.spec.containers.find((c) => c.name === "kafka")?.ports?.map((p) => p.name);
      expect(ports).toContain(spec.podMetricsEndpoints[0]?.port);
    }
    // Not the operator's own pod.
    const operatorLabels = (
      only(await template(), "Deployment")["spec"] as { template: { metadata: { labels: Record<string, string> } } }
    ).template.metadata.labels;
    expect(Object.entries(spec.selector.matchLabels).every(([k, v]) => operatorLabels[k] === v)).toBe(false);
    expect(spec.podMetricsEndpoints[0]?.relabelings.map((r) => r.targetLabel)).toEqual(["kafka_cluster", "kafka_role"]);
  });

  it("ships the generated dashboard in a ConfigMap for the Grafana sidecar", async () => {
    const objects = await template(
      "--set",
      "grafanaDashboard.enabled=true",
      "--set",
      "grafanaDashboard.namespace=monitoring",
      "--set",
      "grafanaDashboard.annotations.grafana_folder=Kafka",
    );
    const cm = only(objects, "ConfigMap", "tributary-operator-dashboard");
    expect(cm.metadata.namespace).toBe("monitoring");
    expect(cm.metadata.labels?.["grafana_dashboard"]).toBe("1");
    expect((cm.metadata as { annotations?: Record<string, string> }).annotations).toEqual({ grafana_folder: "Kafka" });
    const data = cm["data"] as Record<string, string>;
    expect(JSON.parse(data["tributary.json"] ?? "")).toEqual(dashboard());
  });
});
