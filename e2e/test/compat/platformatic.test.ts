// Conformance: unmodified @platformatic/kafka (1.35, the last line that supports Node 20) against a real Tributary
// broker process on loopback (issue 3). With TRIBUTARY_COMPAT_NODES=3 the same tests run against a 3-node cluster
// (issue 11; the restart test restarts the node leading its partition), with one more about how partitions and group
// coordinators spread over the brokers; TRIBUTARY_COMPAT_RF sets the replication factor of its topics.
import {
  Admin,
  CompressionAlgorithms,
  ConfigResourceTypes,
  Consumer,
  ProduceAcks,
  Producer,
  compressionsAlgorithms,
  stringDeserializers,
  stringSerializers,
  type CompressionAlgorithmValue,
  type ConsumerGroupJoinPayload,
  type Message,
  type MessagesStreamModeValue,
  type MessagesStream,
} from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compressibleValue, waitFor, type CompatBroker } from "../../src/compat/broker.ts";
import {
  compatNodes,
  compatReplicationFactor,
  offsetsTopicLeaders,
  startSharedBroker,
  type CompatCluster,
} from "../../src/compat/cluster.ts";

type StringMessage = Message<string, string, string, string>;
type StringConsumer = Consumer<string, string, string, string>;

const onCluster = compatNodes() > 1;
let broker: CompatBroker | CompatCluster;
let admin: Admin;
const closers: (() => Promise<void>)[] = [];

const base = () => ({
  clientId: "compat-platformatic",
  bootstrapBrokers: broker.bootstrap.split(","),
  retries: 20,
  retryDelay: 250,
});

function producer(idempotent = false): Producer<string, string, string, string> {
  const p = new Producer({ ...base(), serializers: stringSerializers, idempotent, autocreateTopics: false });
  closers.push(() => p.close());
  return p;
}

interface Member {
  consumer: StringConsumer;
  stream: MessagesStream<string, string, string, string>;
  seen: StringMessage[];
  owned(): number[];
  close(): Promise<void>;
}

