import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigResourceTypes, Kafka, logLevel, type Admin, type Producer } from "kafkajs";
import { pollUntil, startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";

// The admin APIs against the real broker process, driven by an unmodified kafkajs 2.2.4 admin (CreateTopics v3,
// DeleteTopics v1, CreatePartitions v1, DescribeConfigs v2, AlterConfigs v1, DeleteRecords v1). Versions kafkajs
// does not send are covered frame by frame in admin-wire.test.ts, and so are the error messages: kafkajs shows its own
// text for each error code, never the broker's.

const TOPIC = ConfigResourceTypes.TOPIC;
const BROKER = ConfigResourceTypes.BROKER;
const SOURCE = { TOPIC_CONFIG: 1, DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, DEFAULT_CONFIG: 5 };

let broker: BrokerProcess;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  broker = await startBrokerProcess({ overrides: { "log.retention.check.interval.ms": "100" } });
  kafka = new Kafka({
    clientId: "admin-test",
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  await broker.destroy();
});

async function topicConfig(topic: string, name: string) {
  const { resources } = await admin.describeConfigs({
    resources: [{ type: TOPIC, name: topic, configNames: [name] }],
    includeSynonyms: false,
  });
  const entry = resources[0]?.configEntries.find((c) => c.configName === name);
  if (!entry) throw new Error(`no ${name} for ${topic}`);
  return entry;
}

/** The error kafkajs reports, flattened to "TYPE: message" lines so a test can match code and text together. */
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    const parts: string[] = [];
    const visit = (e: unknown): void => {
      if (typeof e !== "object" || e === null) return;
      const { type, message, errors, originalError, partitions, cause } = e as Record<string, unknown>;
      if (typeof type === "string" || typeof message === "string") parts.push(`${String(type)}: ${String(message)}`);
      if (Array.isArray(errors)) errors.forEach(visit);
      if (Array.isArray(partitions)) partitions.forEach((p) => visit((p as { error?: unknown }).error));
      visit(originalError);
      visit(cause);
    };
    visit(error);
    return parts.join("\n");
  }
  throw new Error("expected the call to fail");
}

