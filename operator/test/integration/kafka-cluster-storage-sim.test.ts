// Volume expansion and claim retention on tier "sim" (API server + controller-manager + scheduler + kwok fake nodes).
// The real StatefulSet controller makes the claims and adopts orphaned pods, the real PersistentVolume controller binds
// the claims to volumes this test creates, and the real garbage collector carries out the orphan deletion and
// deleteClaim. There is NO CSI driver and NO external-resizer here: THE TEST PLAYS THE EXTERNAL RESIZER (and the
// kubelet's filesystem resize) by writing what they would: the PersistentVolume's capacity and pre-resize-capacity
// annotation, the claim's status.capacity and its FileSystemResizePending condition. What a real CSI driver does
// between those writes is not exercised. Needs `make k8s-tools` (sim binaries); without them the suite is skipped.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  clusterModule,
  conditions,
  eventsAbout,
  eventually,
  getJson,
  listJson,
  startBroker,
  useOperatorSuite,
  type BrokerProcess,
  type Condition,
  type Obj,
} from "./harness.ts";

const NS = "storage-sim";
const CLASS = "expandable";
/** The annotation external-resizer puts on a volume while its filesystem still has the old size. */
const PRE_RESIZE = "volume.alpha.kubernetes.io/pre-resize-capacity";
const CLAIMS = ["data-grow-broker-0", "data-grow-broker-1", "data-grow-broker-2", "data-grow-controller-0"];
const mod = await clusterModule();
const missing = mod.missingBinaries("sim");
if (missing.length > 0)
  console.warn(`skipping the sim-tier storage suite: missing ${missing.join(", ")} (make k8s-tools)`);

interface ClaimObj extends Obj {
  spec: { resources: { requests: { storage: string } }; volumeName?: string };
  status?: { phase?: string; capacity?: { storage?: string }; conditions?: { type: string; status: string }[] };
}

interface PodObj extends Obj {
  status?: { conditions?: { type: string; status: string }[] };
}

const byName = (volumes: unknown): unknown =>
  [...((volumes ?? []) as { name: string }[])].sort((a, b) => a.name.localeCompare(b.name));

const ready = (p: PodObj): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

