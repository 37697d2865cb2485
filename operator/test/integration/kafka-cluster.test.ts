// The operator, compiled and run as its own process, against a real kube-apiserver + etcd (tier "api" from
// e2e/src/cluster): CRDs from crds/, a KafkaCluster and every object it owns, status and conditions, a spec change,
// the one-pod-at-a-time roller (pods are created by the test: tier 1 has no controllers or kubelet), a refused spec,
// a restart without churn, and deletion. Tier 1 has no garbage collector, so deletion checks the owner references GC
// relies on. The operator authenticates as the chart's ServiceAccount with the chart's RBAC, so every test also proves
// the RBAC suffices. Prints reconcile latency percentiles and the operator's RSS (recorded in docs/operator.md). The
// Argo CD health checks of docs/argocd.md are run on the statuses it writes (starting, Ready, refused).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { KINDS, KubeClient, LeaderElector, type KubeObject } from "../../src/kube/index.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { argocdHealthOf } from "../docs/argocd.ts";
import {
  conditions,
  eventsAbout,
  eventually,
  getJson,
  listJson,
  metricValue,
  OPERATOR_NAMESPACE,
  percentile,
  startOperator,
  useOperatorSuite,
  type Obj,
  type OperatorProcess,
} from "./harness.ts";

const NS = "kafka-it";
const HASH = "tributary.dev/config-hash";
const MANUAL = "tributary.dev/manual-rolling-update";
/**
 * Tier api runs no pods, so no broker answers: the restart gates would hold every roll (SafetyUnknown) and dynamic
 * configs could not be applied. These rolls go by pod readiness alone; roll-gates.test.ts, reconciler.test.ts and the
 * e2e roll cover the talking to brokers.
 */
const NO_CLUSTER_ADMIN = { TRIBUTARY_CLUSTER_ADMIN: "false" };
/** Every object the operator creates for KafkaCluster "demo". */
const OWNED = [
  ["statefulset", "demo-broker"],
  ["service", "demo-kafka-brokers"],
  ["service", "demo-kafka-bootstrap"],
  ["configmap", "demo-kafka-config"],
  ["poddisruptionbudget", "demo-kafka"],
  ["serviceaccount", "demo-kafka"],
] as const;

