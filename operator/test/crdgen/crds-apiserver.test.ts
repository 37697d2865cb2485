// The generated CRDs on a real kube-apiserver (tier 1 of e2e/src/cluster: etcd + kube-apiserver on loopback): they are
// accepted as structural, defaults are filled, invalid resources are refused with the schema's messages (including CEL
// transition rules), and the scale subresource works. Needs `make k8s-tools-api`; without the binaries it fails and
// names the command.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRDS, crdName } from "../../src/api/v1alpha1/index.ts";
import { kedaExample, kedaScaledObjectCrd } from "../docs/keda.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** The part of e2e/src/cluster's Cluster this test uses. */
interface Cluster {
  kubectl(args: readonly string[], input?: string): Promise<string>;
  stop(options?: { failed?: boolean }): Promise<string | undefined>;
}
interface ClusterModule {
  startCluster(options: { tier: "api"; logger: Logger }): Promise<Cluster>;
}
interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

// The harness lives in the e2e workspace, which the operator's tsconfig does not reach; load it at run time.
async function loadHarness(): Promise<ClusterModule> {
  const url = pathToFileURL(join(REPO, "e2e", "src", "cluster", "index.ts")).href;
  return (await import(url)) as ClusterModule;
}

const logger: Logger = {
  info: (obj, msg) => console.log(msg, JSON.stringify(obj)),
  warn: (obj, msg) => console.warn(msg, JSON.stringify(obj)),
};

const NS = "default";

function cluster(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: "tributary.dev/v1alpha1",
    kind: "KafkaCluster",
    metadata: { name, namespace: NS },
    spec,
  });
}

/** The error kubectl reports for a request the API server refuses (fails the test when it is accepted). */
async function refused(run: Promise<string>): Promise<string> {
  try {
    const out = await run;
    throw new Error(`expected the API server to refuse, but it accepted: ${out}`);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("expected the API server")) throw error;
    return String(error);
  }
}

