// The admin client (broker/src/admin) against the real broker executable on loopback: every call it offers, per-item
// errors in batched calls, the forwarded elections and reassignments, reconnection across a broker restart, and the
// deadlines on connect and on a broker that never answers.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient, AdminTimeoutError, ApiKey, BrokerConnectionError, KafkaError } from "../../src/admin/index.ts";
import { freePort, startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";

let broker: BrokerProcess;
let admin: AdminClient;

beforeAll(async () => {
  broker = await startBrokerProcess();
  admin = new AdminClient({ bootstrap: broker.bootstrap, requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  admin.close();
  await broker.destroy();
});

function topicConfig(configs: { name: string; value: string | null; source: string }[], name: string) {
  return configs.find((c) => c.name === name);
}

describe("AdminClient against the broker process", () => {
  it("reports the cluster: one broker, its id and the cluster id", async () => {
    const cluster = await admin.cluster();
    expect(cluster.brokers).toEqual([{ nodeId: 1, host: "127.0.0.1", port: broker.port, rack: null }]);
    expect(cluster.controllerId).toBe(1);
    expect(cluster.clusterId).toMatch(/^\S+$/);
  });

  it("creates topics in one batch, each with its own result", async () => {
    const results = await admin.createTopics([
      { name: "a1", partitions: 3, configs: { "retention.ms": "60000" } },
      { name: "a2" },
      { name: "bad name!" },
      { name: "a3", configs: { "cleanup.policy": "sideways" } },
    ]);
    expect(results.map((r) => [r.name, r.error?.type])).toEqual([
      ["a1", undefined],
      ["a2", undefined],
      ["bad name!", "INVALID_TOPIC_EXCEPTION"],
      ["a3", "INVALID_CONFIG"],
    ]);
    expect(results[0]).toMatchObject({ partitions: 3, replicationFactor: 1 });
    expect(results[0]?.topicId).toMatch(/^[0-9a-f-]{36}$/);
    expect(results[2]?.error).toBeInstanceOf(KafkaError);
    expect(results[2]?.error?.message).toContain("creating topic bad name!: INVALID_TOPIC_EXCEPTION");

    const again = await admin.createTopics([{ name: "a1" }]);
    expect(again[0]?.error?.type).toBe("TOPIC_ALREADY_EXISTS");
    expect(again[0]?.error?.retriable).toBe(false);
  });

  it("validates without creating", async () => {
    const [r] = await admin.createTopics([{ name: "dry" }], { validateOnly: true });
    expect(r?.error).toBeUndefined();
    expect(await admin.listTopics()).not.toContain("dry");
  });

  it("lists and describes topics; an unknown one is an item error, not created by the lookup", async () => {
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(["a1", "a2"]));
    const found = await admin.describeTopics(["a1", "nope"]);
    const a1 = found.get("a1")?.topic;
    expect(a1?.partitions.map((p) => [p.partition, p.leader, p.replicas, p.isr])).toEqual([
      [0, 1, [1], [1]],
      [1, 1, [1], [1]],
      [2, 1, [1], [1]],
    ]);
    expect(a1?.topicId).toMatch(/^[0-9a-f-]{36}$/);
    expect(found.get("nope")?.error?.type).toBe("UNKNOWN_TOPIC_OR_PARTITION");
    expect(await admin.listTopics()).not.toContain("nope");
  });

  it("describes topic and broker configs with their sources", async () => {
    const [topic, brokerCfg, unknown] = await admin.describeConfigs([
      { type: "topic", name: "a1" },
      { type: "broker", name: "1" },
      { type: "topic", name: "nope" },
    ]);
    expect(topicConfig(topic?.configs ?? [], "retention.ms")).toMatchObject({
      value: "60000",
      source: "DYNAMIC_TOPIC_CONFIG",
    });
    expect(topicConfig(topic?.configs ?? [], "cleanup.policy")).toMatchObject({
      value: "delete",
      source: "DEFAULT_CONFIG",
      isDefault: true,
    });
    expect(topicConfig(brokerCfg?.configs ?? [], "node.id")).toMatchObject({ value: "1" });
    expect(unknown?.error?.type).toBe("UNKNOWN_TOPIC_OR_PARTITION");
    await expect(admin.describeConfigs([{ type: "broker", name: "x" }])).rejects.toThrow(/not a node id/);
  });

  it("alters configs incrementally: set, delete back to the default, per-resource errors", async () => {
    const results = await admin.alterConfigs([
      {
        type: "topic",
        name: "a1",
        ops: [
          { name: "cleanup.policy", op: "set", value: "compact" },
          { name: "retention.ms", op: "delete" },
        ],
      },
      { type: "topic", name: "a2", ops: [{ name: "segment.bytes", op: "set", value: "-5" }] },
      { type: "topic", name: "nope", ops: [{ name: "retention.ms", op: "set", value: "1" }] },
    ]);
    expect(results.map((r) => r.error?.type)).toEqual([undefined, "INVALID_CONFIG", "UNKNOWN_TOPIC_OR_PARTITION"]);
    const [a1] = await admin.describeConfigs([{ type: "topic", name: "a1" }]);
    expect(topicConfig(a1?.configs ?? [], "cleanup.policy")).toMatchObject({
      value: "compact",
      source: "DYNAMIC_TOPIC_CONFIG",
    });
    expect(topicConfig(a1?.configs ?? [], "retention.ms")?.source).toBe("DEFAULT_CONFIG");
    await expect(
      admin.alterConfigs([{ type: "topic", name: "a1", ops: [{ name: "retention.ms", op: "set" }] }]),
    ).rejects.toThrow(/set needs a value/);
  });

  it("grows partitions, refuses to shrink them", async () => {
    const results = await admin.createPartitions([
      { name: "a2", count: 4 },
      { name: "a1", count: 2 },
    ]);
    expect(results.map((r) => r.error?.type)).toEqual([undefined, "INVALID_PARTITIONS"]);
    const a2 = (await admin.describeTopics(["a2"])).get("a2")?.topic;
    expect(a2?.partitions).toHaveLength(4);
  });

  it("deletes topics, each with its own result", async () => {
    const results = await admin.deleteTopics(["a2", "never-was"]);
    expect(results.map((r) => [r.name, r.error?.type])).toEqual([
      ["a2", undefined],
      ["never-was", "UNKNOWN_TOPIC_OR_PARTITION"],
    ]);
    expect(await admin.listTopics()).not.toContain("a2");
  });

  it("elects leaders and lists and alters reassignments through the broker, which forwards them", async () => {
    for (const key of [ApiKey.AlterPartitionReassignments, ApiKey.ListPartitionReassignments, ApiKey.ElectLeaders]) {
      expect(await admin.supports(key), `API ${key}`).toBe(true);
    }
    // One broker: every partition already has its preferred leader, and there is nothing to reassign.
    expect(await admin.electLeaders({ partitions: null })).toEqual([]);
    const [notNeeded] = await admin.electLeaders({ partitions: [{ topic: "a1", partition: 0 }] });
    expect(notNeeded?.error?.type).toBe("ELECTION_NOT_NEEDED");
    expect(await admin.alterPartitionReassignments([{ topic: "a1", partition: 0, replicas: [1] }])).toEqual([
      { topic: "a1", partition: 0 },
    ]);
    expect(await admin.listPartitionReassignments()).toEqual([]);
    const [cancel] = await admin.alterPartitionReassignments([{ topic: "a1", partition: 0, replicas: null }]);
    expect(cancel?.error?.type).toBe("NO_REASSIGNMENT_IN_PROGRESS");
  });

  it("describes the quorum through the broker, which forwards DescribeQuorum to the active controller", async () => {
    const quorum = await admin.describeQuorum();
    expect(quorum.leaderId).toBe(1);
    expect(quorum.voters.map((v) => v.replicaId)).toEqual([1]);
    expect(quorum.highWatermark).toBeGreaterThan(0n);
  });

  it("reads the feature levels (ApiVersions) and finalizes metadata.version through UpdateFeatures", async () => {
    const levels = await admin.features();
    const [min = 0, max = 0] = levels.supported.get("metadata.version") ?? [];
    expect(max).toBeGreaterThanOrEqual(min);
    const finalized = levels.finalized.get("metadata.version");
    expect(finalized).toBeGreaterThanOrEqual(min);
    expect(await admin.supports(ApiKey.UpdateFeatures)).toBe(true);
    // The same level again is accepted; above what the brokers support is refused with the controller's reason.
    await admin.updateFeatures([{ feature: "metadata.version", maxVersionLevel: finalized ?? max }]);
    const refused = await admin
      .updateFeatures([{ feature: "metadata.version", maxVersionLevel: max + 1 }], { validateOnly: true })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(KafkaError);
    if (finalized !== undefined && finalized < max) {
      await admin.updateFeatures([{ feature: "metadata.version", maxVersionLevel: max }]);
      expect((await admin.features()).finalized.get("metadata.version")).toBe(max);
    }
  });

  it("unregisters brokers through the broker, which forwards UnregisterBroker (64) to the active controller", async () => {
    expect(await admin.supports(ApiKey.UnregisterBroker)).toBe(true);
    const refused = await admin.unregisterBroker(7).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(KafkaError);
    expect((refused as KafkaError).code).toBe(102);
    expect((refused as KafkaError).message).toContain("Broker ID 7 is not currently registered");
  });

  it("reconnects after the broker restarts", async () => {
    await broker.stop("SIGTERM");
    const fast = new AdminClient({ bootstrap: broker.bootstrap, retries: 0, connectTimeoutMs: 2_000 });
    await expect(fast.listTopics()).rejects.toBeInstanceOf(BrokerConnectionError);
    fast.close();
    await expect(admin.listTopics()).rejects.toThrow(/no broker reachable|closed/);
    await broker.restart();
    expect(await admin.listTopics()).toContain("a1");
  });
});

describe("AdminClient deadlines and bad input", () => {
  let silent: Server;
  const sockets: Socket[] = [];
  let silentPort = 0;
  beforeAll(async () => {
    // Accepts connections and never answers: a hung broker.
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const address = silent.address();
    silentPort = typeof address === "object" && address !== null ? address.port : 0;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it("times out a broker that never answers, naming the request", async () => {
    const client = new AdminClient({ bootstrap: `127.0.0.1:${silentPort}`, requestTimeoutMs: 300, retries: 0 });
    const started = Date.now();
    const err = await client.listTopics().then(
      () => undefined,
      (e: unknown) => e,
    );
    client.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    // The first request of a connection is ApiVersions; its timeout makes the broker unreachable for this call.
    expect(String(err)).toMatch(/ApiVersionsRequest v0 to 127\.0\.0\.1:\d+ got no answer within 300 ms/);
    expect(err instanceof BrokerConnectionError || err instanceof AdminTimeoutError).toBe(true);
  });

  it("fails fast on a closed port and retries the given number of times", async () => {
    const port = await freePort();
    const client = new AdminClient({ bootstrap: [`127.0.0.1:${port}`], retries: 1, retryBackoffMs: 10 });
    await expect(client.cluster()).rejects.toThrow(/no broker reachable: cannot connect to 127\.0\.0\.1:\d+/);
    client.close();
  });

  it("refuses malformed bootstrap addresses at construction", () => {
    expect(() => new AdminClient({ bootstrap: "" })).toThrow(/at least one bootstrap address/);
    expect(() => new AdminClient({ bootstrap: "localhost" })).toThrow(/"localhost" is not host:port/);
    expect(() => new AdminClient({ bootstrap: "h:99999" })).toThrow(/not host:port/);
  });

  it("fails every call after close()", async () => {
    const client = new AdminClient({ bootstrap: `127.0.0.1:${silentPort}` });
    client.close();
    await expect(client.listTopics()).rejects.toThrow(/closed/);
  });
});
