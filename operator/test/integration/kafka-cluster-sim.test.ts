// The operator on tier "sim" (API server + controller-manager + scheduler + kwok fake nodes): the real StatefulSet
// controller creates the pods and kwok reports them Ready, so a KafkaCluster goes all the way to Ready, a config change
// rolls the pods through the operator one at a time, and deleting the cluster lets the real garbage collector remove
// every owned object. Needs `make k8s-tools` (sim binaries); without them the suite is skipped and says so.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { clusterModule, eventsAbout, eventually, getJson, listJson, useOperatorSuite, type Obj } from "./harness.ts";

const NS = "kafka-sim";
const HASH = "tributary.dev/config-hash";
const mod = await clusterModule();
const missing = mod.missingBinaries("sim");
if (missing.length > 0)
  console.warn(`skipping the sim-tier operator suite: missing ${missing.join(", ")} (make k8s-tools)`);

interface PodObj extends Obj {
  status?: { conditions?: { type: string; status: string }[] };
}

const ready = (p: PodObj): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

describe.skipIf(missing.length > 0)("KafkaCluster on tier sim: real pods (kwok), rolls and garbage collection", () => {
  const suite = useOperatorSuite(
    { beforeAll, afterAll, afterEach },
    {
      tier: "sim",
      namespace: NS,
      identity: "operator-sim",
      // The pods here run no broker (tier api: none run at all; tier sim: kwok fakes them): nothing answers the
      // restart-safety questions, so these rolls go by pod readiness alone (roll-gates.test.ts covers the gates).
      // TRIBUTARY_CLUSTER_ADMIN=false: the operator does not talk to the brokers.
      prepare: () => Promise.resolve({ TRIBUTARY_CLUSTER_ADMIN: "false" }),
    },
  );
  const c = suite.cluster;
  const pods = async (): Promise<PodObj[]> => listJson(c(), ["pods", "-n", NS, "-l", "tributary.dev/cluster=demo"]);
  const readyCondition = async (): Promise<string | undefined> => {
    const kc = await getJson(c(), ["kafkacluster", "demo", "-n", NS]);
    const conds = (kc?.status?.["conditions"] ?? []) as { type: string; status: string }[];
    return conds.find((x) => x.type === "Ready")?.status;
  };

  it("brings a three-broker cluster to Ready", async () => {
    const t0 = Date.now();
    await c().kubectl(
      ["apply", "--server-side", "-f", "-"],
      JSON.stringify({
        apiVersion: "tributary.dev/v1alpha1",
        kind: "KafkaCluster",
        metadata: { name: "demo", namespace: NS },
        spec: { replicas: 3, rack: { topologyKey: "topology.kubernetes.io/zone" } },
      }),
    );
    await eventually("Ready=True", async () => ((await readyCondition()) === "True" ? true : undefined), 120_000, 250);
    console.log(`FIGURE sim: apply → Ready (3 brokers, kwok pods): ${Date.now() - t0} ms`);
    const list = await pods();
    expect(list.map((p) => p.metadata.name).sort()).toEqual(["demo-broker-0", "demo-broker-1", "demo-broker-2"]);
    expect(list.every(ready)).toBe(true);
    const kc = await getJson(c(), ["kafkacluster", "demo", "-n", NS]);
    expect(kc?.status).toMatchObject({ replicas: 3, readyReplicas: 3 });
    // Rack awareness on the scheduler's placement: status.racks reports each broker's zone from its kwok node's label
    // (the client.rack hints).
    const racks = await eventually("status.racks of three scheduled brokers", async () => {
      const k = await getJson(c(), ["kafkacluster", "demo", "-n", NS]);
      const r = (k?.status?.["racks"] ?? []) as { brokerId: number; node?: string; rack?: string }[];
      return r.length === 3 && r.every((x) => x.rack !== undefined) ? r : undefined;
    });
    expect(racks.map((r) => r.brokerId)).toEqual([0, 1, 2]);
    for (const r of racks) {
      const node = await getJson(c(), ["node", r.node ?? ""]);
      expect(r.rack).toBe(node?.metadata.labels?.["topology.kubernetes.io/zone"]);
    }
    console.log(
      `FIGURE sim: brokers over ${new Set(racks.map((r) => r.rack)).size} zones (topology spread, ScheduleAnyway)`,
    );
  }, 180_000);

  it("rolls every pod after a config change, never more than one down", async () => {
    const before = await getJson(c(), ["statefulset", "demo-broker", "-n", NS]);
    const oldHash = (before?.spec as { template: { metadata: { annotations: Record<string, string> } } }).template
      .metadata.annotations[HASH];
    const t0 = Date.now();
    await c().kubectl([
      "patch",
      "kafkacluster",
      "demo",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"config":{"num.partitions":12}}}',
    ]);
    let worst = 3;
    const uids = new Set((await pods()).map((p) => p.metadata.uid));
    await eventually(
      "every pod restarted with the new hash and Ready",
      async () => {
        const list = await pods();
        worst = Math.min(worst, list.filter((p) => ready(p) && p.metadata.annotations?.[HASH] !== undefined).length);
        const done =
          list.length === 3 &&
          list.every((p) => ready(p) && p.metadata.annotations?.[HASH] !== oldHash && !uids.has(p.metadata.uid));
        return done ? true : undefined;
      },
      180_000,
      100,
    );
    console.log(`FIGURE sim: config change → all 3 pods rolled and Ready: ${Date.now() - t0} ms`);
    expect(worst).toBeGreaterThanOrEqual(2);
    await eventually("Ready=True after the roll", async () => ((await readyCondition()) === "True" ? true : undefined));
    const events = await eventsAbout(c(), NS, "demo", "RestartingPod");
    expect(events.length).toBe(3);
  }, 180_000);

  it("deletes every owned object through the garbage collector when the cluster is deleted", async () => {
    await c().kubectl(["delete", "kafkacluster", "demo", "-n", NS, "--wait=true"]);
    await eventually(
      "owned objects collected",
      async () => {
        const left = await listJson(c(), [
          "statefulsets,services,configmaps,poddisruptionbudgets,serviceaccounts,pods",
          "-n",
          NS,
          "-l",
          "tributary.dev/cluster=demo",
        ]);
        return left.length === 0 ? true : undefined;
      },
      120_000,
      500,
    );
  }, 180_000);
});
