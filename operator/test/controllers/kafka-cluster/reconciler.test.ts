// The reconciler's decisions with a fake API client (the real API server is in operator/test/integration): colliding
// ports stored under an older CRD apply nothing, a storage size change expands the claims and re-creates the
// StatefulSet by orphan deletion (a shrink is refused while the rest is applied), a failure
// that repeats becomes a Warning with the API's message, the recorded cluster id is kept, and the roller restarts the
// active controller last.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { KafkaClusterReconciler } from "../../../src/controllers/kafka-cluster/reconciler.ts";
import { ApiError, type KubeClient, type KubeObject, type ResourceType } from "../../../src/kube/index.ts";
import { TerminalError } from "../../../src/manager/manager.ts";
import type { RollProbe } from "../../../src/kafka/roll-probe.ts";
import type { BrokerConfigClient } from "../../../src/kafka/broker-config.ts";
import type { ClusterAdmin } from "../../../src/kafka/admin-pool.ts";

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/** The part of KubeClient the KafkaCluster reconciler calls, recording writes. */
class FakeClient {
  cluster: KubeObject;
  readonly applied: KubeObject[] = [];
  statusWrites = 0;
  failApply?: (obj: KubeObject) => Error | undefined;
  readyReplicas?: number;

  constructor(spec: Record<string, unknown>) {
    this.cluster = {
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "c", namespace: "ns", uid: "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b", generation: 1 },
      spec,
    };
  }

  /** StorageClasses by name (absent: not found). */
  readonly classes = new Map<string, KubeObject>();
  readonly patched: { name: string; ops: unknown }[] = [];

  get(type: ResourceType, _ns: string | undefined, name: string): Promise<KubeObject | undefined> {
    if (type.kind === "StorageClass") return Promise.resolve(this.classes.get(name));
    return Promise.resolve(structuredClone(this.cluster));
  }

  patchJson(_type: ResourceType, _ns: string, name: string, ops: unknown): Promise<KubeObject> {
    this.patched.push({ name, ops });
    return Promise.resolve(this.cluster);
  }

  apply(obj: KubeObject): Promise<{ object: KubeObject; created: boolean }> {
    const err = this.failApply?.(obj);
    if (err !== undefined) return Promise.reject(err);
    this.applied.push(obj);
    // The StatefulSet controller's view, as the API server returns it with the applied object.
    const object =
      obj.kind === "StatefulSet" && this.readyReplicas !== undefined
        ? { ...obj, status: { replicas: this.readyReplicas, readyReplicas: this.readyReplicas } }
        : obj;
    return Promise.resolve({ object, created: false });
  }

  patchStatus(_type: ResourceType, _ns: string, _name: string, status: unknown): Promise<KubeObject> {
    this.statusWrites += 1;
    // A merge patch: the fields it sets to null are removed.
    const merged = Object.fromEntries(Object.entries(status as Record<string, unknown>).filter(([, v]) => v !== null));
    this.cluster = { ...this.cluster, status: merged };
    return Promise.resolve(this.cluster);
  }

  readonly deleted: string[] = [];

  readonly deleteOptions: unknown[] = [];

  delete(_type: ResourceType, _ns: string, name: string, options: unknown = {}): Promise<boolean> {
    this.deleted.push(name);
    this.deleteOptions.push(options);
    return Promise.resolve(true);
  }

  conditions(): Record<string, Cond> {
    const list = (this.cluster["status"] as { conditions?: Cond[] } | undefined)?.conditions ?? [];
    return Object.fromEntries(list.map((c) => [c.type, c]));
  }
}

type Lookup = (controllers: readonly string[]) => Promise<number>;

/** Stand-ins for the pooled admin clients: each carries the addresses it was asked for (the probes here are fakes). */
const fakeAdmins = {
  for: (_key: string, bootstrap: string) => ({ bootstrap }) as unknown as ClusterAdmin,
  controllers: (_key: string, addresses: readonly string[]) =>
    ({ bootstrap: addresses.join(",") }) as unknown as ClusterAdmin,
  drop: () => undefined,
};

function addressesOf(admin: object): string[] {
  return (admin as { bootstrap: string }).bootstrap.split(",");
}

