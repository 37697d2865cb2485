import { afterAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { OFFSETS_TOPIC } from "../../src/coordinator/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { createTopic, startCluster, type Cluster } from "../support/cluster.ts";
import { replicatedCluster } from "../support/cluster-records.ts";
import { commitOffset, fetchCommittedOffset, findCoordinator as findGroupCoordinator } from "../support/group-calls.ts";

// Group coordinator failover (ADR 24, issue 12): with offsets.topic.replication.factor=3 the group's
// __consumer_offsets partition has three replicas. Offsets committed through the coordinator are replicated before
// they are acknowledged, so after kill -9 of the coordinator FindCoordinator names the partition's new leader, which
// answers every committed offset, and the group goes on committing there.

const GROUP = "failover-group";
const TOPIC = "orders";

const target = { group: GROUP, topic: TOPIC };
const findCoordinator = (cluster: Cluster, via: number) => findGroupCoordinator(cluster, via, GROUP);
const commit = (cluster: Cluster, node: number, offset: bigint) => commitOffset(cluster, node, target, offset, 10_000);
const fetchOffset = (cluster: Cluster, node: number) => fetchCommittedOffset(cluster, node, target, 10_000);

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

    // The group goes on at the new coordinator. Its commit is answered once the other survivor has it, which that
    // node fetches only when it has replayed the new leadership too: retried as the commits above are.
    let code: number | undefined;
    await pollUntil(
      "a commit at the new coordinator",
      async () => (code = await commit(c, next!, BigInt(COMMITS + 1)).catch(() => undefined)) === ErrorCode.NONE,
      20_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last error ${code}`);
    });
    expect(await fetchOffset(c, next!)).toEqual({ offset: BigInt(COMMITS + 1) });
    console.log(
      `coordinator-failover: ${COMMITS} commits at ${first}; after kill -9 ${next} coordinates and answers the last one, ${failoverMs} ms after the kill`,
    );
  }, 180_000);
});
