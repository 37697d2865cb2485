import { afterAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { OFFSETS_TOPIC } from "../../src/coordinator/index.ts";
import {
  ErrorCode,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from "../../src/protocol/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { createTopic, startCluster, type Cluster } from "../support/cluster.ts";
import { connectTo, replicatedCluster } from "../support/cluster-records.ts";

// Group coordinator failover (ADR 24, issue 12): with offsets.topic.replication.factor=3 the group's
// __consumer_offsets partition has three replicas. Offsets committed through the coordinator are replicated before
// they are acknowledged, so after kill -9 of the coordinator FindCoordinator names the partition's new leader, which
// answers every committed offset, and the group goes on committing there.

const GROUP = "failover-group";
const TOPIC = "orders";

async function findCoordinator(cluster: Cluster, via: number): Promise<number | undefined> {
  const connection = await connectTo(cluster, via, "coordinator-failover-test").catch(() => undefined);
  if (connection === undefined) return undefined;
  try {
    const res = await connection.send(
      FindCoordinatorRequest,
      FindCoordinatorResponse,
      4,
      { ...FindCoordinatorRequest.create(), keyType: 0, coordinatorKeys: [GROUP] },
      5_000,
    );
    const c = res.coordinators?.[0];
    return c?.errorCode === ErrorCode.NONE ? c.nodeId : undefined;
  } catch {
    return undefined;
  } finally {
    connection.close();
  }
}

/** Commits `offset` for partition 0 as a standalone (simple) consumer; the error code. */
async function commit(cluster: Cluster, coordinator: number, offset: bigint): Promise<number | undefined> {
  const connection = await connectTo(cluster, coordinator, "coordinator-failover-test");
  try {
    const res = await connection.send(
      OffsetCommitRequest,
      OffsetCommitResponse,
      8,
      {
        ...OffsetCommitRequest.create(),
        groupId: GROUP,
        topics: [
          {
            name: TOPIC,
            partitions: [
              { partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: "" },
            ],
          },
        ],
      },
      10_000,
    );
    return res.topics[0]?.partitions[0]?.errorCode;
  } finally {
    connection.close();
  }
}

/** The committed offset of partition 0, or an error code. */
async function fetchOffset(
  cluster: Cluster,
  coordinator: number,
): Promise<{ offset: bigint } | { errorCode: number | undefined }> {
  const connection = await connectTo(cluster, coordinator, "coordinator-failover-test");
  try {
    const res = await connection.send(
      OffsetFetchRequest,
      OffsetFetchResponse,
      7,
      { ...OffsetFetchRequest.create(), groupId: GROUP, topics: [{ name: TOPIC, partitionIndexes: [0] }] },
      10_000,
    );
    const p = res.topics?.[0]?.partitions?.[0];
    if (res.errorCode !== ErrorCode.NONE || p?.errorCode !== ErrorCode.NONE) {
      return { errorCode: res.errorCode !== ErrorCode.NONE ? res.errorCode : p?.errorCode };
    }
    return { offset: p.committedOffset ?? -1n };
  } finally {
    connection.close();
  }
}

describe("group coordinator failover across three processes", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("after kill -9 of the coordinator, the new leader of the group's partition has every committed offset", async () => {
    cluster = await startCluster(
      replicatedCluster({ "offsets.topic.replication.factor": "3", "offsets.topic.num.partitions": "3" }),
    );
    const c = cluster;
    await c.waitForBrokers(30_000);
    await createTopic(c, TOPIC, 3);

    let coordinator: number | undefined;
    await pollUntil(
      "a coordinator for the group",
      async () => (coordinator = await findCoordinator(c, 1)) !== undefined,
      60_000,
    );
    const admin = new AdminClient({ bootstrap: c.bootstrap(), retries: 3, requestTimeoutMs: 5_000 });
    try {
      await pollUntil(
        "every __consumer_offsets partition to have all three replicas in its ISR",
        async () => {
          const t = (await admin.describeTopics([OFFSETS_TOPIC]).catch(() => undefined))?.get(OFFSETS_TOPIC)?.topic;
          return t !== undefined && t.partitions.length === 3 && t.partitions.every((p) => p.isr.length === 3);
        },
        60_000,
      );
    } finally {
      admin.close();
    }
    const first = coordinator!;

    const COMMITS = 30;
    for (let i = 1; i <= COMMITS; i++) {
      let code: number | undefined;
      await pollUntil(
        `commit ${i} to be accepted`,
        async () => (code = await commit(c, first, BigInt(i)).catch(() => undefined)) === ErrorCode.NONE,
        20_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; last error ${code}`);
      });
    }
    expect(await fetchOffset(c, first)).toEqual({ offset: BigInt(COMMITS) });

    const killed = Date.now();
    await c.kill(first, "SIGKILL");
    const survivor = c.brokers.find((n) => n.id !== first)!.id;
    let next: number | undefined;
    await pollUntil(
      "FindCoordinator to name another broker",
      async () => (next = await findCoordinator(c, survivor)) !== undefined && next !== first,
      60_000,
    );
    let fetched: Awaited<ReturnType<typeof fetchOffset>> = { errorCode: undefined };
    await pollUntil(
      `the new coordinator (${next}) to answer the committed offset`,
      async () => "offset" in (fetched = await fetchOffset(c, next!).catch(() => ({ errorCode: undefined }))),
      30_000,
    ).catch((err: unknown) => {
      throw new Error(
        `${String(err)}; last answer ${JSON.stringify(fetched, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`,
      );
    });
    const failoverMs = Date.now() - killed;
    expect(fetched).toEqual({ offset: BigInt(COMMITS) });

    // The group goes on at the new coordinator.
    expect(await commit(c, next!, BigInt(COMMITS + 1))).toBe(ErrorCode.NONE);
    expect(await fetchOffset(c, next!)).toEqual({ offset: BigInt(COMMITS + 1) });
    console.log(
      `coordinator-failover: ${COMMITS} commits at ${first}; after kill -9 ${next} coordinates and answers the last one, ${failoverMs} ms after the kill`,
    );
  }, 180_000);
});