describe.skipIf(missing.length > 0)("KafkaCluster volume expansion on tier sim (the test plays the resizer)", () => {
  let broker: BrokerProcess | undefined;
  const suite = useOperatorSuite(
    { beforeAll, afterAll, afterEach },
    {
      tier: "sim",
      namespace: NS,
      identity: "operator-storage",
      // kwok pods run no broker, so nothing answers the restart-safety questions: with TRIBUTARY_CLUSTER_ADMIN=false
      // the filesystem-resize restarts go by pod readiness alone here (roll-gates.test.ts covers the gates they pass
      // through as any restart does). Scaling keeps its Admin client: a scale-down asks Kafka whether the removed
      // broker still holds data, and one real broker on loopback answers (it hosts no topic, so the broker being
      // removed holds nothing).
      prepare: async () => {
        broker = await startBroker();
        return {
          TRIBUTARY_CLUSTER_ADMIN: "false",
          TRIBUTARY_BOOTSTRAP_OVERRIDES: JSON.stringify({ [`${NS}/grow`]: broker.bootstrap }),
        };
      },
    },
  );
  afterAll(async () => {
    await broker?.destroy();
  });
  const c = suite.cluster;
  const k = (args: readonly string[], input?: string): Promise<string> => c().kubectl(args, input);
  const apply = (obj: object): Promise<string> => k(["apply", "--server-side", "-f", "-"], JSON.stringify(obj));
  const patchSpec = (spec: object): Promise<string> =>
    k(["patch", "kafkacluster", "grow", "-n", NS, "--type=merge", "-p", JSON.stringify({ spec })]);
  const kc = async (): Promise<Obj | undefined> => getJson(c(), ["kafkacluster", "grow", "-n", NS]);
  const claims = async (): Promise<Map<string, ClaimObj>> =>
    new Map(((await listJson(c(), ["pvc", "-n", NS])) as ClaimObj[]).map((p) => [p.metadata.name, p] as const));
  const pods = async (): Promise<Map<string, PodObj>> =>
    new Map(
      ((await listJson(c(), ["pods", "-n", NS, "-l", "tributary.dev/cluster=grow"])) as PodObj[]).map(
        (p) => [p.metadata.name, p] as const,
      ),
    );
  const uidOf = async (sts: string): Promise<string | undefined> =>
    (await getJson(c(), ["statefulset", sts, "-n", NS]))?.metadata.uid;
  const templateSize = async (sts: string): Promise<string | undefined> =>
    (
      (await getJson(c(), ["statefulset", sts, "-n", NS]))?.spec as
        { volumeClaimTemplates?: { spec: { resources: { requests: { storage: string } } } }[] } | undefined
    )?.volumeClaimTemplates?.[0]?.spec.resources.requests.storage;
  /** The resizer's and the kubelet's writes: the volume's capacity, then the claim's status. */
  const resizeVolume = async (claim: ClaimObj, size: string, filesystemPending: boolean): Promise<void> => {
    const pv = claim.spec.volumeName ?? "";
    const annotations = filesystemPending
      ? { [PRE_RESIZE]: claim.status?.capacity?.storage ?? "" }
      : { [PRE_RESIZE]: null };
    await k([
      "patch",
      "pv",
      pv,
      "--type=merge",
      "-p",
      JSON.stringify({ metadata: { annotations }, spec: { capacity: { storage: size } } }),
    ]);
    const status = filesystemPending
      ? {
          conditions: [
            {
              type: "FileSystemResizePending",
              status: "True",
              lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
            },
          ],
        }
      : { capacity: { storage: size }, conditions: [] };
    await k([
      "patch",
      "pvc",
      claim.metadata.name,
      "-n",
      NS,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status }),
    ]);
  };
  /**
   * Sets a storage size the operator must refuse, checks that nothing about storage moved (claims, the StatefulSet and
   * its claim size), sets 2Gi back and waits for the warning to clear. Answers the Warning condition it raised.
   */
  const refusedAndSetBack = async (size: string, reason: string): Promise<Condition> => {
    const brokerUid = await uidOf("grow-broker");
    await patchSpec({ storage: { size } });
    const refused = await eventually(`Warning ${reason}`, async () => {
      const warning = conditions(await kc())["Warning"];
      return warning?.reason === reason ? warning : undefined;
    });
    const list = await claims();
    expect(CLAIMS.map((n) => list.get(n)?.spec.resources.requests.storage)).toEqual(["3Gi", "2Gi", "2Gi", "2Gi"]);
    expect(await uidOf("grow-broker")).toBe(brokerUid);
    expect(await templateSize("grow-broker")).toBe("2Gi");
    await patchSpec({ storage: { size: "2Gi" } });
    await eventually("warning cleared", async () =>
      conditions(await kc())["Warning"]?.status === "False" ? true : undefined,
    );
    return refused;
  };
  const firstPods = new Map<string, string>();
  const stsUids = new Map<string, string | undefined>();

  it("brings a cluster with expandable claims to Ready", async () => {
    const t0 = Date.now();
    await apply({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: CLASS },
      provisioner: "example.com/none",
      allowVolumeExpansion: true,
      reclaimPolicy: "Retain",
      volumeBindingMode: "Immediate",
    });
    // Volumes bound ahead to the claim names the StatefulSet controller will make: nothing provisions in tier sim.
    for (const [i, claim] of CLAIMS.entries()) {
      await apply({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: `pv-${i}` },
        spec: {
          capacity: { storage: "1Gi" },
          accessModes: ["ReadWriteOnce"],
          storageClassName: CLASS,
          persistentVolumeReclaimPolicy: "Retain",
          hostPath: { path: `/tmp/tributary-sim-pv-${i}` },
          claimRef: { namespace: NS, name: claim },
        },
      });
    }
    await apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "grow", namespace: NS },
      spec: {
        replicas: 3,
        controller: { mode: "dedicated", replicas: 1 },
        storage: { type: "persistent-claim", size: "1Gi", class: CLASS, deleteClaim: true },
      },
    });
    await eventually(
      "Ready=True",
      async () => (conditions(await kc())["Ready"]?.status === "True" ? true : undefined),
      120_000,
      500,
    );
    const bound = await eventually("claims Bound", async () => {
      const list = await claims();
      return CLAIMS.every((n) => list.get(n)?.status?.phase === "Bound") ? list : undefined;
    });
    console.log(`FIGURE sim storage: apply → Ready with 4 bound claims: ${Date.now() - t0} ms`);
    expect([...bound.values()].map((p) => p.status?.capacity?.storage)).toEqual(["1Gi", "1Gi", "1Gi", "1Gi"]);
    for (const [name, pod] of await pods()) firstPods.set(name, pod.metadata.uid);
    for (const sts of ["grow-broker", "grow-controller"]) stsUids.set(sts, await uidOf(sts));
    expect(firstPods.size).toBe(4);
  }, 180_000);

  it("grows every claim and re-creates the StatefulSets by orphan deletion, restarting no pod for it", async () => {
    const t0 = Date.now();
    await patchSpec({ storage: { size: "2Gi" } });
    const patched = await eventually(
      "every claim asks for 2Gi",
      async () => {
        const list = await claims();
        return CLAIMS.every((n) => list.get(n)?.spec.resources.requests.storage === "2Gi") ? list : undefined;
      },
      60_000,
      300,
    );
    expect(CLAIMS.map((n) => patched.get(n)?.status?.capacity?.storage)).toEqual(["1Gi", "1Gi", "1Gi", "1Gi"]);
    for (const sts of ["grow-broker", "grow-controller"]) {
      await eventually(
        `${sts} re-created with 2Gi claims`,
        async () => {
          const uid = await uidOf(sts);
          return uid !== undefined && uid !== stsUids.get(sts) && (await templateSize(sts)) === "2Gi"
            ? true
            : undefined;
        },
        60_000,
        300,
      );
    }
    // The new StatefulSets adopt the running pods: same pods, now owned by the new objects.
    const newBroker = await uidOf("grow-broker");
    await eventually(
      "pods adopted by the new StatefulSet",
      async () => {
        const list = await pods();
        const owner = list.get("grow-broker-0")?.metadata.ownerReferences?.[0]?.uid;
        return owner === newBroker ? true : undefined;
      },
      60_000,
      300,
    );
    console.log(
      `FIGURE sim storage: size change → claims patched, StatefulSets re-created, pods adopted: ${Date.now() - t0} ms`,
    );
    for (const [name, pod] of await pods()) expect(pod.metadata.uid, name).toBe(firstPods.get(name));
    const status = await eventually("status shows the resize", async () => {
      const o = await kc();
      return conditions(o)["Reconciling"]?.reason === "ExpandingVolumes" ? o : undefined;
    });
    expect(byName(status?.status?.["volumes"])).toEqual(
      CLAIMS.map((name) => ({ name, requested: "2Gi", capacity: "1Gi", phase: "Resizing" })),
    );
    const recreated = await eventsAbout(c(), NS, "grow", "RecreatingStatefulSet");
    expect(recreated.map((e) => e.message).sort()).toEqual([
      "Re-creating StatefulSet grow-broker: claim template 1Gi -> 2Gi; pods and claims are kept (orphan deletion)",
      "Re-creating StatefulSet grow-controller: claim template 1Gi -> 2Gi; pods and claims are kept (orphan deletion)",
    ]);
  }, 120_000);

  it("restarts only the pods whose volume reports FileSystemResizePending, one at a time", async () => {
    const t0 = Date.now();
    const list = await claims();
    const claim = (n: string): ClaimObj => {
      const found = list.get(n);
      if (found === undefined) throw new Error(`no claim ${n}`);
      return found;
    };
    // broker-0 and the controller grow online; brokers 1 and 2 need their filesystem grown at the next mount.
    await resizeVolume(claim("data-grow-broker-0"), "2Gi", false);
    await resizeVolume(claim("data-grow-controller-0"), "2Gi", false);
    await resizeVolume(claim("data-grow-broker-1"), "2Gi", true);
    await resizeVolume(claim("data-grow-broker-2"), "2Gi", true);
    // Play the kubelet: a new pod of a pending claim mounts it, and the filesystem grows.
    let fewestReady = 4;
    const finished = new Set<string>();
    await eventually(
      "both pending pods restarted and their filesystems grown",
      async () => {
        const now = await pods();
        fewestReady = Math.min(fewestReady, [...now.values()].filter(ready).length);
        for (const name of ["grow-broker-1", "grow-broker-2"]) {
          const pod = now.get(name);
          if (finished.has(name) || pod === undefined || pod.metadata.uid === firstPods.get(name)) continue;
          await resizeVolume(claim(`data-${name}`), "2Gi", false);
          finished.add(name);
        }
        return finished.size === 2 ? true : undefined;
      },
      120_000,
      300,
    );
    const settled = await eventually(
      "Reconciling=False and Ready=True",
      async () => {
        const o = await kc();
        const conds = conditions(o);
        return conds["Reconciling"]?.status === "False" && conds["Ready"]?.status === "True" ? o : undefined;
      },
      120_000,
      500,
    );
    console.log(
      `FIGURE sim storage: resize written → 2 pods restarted, every volume 2Gi, Ready: ${Date.now() - t0} ms`,
    );
    expect(byName(settled?.status?.["volumes"])).toEqual(
      CLAIMS.map((name) => ({ name, requested: "2Gi", capacity: "2Gi", phase: "Bound" })),
    );
    // Never more than one of the four down; the online-resized ones never restarted.
    expect(fewestReady).toBeGreaterThanOrEqual(3);
    const after = await pods();
    expect(after.get("grow-broker-0")?.metadata.uid).toBe(firstPods.get("grow-broker-0"));
    expect(after.get("grow-controller-0")?.metadata.uid).toBe(firstPods.get("grow-controller-0"));
    const restarts = await eventsAbout(c(), NS, "grow", "RestartingPod");
    expect(restarts.map((e) => e.message).sort()).toEqual([
      "Restarting pod grow-broker-1: volume data-grow-broker-1 waits for a filesystem resize (FileSystemResizePending)",
      "Restarting pod grow-broker-2: volume data-grow-broker-2 waits for a filesystem resize (FileSystemResizePending)",
    ]);
  }, 240_000);

  it("keeps a claim grown out of band as its floor, and refuses a shrink with a Warning", async () => {
    await k([
      "patch",
      "pvc",
      "data-grow-broker-0",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}',
    ]);
    const claim = (await claims()).get("data-grow-broker-0");
    if (claim === undefined) throw new Error("no claim data-grow-broker-0");
    await resizeVolume(claim, "3Gi", false);
    const adopted = await eventually("the grown claim in status", async () => {
      const volumes = ((await kc())?.status?.["volumes"] ?? []) as {
        name: string;
        capacity?: string;
        message?: string;
      }[];
      const v = volumes.find((x) => x.name === "data-grow-broker-0");
      return v?.capacity === "3Gi" ? v : undefined;
    });
    expect(adopted).toEqual({
      name: "data-grow-broker-0",
      requested: "3Gi",
      capacity: "3Gi",
      phase: "Bound",
      message: "larger than spec.storage.size 2Gi (grown out of band): kept, never shrunk",
    });
    expect(conditions(await kc())["Warning"]?.status).toBe("False");
    // A shrink: refused, nothing touched; set back, the warning goes.
    const refused = await refusedAndSetBack("1Gi", "StorageShrinkRefused");
    expect(refused.status).toBe("True");
  }, 120_000);

  it("refuses to grow through a StorageClass without allowVolumeExpansion: nothing is resized", async () => {
    await k(["patch", "storageclass", CLASS, "--type=merge", "-p", '{"allowVolumeExpansion":false}']);
    const refused = await refusedAndSetBack("4Gi", "StorageExpansionUnsupported");
    expect(refused.message).toContain(`data-grow-broker-1 (StorageClass ${CLASS} has no allowVolumeExpansion)`);
  }, 120_000);

  it("honours deleteClaim on scale-down and on delete", async () => {
    await patchSpec({ replicas: 2 });
    await eventually(
      "the removed broker's claim deleted",
      async () => {
        const list = await claims();
        return list.has("data-grow-broker-2") ? undefined : list;
      },
      60_000,
      500,
    );
    expect([...(await claims()).keys()].sort()).toEqual([
      "data-grow-broker-0",
      "data-grow-broker-1",
      "data-grow-controller-0",
    ]);
    await k(["delete", "kafkacluster", "grow", "-n", NS, "--wait=true"]);
    await eventually(
      "every claim deleted with the cluster",
      async () => ((await claims()).size === 0 ? true : undefined),
      120_000,
      500,
    );
  }, 180_000);

  it("never met a forbidden request: the chart's RBAC covers claims, StorageClasses and the orphan deletion", () => {
    const log = readFileSync(suite.operator().logFile, "utf8").split("\n");
    // A 403 counts only as an HTTP status, never as any number in a line such as "durationMs":403.5.
    expect(log.filter((line) => /forbidden|"statusCode":403\b|: 403 /i.test(line))).toEqual([]);
  });
});