function reconcilerFor(
  fake: FakeClient,
  statefulSet: (name: string) => KubeObject | undefined = () => undefined,
  more: {
    pods?: () => KubeObject[];
    claims?: () => KubeObject[];
    activeController?: Lookup;
    node?: (name: string) => KubeObject | undefined;
    rollProbe?: RollProbe;
    brokerConfig?: BrokerConfigClient;
  } = {},
) {
  const events: string[] = [];
  const reconciler = new KafkaClusterReconciler({
    client: fake as unknown as KubeClient,
    events: {
      event: (_about, type, reason) => {
        events.push(`${type} ${reason}`);
        return Promise.resolve();
      },
    },
    pods: more.pods ?? (() => []),
    claims: more.claims ?? (() => []),
    statefulSet: (_ns, name) => statefulSet(name),
    admins: fakeAdmins,
    ...(more.node === undefined ? {} : { node: more.node }),
    ...(more.activeController === undefined
      ? {}
      : { activeController: (admin) => (more.activeController as Lookup)(addressesOf(admin)) }),
    ...(more.rollProbe === undefined ? {} : { rollProbe: more.rollProbe }),
    ...(more.brokerConfig === undefined ? {} : { brokerConfig: more.brokerConfig }),
  });
  const ctx = { logger: pino({ level: "silent" }), signal: new AbortController().signal };
  return { reconcile: () => reconciler.reconcile("ns/c", ctx), events };
}

/** The config hash the operator stamped on the cluster's broker pod template in its last apply. */
function hashOf(fake: FakeClient): string {
  type Sts = KubeObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } };
  const sts = [...fake.applied].reverse().find((o) => o.kind === "StatefulSet" && o.metadata.name === "c-broker");
  return (sts as Sts | undefined)?.spec.template.metadata.annotations["tributary.dev/config-hash"] ?? "";
}

const claimSize = (sts: KubeObject | undefined): unknown =>
  (sts as { spec?: { volumeClaimTemplates?: { spec: { resources: { requests: { storage: string } } } }[] } })?.spec
    ?.volumeClaimTemplates?.[0]?.spec.resources.requests.storage;

/** Broker configs over `current`: each alterClusterDefaults applies its ops there and records them in `altered`. */
function recordingBrokerConfig(
  current: Map<string, string>,
  altered: unknown[],
  levels: { finalized: number; supported: number },
): BrokerConfigClient {
  return {
    clusterDefaults: () => Promise.resolve(current),
    alterClusterDefaults: (_bootstrap, ops) => {
      altered.push(ops);
      for (const op of ops) {
        if (op.op === "set") current.set(op.name, op.value ?? "");
        else current.delete(op.name);
      }
      return Promise.resolve();
    },
    metadataVersion: () => Promise.resolve(levels),
    finalizeMetadataVersion: () => Promise.reject(new Error("not asked")),
  };
}

