import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka";
import { pollUntil, startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";

// Consumer groups driven by an unmodified @platformatic/kafka, which sends the newest versions: FindCoordinator v6
// (batched keys), JoinGroup v9, SyncGroup v5, Heartbeat v4, LeaveGroup v5, OffsetCommit v9, OffsetFetch v9 (batched
// groups), DescribeGroups v5, ListGroups v5, DeleteGroups v2.

const PARTITIONS = 3;
const TOPIC = "plt-groups";
const GROUP = "plt-groups-g";

let broker: BrokerProcess;
let admin: Admin;
let producer: Producer<string, string, string, string>;
/** How to close each client still open, newest last. */
const open = new Map<object, () => Promise<void>>();

beforeAll(async () => {
  broker = await startBrokerProcess();
  const base = { clientId: "plt-groups", bootstrapBrokers: [broker.bootstrap], retries: 10, retryDelay: 100 };
  admin = new Admin(base);
  open.set(admin, () => admin.close());
  producer = new Producer({ ...base, serializers: stringSerializers });
  open.set(producer, () => producer.close());
  await admin.createTopics({ topics: [TOPIC], partitions: PARTITIONS, replicas: 1 });
});

afterAll(async () => {
  for (const close of [...open.values()].reverse()) await close().catch(() => undefined);
  await broker.destroy();
});

interface Member {
  consumer: Consumer<string, string, string, string>;
  values: string[];
}

/** Forced, so streams still open do not hold the close up; the callback form is the one that types as forced. */
function closeConsumer(consumer: Consumer<string, string, string, string>): Promise<void> {
  return new Promise((resolve, reject) => consumer.close(true, (error) => (error ? reject(error) : resolve())));
}

async function startMember(): Promise<Member> {
  const consumer = new Consumer({
    clientId: "plt-groups",
    bootstrapBrokers: [broker.bootstrap],
    groupId: GROUP,
    deserializers: stringDeserializers,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 300,
    maxWaitTime: 200,
    retries: 10,
    retryDelay: 100,
  });
  open.set(consumer, () => closeConsumer(consumer));
  const member: Member = { consumer, values: [] };
  const stream = await consumer.consume({
    topics: [TOPIC],
    mode: "committed",
    fallbackMode: "earliest",
    autocommit: 100,
  });
  stream.on("data", (message) => member.values.push(message.value));
  return member;
}

async function stopMember(member: Member): Promise<void> {
  await closeConsumer(member.consumer);
  open.delete(member.consumer);
}

/** The members' current assignments split every partition of the topic between them. */
function covered(members: readonly Member[]): boolean {
  const partitions = members
    .flatMap((m) => m.consumer.assignments?.filter((a) => a.topic === TOPIC).flatMap((a) => a.partitions) ?? [])
    .sort((a, b) => a - b);
  return partitions.join() === [...Array(PARTITIONS).keys()].join();
}

async function stable(members: readonly Member[]): Promise<boolean> {
  if (!covered(members)) return false;
  const group = (await admin.describeGroups({ groups: [GROUP] })).get(GROUP);
  if (group?.state !== "STABLE" || group.members.size !== members.length) return false;
  return members.every((m) => m.consumer.memberId !== null && group.members.has(m.consumer.memberId));
}

async function committedTotal(): Promise<bigint> {
  const [group] = await admin.listConsumerGroupOffsets({ groups: [GROUP] });
  let total = 0n;
  for (const topic of group?.topics ?? []) {
    for (const p of topic.partitions) if (p.committedOffset > 0n) total += p.committedOffset;
  }
  return total;
}

const send = (from: number, count: number) =>
  producer.send({
    messages: Array.from({ length: count }, (_, i) => ({
      topic: TOPIC,
      partition: (from + i) % PARTITIONS,
      value: `p${from + i}`,
    })),
  });

describe("consumer groups with @platformatic/kafka", () => {
  it("rebalances as members join and leave, commits, and resumes after every consumer restarts", async () => {
    await send(0, 12);
    const a = await startMember();
    const b = await startMember();
    await pollUntil("two members sharing every partition", () => stable([a, b]));
    const c = await startMember();
    await pollUntil("three members sharing every partition", () => stable([a, b, c]));
    await stopMember(a);
    await pollUntil("two members after one left", () => stable([b, c]));

    await pollUntil("every record consumed", () => new Set([...a.values, ...b.values, ...c.values]).size === 12);
    await pollUntil("every record committed", async () => (await committedTotal()) === 12n);

    const listed = await admin.listGroups();
    expect(listed.get(GROUP)).toMatchObject({ id: GROUP, protocolType: "consumer", groupType: "classic" });

    await stopMember(b);
    await stopMember(c);
    await send(12, 6);
    const d = await startMember();
    const e = await startMember();
    await pollUntil("the new records consumed", () => d.values.length + e.values.length >= 6);
    await pollUntil("the new records committed", async () => (await committedTotal()) === 18n);
    expect([...d.values, ...e.values].sort()).toEqual(Array.from({ length: 6 }, (_, i) => `p${12 + i}`).sort());
    await stopMember(d);
    await stopMember(e);

    await pollUntil("the group to be empty", async () => {
      const group = (await admin.describeGroups({ groups: [GROUP] })).get(GROUP);
      return group?.state === "EMPTY";
    });
    await admin.deleteGroups({ groups: [GROUP] });
    expect((await admin.listGroups()).has(GROUP)).toBe(false);
    expect(await committedTotal()).toBe(0n);
  });
});