async function member(
  groupId: string,
  topic: string,
  mode: MessagesStreamModeValue = "committed",
  commitEach = false,
): Promise<Member> {
  const consumer: StringConsumer = new Consumer({
    ...base(),
    groupId,
    deserializers: stringDeserializers,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTime: 200,
  });
  let owned: number[] = [];
  consumer.on("consumer:group:join", (payload: ConsumerGroupJoinPayload) => {
    owned = (payload.assignments ?? []).flatMap((a) => (a.topic === topic ? a.partitions : [])).sort((x, y) => x - y);
  });
  const stream = await consumer.consume({ topics: [topic], mode, fallbackMode: "earliest", autocommit: false });
  const seen: StringMessage[] = [];
  // A member still open while a test restarts the broker sees failed fetches; keep them as data, not as uncaught
  // exceptions that would fail whichever test happens to be running.
  const errors: unknown[] = [];
  stream.on("error", (error: unknown) => errors.push(error));
  consumer.on("error", (error: unknown) => errors.push(error));
  stream.on("data", (message: StringMessage) => {
    seen.push(message);
    if (commitEach) void message.commit();
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await stream.close();
    await consumer.close(); // LeaveGroup
  };
  closers.push(close);
  return { consumer, stream, seen, owned: () => owned, close };
}

async function readAll(topic: string, expected: number): Promise<StringMessage[]> {
  const m = await member(`reader-${topic}-${Date.now()}`, topic, "earliest");
  await waitFor(`${expected} records from ${topic}`, () => (m.seen.length >= expected ? true : undefined));
  await m.close();
  return m.seen;
}

async function committed(groupId: string, topic: string): Promise<number> {
  const [group] = await admin.listConsumerGroupOffsets({ groups: [groupId] });
  const partitions = group?.topics.find((t) => t.name === topic)?.partitions ?? [];
  return partitions.reduce((sum, p) => sum + (p.committedOffset > 0n ? Number(p.committedOffset) : 0), 0);
}

async function endOffsets(topic: string, timestamp: bigint): Promise<bigint[]> {
  const c = new Consumer({ ...base(), groupId: `offsets-${Date.now()}` });
  try {
    return (await c.listOffsets({ topics: [topic], timestamp })).get(topic) ?? [];
  } finally {
    await c.close();
  }
}

async function createTopic(topic: string, partitions: number, config: Record<string, string> = {}): Promise<void> {
  const configs = Object.entries(config).map(([name, value]) => ({ name, value }));
  const created = await admin.createTopics({
    topics: [topic],
    partitions,
    replicas: compatReplicationFactor(),
    configs,
  });
  expect(created.map((t) => [t.name, t.partitions])).toEqual([[topic, partitions]]);
  await broker.awaitTopic(topic, partitions);
}

beforeAll(async () => {
  broker = await startSharedBroker({ "log.retention.check.interval.ms": "200" });
  admin = new Admin(base());
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await admin?.close().catch(() => undefined);
  await broker?.destroy();
});

describe("@platformatic/kafka", () => {
  it("creates, describes, alters and deletes a topic through the admin client", async () => {
    await createTopic("pk-admin", 2, { "cleanup.policy": "delete", "max.message.bytes": "500000" });
    const metadata = await admin.metadata({ topics: ["pk-admin"] });
    expect(metadata.topics.get("pk-admin")?.partitionsCount).toBe(2);

    const describeValue = async (name: string) => {
      const [res] = await admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: "pk-admin", configurationKeys: [name] }],
      });
      return res?.configs.find((c) => c.name === name)?.value;
    };
    // On a cluster the broker asked may apply a config change after the one that forwarded it: poll.
    const configIs = (name: string, value: string) =>
      waitFor(`${name} ${value}`, async () =>
        (await describeValue(name).catch(() => undefined)) === value ? true : undefined,
      );
    await configIs("max.message.bytes", "500000");
    await admin.alterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: "pk-admin",
          configs: [{ name: "max.message.bytes", value: "600000" }],
        },
      ],
    });
    await configIs("max.message.bytes", "600000");
    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: "pk-admin",
          configs: [{ name: "retention.ms", configOperation: 0, value: "123456" }],
        },
      ],
    });
    await configIs("retention.ms", "123456");
    expect(await describeValue("max.message.bytes")).toBe("600000");

    await admin.createPartitions({ topics: [{ name: "pk-admin", count: 3 }] });
    await broker.awaitTopic("pk-admin", 3);
    const grown = await admin.metadata({ topics: ["pk-admin"], forceUpdate: true });
    expect(grown.topics.get("pk-admin")?.partitionsCount).toBe(3);

    await admin.deleteTopics({ topics: ["pk-admin"] });
    await waitFor("pk-admin to disappear", async () =>
      (await admin.listTopics()).includes("pk-admin") ? undefined : true,
    );
  });

  it("sends records with the same key to the same partition", async () => {
    const topic = "pk-keys";
    await createTopic(topic, 4);
    const p = producer();
    const partitionOf = new Map<string, Set<number>>();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 10; k++) {
        const res = await p.send({
          acks: ProduceAcks.ALL,
          messages: [{ topic, key: `key-${k}`, value: `v-${round}-${k}` }],
        });
        const partition = res.offsets?.[0]?.partition;
        expect(partition).toBeTypeOf("number");
        partitionOf.set(`key-${k}`, (partitionOf.get(`key-${k}`) ?? new Set()).add(partition ?? -1));
      }
    }
    const seen = await readAll(topic, 30);
    for (const m of seen) partitionOf.get(m.key)?.add(m.partition);
    for (const [key, partitions] of partitionOf)
      expect([key, [...partitions]]).toEqual([key, [...partitions].slice(0, 1)]);
    expect(new Set(seen.map((m) => m.partition)).size).toBeGreaterThan(1);
  });

  it("produces with acks 0, 1 and all", async () => {
    const topic = "pk-acks";
    await createTopic(topic, 1);
    const p = producer();
    for (const [value, acks] of [
      ["acks-0", ProduceAcks.NO_RESPONSE],
      ["acks-1", ProduceAcks.LEADER],
      ["acks-all", ProduceAcks.ALL],
    ] as const) {
      const res = await p.send({ acks, messages: [{ topic, value }] });
      if (acks === ProduceAcks.NO_RESPONSE) expect(res.offsets ?? []).toEqual([]);
      else expect(res.offsets?.[0]?.offset).toBeTypeOf("bigint");
    }
    const seen = await readAll(topic, 3);
    expect(seen.map((m) => m.value)).toEqual(["acks-0", "acks-1", "acks-all"]);
  });

  it("keeps the records of idempotent producers that follow one another", async () => {
    // Regression: the client's first InitProducerId carries producerId 0 / epoch 0, which the broker once answered
    // with id 0 / epoch 1 for every producer, so each new producer's first batch was taken for a duplicate and dropped.
    const topic = "pk-idempotent";
    await createTopic(topic, 1);
    const offsets: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const p = new Producer({ ...base(), serializers: stringSerializers, idempotent: true });
      const res = await p.send({ acks: ProduceAcks.ALL, messages: [{ topic, value: `i-${i}` }] });
      offsets.push(res.offsets?.[0]?.offset ?? -1n);
      await p.close();
    }
    expect(offsets).toEqual([0n, 1n, 2n]);
    expect((await readAll(topic, 3)).map((m) => m.value)).toEqual(["i-0", "i-1", "i-2"]);
  });

  const codecs = Object.values(CompressionAlgorithms);
  it.each(codecs)("writes and reads %s batches", async (codec: CompressionAlgorithmValue) => {
    const topic = `pk-codec-${codec}`;
    await createTopic(topic, 1);
    const p = producer();
    const values = Array.from({ length: 50 }, (_, i) => compressibleValue(i));
    const send = () =>
      p.send({ acks: ProduceAcks.ALL, compression: codec, messages: values.map((value) => ({ topic, value })) });
    if (!compressionsAlgorithms[codec].available) {
      // zstd needs node:zlib's zstd (Node ≥ 22.15); on older Node the client refuses it (docs/compat.md).
      expect(codec).toBe("zstd");
      const error: unknown = await send().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AggregateError);
      expect((error as AggregateError).errors).toContainEqual(
        expect.objectContaining({ code: "PLT_KFK_UNSUPPORTED_COMPRESSION" }),
      );
      return;
    }
    await send();
    const seen = await readAll(topic, values.length);
    expect(seen.map((m) => m.value)).toEqual(values);
    const onDisk = await broker.segmentBytes(topic, 0);
    if (codec === "none") expect(onDisk).toBeGreaterThan(50_000);
    else expect(onDisk).toBeLessThan(10_000);
  });

  it("rebalances a group as members join and leave, then commits and resumes", async () => {
    const topic = "pk-group";
    const groupId = "pk-group-1";
    await createTopic(topic, 4);
    const p = producer(true);
    const produce = (from: number, count: number) =>
      p.send({
        acks: ProduceAcks.ALL,
        messages: Array.from({ length: count }, (_, i) => ({ topic, key: `k${from + i}`, value: String(from + i) })),
      });

    const a = await member(groupId, topic, "committed", true);
    await waitFor("a owns all 4 partitions", () => (a.owned().length === 4 ? true : undefined));
    const b = await member(groupId, topic, "committed", true);
    await waitFor("a and b split the partitions", () =>
      a.owned().length > 0 && b.owned().length > 0 && a.owned().length + b.owned().length === 4 ? true : undefined,
    );
    expect([...a.owned(), ...b.owned()].sort()).toEqual([0, 1, 2, 3]);

    // A fetch that a issued before the rebalance may still return records of b's new partitions (the client does not
    // fence it), so keep producing until each member has consumed from its own partitions, then check the totals.
    let produced = 0;
    await waitFor("both members consume", async () => {
      await produce(produced, 8);
      produced += 8;
      const mine = (m: Member) => m.seen.some((r) => m.owned().includes(r.partition));
      return mine(a) && mine(b) ? true : undefined;
    });
    await waitFor(`a and b consume ${produced} records`, () =>
      new Set([...a.seen, ...b.seen].map((m) => m.value)).size === produced ? true : undefined,
    );
    await waitFor(`${produced} committed`, async () =>
      (await committed(groupId, topic)) === produced ? true : undefined,
    );

    await b.close(); // LeaveGroup
    await waitFor("a owns all 4 partitions again", () => (a.owned().length === 4 ? true : undefined));
    await produce(produced, 20);
    const before = produced;
    produced += 20;
    await waitFor("a consumes the next 20", () =>
      a.seen.filter((m) => Number(m.value) >= before).length >= 20 ? true : undefined,
    );
    await waitFor(`${produced} committed`, async () =>
      (await committed(groupId, topic)) === produced ? true : undefined,
    );
    await a.close();

    await produce(produced, 10);
    const c = await member(groupId, topic, "committed", true);
    await waitFor("c resumes with the 10 new records", () => (c.seen.length >= 10 ? true : undefined));
    expect(c.seen.map((m) => Number(m.value)).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => produced + i),
    );
    const groups = await admin.describeGroups({ groups: [groupId] });
    expect(groups.get(groupId)?.members.size).toBe(1);
    await c.close();
  });

  it("seeks to earliest, latest and a timestamp", async () => {
    const topic = "pk-seek";
    await createTopic(topic, 1);
    const p = producer();
    const t0 = BigInt(Date.now() - 60_000);
    await p.send({
      acks: ProduceAcks.ALL,
      messages: Array.from({ length: 10 }, (_, i) => ({ topic, value: `s-${i}`, timestamp: t0 + BigInt(i * 1000) })),
    });
    expect(await endOffsets(topic, -2n)).toEqual([0n]);
    expect(await endOffsets(topic, -1n)).toEqual([10n]);
    expect(await endOffsets(topic, t0 + 5500n)).toEqual([6n]);

    const fromEarliest = await member("pk-seek-earliest", topic, "earliest");
    await waitFor("earliest", () => (fromEarliest.seen.length >= 10 ? true : undefined));
    expect(fromEarliest.seen[0]).toMatchObject({ offset: 0n, value: "s-0" });
    await fromEarliest.close();

    const atTime = new Consumer({ ...base(), groupId: "pk-seek-manual", deserializers: stringDeserializers });
    closers.push(() => atTime.close());
    const [offset] = (await atTime.listOffsets({ topics: [topic], timestamp: t0 + 5500n })).get(topic) ?? [];
    const manual = await atTime.consume({
      topics: [topic],
      mode: "manual",
      offsets: [{ topic, partition: 0, offset: offset ?? -1n }],
      autocommit: false,
      maxWaitTime: 200,
    });
    const fromTime: StringMessage[] = [];
    manual.on("data", (m: StringMessage) => fromTime.push(m));
    await waitFor("records from the timestamp", () => (fromTime.length >= 4 ? true : undefined));
    expect(fromTime.map((m) => m.value)).toEqual(["s-6", "s-7", "s-8", "s-9"]);
    await manual.close();
    await atTime.close();

    const fromLatest = await member("pk-seek-latest", topic, "latest");
    await waitFor("latest member joined", () => (fromLatest.owned().length === 1 ? true : undefined));
    // The stream starts at the end: a record produced now is the first one it sees, whenever its fetch began.
    await waitFor("a record produced after joining at latest", async () => {
      await p.send({ acks: ProduceAcks.ALL, messages: [{ topic, value: "s-new" }] });
      return fromLatest.seen.length > 0 ? true : undefined;
    });
    expect(fromLatest.seen.every((m) => m.value === "s-new" && m.offset >= 10n)).toBe(true);
    await fromLatest.close();
  });

  // On a cluster the node leading partition 0 goes down and comes back while the others keep serving.
  it("keeps acknowledged records and committed offsets across SIGTERM and kill -9", async () => {
    const topic = "pk-restart";
    const groupId = "pk-restart-group";
    await createTopic(topic, 2);
    const acked: string[] = [];
    const produceAcked = async (count: number) => {
      const p = new Producer({ ...base(), serializers: stringSerializers, idempotent: true });
      for (let i = 0; i < count; i++) {
        const value = `r-${acked.length}`;
        await p.send({ acks: ProduceAcks.ALL, messages: [{ topic, key: value, value }] });
        acked.push(value);
      }
      await p.close();
    };
    const consumeAndCommit = async (want: number) => {
      const m = await member(groupId, topic, "committed", true);
      await waitFor(`group reads ${want}`, () => (m.seen.length >= want ? true : undefined));
      const total = acked.length;
      await waitFor("commits", async () => ((await committed(groupId, topic)) === total ? true : undefined));
      await m.close();
      return m.seen.length;
    };

    await produceAcked(20);
    expect(await consumeAndCommit(20)).toBe(20);
    await produceAcked(10);
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const committedBefore = acked.length - 10;
      expect(await committed(groupId, topic)).toBe(committedBefore);
      await admin.close();
      await broker.restartLeaderOf(topic, 0, signal);
      admin = new Admin(base());
      const ends = await endOffsets(topic, -1n);
      expect(ends.reduce((s, o) => s + Number(o), 0)).toBe(acked.length);
      const all = await readAll(topic, acked.length);
      expect(all.map((m) => m.value).sort()).toEqual([...acked].sort());
      expect(await committed(groupId, topic)).toBe(committedBefore);
      expect(await consumeAndCommit(10)).toBe(10);
      await produceAcked(10);
    }
  });

  it("deletes old segments under retention", async () => {
    const topic = "pk-retention";
    await createTopic(topic, 1, { "segment.bytes": "2048", "retention.bytes": "4096" });
    const p = producer();
    for (let i = 0; i < 10; i++) {
      await p.send({
        acks: ProduceAcks.ALL,
        messages: Array.from({ length: 3 }, (_, j) => ({ topic, value: compressibleValue(i * 3 + j) })),
      });
    }
    const earliest = await waitFor("the earliest offset to move past 0", async () => {
      const [low] = await endOffsets(topic, -2n);
      return low !== undefined && low > 0n ? low : undefined;
    });
    expect(earliest).toBeLessThanOrEqual(30n);
    expect(await endOffsets(topic, -1n)).toEqual([30n]);
    // The broker publishes the new log start offset before it unlinks the retired segments' files (as compat-java
    // found), so their removal is awaited, not assumed.
    await waitFor("the retired segments' files to be removed", async () =>
      (await broker.segmentBytes(topic, 0)) < 30_000 ? true : undefined,
    );
  });

  it.runIf(onCluster)("spreads partition leaders and group coordinators over the brokers", async () => {
    if (!("nodes" in broker)) throw new Error("runs on a cluster");
    const ids = broker.nodes.map((n) => n.id).sort((a, b) => a - b);
    const topic = "pk-spread";
    await createTopic(topic, 6);
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    expect([...metadata.brokers.keys()].sort((a, b) => a - b)).toEqual(ids);
    const leaders = metadata.topics.get(topic)?.partitions.map((p) => p.leader) ?? [];
    expect([...new Set(leaders)].sort((a, b) => a - b)).toEqual(ids);
    const p = producer();
    await p.send({
      acks: ProduceAcks.ALL,
      messages: Array.from({ length: 18 }, (_, i) => ({ topic, partition: i % 6, value: `p${i % 6}-${i}` })),
    });
    const seen = await readAll(topic, 18);
    for (let partition = 0; partition < 6; partition++) {
      expect(seen.filter((m) => m.partition === partition).map((m) => m.value)).toEqual(
        [0, 1, 2].map((i) => `p${partition}-${partition + 6 * i}`),
      );
    }
    // FindCoordinator: each group's coordinator leads its __consumer_offsets partition; 12 groups land on several.
    const coordinators = new Map<string, number>();
    for (let g = 0; g < 12; g++) {
      const groupId = `pk-spread-${g}`;
      const c = new Consumer({ ...base(), groupId });
      try {
        coordinators.set(groupId, await c.findGroupCoordinator());
      } finally {
        await c.close();
      }
    }
    for (const id of coordinators.values()) expect(ids).toContain(id);
    // __consumer_offsets is created on the first FindCoordinator, once every broker is registered, so its partitions
    // are led by several brokers and the groups' coordinators spread with them.
    expect((await offsetsTopicLeaders(broker.bootstrap)).size).toBeGreaterThan(1);
    expect(new Set(coordinators.values()).size).toBeGreaterThan(1);
  });
});
