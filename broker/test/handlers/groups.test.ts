import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from "kafkajs";
import { pollUntil, startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";

// Consumer groups against the real broker process, driven by an unmodified kafkajs 2.2.4 (FindCoordinator v2,
// JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3, OffsetCommit v5, OffsetFetch v4, DescribeGroups v2,
// ListGroups v2, DeleteGroups v1).

const PARTITIONS = 4;

let broker: BrokerProcess;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const started: { disconnect(): Promise<void> }[] = [];

beforeAll(async () => {
  broker = await startBrokerProcess({ overrides: { "num.partitions": String(PARTITIONS) } });
  kafka = new Kafka({
    clientId: "groups-test",
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
  admin = kafka.admin();
  await admin.connect();
  started.push(admin);
  producer = kafka.producer();
  await producer.connect();
  started.push(producer);
});

afterAll(async () => {
  for (const client of started.reverse()) await client.disconnect().catch(() => undefined);
  await broker.destroy();
});

async function createTopic(topic: string): Promise<void> {
  // kafkajs' admin never asks Metadata to auto-create; its producer does, with num.partitions.
  await producer.send({ topic, messages: [] });
  await pollUntil(`topic ${topic}`, async () => {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]?.partitions.length === PARTITIONS;
  });
}

interface Tracked {
  consumer: Consumer;
  /** Every assignment the member received, in order. */
  joins: { memberId: string; partitions: number[] }[];
  received: { partition: number; offset: string; value: string }[];
}

async function startMember(groupId: string, topic: string, options: { autoCommit?: boolean } = {}): Promise<Tracked> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 200,
    retry: { retries: 8, initialRetryTime: 100 },
  });
  started.push(consumer);
  const tracked: Tracked = { consumer, joins: [], received: [] };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const payload = event.payload as unknown as {
      memberId: string;
      memberAssignment: Record<string, number[]>;
    };
    tracked.joins.push({
      memberId: payload.memberId,
      partitions: [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b),
    });
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: options.autoCommit ?? true,
    autoCommitThreshold: 1,
    eachMessage: async ({ partition, message }) => {
      tracked.received.push({ partition, offset: message.offset, value: message.value?.toString() ?? "" });
      return Promise.resolve();
    },
  });
  return tracked;
}

function latest(member: Tracked): number[] {
  return member.joins.at(-1)?.partitions ?? [];
}

/** True once the members' latest assignments split every partition between them and the group is Stable with them. */
async function settled(groupId: string, members: readonly Tracked[]): Promise<boolean> {
  const all = members.flatMap(latest).sort((a, b) => a - b);
  if (all.join() !== [...Array(PARTITIONS).keys()].join()) return false;
  const { groups } = await admin.describeGroups([groupId]);
  const group = groups[0];
  if (group?.state !== "Stable" || group.members.length !== members.length) return false;
  const ids = new Set(group.members.map((m) => m.memberId));
  return members.every((m) => ids.has(m.joins.at(-1)?.memberId ?? ""));
}

async function stopMember(member: Tracked): Promise<void> {
  await member.consumer.disconnect();
  started.splice(started.indexOf(member.consumer), 1);
}

