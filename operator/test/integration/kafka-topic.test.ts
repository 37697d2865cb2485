// The KafkaTopic controller, compiled and run as its own process, against a real kube-apiserver + etcd (tier "api")
// and the real broker executable on loopback (TRIBUTARY_BOOTSTRAP_OVERRIDES maps the KafkaCluster to it, since no
// pod serves the bootstrap Service on tier 1): create, config drift made with Kafka's kafka-configs reverted at the
// next resync, partitions grown and a decrease refused, a replication-factor change refused clearly on a broker
// without reassignment, unmanaged and adopted topics, topics created with Kafka's kafka-topics left alone, two
// resources naming one topic, and deletion with and without the cluster present. Kafka's CLI comes from the reference
// Kafka jars (`make reference-kafka`; the CLI tests fail saying so without them); the admin client inspects Kafka and
// makes the other out-of-band changes. The Argo CD health checks of docs/argocd.md are run on the statuses it writes
// (cluster missing, Ready, a refused decrease).
import { AdminClient, type ConfigEntry } from "@tributary/broker/admin";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { argocdHealthOf } from "../docs/argocd.ts";
import { kafkaCli, type KafkaCli } from "./kafka-cli.ts";
import {
  condition,
  eventsAbout,
  eventually,
  getJson,
  startBroker,
  useOperatorSuite,
  type BrokerProcess,
  type Obj,
} from "./harness.ts";

const NS = "topics-it";
const RESYNC_S = 10;
/** Tests that run Kafka's CLI: each run starts a JVM, seconds on a busy machine, on top of resync waits. */
const CLI_TEST_TIMEOUT_MS = 150_000;