describe("topics", () => {
  it("creates topics with partitions and configs, and refuses what Kafka refuses", async () => {
    const created = await admin.createTopics({
      topics: [
        { topic: "orders", numPartitions: 3, configEntries: [{ name: "retention.ms", value: "3600000" }] },
        { topic: "defaults" },
      ],
    });
    expect(created).toBe(true);
    const { topics } = await admin.fetchTopicMetadata({ topics: ["orders", "defaults"] });
    const byName = new Map(topics.map((t) => [t.name, t]));
    expect(
      byName
        .get("orders")
        ?.partitions.map((p) => p.partitionId)
        .sort(),
    ).toEqual([0, 1, 2]);
    expect(byName.get("orders")?.partitions.every((p) => p.leader === 1 && p.replicas.join() === "1")).toBe(true);
    expect(byName.get("defaults")?.partitions).toHaveLength(1);
    expect(await topicConfig("orders", "retention.ms")).toMatchObject({
      configValue: "3600000",
      configSource: SOURCE.TOPIC_CONFIG,
    });

    expect(await admin.createTopics({ topics: [{ topic: "orders", numPartitions: 1 }] })).toBe(false);

    const badConfig = await failure(
      admin.createTopics({
        topics: [{ topic: "bad-config", configEntries: [{ name: "retention.ms", value: "soon" }] }],
      }),
    );
    expect(badConfig).toMatch(/INVALID_CONFIG/);
    const unknownConfig = await failure(
      admin.createTopics({ topics: [{ topic: "bad-config", configEntries: [{ name: "no.such.key", value: "1" }] }] }),
    );
    expect(unknownConfig).toMatch(/INVALID_CONFIG/);
    const replicated = await failure(admin.createTopics({ topics: [{ topic: "rf3", replicationFactor: 3 }] }));
    expect(replicated).toMatch(/INVALID_REPLICATION_FACTOR/);
    const badName = await failure(admin.createTopics({ topics: [{ topic: "bad name!" }] }));
    expect(badName).toMatch(/INVALID_TOPIC_EXCEPTION/);

    const names = await admin.listTopics();
    expect(names).toEqual(expect.arrayContaining(["orders", "defaults"]));
    for (const refused of ["bad-config", "rf3", "bad name!"]) expect(names).not.toContain(refused);
  });

  it("validateOnly checks everything and creates nothing", async () => {
    expect(
      await admin.createTopics({
        validateOnly: true,
        waitForLeaders: false,
        topics: [{ topic: "dry-run", numPartitions: 2, configEntries: [{ name: "cleanup.policy", value: "delete" }] }],
      }),
    ).toBe(true);
    expect(await admin.listTopics()).not.toContain("dry-run");
    const invalid = await failure(
      admin.createTopics({
        validateOnly: true,
        waitForLeaders: false,
        topics: [{ topic: "dry-run", configEntries: [{ name: "cleanup.policy", value: "shred" }] }],
      }),
    );
    expect(invalid).toMatch(/INVALID_CONFIG/);
  });

  it("adds partitions, and refuses to shrink or keep the count", async () => {
    await admin.createTopics({ topics: [{ topic: "growing", numPartitions: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: "growing", count: 4 }] });
    const { topics } = await admin.fetchTopicMetadata({ topics: ["growing"] });
    expect(topics[0]?.partitions).toHaveLength(4);
    await producer.send({ topic: "growing", messages: [{ value: "to the new partition", partition: 3 }] });
    const offsets = await admin.fetchTopicOffsets("growing");
    expect(offsets.find((o) => o.partition === 3)?.high).toBe("1");

    expect(await failure(admin.createPartitions({ topicPartitions: [{ topic: "growing", count: 2 }] }))).toMatch(
      /INVALID_PARTITIONS/,
    );
    expect(await failure(admin.createPartitions({ topicPartitions: [{ topic: "growing", count: 4 }] }))).toMatch(
      /INVALID_PARTITIONS/,
    );
    expect(await failure(admin.createPartitions({ topicPartitions: [{ topic: "missing", count: 2 }] }))).toMatch(
      /UNKNOWN_TOPIC_OR_PARTITION/,
    );
  });

  it("deletes records up to an offset and up to the high watermark, never beyond", async () => {
    await admin.createTopics({ topics: [{ topic: "trimmed", numPartitions: 1 }] });
    for (let i = 0; i < 5; i++) await producer.send({ topic: "trimmed", messages: [{ value: `m${i}` }] });
    // kafkajs finds partition leaders in its metadata cache only, which this also fills.
    expect(await admin.fetchTopicOffsets("trimmed")).toEqual([expect.objectContaining({ low: "0", high: "5" })]);
    await admin.deleteTopicRecords({ topic: "trimmed", partitions: [{ partition: 0, offset: "3" }] });
    expect(await admin.fetchTopicOffsets("trimmed")).toEqual([
      expect.objectContaining({ partition: 0, low: "3", high: "5" }),
    ]);

    const beyond = await failure(
      admin.deleteTopicRecords({ topic: "trimmed", partitions: [{ partition: 0, offset: "99" }] }),
    );
    expect(beyond).toMatch(/OFFSET_OUT_OF_RANGE/);
    expect((await admin.fetchTopicOffsets("trimmed"))[0]?.low).toBe("3");

    await admin.deleteTopicRecords({ topic: "trimmed", partitions: [{ partition: 0, offset: "-1" }] });
    expect((await admin.fetchTopicOffsets("trimmed"))[0]).toMatchObject({ low: "5", high: "5" });

    // The records are really gone: a consumer from the earliest offset sees only what comes next.
    await producer.send({ topic: "trimmed", messages: [{ value: "after" }] });
    const consumer = kafka.consumer({ groupId: "trimmed-reader" });
    const seen: string[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: "trimmed", fromBeginning: true });
      await consumer.run({ eachMessage: ({ message }) => Promise.resolve(void seen.push(String(message.value))) });
      await pollUntil("the record after the deletion", () => seen.length > 0);
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toEqual(["after"]);
  });

  it("deletes topics, and frees their names", async () => {
    await admin.createTopics({ topics: [{ topic: "doomed", numPartitions: 2 }] });
    await producer.send({ topic: "doomed", messages: [{ value: "x" }] });
    await admin.deleteTopics({ topics: ["doomed"] });
    expect(await admin.listTopics()).not.toContain("doomed");
    expect(await failure(admin.fetchTopicMetadata({ topics: ["doomed"] }))).toMatch(/UNKNOWN_TOPIC_OR_PARTITION/);

    // The name is free again, and the new topic starts empty.
    await admin.createTopics({ topics: [{ topic: "doomed", numPartitions: 1 }] });
    expect(await admin.fetchTopicOffsets("doomed")).toEqual([
      expect.objectContaining({ partition: 0, low: "0", high: "0" }),
    ]);
  });

  it("describes the cluster as this one node", async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toEqual([{ nodeId: 1, host: "127.0.0.1", port: broker.port }]);
    expect(cluster.controller).toBe(1);
    expect(cluster.clusterId).toMatch(/\S/);
  });
});

