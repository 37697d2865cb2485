// Scale-down with data movement (started with kubectl scale, through the scale subresource) against a real kube-apiserver (tier api) and four real Tributary brokers on loopback
// (node ids 0-3, as the StatefulSet's ordinals 0-3 get them; TRIBUTARY_BOOTSTRAP_OVERRIDES points the KafkaCluster
// at them, since no pod serves its bootstrap Service on tier 1). Tier 1 has no StatefulSet controller and no pods:
// the test reads the StatefulSet's spec.replicas, which is what the operator decides; Kafka's own Admin API shows the
// data moved. A topic whose replication factor exceeds the brokers that would remain blocks the scale-down with a
// Warning and nothing moves; once it is gone, broker 3 is drained by reassignments and only then is the StatefulSet
// shrunk, and the removed broker's `<pod>-external` Service is pruned. Broker 3's process, which on a real cluster goes
// with its pod, runs on until the test stops it: only then does the operator unregister it (UnregisterBroker).
import { AdminClient, type KafkaError } from "@tributary/broker/admin";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { REPO, condition, eventually, getJson, listJson, useOperatorSuite } from "./harness.ts";

const NS = "scale-it";

interface KafkaNodes {
  bootstrap(): string;
  waitForBrokers(timeoutMs?: number): Promise<void>;
  kill(id: number, signal: "SIGTERM"): Promise<number | null>;
  output(id: number): string;
  destroy(): Promise<void>;
}

async function startKafka(): Promise<KafkaNodes> {
  const url = pathToFileURL(join(REPO, "broker", "test", "support", "cluster.ts")).href;
  const mod = (await import(url)) as {
    startCluster(o: { system: "tributary"; topology: { combined: number }; firstNodeId: number }): Promise<KafkaNodes>;
  };
  return mod.startCluster({ system: "tributary", topology: { combined: 4 }, firstNodeId: 0 });
}