describe("KafkaTopic reconciler against a real API server and a real broker (tier api)", () => {
  let broker: BrokerProcess | undefined;
  let admin: AdminClient | undefined;
  let cli: KafkaCli | undefined;
  const suite = useOperatorSuite(
    { beforeAll, afterAll, afterEach },
    {
      tier: "api",
      namespace: NS,
      identity: "operator-topics",
      prepare: async () => {
        broker = await startBroker();
        admin = new AdminClient({ bootstrap: broker.bootstrap });
        cli = kafkaCli(broker.bootstrap);
        return {
          TRIBUTARY_BOOTSTRAP_OVERRIDES: JSON.stringify({ [`${NS}/demo`]: broker.bootstrap }),
          // Drift in Kafka raises no Kubernetes event; the periodic resync is what finds it.
          TRIBUTARY_RESYNC_SECONDS: String(RESYNC_S),
          TRIBUTARY_TOPIC_DELETE_TIMEOUT_SECONDS: "5",
          // Informers honour a label selector: KafkaTopics labelled skip are not this operator's.
          TRIBUTARY_TOPIC_SELECTOR: "tributary.dev/skip!=true",
        };
      },
    },
  );
  afterAll(async () => {
    admin?.close();
    await broker?.destroy();
  });
  const c = suite.cluster;
  const kafka = (): AdminClient => {
    if (admin === undefined) throw new Error("the broker did not start");
    return admin;
  };
  const kafkaCliTools = (): KafkaCli => {
    if (cli === undefined) throw new Error("the broker did not start");
    return cli;
  };
  const kt = (name: string): Promise<Obj | undefined> => getJson(c(), ["kafkatopic", name, "-n", NS]);
  const apply = (obj: object): Promise<string> =>
    c().kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(obj));
  const topic = (name: string, spec: object, annotations?: Record<string, string>) =>
    apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaTopic",
      metadata: { name, namespace: NS, ...(annotations === undefined ? {} : { annotations }) },
      spec: { clusterRef: { name: "demo" }, ...spec },
    });
  const ready = (name: string, generation: number) =>
    eventually(`KafkaTopic ${name} Ready at generation ${generation}`, async () => {
      const o = await kt(name);
      const r = condition(o, "Ready");
      return r?.status === "True" && r.observedGeneration === generation ? o : undefined;
    });
  const withCondition = (name: string, type: string, status: string, reason: string, timeoutMs = 30_000) =>
    eventually(
      `KafkaTopic ${name} ${type}=${status} ${reason}`,
      async () => {
        const o = await kt(name);
        const cond = condition(o, type);
        return cond?.status === status && cond.reason === reason ? o : undefined;
      },
      timeoutMs,
    );
  const configsOf = async (name: string): Promise<Record<string, ConfigEntry>> => {
    const [r] = await kafka().describeConfigs([{ type: "topic", name }]);
    if (r?.error !== undefined) throw r.error;
    return Object.fromEntries((r?.configs ?? []).map((e) => [e.name, e]));
  };
  const overrides = async (name: string): Promise<Record<string, string | null>> =>
    Object.fromEntries(
      Object.values(await configsOf(name))
        .filter((e) => e.source === "DYNAMIC_TOPIC_CONFIG")
        .map((e) => [e.name, e.value]),
    );
  const partitionsOf = async (name: string): Promise<number | undefined> =>
    (await kafka().describeTopics([name])).get(name)?.topic?.partitions.length;
  const exists = async (name: string): Promise<boolean> => (await kafka().listTopics()).includes(name);
  /** Waits until the operator has finished `count` more passes over KafkaTopic `name` (its debug log). */
  const passes = async (name: string, count: number): Promise<void> => {
    const done = (): number =>
      suite
        .operator()
        .logs()
        .filter((l) => l["msg"] === "Reconciled" && l["kind"] === "KafkaTopic" && l["name"] === name).length;
    const target = done() + count;
    await eventually(
      `${count} more passes over ${name}`,
      () => Promise.resolve(done() >= target ? true : undefined),
      (count + 2) * RESYNC_S * 1000,
      500,
    );
  };

  it("reports ClusterNotFound until the KafkaCluster exists, then creates the topic", async () => {
    await topic("orders", { partitions: 3, config: { "retention.ms": 3600000, "cleanup.policy": "delete" } });
    const missing = await withCondition("orders", "Ready", "False", "ClusterNotFound");
    expect(await argocdHealthOf(missing)).toEqual({
      status: "Progressing",
      message: "ClusterNotFound: KafkaCluster demo does not exist in this namespace.",
    });
    expect(await exists("orders")).toBe(false);
    // No finalizer before the operator has touched Kafka: such a resource deletes at once.
    expect((await kt("orders"))?.metadata).not.toHaveProperty("finalizers");

    await apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "demo", namespace: NS },
      spec: { replicas: 1 },
    });
    // The cluster's appearance requeues its topics (no resync needed).
    const o = await eventually(
      "orders Ready soon after the cluster appears",
      async () => (condition(await kt("orders"), "Ready")?.status === "True" ? kt("orders") : undefined),
      (RESYNC_S - 2) * 1000,
    );
    expect(o?.status).toMatchObject({ observedGeneration: 1, topicName: "orders", partitions: 3 });
    expect(await argocdHealthOf(o ?? { kind: "none" })).toEqual({
      status: "Healthy",
      message: "Topic orders matches the spec.",
    });
    expect(o?.status?.["topicId"]).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect((o?.metadata as { finalizers?: string[] }).finalizers).toEqual(["tributary.dev/kafka-topic"]);
    expect(o?.spec).toEqual({
      clusterRef: { name: "demo" },
      partitions: 3,
      config: { "retention.ms": 3600000, "cleanup.policy": "delete" },
    });
    expect(await partitionsOf("orders")).toBe(3);
    expect(await overrides("orders")).toEqual({ "retention.ms": "3600000", "cleanup.policy": "delete" });
    const events = await eventsAbout(c(), NS, "orders", "TopicCreated");
    expect(events[0]?.message).toBe("Created topic orders with 3 partitions");
  });

  it("reconciles only the KafkaTopics its label selector matches", async () => {
    await apply({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaTopic",
      metadata: { name: "skipped", namespace: NS, labels: { "tributary.dev/skip": "true" } },
      spec: { clusterRef: { name: "demo" } },
    });
    await passes("orders", 1);
    const skipped = await kt("skipped");
    expect(skipped?.status).toBeUndefined();
    expect(skipped?.metadata).not.toHaveProperty("finalizers");
    expect(await exists("skipped")).toBe(false);
    await c().kubectl(["delete", "kafkatopic", "skipped", "-n", NS, "--wait=true", "--timeout=30s"]);
  });

  it(
    "reverts config drift made with Kafka's kafka-configs at the next resync",
    async () => {
      const out = await kafkaCliTools().configs([
        ...["--entity-type", "topics", "--entity-name", "orders", "--alter"],
        ...["--add-config", "retention.ms=1000,max.message.bytes=2048", "--delete-config", "cleanup.policy"],
      ]);
      expect(out).toContain("Completed updating config for topic orders.");
      // The drifted state is not asserted on its own: a JVM's start and exit take seconds, so the resync may already have
      // set it back. The ConfigUpdated Event below names exactly this drift (max.message.bytes only the CLI set).
      await eventually(
        "drift reverted",
        async () => {
          const now = await overrides("orders");
          return now["retention.ms"] === "3600000" &&
            now["cleanup.policy"] === "delete" &&
            !("max.message.bytes" in now)
            ? true
            : undefined;
        },
        (RESYNC_S + 15) * 1000,
      );
      // Kafka's CLI sees it set back too.
      expect(await kafkaCliTools().describeTopicConfigs("orders")).toEqual({
        "retention.ms": "3600000",
        "cleanup.policy": "delete",
      });
      const events = await eventsAbout(c(), NS, "orders", "ConfigUpdated");
      expect(events.map((e) => e.message)).toContain(
        "Updated config of topic orders: cleanup.policy=delete, reset max.message.bytes, retention.ms=3600000",
      );
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it("grows partitions when spec.partitions grows", async () => {
    await c().kubectl(["patch", "kafkatopic", "orders", "-n", NS, "--type=merge", "-p", '{"spec":{"partitions":5}}']);
    const o = await ready("orders", 2);
    expect(o.status?.["partitions"]).toBe(5);
    expect(await partitionsOf("orders")).toBe(5);
  });

  it("refuses a decrease: the API server for the spec, a condition for a topic grown outside Kubernetes", async () => {
    await expect(
      c().kubectl(["patch", "kafkatopic", "orders", "-n", NS, "--type=merge", "-p", '{"spec":{"partitions":2}}']),
    ).rejects.toThrow(/partitions may grow but never shrink/);
    const [grown] = await kafka().createPartitions([{ name: "orders", count: 7 }]);
    expect(grown?.error).toBeUndefined();
    const o = await withCondition("orders", "Ready", "False", "PartitionDecreaseRefused", (RESYNC_S + 15) * 1000);
    expect(condition(o, "Ready")?.message).toBe(
      "Topic orders has 7 partitions in Kafka and spec.partitions is 5: Kafka cannot remove partitions. " +
        "Set spec.partitions to 7 or more, or delete and recreate the topic.",
    );
    expect(condition(o, "Warning")).toMatchObject({ status: "True", reason: "PartitionDecreaseRefused" });
    expect((await argocdHealthOf(o)).status).toBe("Degraded");
    expect(o.status?.["partitions"]).toBe(7);
    expect(await partitionsOf("orders")).toBe(7);
    await c().kubectl(["patch", "kafkatopic", "orders", "-n", NS, "--type=merge", "-p", '{"spec":{"partitions":7}}']);
    await ready("orders", 3);
  });

  it("reports a replication-factor change the cluster cannot hold, and changes nothing", async () => {
    // The broker supports reassignment (issue 12), but this cluster has one broker: a factor of 2 cannot be placed.
    await c().kubectl(["patch", "kafkatopic", "orders", "-n", NS, "--type=merge", "-p", '{"spec":{"replicas":2}}']);
    const o = await withCondition("orders", "Ready", "False", "NotEnoughBrokers");
    expect(condition(o, "Ready")?.message).toBe(
      "Topic orders has replication factor 1 and spec.replicas is 2, but the cluster has 1 broker(s).",
    );
    expect(condition(o, "Ready")?.observedGeneration).toBe(4);
    const described = (await kafka().describeTopics(["orders"])).get("orders")?.topic;
    expect(described?.partitions.every((p) => p.replicas.length === 1)).toBe(true);
    // Creating with a factor the cluster cannot hold is Kafka's refusal, reported as such.
    await topic("wide", { replicas: 3 });
    const wide = await withCondition("wide", "Ready", "False", "CreateRefused");
    expect(condition(wide, "Ready")?.message).toContain(
      "Kafka refused to create topic wide: INVALID_REPLICATION_FACTOR",
    );
    await c().kubectl([
      "patch",
      "kafkatopic",
      "orders",
      "-n",
      NS,
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/spec/replicas"}]',
    ]);
    await ready("orders", 5);
    await c().kubectl(["delete", "kafkatopic", "wide", "-n", NS, "--wait=true", "--timeout=30s"]);
  });

  it(
    "leaves topics created with Kafka's CLI, and unmanaged resources, alone; adopts a topic once managed",
    async () => {
      const created = await kafkaCliTools().topics([
        ...["--create", "--topic", "legacy", "--partitions", "2", "--config", "retention.ms=5000"],
      ]);
      expect(created).toContain("Created topic legacy.");
      await topic(
        "legacy",
        { partitions: 4, config: { "retention.ms": 86400000 } },
        { "tributary.dev/managed": "false" },
      );
      const off = await withCondition("legacy", "Ready", "Unknown", "Unmanaged");
      expect(off.metadata).not.toHaveProperty("finalizers");
      // Two resyncs later, nothing moved.
      await passes("legacy", 2);
      expect(await overrides("legacy")).toEqual({ "retention.ms": "5000" });
      expect(await partitionsOf("legacy")).toBe(2);

      // Managed from now on: adopted as it is, then brought to the spec.
      await c().kubectl(["annotate", "kafkatopic", "legacy", "-n", NS, "tributary.dev/managed-"]);
      const adopted = await eventually("legacy adopted", async () => {
        const o = await kt("legacy");
        return condition(o, "Ready")?.status === "True" ? o : undefined;
      });
      expect(adopted.status).toMatchObject({ partitions: 4, topicName: "legacy" });
      expect(await overrides("legacy")).toEqual({ "retention.ms": "86400000" });
      expect(await partitionsOf("legacy")).toBe(4);
      expect((adopted.metadata as { finalizers?: string[] }).finalizers).toEqual(["tributary.dev/kafka-topic"]);

      // A topic made with kafka-topics that no KafkaTopic names is never touched: not reverted, not deleted, not grown.
      const made = await kafkaCliTools().topics([
        ...["--create", "--topic", "cli-made", "--partitions", "3", "--config", "retention.ms=7000"],
      ]);
      expect(made).toContain("Created topic cli-made.");
      const before = (await kafka().describeTopics(["cli-made"])).get("cli-made")?.topic;
      await passes("legacy", 2);
      expect(await kafkaCliTools().describeTopicConfigs("cli-made")).toEqual({ "retention.ms": "7000" });
      const after = (await kafka().describeTopics(["cli-made"])).get("cli-made")?.topic;
      expect(after?.partitions.length).toBe(3);
      expect(after?.topicId).toBe(before?.topicId);
      expect(await exists("cli-made")).toBe(true);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it("resolves two resources naming one topic: the oldest manages it, the other says so", async () => {
    await topic("dup-a", { topicName: "shared", partitions: 2 });
    await ready("dup-a", 1);
    await topic("dup-b", { topicName: "shared", partitions: 6, config: { "retention.ms": 1234 } });
    const loser = await withCondition("dup-b", "Ready", "False", "ResourceConflict");
    expect(condition(loser, "Ready")?.message).toContain("Topic shared is managed by KafkaTopic dup-a");
    expect(condition(loser, "Warning")).toMatchObject({ status: "True", reason: "ResourceConflict" });
    expect(loser.metadata).not.toHaveProperty("finalizers");
    expect(await partitionsOf("shared")).toBe(2);
    expect(await overrides("shared")).toEqual({});

    // Deleting the loser leaves the topic; deleting the winner deletes it, and the other resource takes over.
    await topic("dup-c", { topicName: "shared", partitions: 2 });
    await withCondition("dup-c", "Ready", "False", "ResourceConflict");
    await c().kubectl(["delete", "kafkatopic", "dup-c", "-n", NS, "--wait=true", "--timeout=30s"]);
    expect(await exists("shared")).toBe(true);
    await c().kubectl(["delete", "kafkatopic", "dup-a", "-n", NS, "--wait=true", "--timeout=30s"]);
    const taken = await eventually("dup-b takes over", async () => {
      const o = await kt("dup-b");
      return condition(o, "Ready")?.status === "True" ? o : undefined;
    });
    expect(taken.status?.["partitions"]).toBe(6);
    expect(await partitionsOf("shared")).toBe(6);
    expect(await overrides("shared")).toEqual({ "retention.ms": "1234" });
  });

  it("deletes the topic from Kafka with the resource, and the resource at once when the topic is unmanaged", async () => {
    await c().kubectl(["delete", "kafkatopic", "orders", "-n", NS, "--wait=true", "--timeout=30s"]);
    expect(await kt("orders")).toBeUndefined();
    expect(await exists("orders")).toBe(false);
    expect((await eventsAbout(c(), NS, "orders", "TopicDeleted"))[0]?.message).toBe("Deleted topic orders");

    await c().kubectl(["annotate", "kafkatopic", "legacy", "-n", NS, "tributary.dev/managed=false"]);
    await eventually("legacy's finalizer removed", async () => {
      const o = await kt("legacy");
      return o !== undefined && !("finalizers" in o.metadata) ? true : undefined;
    });
    await c().kubectl(["delete", "kafkatopic", "legacy", "-n", NS, "--wait=true", "--timeout=30s"]);
    expect(await exists("legacy")).toBe(true);
  });

  it("removes the finalizer after the delete timeout when the cluster cannot be reached, with a Warning Event", async () => {
    await topic("stranded", { partitions: 1 });
    await ready("stranded", 1);
    const b = broker;
    if (b === undefined) throw new Error("the broker did not start");
    await b.stop("SIGTERM");
    try {
      const started = Date.now();
      await c().kubectl(["delete", "kafkatopic", "stranded", "-n", NS, "--wait=false"]);
      await eventually("stranded gone", async () => ((await kt("stranded")) === undefined ? true : undefined), 60_000);
      console.log(`KafkaTopic deletion with its cluster unreachable (timeout 5 s): ${Date.now() - started} ms`);
      const events = await eventsAbout(c(), NS, "stranded", "TopicNotDeleted");
      expect(events[0]?.type).toBe("Warning");
      expect(events[0]?.message).toMatch(
        /^Could not delete topic stranded for 5 s \(.*\); the topic is left in Kafka\.$/,
      );
    } finally {
      await b.restart();
    }
    expect(await exists("stranded")).toBe(true);
  });

  it("removes the finalizer when the cluster is gone, leaving the topic (namespace and GitOps deletions never hang)", async () => {
    await topic("orphan", { partitions: 1 });
    await ready("orphan", 1);
    await c().kubectl(["delete", "kafkacluster", "demo", "-n", NS, "--wait=true", "--timeout=30s"]);
    const started = Date.now();
    await c().kubectl(["delete", "kafkatopic", "orphan", "dup-b", "-n", NS, "--wait=true", "--timeout=30s"]);
    console.log(`KafkaTopic deletion without its cluster: ${Date.now() - started} ms`);
    expect(await kt("orphan")).toBeUndefined();
    // Its cluster's Kafka (the broker on loopback outlives the resource) still has it: nothing could be asked.
    expect(await exists("orphan")).toBe(true);
  });
});
