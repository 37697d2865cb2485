// Conformance: unmodified kafkajs 2.2.4 against a real Tributary broker process on loopback (issue 3). With
// TRIBUTARY_COMPAT_NODES=3 the same tests run against a 3-node cluster (issue 11; the restart test restarts the node
// leading its partition), with one more about how partitions and groups spread over the brokers. Its topics take the
// broker's default.replication.factor, which TRIBUTARY_COMPAT_RF sets on a cluster.
import kafkajs from "kafkajs";
import type { Admin, Consumer, EachMessagePayload, Kafka as KafkaClient, Producer } from "kafkajs";
import SnappyCodec from "kafkajs-snappy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compressibleValue, waitFor, type CompatBroker } from "../../src/compat/broker.ts";
import { compatNodes, startSharedBroker, type CompatCluster } from "../../src/compat/cluster.ts";
import { lz4Codec, zstdCodec } from "../../src/compat/kafkajs-codecs.ts";

const { CompressionCodecs, CompressionTypes, ConfigResourceTypes, Kafka, Partitioners, logLevel } = kafkajs;
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;
CompressionCodecs[CompressionTypes.LZ4] = lz4Codec;
CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;

const onCluster = compatNodes() > 1;
let broker: CompatBroker | CompatCluster;
let kafka: KafkaClient;
let admin: Admin;
const open: { disconnect(): Promise<void> }[] = [];

function client(): KafkaClient {
  return new Kafka({
    clientId: "compat-kafkajs",
    brokers: broker.bootstrap.split(","),
    logLevel: logLevel.NOTHING,
    retry: { retries: 12, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

async function producer(options: { idempotent?: boolean } = {}): Promise<Producer> {
  const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...options });
  await p.connect();
  open.push(p);
  return p;
}

async function createTopic(topic: string, numPartitions: number, config: Record<string, string> = {}): Promise<void> {
  const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
  // kafkajs' waitForLeaders polls Metadata on any broker and gives up on UNKNOWN_TOPIC_OR_PARTITION, which a cluster's
  // broker answers until it has applied the controller's records (docs/compat.md); on a cluster the harness waits.
  const waitForLeaders = !onCluster;
  expect(await admin.createTopics({ topics: [{ topic, numPartitions, configEntries }], waitForLeaders })).toBe(true);
  await broker.awaitTopic(topic, numPartitions);
}

interface Seen {
  partition: number;
  offset: string;
  key: string;
  value: string;
}

/** A group consumer that records every message it sees and the partitions it currently owns. */
async function groupConsumer(groupId: string, topic: string, fromBeginning = true) {
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    rebalanceTimeout: 10_000,
    maxWaitTimeInMs: 200,
  });
  const seen: Seen[] = [];
  let owned: number[] = [];
  let fetches = 0;
  consumer.on(consumer.events.FETCH, () => fetches++);
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    owned = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
  });
  await consumer.connect();
  open.push(consumer);
  await consumer.subscribe({ topics: [topic], fromBeginning });
  await consumer.run({
    eachMessage: async ({ partition, message }: EachMessagePayload) => {
      seen.push({
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? "",
        value: message.value?.toString() ?? "",
      });
      return Promise.resolve();
    },
  });
  return { consumer, seen, owned: () => owned, fetches: () => fetches };
}

async function readAll(topic: string, expected: number): Promise<Seen[]> {
  const { consumer, seen } = await groupConsumer(`reader-${topic}-${Date.now()}`, topic);
  await waitFor(`${expected} records from ${topic}`, () => (seen.length >= expected ? true : undefined));
  await consumer.disconnect();
  return seen;
}

async function highWatermarks(topic: string): Promise<number> {
  // Right after a leader change the new leader answers OFFSET_NOT_AVAILABLE until its high watermark has caught up
  // (KIP-207, as Kafka does); kafkajs' admin passes that error on instead of retrying, so the test polls.
  return waitFor(`the high watermarks of ${topic}`, async () => {
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, p) => sum + Number(p.high), 0);
    } catch (err) {
      if ((err as { type?: unknown }).type === "OFFSET_NOT_AVAILABLE") return undefined;
      throw err;
    }
  });
}

beforeAll(async () => {
  broker = await startSharedBroker({ "log.retention.check.interval.ms": "200" });
  kafka = client();
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const c of open.reverse()) await c.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await broker?.destroy();
});

