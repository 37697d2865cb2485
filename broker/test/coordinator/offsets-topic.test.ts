import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../../src/broker.ts";
import { ErrorCode, OFFSETS_TOPIC, offsetsPartitionFor } from "../../src/coordinator/index.ts";
import { findCoordinatorHandler } from "../../src/handlers/10-find-coordinator.ts";
import { topicByName } from "../../src/metadata/image/index.ts";
import { FindCoordinatorRequest, type FindCoordinatorResponse } from "../../src/protocol/index.ts";
import { silentLogger, standaloneCommit } from "./helpers.ts";
import { startInProcessBroker } from "../support/in-process-broker.ts";
import { requestContext } from "../support/request-context.ts";

// __consumer_offsets in a real (in-process) broker: created on the first FindCoordinator for a group, with
// offsets.topic.num.partitions on a new data dir, and a data dir written when the topic always had one partition
// (fixtures/offsets-single-partition, see its README).

const FIXTURE = join(import.meta.dirname, "../fixtures/offsets-single-partition/logs");

let dir: string;
let broker: Broker | undefined;

async function start(overrides: readonly string[] = []): Promise<Broker> {
  broker = await startInProcessBroker(dir, silentLogger, ["group.initial.rebalance.delay.ms=0", ...overrides]);
  return broker;
}

async function restart(overrides: readonly string[] = []): Promise<Broker> {
  await broker?.close();
  broker = undefined;
  return start(overrides);
}

async function freshDir(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), "tributary-offsets-topic-"));
}