describe("configs", () => {
  it("describes topic configs with their sources and synonyms", async () => {
    await admin.createTopics({
      topics: [{ topic: "described", configEntries: [{ name: "max.message.bytes", value: "2048" }] }],
    });
    const { resources } = await admin.describeConfigs({
      resources: [{ type: TOPIC, name: "described" }],
      includeSynonyms: true,
    });
    const [resource] = resources;
    expect(resource).toMatchObject({ errorCode: 0, resourceName: "described" });
    const byName = new Map(resource?.configEntries.map((c) => [c.configName, c]));
    expect([...byName.keys()]).toEqual(
      expect.arrayContaining(["cleanup.policy", "retention.ms", "retention.bytes", "segment.bytes"]),
    );
    expect(byName.get("max.message.bytes")).toMatchObject({
      configValue: "2048",
      configSource: SOURCE.TOPIC_CONFIG,
      isDefault: false,
      readOnly: false,
    });
    expect(byName.get("max.message.bytes")?.configSynonyms[0]).toMatchObject({
      configName: "max.message.bytes",
      configValue: "2048",
      configSource: SOURCE.TOPIC_CONFIG,
    });
    expect(byName.get("max.message.bytes")?.configSynonyms.map((s) => s.configName)).toContain("message.max.bytes");
    expect(byName.get("cleanup.policy")).toMatchObject({ configValue: "delete", configSource: SOURCE.DEFAULT_CONFIG });

    const unknown = await failure(
      admin.describeConfigs({ resources: [{ type: TOPIC, name: "nope" }], includeSynonyms: false }),
    );
    expect(unknown).toMatch(/UNKNOWN_TOPIC_OR_PARTITION/);
  });

  it("alters topic configs with replace semantics and refuses invalid values with the reason", async () => {
    await admin.createTopics({
      topics: [{ topic: "altered", configEntries: [{ name: "retention.ms", value: "1000000" }] }],
    });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: TOPIC, name: "altered", configEntries: [{ name: "retention.bytes", value: "1048576" }] }],
    });
    expect(await topicConfig("altered", "retention.bytes")).toMatchObject({
      configValue: "1048576",
      configSource: SOURCE.TOPIC_CONFIG,
    });
    // Replace semantics: retention.ms was not in the request, so it is back at the default.
    expect(await topicConfig("altered", "retention.ms")).toMatchObject({
      configValue: "604800000",
      configSource: SOURCE.DEFAULT_CONFIG,
    });

    await admin.alterConfigs({
      validateOnly: true,
      resources: [{ type: TOPIC, name: "altered", configEntries: [{ name: "retention.bytes", value: "1" }] }],
    });
    expect((await topicConfig("altered", "retention.bytes")).configValue).toBe("1048576");

    const invalid = await failure(
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          { type: TOPIC, name: "altered", configEntries: [{ name: "message.timestamp.type", value: "Yesterday" }] },
        ],
      }),
    );
    expect(invalid).toMatch(/INVALID_CONFIG/);
    expect((await topicConfig("altered", "retention.bytes")).configValue).toBe("1048576");
  });

  it("applies retention changes to the partitions at once", async () => {
    await admin.createTopics({
      topics: [{ topic: "retained", configEntries: [{ name: "segment.bytes", value: "1024" }] }],
    });
    const payload = "r".repeat(300);
    for (let i = 0; i < 12; i++) await producer.send({ topic: "retained", messages: [{ value: payload }] });
    expect((await admin.fetchTopicOffsets("retained"))[0]).toMatchObject({ low: "0", high: "12" });

    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: TOPIC,
          name: "retained",
          configEntries: [
            { name: "segment.bytes", value: "1024" },
            { name: "retention.bytes", value: "1024" },
          ],
        },
      ],
    });
    await pollUntil(
      "retention.bytes to delete old segments",
      async () => Number((await admin.fetchTopicOffsets("retained"))[0]?.low) > 0,
      20_000,
    );
    expect((await admin.fetchTopicOffsets("retained"))[0]?.high).toBe("12");
  });

  // Altering broker "1" sets that broker's own dynamic config (DYNAMIC_BROKER_CONFIG), as in Kafka; "" would set the
  // cluster-wide default.
  it("describes and alters the broker's dynamic configs, which its topics inherit", async () => {
    const before = await admin.describeConfigs({
      resources: [{ type: BROKER, name: "1", configNames: ["log.retention.ms", "num.partitions"] }],
      includeSynonyms: false,
    });
    const entries = new Map(before.resources[0]?.configEntries.map((c) => [c.configName, c]));
    expect(entries.get("log.retention.ms")).toMatchObject({ readOnly: false });
    expect(entries.get("num.partitions")).toMatchObject({ configValue: "1", readOnly: true });

    await admin.createTopics({ topics: [{ topic: "inherits" }] });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: BROKER, name: "1", configEntries: [{ name: "log.retention.ms", value: "7200000" }] }],
    });
    const after = await admin.describeConfigs({
      resources: [{ type: BROKER, name: "1", configNames: ["log.retention.ms"] }],
      includeSynonyms: false,
    });
    expect(after.resources[0]?.configEntries[0]).toMatchObject({
      configValue: "7200000",
      configSource: SOURCE.DYNAMIC_BROKER_CONFIG,
    });
    expect(await topicConfig("inherits", "retention.ms")).toMatchObject({
      configValue: "7200000",
      configSource: SOURCE.DYNAMIC_BROKER_CONFIG,
    });

    const readOnly = await failure(
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: BROKER, name: "1", configEntries: [{ name: "num.partitions", value: "3" }] }],
      }),
    );
    expect(readOnly).toMatch(/INVALID_CONFIG/);
  });
});