describe("consumer groups with kafkajs", () => {
  it("rebalances a group of two when a third member joins and when one leaves", async () => {
    const topic = "groups-rebalance";
    const groupId = "groups-rebalance-g";
    await createTopic(topic);

    const a = await startMember(groupId, topic);
    const b = await startMember(groupId, topic);
    await pollUntil("two members sharing every partition", () => settled(groupId, [a, b]));
    expect(latest(a).length).toBeGreaterThan(0);
    expect(latest(b).length).toBeGreaterThan(0);

    const described = (await admin.describeGroups([groupId])).groups[0];
    expect(described).toMatchObject({ groupId, state: "Stable", protocolType: "consumer", errorCode: 0 });
    expect(described?.protocol).not.toBe("");
    for (const member of described?.members ?? []) {
      expect(member.clientId).toBe("groups-test");
      expect(member.clientHost).toMatch(/^\/(127\.0\.0\.1|::ffff:127\.0\.0\.1|::1)$/);
      // Stable groups carry each member's assignment (a kafkajs MemberAssignment, version 0 then the topic).
      expect(member.memberAssignment.includes(Buffer.from(topic))).toBe(true);
    }

    const aJoins = a.joins.length;
    const bJoins = b.joins.length;
    const c = await startMember(groupId, topic);
    await pollUntil("three members sharing every partition", () => settled(groupId, [a, b, c]));
    // The old members had to join again to give partitions up.
    expect(a.joins.length).toBeGreaterThan(aJoins);
    expect(b.joins.length).toBeGreaterThan(bJoins);
    for (const m of [a, b, c]) expect(latest(m).length).toBeGreaterThan(0);

    await stopMember(a);
    await pollUntil("two members after one left", () => settled(groupId, [b, c]));

    const listed = await admin.listGroups();
    expect(listed.groups).toContainEqual({ groupId, protocolType: "consumer" });

    await stopMember(b);
    await stopMember(c);
    await pollUntil("the group to be empty", async () => {
      const { groups } = await admin.describeGroups([groupId]);
      return groups[0]?.state === "Empty" && groups[0].members.length === 0;
    });
  });

  it("commits offsets and resumes from them after every consumer restarts", async () => {
    const topic = "groups-resume";
    const groupId = "groups-resume-g";
    await createTopic(topic);
    const send = (from: number, count: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: count }, (_, i) => ({
          partition: (from + i) % PARTITIONS,
          value: `m${from + i}`,
        })),
      });
    await send(0, 20);

    const first = [await startMember(groupId, topic), await startMember(groupId, topic)];
    await pollUntil("the first 20 records consumed", () => first.flatMap((m) => m.received).length >= 20);
    await pollUntil("offsets committed up to the end of each partition", async () => {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const total = (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      return total === 20;
    });
    const firstValues = first.flatMap((m) => m.received.map((r) => r.value)).sort();
    expect(new Set(firstValues).size).toBe(20);

    for (const m of first) await stopMember(m);
    await send(20, 10);

    const second = [await startMember(groupId, topic), await startMember(groupId, topic)];
    await pollUntil("the 10 new records consumed", () => second.flatMap((m) => m.received).length >= 10);
    await pollUntil("the new records committed", async () => {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (entry?.partitions ?? []).reduce((sum, p) => sum + Number(p.offset), 0) === 30;
    });
    const resumed = second.flatMap((m) => m.received.map((r) => r.value)).sort();
    expect(resumed).toEqual(Array.from({ length: 10 }, (_, i) => `m${20 + i}`).sort());
    for (const m of second) await stopMember(m);
  });

  it("sets, fetches and deletes a group's offsets through the admin client", async () => {
    const topic = "groups-admin";
    const groupId = "groups-admin-g";
    await createTopic(topic);

    // A group nobody is a member of accepts standalone commits (generation -1).
    await admin.setOffsets({
      groupId,
      topic,
      partitions: [
        { partition: 0, offset: "5" },
        { partition: 2, offset: "7" },
      ],
    });
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byPartition = new Map(fetched?.partitions.map((p) => [p.partition, p.offset]));
    expect(byPartition).toEqual(
      new Map([
        [0, "5"],
        [1, "-1"],
        [2, "7"],
        [3, "-1"],
      ]),
    );
    const listed = await admin.listGroups();
    expect(listed.groups.map((g) => g.groupId)).toContain(groupId);

    // A group with a member cannot be deleted.
    const member = await startMember(groupId, topic, { autoCommit: false });
    await pollUntil("the member to own every partition", () => settled(groupId, [member]));
    await expect(admin.deleteGroups([groupId])).rejects.toMatchObject({
      groups: [expect.objectContaining({ groupId, errorCode: 68 })],
    });
    await stopMember(member);

    const deleted = await admin.deleteGroups([groupId]);
    expect(deleted).toEqual([expect.objectContaining({ groupId, errorCode: 0 })]);
    const [after] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(after?.partitions.every((p) => p.offset === "-1")).toBe(true);
    const { groups } = await admin.describeGroups([groupId]);
    expect(groups[0]).toMatchObject({ groupId, state: "Dead", members: [] });
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(groupId);
    await expect(admin.deleteGroups([groupId])).rejects.toMatchObject({
      groups: [expect.objectContaining({ groupId, errorCode: 69 })],
    });
  });

  it("keeps committed offsets across a broker restart", async () => {
    const groupId = "groups-resume-g";
    const before = await admin.fetchOffsets({ groupId, topics: ["groups-resume"] });
    expect(before[0]?.partitions.some((p) => p.offset !== "-1")).toBe(true);
    await broker.stop("SIGTERM");
    await broker.restart();
    await pollUntil("offsets fetched after the restart", async () => {
      try {
        const after = await admin.fetchOffsets({ groupId, topics: ["groups-resume"] });
        expect(after).toEqual(before);
        return true;
      } catch (err) {
        if (err instanceof Error && err.name === "AssertionError") throw err;
        return false;
      }
    });
  });
});