describe("kafkajs 2.2.4", () => {
  it("creates, describes, alters and deletes a topic through the admin client", async () => {
    await createTopic("kjs-admin", 3, { "retention.ms": "3600000" });
    const { topics } = await admin.fetchTopicMetadata({ topics: ["kjs-admin"] });
    expect(topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
    expect(await admin.listTopics()).toContain("kjs-admin");

    const describe = async () => {
      const res = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: "kjs-admin", configNames: ["retention.ms"] }],
      });
      return res.resources[0]?.configEntries.find((e) => e.configName === "retention.ms")?.configValue;
    };
    // On a cluster the broker asked may apply a config change after the one that forwarded it: poll.
    const configIs = (value: string) =>
      waitFor(`retention.ms ${value}`, async () =>
        (await describe().catch(() => undefined)) === value ? true : undefined,
      );
    await configIs("3600000");
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: "kjs-admin",
          configEntries: [{ name: "retention.ms", value: "7200000" }],
        },
      ],
    });
    await configIs("7200000");

    await admin.createPartitions({ topicPartitions: [{ topic: "kjs-admin", count: 4 }] });
    await broker.awaitTopic("kjs-admin", 4);
    const after = await admin.fetchTopicMetadata({ topics: ["kjs-admin"] });
    expect(after.topics[0]?.partitions).toHaveLength(4);

    await expect(admin.createTopics({ topics: [{ topic: "kjs-admin", numPartitions: 1 }] })).resolves.toBe(false);
    await admin.deleteTopics({ topics: ["kjs-admin"] });
    await waitFor("kjs-admin to disappear", async () =>
      (await admin.listTopics()).includes("kjs-admin") ? undefined : true,
    );
  });

  it("sends records with the same key to the same partition", async () => {
    await createTopic("kjs-keys", 4);
    const p = await producer();
    const partitionsByKey = new Map<string, Set<number>>();
    for (let round = 0; round < 3; round++) {
      const res = await p.send({
        topic: "kjs-keys",
        acks: -1,
        messages: Array.from({ length: 12 }, (_, k) => ({ key: `key-${k}`, value: `v-${round}-${k}` })),
      });
      expect(res.every((r) => r.errorCode === 0)).toBe(true);
    }
    for (let k = 0; k < 12; k++) {
      const res = await p.send({ topic: "kjs-keys", messages: [{ key: `key-${k}`, value: `single-${k}` }] });
      const partition = res[0]?.partition;
      expect(partition).toBeTypeOf("number");
      partitionsByKey.set(`key-${k}`, new Set([partition ?? -1]));
    }
    const seen = await readAll("kjs-keys", 48);
    for (const r of seen) partitionsByKey.get(r.key)?.add(r.partition);
    for (const [key, partitions] of partitionsByKey) expect([key, partitions.size]).toEqual([key, 1]);
    // 12 keys over 4 partitions: the default (murmur2) partitioner spreads them.
    expect(new Set(seen.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it("produces with acks 0, 1 and all", async () => {
    await createTopic("kjs-acks", 1);
    const p = await producer();
    const none = await p.send({ topic: "kjs-acks", acks: 0, messages: [{ value: "acks-0" }] });
    expect(none).toEqual([]);
    const one = await p.send({ topic: "kjs-acks", acks: 1, messages: [{ value: "acks-1" }] });
    const all = await p.send({ topic: "kjs-acks", acks: -1, messages: [{ value: "acks-all" }] });
    expect(one[0]?.errorCode).toBe(0);
    expect(all[0]?.errorCode).toBe(0);
    expect(Number(all[0]?.baseOffset)).toBeGreaterThan(Number(one[0]?.baseOffset));
    const seen = await readAll("kjs-acks", 3);
    expect(seen.map((r) => r.value).sort()).toEqual(["acks-0", "acks-1", "acks-all"]);
  });

  it("produces idempotently", async () => {
    await createTopic("kjs-idempotent", 1);
    const p = await producer({ idempotent: true });
    for (let i = 0; i < 3; i++) await p.send({ topic: "kjs-idempotent", acks: -1, messages: [{ value: `i-${i}` }] });
    const seen = await readAll("kjs-idempotent", 3);
    expect(seen.map((r) => r.value)).toEqual(["i-0", "i-1", "i-2"]);
  });

  const codecs = [
    ["none", CompressionTypes.None],
    ["gzip", CompressionTypes.GZIP],
    ["snappy", CompressionTypes.Snappy],
    ["lz4", CompressionTypes.LZ4],
    ["zstd", CompressionTypes.ZSTD],
  ] as const;
  it.each(codecs)("writes and reads %s batches", async (name, compression) => {
    const topic = `kjs-codec-${name}`;
    await createTopic(topic, 1);
    const p = await producer();
    const values = Array.from({ length: 50 }, (_, i) => compressibleValue(i));
    await p.send({ topic, acks: -1, compression, messages: values.map((value) => ({ value })) });
    const seen = await readAll(topic, values.length);
    expect(seen.map((r) => r.value)).toEqual(values);
    const onDisk = await broker.segmentBytes(topic, 0);
    if (name === "none") expect(onDisk).toBeGreaterThan(50_000);
    else expect(onDisk).toBeLessThan(10_000); // stored as the client compressed it
  });

  it("rebalances a group as members join and leave, then commits and resumes", async () => {
    const topic = "kjs-group";
    const groupId = "kjs-group-1";
    await createTopic(topic, 4);
    const p = await producer();
    const produce = async (from: number, count: number) =>
      p.send({
        topic,
        acks: -1,
        messages: Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `g-${from + i}` })),
      });

    const a = await groupConsumer(groupId, topic);
    await waitFor("a owns all 4 partitions", () => (a.owned().length === 4 ? true : undefined));
    const b = await groupConsumer(groupId, topic);
    await waitFor("a and b split the partitions", () =>
      a.owned().length > 0 && b.owned().length > 0 && a.owned().length + b.owned().length === 4 ? true : undefined,
    );
    expect([...a.owned(), ...b.owned()].sort()).toEqual([0, 1, 2, 3]);

    await produce(0, 40);
    await waitFor("a and b consume 40 records", () =>
      new Set([...a.seen, ...b.seen].map((r) => r.value)).size === 40 ? true : undefined,
    );
    expect(a.seen.length).toBeGreaterThan(0);
    expect(b.seen.length).toBeGreaterThan(0);

    await b.consumer.disconnect(); // LeaveGroup
    await waitFor("a owns all 4 partitions again", () => (a.owned().length === 4 ? true : undefined));
    await produce(40, 20);
    await waitFor("a consumes the next 20", () =>
      a.seen.filter((r) => Number(r.value.slice(2)) >= 40).length === 20 ? true : undefined,
    );
    await a.consumer.disconnect(); // commits on the way out
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committedTotal = committed[0]?.partitions.reduce((sum, x) => sum + Number(x.offset), 0);
    expect(committedTotal).toBe(60);

    await produce(60, 10);
    const c = await groupConsumer(groupId, topic);
    await waitFor("c resumes with the 10 new records", () => (c.seen.length >= 10 ? true : undefined));
    expect(c.seen.map((r) => Number(r.value.slice(2))).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => 60 + i),
    );
    const groups = await admin.describeGroups([groupId]);
    expect(groups.groups[0]?.members).toHaveLength(1);
  });

  it("seeks to earliest, latest and a timestamp", async () => {
    const topic = "kjs-seek";
    await createTopic(topic, 1);
    const p = await producer();
    const t0 = Date.now() - 60_000;
    await p.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 10 }, (_, i) => ({ value: `s-${i}`, timestamp: String(t0 + i * 1000) })),
    });
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, t0 + 5500);
    expect(byTime).toEqual([{ partition: 0, offset: "6" }]);
    const ends = await admin.fetchTopicOffsets(topic);
    expect(ends[0]).toMatchObject({ partition: 0, low: "0", high: "10" });

    const { consumer, seen, owned, fetches } = await groupConsumer("kjs-seek-group", topic, false);
    // A completed fetch after the assignment means the consumer has resolved "latest" (offset 10).
    await waitFor("assignment", () => (owned().length === 1 ? true : undefined));
    const fetchesAtJoin = fetches();
    await waitFor("a fetch after joining", () => (fetches() > fetchesAtJoin ? true : undefined));
    await p.send({ topic, acks: -1, messages: [{ value: "s-10" }] });
    await waitFor("the record produced after joining at latest", () => (seen.length > 0 ? true : undefined));
    expect(seen[0]?.value).toBe("s-10");

    const seekAndRead = async (offset: string, want: string) => {
      const mark = seen.length;
      consumer.seek({ topic, partition: 0, offset });
      await waitFor(`seek to ${offset}`, () => (seen.slice(mark).some((r) => r.value === want) ? true : undefined));
      return seen.slice(mark).find((r) => r.value === want);
    };
    // kafkajs resolves the special offsets -1/-2 through the subscription's fromBeginning, so seek to the concrete
    // offsets ListOffsets gives for earliest, latest and a timestamp.
    const earliest = (await admin.fetchTopicOffsets(topic))[0]?.low ?? "x";
    expect((await seekAndRead(earliest, "s-0"))?.offset).toBe("0");
    expect((await seekAndRead(byTime[0]?.offset ?? "x", "s-6"))?.offset).toBe("6");
    const latest = (await admin.fetchTopicOffsets(topic))[0]?.high ?? "x";
    expect(latest).toBe("11");
    const mark = seen.length;
    consumer.seek({ topic, partition: 0, offset: latest });
    await p.send({ topic, acks: -1, messages: [{ value: "s-11" }] });
    await waitFor("s-11 after seeking to latest", () =>
      seen.slice(mark).some((r) => r.value === "s-11") ? true : undefined,
    );
    expect(seen.slice(mark).find((r) => r.value === "s-11")?.offset).toBe("11");
  });

  // On a cluster the node leading partition 0 goes down and comes back while the others keep serving.
  it("keeps acknowledged records and committed offsets across SIGTERM and kill -9", async () => {
    const topic = "kjs-restart";
    const groupId = "kjs-restart-group";
    await createTopic(topic, 2);
    let acked: string[] = [];
    const produceAcked = async (from: number, count: number) => {
      const p = await producer({ idempotent: true });
      const values = Array.from({ length: count }, (_, i) => `r-${from + i}`);
      for (const value of values) await p.send({ topic, acks: -1, messages: [{ key: value, value }] });
      acked = [...acked, ...values];
      await p.disconnect();
    };
    const consumeAndCommit = async (want: number) => {
      const g = await groupConsumer(groupId, topic);
      await waitFor(`group reads ${want}`, () => (g.seen.length >= want ? true : undefined));
      await g.consumer.disconnect();
      return g.seen.length;
    };
    const committedTotal = async () =>
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions.reduce((s, x) => s + Number(x.offset), 0);

    await produceAcked(0, 20);
    expect(await consumeAndCommit(20)).toBe(20);
    await produceAcked(20, 10);

    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      // Before each stop: every record acknowledged, the last 10 not yet consumed by the group.
      const committedBefore = acked.length - 10;
      expect(await committedTotal()).toBe(committedBefore);
      await admin.disconnect();
      await broker.restartLeaderOf(topic, 0, signal);
      kafka = client();
      admin = kafka.admin();
      await admin.connect();
      expect(await highWatermarks(topic)).toBe(acked.length);
      const all = await readAll(topic, acked.length);
      expect(all.map((r) => r.value).sort()).toEqual([...acked].sort());
      expect(await committedTotal()).toBe(committedBefore);
      // The group resumes from its committed offsets: only the 10 it has not seen yet.
      expect(await consumeAndCommit(10)).toBe(10);
      expect(await committedTotal()).toBe(acked.length);
      await produceAcked(acked.length, 10);
    }
  });

  it("deletes old segments under retention", async () => {
    const topic = "kjs-retention";
    await createTopic(topic, 1, { "segment.bytes": "2048", "retention.ms": "500" });
    const p = await producer();
    for (let i = 0; i < 10; i++) {
      await p.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 3 }, (_, j) => ({ value: compressibleValue(i * 3 + j) })),
      });
    }
    const low = await waitFor("the earliest offset to move past 0", async () => {
      const offsets = await admin.fetchTopicOffsets(topic);
      const l = Number(offsets[0]?.low);
      return l > 0 ? l : undefined;
    });
    expect(low).toBeLessThanOrEqual(30);
    expect((await admin.fetchTopicOffsets(topic))[0]?.high).toBe("30");
  });

  it.runIf(onCluster)("spreads partition leaders and group offsets over the brokers", async () => {
    if (!("nodes" in broker)) throw new Error("runs on a cluster");
    const ids = broker.nodes.map((n) => n.id).sort((a, b) => a - b);
    const topic = "kjs-spread";
    await createTopic(topic, 6);
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const leaders = new Map(topics[0]?.partitions.map((p) => [p.partitionId, p.leader]));
    expect([...new Set(leaders.values())].sort((a, b) => a - b)).toEqual(ids);
    const p = await producer();
    for (let partition = 0; partition < 6; partition++) {
      await p.send({ topic, acks: -1, messages: [0, 1, 2].map((i) => ({ partition, value: `p${partition}-${i}` })) });
    }
    const seen = await readAll(topic, 18);
    for (let partition = 0; partition < 6; partition++) {
      expect(seen.filter((r) => r.partition === partition).map((r) => r.value)).toEqual(
        [0, 1, 2].map((i) => `p${partition}-${i}`),
      );
    }
    // Each group's offsets go to its coordinator (FindCoordinator), the leader of its __consumer_offsets partition.
    // kafkajs does not say which broker that is (the other suites assert the spread); setOffsets runs a consumer of
    // the group each time, so two groups only.
    for (let g = 0; g < 2; g++) {
      const groupId = `kjs-spread-${g}`;
      await admin.setOffsets({ groupId, topic, partitions: [{ partition: g % 6, offset: String(g + 1) }] });
      const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(fetched?.partitions.find((x) => x.partition === g % 6)?.offset).toBe(String(g + 1));
    }
  });
});