describe("KafkaClusterReconciler", () => {
  it("applies nothing for ports that collide (an object stored before the CRD refused them)", async () => {
    const fake = new FakeClient({ listeners: { internal: { port: 9093 } } });
    const { reconcile, events } = reconcilerFor(fake);
    await expect(reconcile()).rejects.toBeInstanceOf(TerminalError);
    expect(fake.applied).toEqual([]);
    expect(fake.conditions()["Warning"]).toMatchObject({
      status: "True",
      reason: "PortConflict",
      message:
        "ports collide: listeners.internal.port is 9093, the KRaft controller port. Choose distinct ports. Nothing " +
        "was applied.",
    });
    expect(events).toEqual(["Warning PortConflict"]);
  });

  it("expands a storage size change: claims patched, the StatefulSet orphan-deleted and not applied in that pass", async () => {
    const fake = new FakeClient({ replicas: 1, storage: { type: "persistent-claim", size: "1Gi", class: "fast" } });
    await reconcilerFor(fake).reconcile();
    const created = fake.applied.find((o) => o.kind === "StatefulSet");
    expect(claimSize(created)).toBe("1Gi");
    fake.applied.length = 0;
    fake.classes.set("fast", {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "fast" },
      allowVolumeExpansion: true,
    });
    fake.cluster = {
      ...fake.cluster,
      metadata: { ...fake.cluster.metadata, generation: 2 },
      spec: { replicas: 1, storage: { type: "persistent-claim", size: "5Gi", class: "fast" } },
    };
    const pvc: KubeObject = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data-c-broker-0", namespace: "ns", labels: { "tributary.dev/cluster": "c" } },
      spec: { resources: { requests: { storage: "1Gi" } }, storageClassName: "fast" },
      status: { phase: "Bound", capacity: { storage: "1Gi" } },
    };
    const existing = { ...(created as KubeObject), metadata: { ...created?.metadata, name: "c-broker", uid: "u1" } };
    const { reconcile, events } = reconcilerFor(fake, (name) => (name === "c-broker" ? existing : undefined), {
      claims: () => [pvc],
    });
    await reconcile();
    expect(fake.patched).toEqual([
      {
        name: "data-c-broker-0",
        ops: [
          { op: "test", path: "/spec/resources/requests/storage", value: "1Gi" },
          { op: "replace", path: "/spec/resources/requests/storage", value: "5Gi" },
        ],
      },
    ]);
    expect(fake.deleted).toEqual(["c-broker"]);
    expect(fake.deleteOptions).toEqual([{ uid: "u1", propagationPolicy: "Orphan" }]);
    expect(fake.applied.some((o) => o.kind === "StatefulSet")).toBe(false);
    expect(events).toEqual(["Normal ExpandingVolume", "Normal RecreatingStatefulSet"]);
    const status = fake.cluster["status"] as { volumes?: unknown };
    expect(status.volumes).toEqual([{ name: "data-c-broker-0", requested: "5Gi", capacity: "1Gi", phase: "Resizing" }]);
    expect(fake.conditions()["Reconciling"]).toMatchObject({ status: "True", reason: "ExpandingVolumes" });
  });

  it("refuses a storage shrink with a Warning and applies everything else", async () => {
    const fake = new FakeClient({ replicas: 1, storage: { type: "persistent-claim", size: "5Gi" } });
    await reconcilerFor(fake).reconcile();
    const created = fake.applied.find((o) => o.kind === "StatefulSet");
    fake.applied.length = 0;
    fake.cluster = {
      ...fake.cluster,
      metadata: { ...fake.cluster.metadata, generation: 2 },
      spec: { replicas: 1, storage: { type: "persistent-claim", size: "1Gi" }, config: { "num.partitions": 7 } },
    };
    const { reconcile, events } = reconcilerFor(fake, (name) => (name === "c-broker" ? created : undefined));
    await reconcile();
    expect(claimSize(fake.applied.find((o) => o.kind === "StatefulSet"))).toBe("5Gi");
    const config = fake.applied.find((o) => o.kind === "ConfigMap") as KubeObject & { data: Record<string, string> };
    expect(config.data["c-broker-0.properties"]).toContain("num.partitions=7");
    expect(fake.conditions()["Warning"]).toMatchObject({ status: "True", reason: "StorageShrinkRefused" });
    expect(fake.deleted).toEqual([]);
    expect(events).toEqual(["Warning StorageShrinkRefused"]);
  });

  it("raises Warning with the API's message on the second identical failure, and writes nothing on the third", async () => {
    const fake = new FakeClient({ replicas: 1 });
    fake.failApply = (obj) =>
      obj.kind === "Service"
        ? new ApiError(500, "InternalError", "PATCH /api/v1/namespaces/ns/services/c-kafka-brokers: 500 duplicate")
        : undefined;
    const { reconcile, events } = reconcilerFor(fake);
    await expect(reconcile()).rejects.toThrow(/applying Service\/c-kafka-brokers failed: PATCH .*: 500 duplicate/);
    expect(fake.conditions()["Warning"]?.status).not.toBe("True");
    expect(fake.conditions()["Reconciling"]).toMatchObject({ status: "True", reason: "RetryingAfterError" });
    await expect(reconcile()).rejects.toThrow(/500 duplicate/);
    expect(fake.conditions()["Warning"]).toMatchObject({
      status: "True",
      reason: "ReconcileFailing",
      message:
        "applying Service/c-kafka-brokers failed: PATCH /api/v1/namespaces/ns/services/c-kafka-brokers: 500 duplicate",
    });
    const writes = fake.statusWrites;
    await expect(reconcile()).rejects.toThrow(/500 duplicate/);
    expect(fake.statusWrites).toBe(writes);
    expect(events).toEqual(["Warning ReconcileFailing"]);
    // Once the API server accepts it, the next pass clears the Warning.
    delete fake.failApply;
    await reconcile();
    expect(fake.conditions()["Warning"]).toMatchObject({ status: "False", reason: "NoWarnings" });
  });

  const clusterIdOf = (fake: FakeClient): unknown => (fake.cluster["status"] as { clusterId?: string }).clusterId;
  const configOf = (fake: FakeClient): string =>
    (fake.applied.find((o) => o.kind === "ConfigMap") as KubeObject & { data: Record<string, string> }).data[
      "c-broker-0.properties"
    ] ?? "";

  it("records the cluster id in the status and keeps it when the uid no longer derives it", async () => {
    const fake = new FakeClient({ replicas: 3 });
    await reconcilerFor(fake).reconcile();
    const first = clusterIdOf(fake);
    expect(first).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(configOf(fake)).toContain(`cluster.id=${String(first)}`);
    // A restored resource gets a new uid; its volumes still carry the recorded id.
    fake.cluster = {
      ...fake.cluster,
      metadata: { ...fake.cluster.metadata, uid: "0b9c1d2e-0000-4000-8000-000000000000" },
    };
    fake.applied.length = 0;
    await reconcilerFor(fake).reconcile();
    expect(clusterIdOf(fake)).toBe(first);
    expect(configOf(fake)).toContain(`cluster.id=${String(first)}`);
    const sts = fake.applied.find((o) => o.kind === "StatefulSet") as unknown as {
      spec: { template: { spec: { initContainers: { args: string[] }[] } } };
    };
    expect(sts.spec.template.spec.initContainers[0]?.args).toContain(`--cluster-id=${String(first)}`);
  });

  it("replaces a recorded cluster id that is not one, with a Warning", async () => {
    const fake = new FakeClient({ replicas: 1 });
    fake.cluster = { ...fake.cluster, status: { clusterId: "not an id" } };
    const { reconcile, events } = reconcilerFor(fake);
    await reconcile();
    expect(clusterIdOf(fake)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(fake.conditions()["Warning"]).toMatchObject({ status: "True", reason: "ClusterIdReplaced" });
    expect(events).toEqual(["Warning ClusterIdReplaced"]);
  });

  it("asks the controllers for the active one and restarts it last", async () => {
    const fake = new FakeClient({ replicas: 3 });
    await reconcilerFor(fake).reconcile();
    const stalePod = (i: number): KubeObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `c-broker-${i}`, uid: `u${i}`, annotations: { "tributary.dev/config-hash": "old" } },
      spec: { containers: [{ name: "kafka", image: "docker.io/tributary/broker:old" }] },
      status: { conditions: [{ type: "Ready", status: "True" }] },
    });
    const asked: (readonly string[])[] = [];
    const { reconcile } = reconcilerFor(fake, undefined, {
      pods: () => [0, 1, 2].map(stalePod),
      activeController: (controllers) => {
        asked.push(controllers);
        return Promise.resolve(2);
      },
    });
    await reconcile();
    expect(asked).toEqual([[0, 1, 2].map((i) => `c-broker-${i}.c-kafka-brokers.ns.svc:9093`)]);
    expect(fake.deleted).toEqual(["c-broker-1"]);
    // DescribeQuorum failing: the roll goes on in ordinal order.
    const failing = reconcilerFor(fake, undefined, {
      pods: () => [0, 1, 2].map(stalePod),
      activeController: () => Promise.reject(new Error("connection refused")),
    });
    await failing.reconcile();
    expect(fake.deleted).toEqual(["c-broker-1", "c-broker-2"]);
  });

  it("restarts stale brokers of one rack together with rollingUpdate.maxParallelSameRack, when the ISRs allow", async () => {
    const ZONE = "topology.kubernetes.io/zone";
    const spec = { replicas: 6, rack: { topologyKey: ZONE }, rollingUpdate: { maxParallelSameRack: 2 } };
    const fake = new FakeClient(spec);
    await reconcilerFor(fake).reconcile();
    type Sts = KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } };
    const sts = [...fake.applied].reverse().find((o) => o.kind === "StatefulSet") as Sts;
    const current = { hash: hashOf(fake), image: sts.spec.template.spec.containers[0]?.image ?? "" };
    const zones = ["a", "b", "c", "a", "b", "c"] as const;
    // Ordinals 0-2 are the KRaft voters, current; the broker-only 3-5 are stale (5 goes first, then 4, then 3).
    const pods = (): KubeObject[] =>
      [0, 1, 2, 3, 4, 5].map((i) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `c-broker-${i}`,
          uid: `u${i}`,
          annotations: { "tributary.dev/config-hash": i < 3 ? current.hash : "old" },
        },
        spec: { nodeName: `node-${i}`, containers: [{ name: "kafka", image: current.image }] },
        status: { conditions: [{ type: "Ready", status: "True" }] },
      }));
    const node = (name: string): KubeObject => ({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels: { [ZONE]: `zone-${zones[Number(name.slice(5))] ?? ""}` } },
    });
    let minIsr = 2;
    const fine = (nodeId: number) => ({
      pod: `c-broker-${nodeId}`,
      nodeId,
      answer: {
        brokerId: nodeId,
        canStop: true,
        canStopReasons: [],
        blockingPartitions: [],
        caughtUp: true,
        caughtUpReasons: [],
      },
    });
    const rollProbe: RollProbe = {
      restartSafety: (brokers) => Promise.resolve(brokers.map((b) => fine(b.nodeId))),
      // Replicas on 5 and 2 (zone c) and 3 (zone a): 2 stays in sync whatever zone c does.
      partitions: () =>
        Promise.resolve([{ topic: "orders", partition: 0, replicas: [5, 2, 3], isr: [5, 2, 3], minIsr }]),
      quorum: () => Promise.reject(new Error("not asked for brokers")),
    };
    // 5 and 2 are in zone c, but 2 is current: only 5 of zone c is stale, so it goes alone.
    await reconcilerFor(fake, undefined, { pods, rollProbe, node }).reconcile();
    expect(fake.deleted).toEqual(["c-broker-5"]);
    fake.deleted.length = 0;
    const brokersOnly = (): KubeObject[] =>
      [3, 4, 5].map((i) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `c-broker-${i}`, uid: `u${i}`, annotations: { "tributary.dev/config-hash": "old" } },
        spec: { nodeName: `node-${i === 5 ? 0 : i}`, containers: [{ name: "kafka", image: current.image }] },
        status: { conditions: [{ type: "Ready", status: "True" }] },
      }));
    const voters = (): KubeObject[] =>
      [0, 1, 2].map((i) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `c-broker-${i}`, uid: `u${i}`, annotations: { "tributary.dev/config-hash": current.hash } },
        spec: { nodeName: `node-${i}`, containers: [{ name: "kafka", image: current.image }] },
        status: { conditions: [{ type: "Ready", status: "True" }] },
      }));
    // 5 now runs on node-0 (zone a) like 3: with both down, orders-0 ([5, 2, 3]) keeps only 2 in its ISR.
    await reconcilerFor(fake, undefined, { pods: () => [...voters(), ...brokersOnly()], rollProbe, node }).reconcile();
    expect(fake.deleted).toEqual(["c-broker-5"]);
    fake.deleted.length = 0;
    minIsr = 1;
    await reconcilerFor(fake, undefined, { pods: () => [...voters(), ...brokersOnly()], rollProbe, node }).reconcile();
    expect(fake.deleted).toEqual(["c-broker-5", "c-broker-3"]);
    const plan = (fake.cluster["status"] as { rollPlan: { pod: string; state: string }[] }).rollPlan;
    expect(plan.map((s) => `${s.pod} ${s.state}`)).toEqual([
      "c-broker-5 Restarting",
      "c-broker-4 Queued",
      "c-broker-3 Restarting",
    ]);
  });

  it("asks the brokers and the Admin API before a restart, and waits with a reason while an ISR would fall short", async () => {
    const fake = new FakeClient({ replicas: 4 });
    await reconcilerFor(fake).reconcile();
    const pods = (): KubeObject[] =>
      [0, 1, 2, 3].map((i) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `c-broker-${i}`, uid: `u${i}`, annotations: { "tributary.dev/config-hash": "old" } },
        spec: { containers: [{ name: "kafka", image: "docker.io/tributary/broker:old" }] },
        status: { conditions: [{ type: "Ready", status: "True" }] },
      }));
    let isr = [2, 3];
    const asked: string[] = [];
    const clients: string[] = [];
    const rollProbe: RollProbe = {
      restartSafety: (brokers) => {
        asked.push(...brokers.map((b) => b.address));
        return Promise.resolve(
          brokers.map((b) => ({
            pod: b.pod,
            nodeId: b.nodeId,
            answer: {
              brokerId: b.nodeId,
              canStop: true,
              canStopReasons: [],
              blockingPartitions: [],
              caughtUp: true,
              caughtUpReasons: [],
            },
          })),
        );
      },
      partitions: (admin) => {
        clients.push(`partitions ${addressesOf(admin).join(",")}`);
        return Promise.resolve([{ topic: "orders", partition: 0, replicas: [1, 2, 3], isr, minIsr: 2 }]);
      },
      quorum: (admin) => {
        clients.push(`quorum ${addressesOf(admin).join(",")}`);
        return Promise.resolve({
          leaderId: 0,
          voters: [0, 1, 2].map((replicaId) => ({ replicaId, lastCaughtUpTimestamp: 5 })),
        });
      },
    };
    // Voters (0-2) first, the active one unknown: c-broker-2 is next; orders-0 has lost broker 1 from its ISR.
    const blocked = reconcilerFor(fake, undefined, { pods, rollProbe });
    await blocked.reconcile();
    expect(asked).toEqual([0, 1, 2, 3].map((i) => `c-broker-${i}.c-kafka-brokers.ns.svc:9404`));
    // The Admin API and DescribeQuorum through the cluster's pooled clients: its bootstrap, and its voters.
    expect(clients.sort()).toEqual([
      "partitions c-kafka-bootstrap.ns.svc:9092",
      `quorum ${[0, 1, 2].map((i) => `c-broker-${i}.c-kafka-brokers.ns.svc:9093`).join(",")}`,
    ]);
    expect(fake.deleted).toEqual([]);
    expect(fake.conditions()["Reconciling"]).toMatchObject({ status: "True", reason: "WaitingForIsr" });
    expect(fake.conditions()["Reconciling"]?.message).toContain("c-broker-2 waits: restarting c-broker-2 would take");
    const plan = (fake.cluster["status"] as { rollPlan: { pod: string; state: string }[] }).rollPlan;
    expect(plan.map((s) => `${s.pod} ${s.state}`)).toEqual([
      "c-broker-2 Next",
      "c-broker-1 Queued",
      "c-broker-0 Queued",
      "c-broker-3 Queued",
    ]);
    isr = [1, 2, 3];
    await reconcilerFor(fake, undefined, { pods, rollProbe }).reconcile();
    expect(fake.deleted).toEqual(["c-broker-2"]);
  });

  it("applies dynamic keys cluster-wide without a roll once the brokers serve, with a Warning while it cannot", async () => {
    const fake = new FakeClient({ replicas: 3, config: { "log.retention.ms": 60_000, "num.partitions": 3 } });
    const current = new Map([["message.max.bytes", "2048"]]);
    const altered: unknown[] = [];
    let failing = false;
    const brokerConfig: BrokerConfigClient = {
      ...recordingBrokerConfig(current, altered, { finalized: 20, supported: 20 }),
      clusterDefaults: () => (failing ? Promise.reject(new Error("no broker reachable")) : Promise.resolve(current)),
    };
    // Pods not Ready yet: nothing is asked.
    await reconcilerFor(fake, undefined, { brokerConfig }).reconcile();
    expect(altered).toEqual([]);
    fake.readyReplicas = 3;
    const { reconcile, events } = reconcilerFor(fake, undefined, { brokerConfig });
    await reconcile();
    expect(altered).toEqual([
      [
        { name: "log.retention.ms", op: "set", value: "60000" },
        { name: "message.max.bytes", op: "delete" },
      ],
    ]);
    expect(events).toEqual(["Normal ConfigUpdated"]);
    await reconcile();
    expect(altered).toHaveLength(1);
    failing = true;
    await reconcile();
    expect(fake.conditions()["Warning"]).toMatchObject({ status: "True", reason: "DynamicConfigPending" });
    expect(fake.conditions()["Warning"]?.message).toContain("no broker reachable");
    failing = false;
    await reconcile();
    expect(fake.conditions()["Warning"]?.status).toBe("False");
  });

  it("keeps the cluster-wide min.insync.replicas that ELR pins, and deletes it once ELR is off", async () => {
    const fake = new FakeClient({ replicas: 3, config: { "log.retention.ms": 60_000 } });
    fake.readyReplicas = 3;
    // What a new cluster's controller writes with eligible leader replicas on.
    const current = new Map([["min.insync.replicas", "1"]]);
    const altered: unknown[] = [];
    let elr = true;
    const brokerConfig: BrokerConfigClient = {
      ...recordingBrokerConfig(current, altered, { finalized: 23, supported: 23 }),
      metadataVersion: () => Promise.resolve({ finalized: 23, supported: 23, elr }),
    };
    const { reconcile } = reconcilerFor(fake, undefined, { brokerConfig });
    await reconcile();
    expect(altered).toEqual([[{ name: "log.retention.ms", op: "set", value: "60000" }]]);
    expect(fake.conditions()["Warning"]?.status).not.toBe("True");
    elr = false;
    await reconcile();
    expect(altered.at(-1)).toEqual([{ name: "min.insync.replicas", op: "delete" }]);
  });

  it("raises metadata.version once the roll is done, never while a pod is stale", async () => {
    const fake = new FakeClient({ replicas: 3, version: "0.2.0" });
    fake.readyReplicas = 3;
    let image = "docker.io/tributary/broker:0.1.0";
    const pods = (): KubeObject[] =>
      [0, 1, 2].map((i) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `c-broker-${i}`,
          uid: `u${i}`,
          annotations: { "tributary.dev/config-hash": hashOf(fake) },
        },
        spec: { containers: [{ name: "kafka", image }] },
        status: { conditions: [{ type: "Ready", status: "True" }] },
      }));
    let level = 20;
    const finalized: number[] = [];
    const brokerConfig: BrokerConfigClient = {
      clusterDefaults: () => Promise.resolve(new Map()),
      alterClusterDefaults: () => Promise.resolve(),
      metadataVersion: () => Promise.resolve({ finalized: level, supported: 22 }),
      finalizeMetadataVersion: (_bootstrap, to) => {
        finalized.push(to);
        level = to;
        return Promise.resolve();
      },
    };
    await reconcilerFor(fake, undefined, { brokerConfig }).reconcile();
    // The pods still run 0.1.0: phase one (the roll) first.
    const rolling = reconcilerFor(fake, undefined, { pods, brokerConfig });
    await rolling.reconcile();
    expect(finalized).toEqual([]);
    expect(fake.deleted).toHaveLength(1);
    image = "docker.io/tributary/broker:0.2.0";
    const done = reconcilerFor(fake, undefined, { pods, brokerConfig });
    await done.reconcile();
    expect(finalized).toEqual([22]);
    expect(done.events).toEqual(["Normal MetadataVersionUpgraded"]);
    await done.reconcile();
    expect(finalized).toEqual([22]);
  });

  it("refuses a replica change that would change the static voters, and allows one that keeps them", async () => {
    const fake = new FakeClient({ replicas: 1 });
    await reconcilerFor(fake).reconcile();
    const applied = (): KubeObject | undefined => fake.applied.find((o) => o.kind === "StatefulSet");
    let sts = applied();
    fake.applied.length = 0;
    fake.cluster = { ...fake.cluster, metadata: { ...fake.cluster.metadata, generation: 2 }, spec: { replicas: 3 } };
    const { reconcile, events } = reconcilerFor(fake, (name) => (name === "c-broker" ? sts : undefined));
    await expect(reconcile()).rejects.toBeInstanceOf(TerminalError);
    expect(fake.applied).toEqual([]);
    expect(fake.conditions()["Warning"]).toMatchObject({ status: "True", reason: "VoterSetChange" });
    expect(fake.conditions()["Warning"]?.message).toContain("spec.replicas would change the KRaft voters from 1 to 3");
    expect(events).toEqual(["Warning VoterSetChange"]);

    // From three combined nodes up, the voters stay the first three: 3 -> 5 is applied, 5 -> 4 passes the voter
    // check (without a Kafka admin client it is then held: nothing can drain broker 4).
    const three = new FakeClient({ replicas: 3 });
    await reconcilerFor(three).reconcile();
    sts = three.applied.find((o) => o.kind === "StatefulSet");
    for (const [replicas, applied] of [
      [5, 5],
      [4, 5],
    ] as const) {
      three.cluster = { ...three.cluster, spec: { replicas } };
      three.applied.length = 0;
      await reconcilerFor(three, () => sts).reconcile();
      sts = three.applied.find((o) => o.kind === "StatefulSet");
      expect((sts as unknown as { spec: { replicas: number } }).spec.replicas).toBe(applied);
    }
    expect(three.conditions()["Warning"]).toMatchObject({ status: "True", reason: "KafkaUnreachable" });
    three.cluster = { ...three.cluster, spec: { replicas: 2 } };
    await expect(reconcilerFor(three, () => sts).reconcile()).rejects.toThrow(/from 3 to 2/);
  });
});