describe("KafkaCluster scale-down drains brokers through Kafka's Admin API (tier api, real brokers)", () => {
  let kafka: KafkaNodes | undefined;
  let admin: AdminClient | undefined;
  const suite = useOperatorSuite(
    { beforeAll, afterAll, afterEach },
    {
      tier: "api",
      namespace: NS,
      identity: "operator-scale",
      prepare: async () => {
        kafka = await startKafka();
        await kafka.waitForBrokers(60_000);
        admin = new AdminClient({ bootstrap: kafka.bootstrap(), retries: 5 });
        return { TRIBUTARY_BOOTSTRAP_OVERRIDES: JSON.stringify({ [`${NS}/demo`]: kafka.bootstrap() }) };
      },
    },
  );
  afterAll(async () => {
    admin?.close();
    await kafka?.destroy();
  });
  const c = suite.cluster;
  const k = (): AdminClient => {
    if (admin === undefined) throw new Error("the brokers did not start");
    return admin;
  };
  const stsReplicas = async (): Promise<number | undefined> =>
    (await getJson(c(), ["statefulset", "demo-broker", "-n", NS]))?.spec?.["replicas"] as number | undefined;
  const replicasOn = async (id: number): Promise<number> => {
    const topics = await k().describeTopics(await k().listTopics({ internal: true }));
    let n = 0;
    for (const lookup of topics.values())
      for (const p of lookup.topic?.partitions ?? []) if (p.replicas.includes(id)) n++;
    return n;
  };
  const apply = (obj: object): Promise<string> =>
    c().kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(obj));
  const cluster = (replicas: number) =>
    apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "demo", namespace: NS },
      // An external listener: a broker scaled away loses its `<pod>-external` Service (prune.ts).
      spec: { replicas, listeners: { external: { type: "NodePort" } } },
    });
  const externalServices = async (): Promise<string[]> =>
    (await listJson(c(), ["services", "-n", NS, "-l", "tributary.dev/cluster=demo"]))
      .map((o) => o.metadata.name)
      .filter((n) => n.endsWith("-external"))
      .sort();

  beforeAll(async () => {
    const created = await k().createTopics([
      { name: "orders", partitions: 8, replicationFactor: 2 },
      { name: "wide", partitions: 1, replicationFactor: 4 },
    ]);
    expect(created.map((t) => t.error?.message)).toEqual([undefined, undefined]);
    await cluster(4);
    await eventually("StatefulSet demo-broker with 4 replicas", async () =>
      (await stsReplicas()) === 4 ? true : undefined,
    );
  }, 120_000);

  it("refuses a scale-down below a topic's replication factor: nothing moves, nothing is removed", async () => {
    expect(await replicasOn(3)).toBeGreaterThan(0);
    const before = await replicasOn(3);
    // Through the scale subresource, as kubectl scale, an HPA or KEDA would.
    await c().kubectl(["scale", "kafkacluster", "demo", "-n", NS, "--replicas=3"]);
    const scale = await getJson(c(), ["kafkacluster", "demo", "-n", NS, "--subresource=scale"]);
    expect(scale?.spec?.["replicas"]).toBe(3);
    expect(scale?.status?.["selector"]).toBe("tributary.dev/cluster=demo,app.kubernetes.io/component=broker");
    const o = await eventually("Warning ReplicationFactorTooHigh", async () => {
      const got = await getJson(c(), ["kafkacluster", "demo", "-n", NS]);
      return condition(got, "Warning")?.reason === "ReplicationFactorTooHigh" ? got : undefined;
    });
    expect(condition(o, "Warning")?.message).toContain("wide (replication factor 4)");
    expect(await stsReplicas()).toBe(4);
    expect(await externalServices()).toEqual([0, 1, 2, 3].map((i) => `demo-broker-${i}-external`));
    expect(await k().listPartitionReassignments()).toEqual([]);
    expect(await replicasOn(3)).toBe(before);
  }, 60_000);

  it("drains broker 3 by reassignment, then shrinks the StatefulSet to 3", async () => {
    const [deleted] = await k().deleteTopics(["wide"]);
    expect(deleted?.error).toBeUndefined();
    const started = Date.now();
    await eventually(
      "StatefulSet demo-broker shrunk to 3",
      async () => ((await stsReplicas()) === 3 ? true : undefined),
      90_000,
      500,
    );
    const drainMs = Date.now() - started;
    expect(await replicasOn(3)).toBe(0);
    // The removed broker's external Service is pruned; the others stay.
    expect(
      await eventually("demo-broker-3-external pruned", async () => {
        const left = await externalServices();
        return left.includes("demo-broker-3-external") ? undefined : left;
      }),
    ).toEqual([0, 1, 2].map((i) => `demo-broker-${i}-external`));
    expect(await k().listPartitionReassignments()).toEqual([]);
    const topics = await k().describeTopics(["orders"]);
    for (const p of topics.get("orders")?.topic?.partitions ?? []) {
      expect(p.replicas).toHaveLength(2);
      expect(new Set(p.replicas).size).toBe(2);
    }
    // The throttles set for the moves are gone again.
    const [b0] = await k().describeConfigs([{ type: "broker", name: "0" }]);
    const rate = b0?.configs.find((e) => e.name === "leader.replication.throttled.rate");
    expect(rate?.source === "DYNAMIC_BROKER_CONFIG").toBe(false);
    const o = await eventually("Warning cleared", async () => {
      const got = await getJson(c(), ["kafkacluster", "demo", "-n", NS]);
      return condition(got, "Warning")?.status === "False" ? got : undefined;
    });
    expect(o.status?.["observedGeneration"]).toBe(2);
    console.log(`scale-down 4 -> 3: broker 3 drained and the StatefulSet shrunk in ${drainMs} ms`);
  }, 120_000);

  it("unregisters the removed broker once it has stopped, not while it runs", async () => {
    const nodes = (): KafkaNodes => {
      if (kafka === undefined) throw new Error("the brokers did not start");
      return kafka;
    };
    const unregistered = () =>
      [0, 1, 2].some((id) => /"brokerId":3,[^\n]*"msg":"Unregistered a broker"/.test(nodes().output(id)));
    // The StatefulSet is at 3 and no pod is left above it, but broker 3 still runs: it stays registered.
    expect((await k().cluster()).brokers.map((b) => b.nodeId)).toContain(3);
    expect(unregistered()).toBe(false);
    const stopped = Date.now();
    await nodes().kill(3, "SIGTERM");
    await eventually(
      "the controller unregistered broker 3",
      () => Promise.resolve(unregistered() ? true : undefined),
      60_000,
      500,
    );
    console.log(`broker 3 unregistered ${Date.now() - stopped} ms after it stopped`);
    const again = await k()
      .unregisterBroker(3)
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect((again as KafkaError | undefined)?.code).toBe(102);
  }, 90_000);
});