describe("generated CRDs on a real kube-apiserver", () => {
  let api: Cluster | undefined;
  let failed = false;
  const k = (args: readonly string[], input?: string) => {
    if (api === undefined) throw new Error("the API server did not start");
    return api.kubectl(args, input);
  };
  const getJson = async (args: readonly string[]) =>
    JSON.parse(await k([...args, "-o", "json"])) as Record<string, unknown>;

  beforeAll(async () => {
    api = await (await loadHarness()).startCluster({ tier: "api", logger });
  });
  afterAll(async () => {
    const saved = await api?.stop({ failed });
    if (saved !== undefined) console.warn(`cluster logs saved to ${saved}`);
  });
  const track = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (error) {
      failed = true;
      throw error;
    }
  };

  it(
    "accepts every CRD as structural and establishes it",
    track(async () => {
      for (const def of CRDS) {
        await k(
          ["apply", "--server-side", "-f", "-"],
          readFileSync(join(REPO, "crds", `${crdName(def)}.yaml`), "utf8"),
        );
      }
      await k(["wait", "--for=condition=Established", "--timeout=30s", ...CRDS.map((d) => `crd/${crdName(d)}`)]);
      for (const def of CRDS) {
        const crd = await getJson(["get", "crd", crdName(def)]);
        const conditions = (crd["status"] as { conditions: { type: string; status: string; message: string }[] })
          .conditions;
        expect(conditions.find((c) => c.type === "NonStructuralSchema")).toBeUndefined();
        expect(conditions.find((c) => c.type === "NamesAccepted")?.status).toBe("True");
      }
      // Short names resolve through discovery.
      expect(await k(["get", "kc,kt,ku", "-n", NS, "-o", "name"])).toBe("");
    }),
  );

  it(
    "accepts a minimal KafkaCluster and fills the schema's defaults",
    track(async () => {
      await k(["create", "-f", "-"], cluster("dev", {}));
      const got = await getJson(["get", "kafkacluster", "dev", "-n", NS]);
      expect(got["spec"]).toEqual({
        replicas: 3,
        controller: { mode: "combined" },
        listeners: { internal: { port: 9092 } },
        storage: { type: "ephemeral" },
        metrics: { enabled: true, port: 9404 },
      });
    }),
  );

  it(
    "accepts a full production-like KafkaCluster unchanged",
    track(async () => {
      const spec = {
        version: "0.1.0",
        replicas: 3,
        controller: { mode: "dedicated", replicas: 3 },
        listeners: { internal: { port: 9092 }, external: { type: "NodePort", port: 9094, nodePortBase: 31000 } },
        storage: { type: "persistent-claim", size: "100Gi", class: "standard", deleteClaim: false },
        resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "2Gi" } },
        config: { "num.partitions": 3, "auto.create.topics.enable": false, "log.retention.hours": "168" },
        rack: { topologyKey: "topology.kubernetes.io/zone" },
        template: {
          pod: {
            labels: { team: "streaming" },
            affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
            tolerations: [{ key: "dedicated", operator: "Equal", value: "kafka", effect: "NoSchedule" }],
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule" },
            ],
          },
        },
        metrics: { enabled: true, port: 9404 },
        podDisruptionBudget: { maxUnavailable: 1 },
      };
      await k(["create", "-f", "-"], cluster("prod", spec));
      const got = await getJson(["get", "kc", "prod", "-n", NS]);
      expect(got["spec"]).toEqual(spec);
    }),
  );

  it(
    "refuses invalid KafkaClusters with the schema's messages",
    track(async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [
          { replicas: 0 },
          /spec\.replicas: Invalid value: 0: spec\.replicas in body should be greater than or equal to 1/,
        ],
        [
          { replicas: "three" },
          /spec\.replicas: Invalid value: "string": spec\.replicas in body must be of type integer/,
        ],
        [{ storage: { type: "persistent-claim", size: "ten gigs" } }, /spec\.storage\.size in body should match/],
        [{ storage: { type: "persistent-claim" } }, /storage\.size is required with type: persistent-claim/],
        [{ storage: { type: "tmpfs" } }, /spec\.storage\.type: Unsupported value: "tmpfs"/],
        [{ version: "0.1.0", image: "x/broker:1" }, /set version or image, not both/],
        [{ rollingUpdate: { maxParallelSameRack: 2 } }, /rollingUpdate\.maxParallelSameRack above 1 needs spec\.rack/],
        [
          { rollingUpdate: { maxParallelSameRack: 0 } },
          /maxParallelSameRack in body should be greater than or equal to 1/,
        ],
        [{ controller: { mode: "dedicated", replicas: 2 } }, /controller\.replicas must be set to an odd number/],
        [{ controller: { replicas: 3 } }, /controller\.replicas is only valid with mode: dedicated/],
        [{ listeners: { external: { type: "ClusterIP" } } }, /spec\.listeners\.external\.type: Unsupported value/],
        [{ config: Object.fromEntries(Array.from({ length: 513 }, (_, i) => [`k${i}`, i])) }, /spec\.config: Too many/],
        // Ports that would collide in the Services or the pod: every listener, metrics and the controller port (9093).
        [
          { listeners: { internal: { port: 9093 } } },
          /listeners\.internal\.port must not be 9093: the operator serves/,
        ],
        [{ listeners: { external: { type: "NodePort", port: 9093 } } }, /listeners\.external\.port must not be 9093/],
        [{ metrics: { port: 9093 } }, /metrics\.port must not be 9093/],
        [
          { listeners: { external: { type: "LoadBalancer", port: 9404 } } },
          /metrics\.port must differ from listeners\.external\.port/,
        ],
        [
          { listeners: { internal: { port: 9094 }, external: { type: "NodePort" } } },
          /listeners\.internal\.port and listeners\.external\.port must differ/,
        ],
        [{ metrics: { port: 9092 } }, /metrics\.port must differ from listeners\.internal\.port/],
      ];
      for (const [spec, message] of cases) {
        expect(await refused(k(["create", "-f", "-"], cluster("bad", spec)))).toMatch(message);
      }
    }),
  );

  it(
    "refuses changes to immutable fields (CEL transition rules) and allows the rest",
    track(async () => {
      const patch = (name: string, body: unknown) =>
        k(["patch", "kc", name, "-n", NS, "--type=merge", "-p", JSON.stringify(body)]);
      expect(await refused(patch("dev", { spec: { storage: { type: "persistent-claim", size: "1Gi" } } }))).toMatch(
        /storage\.type is immutable/,
      );
      expect(await refused(patch("prod", { spec: { controller: { mode: "combined", replicas: null } } }))).toMatch(
        /controller\.mode is immutable/,
      );
      expect(await refused(patch("prod", { spec: { storage: { class: "other" } } }))).toMatch(
        /storage\.class is immutable/,
      );
      // Removing or adding the class changes the claim template as much as replacing it.
      expect(await refused(patch("prod", { spec: { storage: { class: null } } }))).toMatch(
        /storage\.class is immutable, and cannot be added or removed after creation/,
      );
      await k(["create", "-f", "-"], cluster("classless", { storage: { type: "persistent-claim", size: "1Gi" } }));
      expect(await refused(patch("classless", { spec: { storage: { class: "fast" } } }))).toMatch(
        /storage\.class is immutable, and cannot be added or removed after creation/,
      );
      await patch("classless", { spec: { storage: { deleteClaim: true } } });
      // The size may change either way at admission; the reconciler holds a change back with a Warning.
      await patch("prod", { spec: { storage: { size: "50Gi" } } });
      await patch("prod", { spec: { storage: { size: "200Gi" } } });
      const got = await getJson(["get", "kc", "prod", "-n", NS]);
      expect((got["spec"] as { storage: { size: string } }).storage.size).toBe("200Gi");
    }),
  );

  it(
    "scales through the scale subresource (kubectl scale) and reads status back through it",
    track(async () => {
      await k(["scale", "kafkacluster/dev", "-n", NS, "--replicas=5"]);
      const got = await getJson(["get", "kc", "dev", "-n", NS]);
      expect((got["spec"] as { replicas: number }).replicas).toBe(5);
      expect(await refused(k(["scale", "kafkacluster/dev", "-n", NS, "--replicas=0"]))).toMatch(
        /greater than or equal to 1/,
      );
      // The operator writes status.replicas and status.selector; the scale subresource reports them (autoscalers).
      const status = { status: { replicas: 5, readyReplicas: 4, selector: "app.kubernetes.io/instance=dev" } };
      await k(["patch", "kc", "dev", "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify(status)]);
      const raw = await k(["get", "--raw", `/apis/tributary.dev/v1alpha1/namespaces/${NS}/kafkaclusters/dev/scale`]);
      const scale = JSON.parse(raw) as Record<string, unknown>;
      expect(scale["spec"]).toEqual({ replicas: 5 });
      expect(scale["status"]).toEqual({ replicas: 5, selector: "app.kubernetes.io/instance=dev" });
    }),
  );

  it(
    "shows the printer columns",
    track(async () => {
      const table = await k(["get", "kc", "-n", NS]);
      expect(table.split("\n")[0]).toMatch(/^NAME\s+REPLICAS\s+VERSION\s+READY\s+AGE$/);
      expect(table).toMatch(/prod\s+3\s+0\.1\.0\s+/);
    }),
  );

  it(
    "accepts every example in manifests/examples",
    track(async () => {
      await k(["create", "namespace", "examples"]);
      const dir = join(REPO, "manifests", "examples");
      for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
        await k(["create", "-n", "examples", "-f", "-"], readFileSync(join(dir, file), "utf8"));
      }
      const names = await k(["get", "kc,kt,ku", "-n", "examples", "-o", "name"]);
      expect(names.trim().split("\n").sort()).toEqual([
        "kafkacluster.tributary.dev/dev",
        "kafkacluster.tributary.dev/production",
        "kafkatopic.tributary.dev/orders",
        "kafkauser.tributary.dev/orders-reader",
      ]);
    }),
  );

  it(
    "applies manifests/install.yaml server-side (Namespace, CRDs, RBAC, Deployment)",
    track(async () => {
      await k(["apply", "--server-side", "-f", "-"], readFileSync(join(REPO, "manifests", "install.yaml"), "utf8"));
      const names = await k([
        "get",
        "deployment,serviceaccount,role,rolebinding",
        "-n",
        "tributary-system",
        "-o",
        "name",
      ]);
      expect(names).toContain("deployment.apps/tributary-operator");
      expect(names).toContain("serviceaccount/tributary-operator");
      expect(names).toContain("role.rbac.authorization.k8s.io/tributary-operator-leader-election");
      // The operator's ServiceAccount may do what the reconciler needs, and no more.
      const can = (verb: string, what: string, ns = "default") =>
        // `kind/x` would ask about the object named x: subresources need --subresource.
        k([
          ...["auth", "can-i", verb, what.split("/")[0] ?? what, "-n", ns],
          ...(what.includes("/") ? ["--subresource", what.split("/")[1] ?? ""] : []),
          ...["--as", "system:serviceaccount:tributary-system:tributary-operator"],
        ])
          .then((out) => out.trim())
          // kubectl auth can-i prints "no" and exits 1; the harness reports that as an Error caused by code 1.
          .catch((error: unknown) =>
            error instanceof Error && (error.cause as { code?: unknown } | undefined)?.code === 1
              ? "no"
              : String(error),
          );
      // What the operator uses: yes. Everything else, above all any write to our kinds' spec: no.
      const expected: [verb: string, what: string, answer: "yes" | "no", ns?: string][] = [
        ["get", "kafkaclusters.tributary.dev", "yes"],
        ["list", "kafkatopics.tributary.dev", "yes"],
        ["watch", "kafkausers.tributary.dev", "yes"],
        ["patch", "kafkaclusters.tributary.dev/status", "yes"],
        ["patch", "kafkatopics.tributary.dev/status", "yes"],
        ["patch", "kafkatopics.tributary.dev", "yes"],
        ["update", "kafkaclusters.tributary.dev/finalizers", "yes"],
        ["create", "statefulsets.apps", "yes"],
        ["patch", "services", "yes"],
        ["delete", "services", "yes"],
        ["delete", "configmaps", "no"],
        ["delete", "serviceaccounts", "no"],
        ["watch", "configmaps", "yes"],
        ["patch", "poddisruptionbudgets.policy", "yes"],
        ["delete", "pods", "yes"],
        ["delete", "statefulsets.apps", "yes"],
        ["watch", "persistentvolumeclaims", "yes"],
        ["patch", "persistentvolumeclaims", "yes"],
        ["get", "storageclasses.storage.k8s.io", "yes"],
        ["create", "events", "yes"],
        ["update", "leases.coordination.k8s.io", "yes", "tributary-system"],
        ...["patch", "update", "create", "delete"].flatMap((verb) =>
          ["kafkaclusters", "kafkatopics", "kafkausers"]
            .filter((kind) => !(verb === "patch" && kind === "kafkatopics"))
            .map((kind) => [verb, `${kind}.tributary.dev`, "no"] as [string, string, "no"]),
        ),
        ["update", "kafkaclusters.tributary.dev/status", "no"],
        ["patch", "kafkausers.tributary.dev/status", "no"],
        ["update", "kafkausers.tributary.dev/finalizers", "no"],
        ["update", "services", "no"],
        ["get", "secrets", "no"],
        ["create", "persistentvolumeclaims", "no"],
        ["delete", "persistentvolumeclaims", "no"],
        ["update", "persistentvolumeclaims", "no"],
        ["list", "storageclasses.storage.k8s.io", "no"],
        ["patch", "storageclasses.storage.k8s.io", "no"],
        ["get", "persistentvolumes", "no"],
        // Nodes: read only, cluster-wide (drains.ts).
        ["list", "nodes", "yes"],
        ["watch", "nodes", "yes"],
        ["get", "nodes", "yes"],
        ["patch", "nodes", "no"],
        ["update", "nodes", "no"],
        ["delete", "nodes", "no"],
        ["create", "pods", "no"],
        ["patch", "events", "no"],
        ["update", "leases.coordination.k8s.io", "no", "default"],
        ["create", "clusterroles.rbac.authorization.k8s.io", "no"],
      ];
      const answers: string[] = [];
      for (const [verb, what, , ns] of expected) answers.push(await can(verb, what, ns));
      expect(
        expected.map(
          ([verb, what, , ns], i) => `${verb} ${what}${ns === undefined ? "" : ` in ${ns}`}: ${answers[i] ?? ""}`,
        ),
      ).toEqual(
        expected.map(([verb, what, answer, ns]) => `${verb} ${what}${ns === undefined ? "" : ` in ${ns}`}: ${answer}`),
      );
    }),
  );

  it(
    "validates KafkaTopic and KafkaUser",
    track(async () => {
      const topic = (name: string, spec: unknown) =>
        JSON.stringify({
          apiVersion: "tributary.dev/v1alpha1",
          kind: "KafkaTopic",
          metadata: { name, namespace: NS },
          spec,
        });
      await k(
        ["create", "-f", "-"],
        topic("orders", { clusterRef: { name: "dev" }, partitions: 6, config: { "retention.ms": 1000 } }),
      );
      expect(
        await refused(k(["create", "-f", "-"], topic("bad", { clusterRef: { name: "dev" }, partitions: 0 }))),
      ).toMatch(/spec\.partitions/);
      expect(
        await refused(k(["patch", "kt", "orders", "-n", NS, "--type=merge", "-p", '{"spec":{"partitions":3}}'])),
      ).toMatch(/partitions may grow but never shrink/);
      expect(
        await refused(
          k(["patch", "kt", "orders", "-n", NS, "--type=merge", "-p", '{"spec":{"clusterRef":{"name":"prod"}}}']),
        ),
      ).toMatch(/clusterRef is immutable/);
      const user = JSON.stringify({
        apiVersion: "tributary.dev/v1alpha1",
        kind: "KafkaUser",
        metadata: { name: "app", namespace: NS },
        spec: {
          clusterRef: { name: "dev" },
          authentication: { type: "scram-sha-512" },
          authorization: {
            type: "simple",
            acls: [{ resource: { type: "topic", name: "orders" }, operations: ["Read"] }],
          },
        },
      });
      await k(["create", "-f", "-"], user);
      const got = await getJson(["get", "ku", "app", "-n", NS]);
      expect((got["spec"] as { authorization: { acls: unknown[] } }).authorization.acls[0]).toEqual({
        resource: { type: "topic", name: "orders", patternType: "literal" },
        operations: ["Read"],
        host: "*",
        type: "allow",
      });
    }),
  );

  it(
    "accepts the KEDA example of docs/operator.md as a ScaledObject of KEDA 2.21.1's CRD, and refuses what it does not declare",
    track(async () => {
      await k(["apply", "--server-side", "-f", "-"], kedaScaledObjectCrd());
      await k(["wait", "--for=condition=Established", "--timeout=30s", "crd/scaledobjects.keda.sh"]);
      const example = { ...kedaExample(), metadata: { ...kedaExample().metadata, namespace: NS } };
      // Server-side apply types the object by the schema: a field it does not declare is refused, never pruned.
      const apply = (obj: object) =>
        k(
          ["apply", "--server-side", "--validate=strict", "--field-manager=keda-example", "-f", "-"],
          JSON.stringify(obj),
        );
      await apply(example);
      const got = await getJson(["get", "scaledobject.keda.sh", example.metadata.name, "-n", NS]);
      expect(got["spec"]).toEqual(example.spec);
      // The same check refuses what KEDA's schema does not allow.
      expect(await refused(apply({ ...example, spec: { ...example.spec, minReplicas: 3 } }))).toMatch(
        /\.spec\.minReplicas: field not declared in schema/,
      );
      const [trigger] = example.spec.triggers;
      const numeric = { ...trigger, metadata: { ...trigger?.metadata, lagThreshold: 100000 } };
      expect(await refused(apply({ ...example, spec: { ...example.spec, triggers: [numeric] } }))).toMatch(
        /\.spec\.triggers\[0\]\.metadata\.lagThreshold: expected string/,
      );
    }),
  );
});