describe("KafkaCluster reconciler against a real API server (tier api)", () => {
  const suite = useOperatorSuite(
    { beforeAll, afterAll, afterEach },
    {
      tier: "api",
      namespace: NS,
      identity: "operator-1",
      prepare: () => Promise.resolve(NO_CLUSTER_ADMIN),
    },
  );
  const c = suite.cluster;
  const op = suite.operator;
  const kc = (name: string): Promise<Obj | undefined> => getJson(c(), ["kafkacluster", name, "-n", NS]);
  let client: KubeClient | undefined;
  const api = (): KubeClient => {
    client ??= KubeClient.fromKubeconfig(c().kubeconfig);
    return client;
  };
  afterAll(() => client?.close());
  const apply = (obj: object): Promise<string> =>
    c().kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(obj));
  /** A merge patch of a KafkaCluster's spec, as a user would make it. */
  const patchSpec = (name: string, spec: object): Promise<string> =>
    c().kubectl(["patch", "kafkacluster", name, "-n", NS, "--type=merge", "-p", JSON.stringify({ spec })]);

  /** Deletes a KafkaCluster and what GC would delete with it (tier 1 has no garbage collector). */
  const removeCluster = async (name: string): Promise<void> => {
    await c().kubectl(["delete", "kafkacluster", name, "-n", NS, "--wait=true"]);
    await c().kubectl([
      "delete",
      "statefulsets,services,configmaps,poddisruptionbudgets,serviceaccounts",
      "-n",
      NS,
      "-l",
      `tributary.dev/cluster=${name}`,
    ]);
  };
  const claimSize = async (sts: string): Promise<string | undefined> =>
    (
      (await getJson(c(), ["statefulset", sts, "-n", NS]))?.spec as
        { volumeClaimTemplates?: { spec: { resources: { requests: { storage: string } } } }[] } | undefined
    )?.volumeClaimTemplates?.[0]?.spec.resources.requests.storage;

  it("becomes ready once it holds the lease and its caches have synced", async () => {
    // The operator authenticates as the chart's ServiceAccount, with the chart's RBAC (manifests/install.yaml).
    expect(
      await c().kubectl([
        "auth",
        "whoami",
        `--kubeconfig=${suite.kubeconfig()}`,
        "-o",
        "jsonpath={.status.userInfo.username}",
      ]),
    ).toBe("system:serviceaccount:tributary-system:tributary-operator");
    await eventually("/readyz 200", async () => ((await op().get("/readyz"))[0] === 200 ? true : undefined));
    expect((await op().get("/healthz"))[0]).toBe(200);
    const lease = await getJson(c(), ["lease", "tributary-operator", "-n", OPERATOR_NAMESPACE]);
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe("operator-1");
  });

  let standby: OperatorProcess | undefined;
  afterAll(async () => {
    await standby?.stop();
  });

  it("runs a second replica as a ready standby that does not reconcile", async () => {
    standby = await startOperator(suite.main(), {
      kubeconfig: suite.kubeconfig(),
      identity: "operator-standby",
      logFile: join(suite.scratch, "operator-standby.log"),
      env: NO_CLUSTER_ADMIN,
    });
    const sb = standby;
    await eventually("standby /readyz 200", async () => ((await sb.get("/readyz"))[0] === 200 ? true : undefined));
    expect(sb.logs().some((l) => l["msg"] === "Acquired leadership")).toBe(false);
  });

  it("creates every owned object with a controller owner reference", async () => {
    const created = Date.now();
    await apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "demo", namespace: NS },
      spec: { replicas: 3, config: { "num.partitions": 3 } },
    });
    const demo = await eventually("status.observedGeneration 1", async () => {
      const o = await kc("demo");
      return o?.status?.["observedGeneration"] === 1 ? o : undefined;
    });
    console.log(`create → status observed: ${Date.now() - created} ms`);
    for (const [kind, name] of OWNED) {
      const obj = await getJson(c(), [kind, name, "-n", NS]);
      expect(obj, `${kind}/${name}`).toBeDefined();
      expect(obj?.metadata.ownerReferences).toEqual([
        {
          apiVersion: "tributary.dev/v1alpha1",
          kind: "KafkaCluster",
          name: "demo",
          uid: demo.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    const sts = await getJson(c(), ["statefulset", "demo-broker", "-n", NS]);
    expect(sts?.spec?.["updateStrategy"]).toEqual({ type: "OnDelete" });
    expect(sts?.spec?.["replicas"]).toBe(3);
    const cm = await getJson(c(), ["configmap", "demo-kafka-config", "-n", NS]);
    expect(Object.keys(cm?.data ?? {}).sort()).toEqual([0, 1, 2].map((i) => `demo-broker-${i}.properties`));
    expect(cm?.data?.["demo-broker-1.properties"]).toContain(
      "advertised.listeners=PLAINTEXT://demo-broker-1.demo-kafka-brokers.kafka-it.svc:9092",
    );
    // Only the operator's field manager owns what it applied.
    const managers = (
      JSON.parse(
        await c().kubectl(["get", "statefulset", "demo-broker", "-n", NS, "-o", "json", "--show-managed-fields"]),
      ) as {
        metadata: { managedFields: { manager: string; operation: string }[] };
      }
    ).metadata.managedFields.filter((m) => m.operation === "Apply");
    expect(managers.map((m) => m.manager)).toEqual(["tributary-operator"]);
    // The spec is the user's: the operator never wrote it.
    expect(demo.spec).toMatchObject({ replicas: 3, config: { "num.partitions": 3 } });
    const events = await eventsAbout(c(), NS, "demo");
    expect(events.map((e) => e.reason)).toContain("Created");
  });

  it("reports status and conditions: not Ready until the brokers are, then Ready", async () => {
    const before = await kc("demo");
    const cond = conditions(before);
    expect(cond["Ready"]).toMatchObject({ status: "False", reason: "PodsNotReady", observedGeneration: 1 });
    expect(cond["Reconciling"]).toMatchObject({ status: "True", reason: "WaitingForPods" });
    expect(cond["Warning"]).toMatchObject({ status: "False" });
    expect(await argocdHealthOf(before ?? { kind: "none" })).toEqual({
      status: "Progressing",
      message: "WaitingForPods: 0/3 brokers ready",
    });
    expect(before?.status).toMatchObject({
      observedGeneration: 1,
      replicas: 0,
      readyReplicas: 0,
      selector: "tributary.dev/cluster=demo,app.kubernetes.io/component=broker",
      listeners: [
        {
          name: "internal",
          type: "ClusterIP",
          bootstrapServers: "demo-kafka-bootstrap.kafka-it.svc:9092",
          addresses: [{ host: "demo-kafka-bootstrap.kafka-it.svc", port: 9092 }],
        },
      ],
    });
    // Stand in for the StatefulSet controller (absent in tier 1): report three ready replicas.
    await c().kubectl([
      "patch",
      "statefulset",
      "demo-broker",
      "-n",
      NS,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { replicas: 3, readyReplicas: 3, availableReplicas: 3 } }),
    ]);
    const ready = await eventually("Ready=True", async () => {
      const o = await kc("demo");
      return conditions(o)["Ready"]?.status === "True" ? o : undefined;
    });
    expect(conditions(ready)["Reconciling"]).toMatchObject({ status: "False", reason: "Reconciled" });
    expect(ready.status).toMatchObject({ replicas: 3, readyReplicas: 3 });
    expect(await argocdHealthOf(ready)).toEqual({ status: "Healthy", message: "3 brokers ready" });
    // Warning stayed False the whole time: its transition time did not move.
    expect(conditions(ready)["Warning"]?.lastTransitionTime).toBe(cond["Warning"]?.lastTransitionTime);
  });

  it("refuses a spec that sets operator-owned config keys with a Warning, applying nothing", async () => {
    await apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "bad", namespace: NS },
      spec: { replicas: 1, config: { "node.id": 7, "advertised.listeners": "PLAINTEXT://x:1" } },
    });
    const bad = await eventually("Warning on bad", async () => {
      const o = await kc("bad");
      return conditions(o)["Warning"]?.status === "True" ? o : undefined;
    });
    const w = conditions(bad)["Warning"];
    expect(w?.reason).toBe("OperatorOwnedConfig");
    expect(w?.message).toContain("spec.config sets advertised.listeners, node.id, which the operator manages");
    expect(w?.message).toContain("Nothing was applied");
    const degraded = await argocdHealthOf(bad);
    expect(degraded.status).toBe("Degraded");
    expect(degraded.message).toMatch(/^OperatorOwnedConfig: spec.config sets advertised.listeners, node.id/);
    expect(bad.status?.["observedGeneration"]).toBe(1);
    expect(await getJson(c(), ["statefulset", "bad-broker", "-n", NS])).toBeUndefined();
    expect(await getJson(c(), ["configmap", "bad-kafka-config", "-n", NS])).toBeUndefined();
    const events = await eventually("Warning event", async () => {
      const list = await eventsAbout(c(), NS, "bad");
      return list.length > 0 ? list : undefined;
    });
    expect(events.map((e) => e.reason)).toEqual(["OperatorOwnedConfig"]);
  });

  it("applies a production-like spec under strict field validation (dedicated controllers, claims, NodePort)", async () => {
    await apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "prod", namespace: NS },
      spec: {
        replicas: 3,
        controller: { mode: "dedicated", replicas: 3 },
        storage: { type: "persistent-claim", size: "10Gi", class: "fast", deleteClaim: true },
        listeners: { external: { type: "NodePort", nodePortBase: 31000, host: "kafka.example.com" } },
        rack: { topologyKey: "topology.kubernetes.io/zone" },
        resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } },
        template: {
          pod: {
            labels: { team: "data" },
            tolerations: [{ key: "dedicated", operator: "Equal", value: "kafka", effect: "NoSchedule" }],
            priorityClassName: "kafka",
          },
        },
      },
    });
    const prod = await eventually("prod reconciled", async () => {
      const o = await kc("prod");
      return o?.status?.["observedGeneration"] === 1 ? o : undefined;
    });
    expect(conditions(prod)["Warning"]).toMatchObject({ status: "False" });
    const names = (
      await listJson(c(), [
        "statefulsets,services,configmaps,poddisruptionbudgets",
        "-n",
        NS,
        "-l",
        "tributary.dev/cluster=prod",
      ])
    )
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
    expect(names).toEqual([
      "ConfigMap/prod-kafka-config",
      "PodDisruptionBudget/prod-kafka",
      "Service/prod-broker-0-external",
      "Service/prod-broker-1-external",
      "Service/prod-broker-2-external",
      "Service/prod-kafka-bootstrap",
      "Service/prod-kafka-brokers",
      "Service/prod-kafka-external-bootstrap",
      "StatefulSet/prod-broker",
      "StatefulSet/prod-controller",
    ]);
    const sts = await getJson(c(), ["statefulset", "prod-broker", "-n", NS]);
    expect(sts?.spec).toMatchObject({
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { storageClassName: "fast" } }],
    });
    expect(prod.status?.["listeners"]).toContainEqual(
      expect.objectContaining({ name: "external", type: "NodePort", bootstrapServers: "kafka.example.com:31000" }),
    );
    // The external listener removed from the spec: its Services are pruned (prune.ts), every other object stays.
    const uids = new Map((await listJson(c(), ["statefulsets,services", "-n", NS])).map((o) => [o.metadata.name, o]));
    await patchSpec("prod", { listeners: { external: null } });
    const left = await eventually("external Services pruned", async () => {
      const now = (await listJson(c(), ["statefulsets,services", "-n", NS, "-l", "tributary.dev/cluster=prod"]))
        .map((o) => `${o.kind}/${o.metadata.name}`)
        .sort();
      return now.some((n) => n.includes("external")) ? undefined : now;
    });
    expect(left).toEqual([
      "Service/prod-kafka-bootstrap",
      "Service/prod-kafka-brokers",
      "StatefulSet/prod-broker",
      "StatefulSet/prod-controller",
    ]);
    // The same objects, not re-created ones.
    for (const o of await listJson(c(), ["statefulsets,services", "-n", NS, "-l", "tributary.dev/cluster=prod"]))
      expect(o.metadata.uid, o.metadata.name).toBe(uids.get(o.metadata.name)?.metadata.uid);
    const pruned = (await eventsAbout(c(), NS, "prod", "Deleted")).map((e) => e.message).sort();
    expect(pruned).toEqual([
      "Deleted Service/prod-broker-0-external: the spec no longer asks for it",
      "Deleted Service/prod-broker-1-external: the spec no longer asks for it",
      "Deleted Service/prod-broker-2-external: the spec no longer asks for it",
      "Deleted Service/prod-kafka-external-bootstrap: the spec no longer asks for it",
    ]);
    // Tier 1 has no garbage collector: remove what GC would, so later tests see only demo's objects.
    await removeCluster("prod");
  });

  it("refuses a storage shrink with a Warning and applies the rest of the spec", async () => {
    // Growth needs the garbage collector (orphan deletion) and claims: kafka-cluster-storage-sim.test.ts.
    await apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "disk", namespace: NS },
      spec: { replicas: 1, storage: { type: "persistent-claim", size: "2Gi" } },
    });
    await eventually("disk reconciled", async () =>
      (await kc("disk"))?.status?.["observedGeneration"] === 1 ? true : undefined,
    );
    const before = await getJson(c(), ["statefulset", "disk-broker", "-n", NS]);
    const hashOf = (o: Obj | undefined): string | undefined =>
      (o?.spec as { template: { metadata: { annotations: Record<string, string> } } } | undefined)?.template.metadata
        .annotations[HASH];
    // The CRD accepts the change (whether it is a shrink depends on the claims), claim templates are immutable.
    await patchSpec("disk", { storage: { size: "1024Mi" }, config: { "num.partitions": 5 } });
    const held = await eventually("Warning StorageShrinkRefused", async () => {
      const o = await kc("disk");
      return o?.status?.["observedGeneration"] === 2 && conditions(o)["Warning"]?.status === "True" ? o : undefined;
    });
    expect(conditions(held)["Warning"]).toMatchObject({
      reason: "StorageShrinkRefused",
      message:
        "spec.storage.size 1024Mi is smaller than the 2Gi of StatefulSet disk-broker's claims: volumes cannot " +
        "shrink, so the storage is kept as it is and the rest of the spec is applied. Set spec.storage.size to 2Gi " +
        "or more to clear this warning.",
    });
    expect(conditions(held)["Reconciling"]?.reason).not.toBe("RetryingAfterError");
    // The rest was applied: new config, new pod template hash; the claims keep their size.
    expect(await claimSize("disk-broker")).toBe("2Gi");
    const cm = await getJson(c(), ["configmap", "disk-kafka-config", "-n", NS]);
    expect(cm?.data?.["disk-broker-0.properties"]).toContain("num.partitions=5");
    expect(hashOf(await getJson(c(), ["statefulset", "disk-broker", "-n", NS]))).not.toBe(hashOf(before));
    const warned = await eventually("StorageShrinkRefused event", async () => {
      const list = await eventsAbout(c(), NS, "disk", "StorageShrinkRefused");
      return list.length > 0 ? list : undefined;
    });
    expect(warned[0]?.type).toBe("Warning");
    // Set back (2048Mi: equal by value, the API server stores 2Gi for it), the warning goes.
    await patchSpec("disk", { storage: { size: "2048Mi" } });
    const cleared = await eventually("Warning cleared", async () => {
      const o = await kc("disk");
      return o?.status?.["observedGeneration"] === 3 && conditions(o)["Warning"]?.status === "False" ? o : undefined;
    });
    expect(conditions(cleared)["Warning"]?.reason).toBe("NoWarnings");
    await removeCluster("disk");
  });

  it("turns a failure that repeats into a Warning with the API's message, retried with backoff, not on its own status writes", async () => {
    // An admission policy that refuses one Service with 403 stands in for any failure other than a refused spec (the
    // original report: a 500 for duplicate Service ports).
    const policy = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: "refuse-flaky" },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["services"] },
          ],
        },
        validations: [
          {
            expression: "object.metadata.name != 'flaky-kafka-brokers'",
            message: "the test policy refuses this Service",
            reason: "Forbidden",
          },
        ],
      },
    };
    const binding = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: "refuse-flaky" },
      spec: { policyName: "refuse-flaky", validationActions: ["Deny"] },
    };
    await apply(policy);
    await apply(binding);
    // Policies take effect asynchronously: wait until a server-side dry run is refused.
    await eventually("the policy refuses the Service", async () => {
      try {
        await c().kubectl([
          ...["create", "service", "clusterip", "flaky-kafka-brokers", "--tcp=1:1", "-n", NS],
          "--dry-run=server",
        ]);
        return undefined;
      } catch (err) {
        return String(err).includes("the test policy refuses this Service") ? true : undefined;
      }
    });
    await apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "flaky", namespace: NS },
      spec: { replicas: 1 },
    });
    const warned = await eventually("Warning ReconcileFailing", async () => {
      const o = await kc("flaky");
      return conditions(o)["Warning"]?.status === "True" ? o : undefined;
    });
    const w = conditions(warned)["Warning"];
    expect(w?.reason).toBe("ReconcileFailing");
    expect(w?.message).toMatch(
      /^applying Service\/flaky-kafka-brokers failed: PATCH \/api\/v1\/namespaces\/kafka-it\/services\/flaky-kafka-brokers: 403 .*the test policy refuses this Service/,
    );
    expect(conditions(warned)["Reconciling"]).toMatchObject({ status: "True", reason: "RetryingAfterError" });
    const events = await eventually("ReconcileFailing event", async () => {
      const list = await eventsAbout(c(), NS, "flaky", "ReconcileFailing");
      return list.length > 0 ? list : undefined;
    });
    expect(events).toHaveLength(1);
    // Backoff, not a retry per status write: from the second failure on, each pass waits longer than the last. (Before
    // the fix the operator's own status write queued the next pass at once: 24 ms between the first two failures.)
    const failedAt = (): number[] =>
      op()
        .logs()
        .filter((l) => l["msg"] === "Reconcile failed" && l["name"] === "flaky")
        .map((l) => Date.parse(String(l["time"])));
    const times = await eventually("four failed passes", () => {
      const t = failedAt();
      return Promise.resolve(t.length >= 4 ? t : undefined);
    });
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    console.log(`failed passes of flaky: gaps ${gaps.join(", ")} ms`);
    // The first gap may be short: creating the ConfigMap and ServiceAccount on the first pass queues another pass. The
    // third pass waits for the first retry (500 ms after the first failure), the fourth for the third retry (2 s after
    // the third). Without the filter, the Warning written by the second pass started the third at once (39 ms), and
    // the fourth came 0.6 s later.
    expect(gaps[1] ?? 0).toBeGreaterThanOrEqual(150);
    expect(gaps[2] ?? 0).toBeGreaterThanOrEqual(1_000);
    // Once the API server accepts the Service, the next retry succeeds and the Warning goes.
    await c().kubectl(["delete", "validatingadmissionpolicybinding", "refuse-flaky"]);
    await c().kubectl(["delete", "validatingadmissionpolicy", "refuse-flaky"]);
    const healed = await eventually(
      "Warning cleared",
      async () => {
        const o = await kc("flaky");
        return conditions(o)["Warning"]?.status === "False" ? o : undefined;
      },
      60_000,
    );
    expect(conditions(healed)["Reconciling"]).toMatchObject({ reason: "WaitingForPods" });
    expect(await getJson(c(), ["service", "flaky-kafka-brokers", "-n", NS])).toBeDefined();
    await removeCluster("flaky");
  }, 90_000);

  it("kept the standby idle while the leader worked", async () => {
    const sb = standby;
    if (sb === undefined) throw new Error("no standby");
    const [, text] = await sb.get("/metrics");
    expect(metricValue(text, "tributary_operator_reconciles_total")).toBe(0);
    expect(metricValue(text, "tributary_operator_api_requests_total", { verb: "apply" })).toBe(0);
    expect(metricValue((await op().get("/metrics"))[1], "tributary_operator_reconciles_total")).toBeGreaterThan(0);
    // A standby that never led exits cleanly and leaves the lease alone.
    expect(await sb.stop()).toBe(0);
    const lease = await getJson(c(), ["lease", "tributary-operator", "-n", OPERATOR_NAMESPACE]);
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe("operator-1");
  });

  it("restarts without churn: a new operator process writes nothing when nothing changed", async () => {
    const watched = [["kafkacluster", "demo"], ["kafkacluster", "bad"], ...OWNED] as const;
    const versions = async (): Promise<string[]> =>
      Promise.all(
        watched.map(async ([k, n]) => (await getJson(c(), [k, n, "-n", NS]))?.metadata.resourceVersion ?? "gone"),
      );
    const eventsBefore = (await listJson(c(), ["events", "-n", NS])).length;
    const before = await versions();
    const rss = op().rssMiB();
    expect(await op().stop()).toBe(0);
    // A clean stop hands the lease back.
    const lease = await getJson(c(), ["lease", "tributary-operator", "-n", OPERATOR_NAMESPACE]);
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBeUndefined();

    const started = Date.now();
    suite.setOperator(
      await startOperator(suite.main(), {
        kubeconfig: suite.kubeconfig(),
        identity: "operator-2",
        logFile: join(suite.scratch, "operator-2.log"),
        env: NO_CLUSTER_ADMIN,
      }),
    );
    // Both clusters reconciled by the new process (demo succeeds, bad is refused again).
    const metrics = await eventually("two reconciles by operator-2", async () => {
      const [, text] = await op().get("/metrics");
      return metricValue(text, "tributary_operator_reconciles_total", { kind: "KafkaCluster" }) >= 2 ? text : undefined;
    });
    console.log(
      `operator restart → both clusters reconciled: ${Date.now() - started} ms; RSS before stop ${rss.toFixed(1)} MiB`,
    );
    expect(await versions()).toEqual(before);
    expect(metricValue(metrics, "tributary_operator_api_requests_total", { verb: "patch-status" })).toBe(0);
    expect(metricValue(metrics, "tributary_operator_api_requests_total", { verb: "delete" })).toBe(0);
    expect((await listJson(c(), ["events", "-n", NS])).length).toBe(eventsBefore);
  });

  const podNames = async (): Promise<string[]> =>
    (await listJson(c(), ["pods", "-n", NS, "-l", "tributary.dev/cluster=demo"])).map((p) => p.metadata.name).sort();
  const template = async (): Promise<{ hash: string; image: string; manual: string | undefined }> => {
    const sts = await getJson(c(), ["statefulset", "demo-broker", "-n", NS]);
    const t = (
      sts?.spec as {
        template: { metadata: { annotations: Record<string, string> }; spec: { containers: { image: string }[] } };
      }
    ).template;
    return {
      hash: t.metadata.annotations[HASH] ?? "",
      image: t.spec.containers[0]?.image ?? "",
      manual: t.metadata.annotations[MANUAL],
    };
  };
  // Stand in for the StatefulSet controller and kubelet (absent in tier 1): create a pod as the StatefulSet would,
  // with the hash it was created from, then mark it Ready.
  const createPod = async (
    i: number,
    podHash: string,
    image: string,
    manual?: string,
    nodeName?: string,
  ): Promise<void> => {
    await c().kubectl(
      ["create", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `demo-broker-${i}`,
          namespace: NS,
          labels: {
            "tributary.dev/cluster": "demo",
            "app.kubernetes.io/component": "broker",
            "app.kubernetes.io/managed-by": "tributary-operator",
          },
          annotations: { [HASH]: podHash, ...(manual === undefined ? {} : { [MANUAL]: manual }) },
        },
        spec: {
          serviceAccountName: "demo-kafka",
          automountServiceAccountToken: false,
          containers: [{ name: "kafka", image }],
          ...(nodeName === undefined ? {} : { nodeName }),
        },
      }),
    );
    await c().kubectl([
      "patch",
      "pod",
      `demo-broker-${i}`,
      "-n",
      NS,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { conditions: [{ type: "Ready", status: "True" }] } }),
    ]);
  };

  it("leaves current Ready pods alone", async () => {
    const { hash, image } = await template();
    for (const i of [0, 1, 2]) await createPod(i, hash, image);
    const passes = async (): Promise<number> =>
      metricValue((await op().get("/metrics"))[1], "tributary_operator_reconciles_total", { kind: "KafkaCluster" });
    const before = await passes();
    // Pod events queue the cluster: wait for passes that saw the pods, then check none was restarted.
    await eventually("passes after the pods appeared", async () => ((await passes()) >= before + 2 ? true : undefined));
    expect(await podNames()).toEqual(["demo-broker-0", "demo-broker-1", "demo-broker-2"]);
    expect(conditions(await kc("demo"))["Ready"]?.status).toBe("True");
  });

  const order: string[] = [];
  let fewest = 3;

  it("applies a spec change: new config rendered, pod template hash changed, status observes the generation", async () => {
    const old = await template();
    await patchSpec("demo", { config: { "num.partitions": 6 } });
    await eventually("observedGeneration 2", async () =>
      (await kc("demo"))?.status?.["observedGeneration"] === 2 ? true : undefined,
    );
    const cm = await getJson(c(), ["configmap", "demo-kafka-config", "-n", NS]);
    expect(cm?.data?.["demo-broker-0.properties"]).toContain("num.partitions=6");
    const now = await template();
    expect(now.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(now.hash).not.toBe(old.hash);
    expect(now.image).toBe(old.image);
  });

  it("rolls the stale pods one at a time, highest ordinal first, each after the others are Ready", async () => {
    const { hash, image } = await template();
    for (let round = 0; round < 3; round++) {
      const remaining = await eventually(`a pod restarted (round ${round + 1})`, async () => {
        const names = await podNames();
        fewest = Math.min(fewest, names.length);
        return names.length === 2 && !order.some((done) => !names.includes(done)) ? names : undefined;
      });
      const gone = [0, 1, 2].map((i) => `demo-broker-${i}`).find((n) => !remaining.includes(n)) ?? "";
      order.push(gone);
      if (round === 0) {
        // The dry-run plan in the status: the pods still to go, in order, and what the next one waits for.
        const plan = await eventually("the roll plan in the status", async () => {
          const steps = (await kc("demo"))?.status?.["rollPlan"] as
            { pod: string; state: string; blockedBy?: string[] }[] | undefined;
          return steps?.length === 2 && steps[0]?.blockedBy?.[0]?.includes("not created") === true ? steps : undefined;
        });
        expect(plan.map((step) => [step.pod, step.state])).toEqual([
          ["demo-broker-1", "Next"],
          ["demo-broker-0", "Queued"],
        ]);
        expect(plan[1]?.blockedBy).toEqual(["waits for demo-broker-1"]);
      }
      // While the replacement is not Ready, nothing else may go.
      await createPod(Number(gone.slice(-1)), hash, image);
    }
    expect(order).toEqual(["demo-broker-2", "demo-broker-1", "demo-broker-0"]);
    expect(fewest).toBe(2);
    const settled = await eventually("Reconciling=False after the roll", async () => {
      const o = await kc("demo");
      return conditions(o)["Reconciling"]?.reason === "Reconciled" ? o : undefined;
    });
    expect(conditions(settled)["Ready"]?.status).toBe("True");
    expect(await podNames()).toEqual(["demo-broker-0", "demo-broker-1", "demo-broker-2"]);
    const restarts = await eventsAbout(c(), NS, "demo", "RestartingPod");
    expect(restarts.length).toBe(3);
  });

  it("rolls every pod for a new manual-rolling-update annotation, passing over a held pod until it is released", async () => {
    await c().kubectl(["annotate", "pod", "demo-broker-1", "-n", NS, "tributary.dev/roll-hold=true"]);
    await c().kubectl(["annotate", "kafkacluster", "demo", "-n", NS, `${MANUAL}=r1`]);
    const stamped = await eventually("the token on the pod template", async () => {
      const t = await template();
      return t.manual === "r1" ? t : undefined;
    });
    const gone: string[] = [];
    for (const expected of ["demo-broker-2", "demo-broker-0"]) {
      const names = await eventually(`${expected} restarted`, async () => {
        const now = await podNames();
        return now.length === 2 ? now : undefined;
      });
      const missing = ["demo-broker-0", "demo-broker-1", "demo-broker-2"].find((n) => !names.includes(n)) ?? "";
      gone.push(missing);
      await createPod(Number(missing.slice(-1)), stamped.hash, stamped.image, "r1");
    }
    expect(gone).toEqual(["demo-broker-2", "demo-broker-0"]);
    // Only the held pod is left stale: Ready, the roll shown as held, nothing deleted.
    const held = await eventually("RollHeld", async () => {
      const o = await kc("demo");
      return conditions(o)["Reconciling"]?.reason === "RollHeld" && conditions(o)["Ready"]?.status === "True"
        ? o
        : undefined;
    });
    expect(held?.status?.["rollPlan"]).toEqual([
      {
        pod: "demo-broker-1",
        reason: "manual rolling update requested",
        state: "Held",
        blockedBy: ["held by the tributary.dev/roll-hold annotation"],
      },
    ]);
    expect(await podNames()).toEqual(["demo-broker-0", "demo-broker-1", "demo-broker-2"]);
    await c().kubectl(["annotate", "pod", "demo-broker-1", "-n", NS, "tributary.dev/roll-hold-"]);
    await eventually("demo-broker-1 restarted once released", async () =>
      (await podNames()).includes("demo-broker-1") ? undefined : true,
    );
    await createPod(1, stamped.hash, stamped.image, "r1");
    const done = await eventually("Reconciled after the manual roll", async () => {
      const o = await kc("demo");
      return conditions(o)["Reconciling"]?.reason === "Reconciled" ? o : undefined;
    });
    expect(done?.status?.["rollPlan"]).toBeUndefined();
  });

  it("moves a pod off a cordoned node with its own restart (no eviction needed), then leaves it alone", async () => {
    const { hash, image } = await template();
    const node = { apiVersion: "v1", kind: "Node", metadata: { name: "drained-node" }, spec: { unschedulable: true } };
    await c().kubectl(["create", "-f", "-"], JSON.stringify(node));
    // The pod lands on the cordoned node (tier 1 has no scheduler: spec.nodeName is set directly).
    await c().kubectl(["delete", "pod", "demo-broker-0", "-n", NS]);
    await createPod(0, hash, image, "r1", "drained-node");
    // A pod bound to a node waits for its kubelet to confirm the deletion (tier 1 has none): the deletion is the move.
    await eventually("demo-broker-0 deleted to move it off the cordoned node", async () => {
      const pod = await getJson(c(), ["pod", "demo-broker-0", "-n", NS]);
      return pod === undefined || (pod.metadata as { deletionTimestamp?: string }).deletionTimestamp !== undefined
        ? true
        : undefined;
    });
    await eventually("a RestartingPod event naming the cordoned node", async () =>
      (await eventsAbout(c(), NS, "demo", "RestartingPod")).some((e) =>
        e.message.includes("node drained-node is cordoned (drained)"),
      )
        ? true
        : undefined,
    );
    // Elsewhere, it is current: nothing more restarts.
    await c().kubectl(["delete", "pod", "demo-broker-0", "-n", NS, "--grace-period=0", "--force"]);
    await createPod(0, hash, image, "r1");
    await eventually("Reconciled after the move", async () => {
      const o = await kc("demo");
      return conditions(o)["Reconciling"]?.reason === "Reconciled" ? o : undefined;
    });
    expect(await podNames()).toEqual(["demo-broker-0", "demo-broker-1", "demo-broker-2"]);
    await c().kubectl(["delete", "node", "drained-node"]);
  });

  it("records reconcile latency: spec change to observed status, and pass durations from the operator's logs", async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const patch = JSON.stringify({ spec: { config: { "log.retention.hours": 100 + i } } });
      const patched = JSON.parse(
        await c().kubectl(["patch", "kafkacluster", "demo", "-n", NS, "--type=merge", "-p", patch, "-o", "json"]),
      ) as Obj;
      // Measured from kubectl's return (the change is stored by then), polling the API directly every 10 ms.
      const t0 = performance.now();
      const gen = patched.metadata.generation ?? 0;
      await eventually(
        `observedGeneration ${gen}`,
        async () => {
          const o = await api().get<Obj & KubeObject>(KINDS.KafkaCluster, NS, "demo");
          return ((o?.status?.["observedGeneration"] as number | undefined) ?? 0) >= gen ? true : undefined;
        },
        30_000,
        10,
      );
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const passes = op()
      .logs()
      .filter((l) => l["msg"] === "Reconciled" && typeof l["durationMs"] === "number")
      .map((l) => l["durationMs"] as number)
      .sort((a, b) => a - b);
    expect(passes.length).toBeGreaterThan(20);
    const fmt = (xs: number[]): string =>
      [50, 90, 99].map((p) => `p${p} ${percentile(xs, p).toFixed(1)} ms`).join(", ");
    console.log(`FIGURE spec change → status observed: ${fmt(latencies)} (n=${latencies.length})`);
    console.log(`FIGURE reconcile pass duration: ${fmt(passes)} (n=${passes.length})`);
    console.log(`FIGURE operator RSS: ${op().rssMiB().toFixed(1)} MiB`);
    expect(percentile(passes, 50)).toBeLessThan(5_000);
  }, 120_000);

  it("on delete leaves objects that name the deleted owner (tier 1 has no garbage collector) and does not re-create", async () => {
    const demo = await kc("demo");
    const passesBefore = metricValue((await op().get("/metrics"))[1], "tributary_operator_reconciles_total", {
      kind: "KafkaCluster",
    });
    await c().kubectl(["delete", "kafkacluster", "demo", "-n", NS, "--wait=true"]);
    const owned = await listJson(c(), [
      "statefulsets,services,configmaps,poddisruptionbudgets,serviceaccounts",
      "-n",
      NS,
      "-l",
      "tributary.dev/cluster=demo",
    ]);
    expect(owned.length).toBeGreaterThanOrEqual(6);
    for (const obj of owned) {
      expect(obj.metadata.ownerReferences?.[0]?.uid, `${obj.kind}/${obj.metadata.name}`).toBe(demo?.metadata.uid);
    }
    // The operator reconciles the deleted key, finds nothing to do, and re-creates nothing.
    const versions = owned.map((o) => o.metadata.resourceVersion).join(",");
    await eventually("a reconcile after the delete", async () =>
      metricValue((await op().get("/metrics"))[1], "tributary_operator_reconciles_total", { kind: "KafkaCluster" }) >
      passesBefore
        ? true
        : undefined,
    );
    const after = await listJson(c(), [
      "statefulsets,services,configmaps,poddisruptionbudgets,serviceaccounts",
      "-n",
      NS,
      "-l",
      "tributary.dev/cluster=demo",
    ]);
    expect(after.map((o) => o.metadata.resourceVersion).join(",")).toBe(versions);
    expect(await kc("demo")).toBeUndefined();
  });

  it("watches only the configured namespaces", async () => {
    expect(await op().stop()).toBe(0);
    await c().kubectl(["create", "namespace", "team-a"]);
    await c().kubectl(["create", "namespace", "team-b"]);
    suite.setOperator(
      await startOperator(suite.main(), {
        kubeconfig: suite.kubeconfig(),
        identity: "operator-3",
        logFile: join(suite.scratch, "operator-3.log"),
        env: {
          ...NO_CLUSTER_ADMIN,
          TRIBUTARY_WATCH_NAMESPACES: "team-a",
          TRIBUTARY_LEASE_NAME: "tributary-operator-team-a",
        },
      }),
    );
    const cluster = (namespace: string): object => ({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "scoped", namespace },
      spec: { replicas: 1 },
    });
    // team-b first: had it been watched, it would have been queued, and reconciled, before team-a.
    await apply(cluster("team-b"));
    await apply(cluster("team-a"));
    await eventually("team-a reconciled", async () =>
      (await getJson(c(), ["kafkacluster", "scoped", "-n", "team-a"]))?.status?.["observedGeneration"] === 1
        ? true
        : undefined,
    );
    expect(await getJson(c(), ["statefulset", "scoped-broker", "-n", "team-a"])).toBeDefined();
    expect((await getJson(c(), ["kafkacluster", "scoped", "-n", "team-b"]))?.status).toBeUndefined();
    expect(await getJson(c(), ["statefulset", "scoped-broker", "-n", "team-b"])).toBeUndefined();
    expect(
      op()
        .logs()
        .some((l) => l["namespace"] === "team-a" && l["msg"] === "Reconciled"),
    ).toBe(true);
    expect(
      op()
        .logs()
        .some((l) => l["namespace"] === "team-b"),
    ).toBe(false);
    const lease = await getJson(c(), ["lease", "tributary-operator-team-a", "-n", OPERATOR_NAMESPACE]);
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe("operator-3");
  });

  it("hands the Lease over on release, and gives up leadership when another holder takes it", async () => {
    const logger = createLogger({ level: "silent" });
    const opts = {
      namespace: "default",
      name: "election-test",
      logger,
      leaseDurationSeconds: 2,
      renewDeadlineMs: 1_500,
      retryPeriodMs: 200,
    };
    const a = new LeaderElector(api(), { ...opts, identity: "a" });
    const b = new LeaderElector(api(), { ...opts, identity: "b" });
    const stopA = new AbortController();
    const stopB = new AbortController();
    const leading: string[] = [];
    const holder = async (): Promise<string | undefined> =>
      (
        (await getJson(c(), ["lease", "election-test", "-n", "default"]))?.spec as
          { holderIdentity?: string } | undefined
      )?.holderIdentity;
    const runA = a.run(stopA.signal, async (signal) => {
      leading.push("a");
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    });
    await eventually("a leads", async () => ((await holder()) === "a" ? true : undefined));
    let bLeading: AbortSignal | undefined;
    const runB = b.run(stopB.signal, async (signal) => {
      leading.push("b");
      bLeading = signal;
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    });
    // b waits while a keeps renewing.
    await eventually("a renewing", async () => {
      const lease = await api().get<KubeObject & { spec: { renewTime: string } }>(
        KINDS.Lease,
        "default",
        "election-test",
      );
      return lease !== undefined && Date.parse(lease.spec.renewTime) > Date.now() - 1_000 ? lease : undefined;
    });
    expect(leading).toEqual(["a"]);
    stopA.abort();
    expect(await runA).toBe("stopped");
    await eventually("b takes over after a releases", async () => ((await holder()) === "b" ? true : undefined), 5_000);
    expect(leading).toEqual(["a", "b"]);
    // Someone else takes the lease: b notices within its renew deadline and reports the loss.
    const lease = await api().get<KubeObject & { spec: Record<string, unknown> }>(
      KINDS.Lease,
      "default",
      "election-test",
    );
    if (lease === undefined) throw new Error("lease gone");
    await api().replace({ ...lease, spec: { ...lease.spec, holderIdentity: "intruder", leaseDurationSeconds: 60 } });
    expect(await runB).toBe("lost");
    expect(bLeading?.aborted).toBe(true);
    stopB.abort();
  }, 30_000);

  it("sends DeleteOptions with a delete: a uid precondition and propagationPolicy Orphan", async () => {
    // Node sends no Content-Length with a DELETE body unless told, and the API server then ignores the body.
    const first = await api().create<KubeObject>({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "delete-options", namespace: NS },
    });
    await c().kubectl(["delete", "configmap", "delete-options", "-n", NS]);
    await api().create<KubeObject>({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "delete-options", namespace: NS },
    });
    expect(await api().delete(KINDS.ConfigMap, NS, "delete-options", { uid: first.metadata.uid ?? "" })).toBe(false);
    expect(await api().delete(KINDS.ConfigMap, NS, "delete-options", { propagationPolicy: "Orphan" })).toBe(true);
    // Tier 1 has no garbage collector to carry out the orphaning, so the finalizer stays: proof the option arrived.
    const left = await getJson(c(), ["configmap", "delete-options", "-n", NS]);
    expect(left?.metadata).toMatchObject({ finalizers: ["orphan"] });
    await c().kubectl([
      "patch",
      "configmap",
      "delete-options",
      "-n",
      NS,
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    ]);
  });

  it("never met a forbidden request: the chart's RBAC covers everything the operator did", () => {
    const forbidden = readdirSync(suite.scratch)
      .filter((f) => f.endsWith(".log"))
      .flatMap((f) => readFileSync(join(suite.scratch, f), "utf8").split("\n"))
      // The admission policy of the failure test refuses flaky's Service with 403 on purpose. A 403 counts only as an
      // HTTP status (ApiError's statusCode, or "<request>: 403 <message>"), never as any number in a line such as
      // "durationMs":403.5.
      .filter((line) => /forbidden|"statusCode":403\b|: 403 /i.test(line) && !line.includes("flaky"));
    expect(forbidden).toEqual([]);
  });
});