describe("restart", () => {
  it.each(["SIGTERM", "SIGKILL"] as const)("keeps topics, partitions and configs after %s", async (signal) => {
    const topic = `survivor-${signal}`;
    await admin.createTopics({
      topics: [{ topic, numPartitions: 2, configEntries: [{ name: "retention.bytes", value: "4194304" }] }],
    });
    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
    await producer.send({ topic, acks: -1, messages: [{ value: "kept", partition: 2 }] });
    const { resources: idsBefore } = await admin.describeConfigs({
      resources: [{ type: BROKER, name: "1", configNames: ["log.retention.ms"] }],
      includeSynonyms: false,
    });

    await producer.disconnect();
    await admin.disconnect();
    await broker.stop(signal);
    await broker.restart();
    await admin.connect();
    await producer.connect();

    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]?.partitions).toHaveLength(3);
    expect(await topicConfig(topic, "retention.bytes")).toMatchObject({
      configValue: "4194304",
      configSource: SOURCE.TOPIC_CONFIG,
    });
    expect((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 2)?.high).toBe("1");
    const { resources: idsAfter } = await admin.describeConfigs({
      resources: [{ type: BROKER, name: "1", configNames: ["log.retention.ms"] }],
      includeSynonyms: false,
    });
    expect(idsAfter[0]?.configEntries).toEqual(idsBefore[0]?.configEntries);
    // Set dynamically by the broker config test above.
    expect(idsAfter[0]?.configEntries[0]).toMatchObject({
      configValue: "7200000",
      configSource: SOURCE.DYNAMIC_BROKER_CONFIG,
    });
  });
});
