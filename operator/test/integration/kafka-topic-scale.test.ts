// Scale of the KafkaTopic controller: N KafkaTopics (default 1,000) applied at once with one `kubectl apply` against
// a real kube-apiserver, the compiled operator with its defaults (16 topic workers, batched admin calls) and the real
// broker on loopback; prints the time until every one is Ready (FIGURE lines, recorded in docs/operator.md), the
// operator's RSS, the admin requests it took and the time to delete them all. A measurement, not a check of
// behaviour: it runs only when TRIBUTARY_TOPIC_SCALE is set (to the number of topics), e.g.
//   TRIBUTARY_TOPIC_SCALE=1000 npx vitest run operator/test/integration/kafka-topic-scale.test.ts
import { AdminClient } from "@tributary/broker/admin";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { KINDS, KubeClient, type KubeObject } from "../../src/kube/index.ts";
import { eventually, startBroker, useOperatorSuite, type BrokerProcess } from "./harness.ts";

const COUNT = Number(process.env["TRIBUTARY_TOPIC_SCALE"] ?? "0");
const NS = "topics-scale";

function readyCount(items: KubeObject[]): number {
  return items.filter((o) =>
    (
      ((o["status"] as { conditions?: unknown } | undefined)?.conditions ?? []) as { type: string; status: string }[]
    ).some((c) => c.type === "Ready" && c.status === "True"),
  ).length;
}

describe.skipIf(!(COUNT > 0))(`${COUNT} KafkaTopics applied at once (tier api, real broker)`, () => {
  let broker: BrokerProcess | undefined;
  const suite = useOperatorSuite(
    { beforeAll, afterAll, afterEach },
    {
      tier: "api",
      namespace: NS,
      identity: "operator-scale",
      prepare: async () => {
        broker = await startBroker();
        return {
          TRIBUTARY_BOOTSTRAP_OVERRIDES: JSON.stringify({ [`${NS}/scale`]: broker.bootstrap }),
          TRIBUTARY_LOG_LEVEL: "info",
        };
      },
    },
  );
  let client: KubeClient | undefined;
  afterAll(async () => {
    client?.close();
    await broker?.destroy();
  });
  // Polled in-process every 2 s (one list request), so watching the figure costs the machine little.
  const topics = async (): Promise<KubeObject[]> => {
    client ??= KubeClient.fromKubeconfig(suite.cluster().kubeconfig);
    return (await client.list<KubeObject>(KINDS.KafkaTopic, { namespace: NS })).items;
  };

  it("become Ready; prints the time", { timeout: 60 * 60_000 }, async () => {
    const c = suite.cluster();
    await c.kubectl(
      ["apply", "--server-side", "-f", "-"],
      JSON.stringify({
        apiVersion: "tributary.dev/v1alpha1",
        kind: "KafkaCluster",
        metadata: { name: "scale", namespace: NS },
        spec: { replicas: 1 },
      }),
    );
    const list = {
      apiVersion: "v1",
      kind: "List",
      items: Array.from({ length: COUNT }, (_, i) => ({
        apiVersion: "tributary.dev/v1alpha1",
        kind: "KafkaTopic",
        metadata: { name: `t-${String(i).padStart(5, "0")}`, namespace: NS },
        spec: { clusterRef: { name: "scale" }, partitions: 3, config: { "retention.ms": 86400000 } },
      })),
    };
    const started = Date.now();
    await c.kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(list));
    const appliedMs = Date.now() - started;
    let last = 0;
    await eventually(
      `${COUNT} KafkaTopics Ready`,
      async () => {
        const ready = readyCount(await topics());
        if (ready !== last) console.log(`${((Date.now() - started) / 1000).toFixed(1)} s: ${ready}/${COUNT} Ready`);
        last = ready;
        return ready === COUNT ? true : undefined;
      },
      30 * 60_000,
      2_000,
    );
    const readyMs = Date.now() - started;
    const admin = new AdminClient({ bootstrap: broker?.bootstrap ?? "" });
    const inKafka = (await admin.listTopics()).filter((t) => t.startsWith("t-"));
    admin.close();
    expect(inKafka).toHaveLength(COUNT);
    const rss = suite.operator().rssMiB();
    console.log(`FIGURE kubectl apply of ${COUNT} KafkaTopics: ${(appliedMs / 1000).toFixed(1)} s`);
    console.log(`FIGURE ${COUNT} KafkaTopics applied at once → all Ready: ${(readyMs / 1000).toFixed(1)} s`);
    console.log(`FIGURE operator RSS with ${COUNT} KafkaTopics: ${rss.toFixed(0)} MiB`);

    const deleting = Date.now();
    await c.kubectl(["delete", "kafkatopics", "--all", "-n", NS, "--wait=false"]);
    await eventually(
      `${COUNT} KafkaTopics deleted`,
      async () => ((await topics()).length === 0 ? true : undefined),
      30 * 60_000,
      2_000,
    );
    console.log(`FIGURE delete of ${COUNT} KafkaTopics → all gone: ${((Date.now() - deleting) / 1000).toFixed(1)} s`);
  });
});