afterEach(async () => {
  await broker?.close();
  broker = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** FindCoordinator v4 for group keys, as a client sends it. */
async function findCoordinator(b: Broker, keys: string[]): Promise<FindCoordinatorResponse> {
  return (await findCoordinatorHandler(b.services).handle(
    { ...FindCoordinatorRequest.create(), keyType: 0, coordinatorKeys: keys },
    requestContext(10, 4, silentLogger, "PLAINTEXT"),
  )) as FindCoordinatorResponse;
}

/** Asks FindCoordinator, as a client retrying COORDINATOR_NOT_AVAILABLE does, until every offsets shard serves. */
async function offsetsTopicReady(b: Broker): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answer = (await findCoordinator(b, ["ready"])).coordinators?.[0];
    const owned = b.services.groups.ownedPartitions();
    if (
      answer?.errorCode === ErrorCode.NONE &&
      owned.length === b.services.groups.partitionCount &&
      owned.every((p) => p.status === "active")
    ) {
      return;
    }
    if (Date.now() > deadline) throw new Error(`${OFFSETS_TOPIC} not ready: ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function fetchAll(b: Broker, groupId: string) {
  return b.services.groups.fetchOffsets({ groupId, topics: null, requireStable: false });
}

describe("__consumer_offsets on a new data dir", () => {
  it("does not exist until a FindCoordinator for a group, which answers COORDINATOR_NOT_AVAILABLE until it does", async () => {
    await freshDir();
    const b = await start();
    expect(topicByName(b.services.metadata.image, OFFSETS_TOPIC)).toBeUndefined();
    expect(b.services.groups.partitionCount).toBeNull();
    expect(b.services.groups.partitionFor("my-group")).toBeNull();
    // Group APIs before FindCoordinator: NOT_COORDINATOR, as Kafka answers for a partition it does not own.
    expect((await b.services.groups.commitOffsets(standaloneCommit("my-group", 1n)))[0]?.errorCode).toBe(
      ErrorCode.NOT_COORDINATOR,
    );
    expect(topicByName(b.services.metadata.image, OFFSETS_TOPIC)).toBeUndefined();

    // Concurrent first requests: each answers COORDINATOR_NOT_AVAILABLE at once (a single creation starts).
    const first = await Promise.all([findCoordinator(b, ["a", "b"]), findCoordinator(b, ["c"])]);
    expect(first.flatMap((r) => (r.coordinators ?? []).map((c) => [c.key, c.errorCode, c.nodeId]))).toEqual([
      ["a", ErrorCode.COORDINATOR_NOT_AVAILABLE, -1],
      ["b", ErrorCode.COORDINATOR_NOT_AVAILABLE, -1],
      ["c", ErrorCode.COORDINATOR_NOT_AVAILABLE, -1],
    ]);
    await offsetsTopicReady(b);
    expect((await findCoordinator(b, ["a"])).coordinators?.[0]).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 1 });
    expect(topicByName(b.services.metadata.image, OFFSETS_TOPIC)?.partitions.size).toBe(50);
  });

  it("has offsets.topic.num.partitions partitions (50 by default), each led and loaded, groups spread by hash", async () => {
    await freshDir();
    const b = await start();
    await offsetsTopicReady(b);
    expect(topicByName(b.services.metadata.image, OFFSETS_TOPIC)?.partitions.size).toBe(50);
    expect(b.services.groups.partitionCount).toBe(50);
    const owned = b.services.groups.ownedPartitions();
    expect(owned).toHaveLength(50);
    expect(owned.every((p) => p.status === "active" && p.leaderEpoch === 0)).toBe(true);

    // "my-group" and "kafkajs-group" are on partitions 12 and 43 (Java's hashCode; see partitioner.test.ts).
    const ends = () => [12, 43].map((p) => b.services.partitions.log(OFFSETS_TOPIC, p)?.logEndOffset);
    expect(ends()).toEqual([0n, 0n]);
    expect((await b.services.groups.commitOffsets(standaloneCommit("my-group", 3n)))[0]?.errorCode).toBe(0);
    expect(ends()).toEqual([1n, 0n]);
    expect((await b.services.groups.commitOffsets(standaloneCommit("kafkajs-group", 4n)))[0]?.errorCode).toBe(0);
    expect(ends()).toEqual([1n, 1n]);

    const again = await restart();
    expect(again.services.groups.partitionCount).toBe(50);
    expect(fetchAll(again, "my-group").partitions).toEqual([expect.objectContaining({ offset: 3n })]);
    expect(fetchAll(again, "kafkajs-group").partitions).toEqual([expect.objectContaining({ offset: 4n })]);
  });

  it("takes another offsets.topic.num.partitions, and keeps the count the topic has when the setting changes", async () => {
    await freshDir();
    const b = await start(["offsets.topic.num.partitions=7"]);
    await offsetsTopicReady(b);
    expect(topicByName(b.services.metadata.image, OFFSETS_TOPIC)?.partitions.size).toBe(7);
    const group = "my-group";
    await b.services.groups.commitOffsets(standaloneCommit(group, 11n));
    expect(b.services.partitions.log(OFFSETS_TOPIC, offsetsPartitionFor(group, 7))?.logEndOffset).toBe(1n);

    const again = await restart(["offsets.topic.num.partitions=50"]);
    expect(topicByName(again.services.metadata.image, OFFSETS_TOPIC)?.partitions.size).toBe(7);
    expect(again.services.groups.partitionCount).toBe(7);
    expect(fetchAll(again, group).partitions).toEqual([expect.objectContaining({ offset: 11n })]);
  });
});

describe("a shard unloaded and loaded again in a running broker", () => {
  it("replays its partition's log: the group, its members and offsets come back, and it writes at the new epoch", async () => {
    await freshDir();
    const b = await start();
    await offsetsTopicReady(b);
    const groups = b.services.groups;
    const groupId = "my-group";
    const partition = groups.partitionFor(groupId) ?? -1;
    const join = await groups.joinGroup({
      groupId,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.from("subscription") }],
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 60_000,
      clientId: "reload",
      clientHost: "/127.0.0.1",
      requireKnownMemberId: false,
    });
    const member = { groupId, generationId: join.generationId, memberId: join.memberId, groupInstanceId: null };
    const sync = await groups.syncGroup({
      ...member,
      protocolType: "consumer",
      protocolName: "range",
      assignments: [{ memberId: join.memberId, assignment: Buffer.from("assignment") }],
    });
    expect(sync.errorCode).toBe(ErrorCode.NONE);
    await groups.commitOffsets({ ...standaloneCommit(groupId, 21n), ...member });

    groups.onResignation(partition, 1);
    expect(groups.heartbeat(member).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(fetchAll(b, groupId).errorCode).toBe(ErrorCode.NOT_COORDINATOR);

    // Led again in epoch 2, as the partition publisher applies an image's new registration: the shard loaded for it
    // writes in that epoch (one of an epoch this node no longer leads in would be refused).
    const registration = topicByName(b.services.metadata.image, OFFSETS_TOPIC)?.partitions.get(partition);
    if (registration === undefined) throw new Error(`no registration of ${OFFSETS_TOPIC}-${partition}`);
    await b.services.partitions.becomeLeader(OFFSETS_TOPIC, partition, { ...registration, leaderEpoch: 2 });
    expect(await groups.onElection(partition, 2)).toBe(true);
    expect(groups.heartbeat(member).errorCode).toBe(ErrorCode.NONE);
    expect(groups.describeGroups([groupId])[0]).toMatchObject({
      groupState: "Stable",
      members: [{ memberId: join.memberId, clientId: "reload", assignment: Buffer.from("assignment") }],
    });
    expect(fetchAll(b, groupId).partitions).toEqual([expect.objectContaining({ offset: 21n })]);

    const log = b.services.partitions.log(OFFSETS_TOPIC, partition);
    await groups.commitOffsets({ ...standaloneCommit(groupId, 22n), ...member });
    expect(log?.latestEpoch()).toBe(2);
  });
});

describe("a data dir with a one-partition __consumer_offsets", () => {
  it("keeps its one partition and every group and committed offset", async () => {
    await freshDir();
    await cp(FIXTURE, join(dir, "logs"), { recursive: true });
    const b = await start();
    expect(topicByName(b.services.metadata.image, OFFSETS_TOPIC)?.partitions.size).toBe(1);
    expect(b.services.groups.partitionCount).toBe(1);

    const listed = b.services.groups.listGroups();
    expect(listed.errorCode).toBe(ErrorCode.NONE);
    const expected = [...Array.from({ length: 20 }, (_, i) => `offsets-only-${i}`), "stable-group"];
    expect(listed.groups.map((g) => g.groupId).sort()).toEqual(expected.sort());

    for (let i = 0; i < 20; i++) {
      const fetched = fetchAll(b, `offsets-only-${i}`);
      expect(fetched.errorCode).toBe(ErrorCode.NONE);
      expect(fetched.partitions.map((p) => [p.topic, p.partition, p.offset, p.leaderEpoch, p.metadata]).sort()).toEqual(
        [
          ["t", 0, BigInt(100 + i), -1, `m${i}`],
          ["u", 3, BigInt(7 * i), 2, ""],
        ],
      );
    }

    const [stable] = b.services.groups.describeGroups(["stable-group"]);
    expect(stable).toMatchObject({
      errorCode: 0,
      groupState: "Stable",
      protocolType: "consumer",
      protocolData: "range",
    });
    expect(stable?.members).toHaveLength(1);
    expect(stable?.members[0]).toMatchObject({ clientId: "fixture", assignment: Buffer.from("assignment") });
    expect(fetchAll(b, "stable-group").partitions).toEqual([
      expect.objectContaining({ topic: "t", partition: 1, offset: 42n, leaderEpoch: 0 }),
    ]);
    const deleted = b.services.groups.describeGroups(["deleted-group"]);
    expect(deleted[0]).toMatchObject({ errorCode: 0, groupState: "Dead" });
    expect(fetchAll(b, "deleted-group").partitions).toEqual([]);

    // New commits go to the same single partition and survive a restart with the old ones.
    await b.services.groups.commitOffsets(standaloneCommit("new-group", 5n));
    const again = await restart();
    expect(again.services.groups.partitionCount).toBe(1);
    expect(fetchAll(again, "new-group").partitions).toEqual([expect.objectContaining({ offset: 5n })]);
    expect(fetchAll(again, "offsets-only-19").partitions).toHaveLength(2);
  });
});
