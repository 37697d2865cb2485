import { afterAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/index.ts";
import { OFFSETS_TOPIC, offsetsPartitionFor } from "../../src/coordinator/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { createTopic, startCluster, type Cluster } from "../support/cluster.ts";
import { describePartitions, replicatedCluster } from "../support/cluster-records.ts";
import {
  commitOffset,
  fetchCommittedOffset,
  findCoordinator as findGroupCoordinator,
  type OffsetAnswer,
} from "../support/group-calls.ts";

// The group coordinator serves only what its __consumer_offsets partition has committed (ADR 24, issue 12). With one
// follower paused (SIGSTOP, still in the ISR) a commit reaches the leader and the other follower but not the high
// watermark, so the member is told it failed. Leadership then moves (controlled shutdown) to the follower that has
// the commit above its HW: loading the partition there must not answer it (the group answers
// COORDINATOR_LOAD_IN_PROGRESS until the HW decides). When the paused follower comes back and leadership moves to it
// as well, no OffsetFetch answer along the way may go backwards.

const GROUP = "uncommitted-group";
const TOPIC = "events";
const PARTITIONS = 3;

const target = { group: GROUP, topic: TOPIC };
const findCoordinator = (cluster: Cluster, via: number) => findGroupCoordinator(cluster, via, GROUP);
const commit = (cluster: Cluster, node: number, offset: bigint) => commitOffset(cluster, node, target, offset, 20_000);
/** OffsetFetch of partition 0: the offset, the error, or no error code when the node could not be reached. */
const fetchOffset = (cluster: Cluster, node: number): Promise<OffsetAnswer> =>
  fetchCommittedOffset(cluster, node, target, 5_000).catch(() => ({ errorCode: undefined }));

const show = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (typeof x === "bigint" ? String(x) : x));

describe("the group coordinator across three processes, with a commit that was not replicated", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("never answers it, and committed offsets never go backwards as leadership moves", async () => {
    cluster = await startCluster(
      replicatedCluster({
        "offsets.topic.replication.factor": "3",
        "offsets.topic.num.partitions": String(PARTITIONS),
        // A lone ISR member may move the HW (so the last leader below serves once alone); with min ISR 2 and eligible
        // leader replicas the HW would stay, and the group with it (ADR 24).
        "min.insync.replicas": "1",
        // The paused follower must stay in the ISR (not shrunk out, not fenced) so the HW cannot pass the commit.
        "replica.lag.time.max.ms": "120000",
        "broker.session.timeout.ms": "120000",
      }),
    );
    const c = cluster;
    await c.waitForBrokers(30_000);
    await createTopic(c, TOPIC, 3);
    let leader: number | undefined;
    await pollUntil(
      "a coordinator for the group",
      async () => (leader = await findCoordinator(c, 1)) !== undefined,
      60_000,
    );
    const partition = offsetsPartitionFor(GROUP, PARTITIONS);
    let replicas: number[] = [];
    await pollUntil(
      `${OFFSETS_TOPIC}-${partition} led by the coordinator with all three replicas in sync`,
      async () => {
        const p = (await describePartitions(c, 1, OFFSETS_TOPIC))?.find((d) => d.partition === partition);
        replicas = p?.replicas ?? [];
        return p !== undefined && p.leader === leader && p.isr.length === 3;
      },
      60_000,
    );
    const first = leader!;
    await pollUntil("the first commit", async () => (await commit(c, first, 10n).catch(() => undefined)) === 0, 20_000);

    // The next leader is the first other replica in the assignment; the last one is paused.
    const [next, pausedId] = replicas.filter((r) => r !== first);
    if (next === undefined || pausedId === undefined) throw new Error(`replicas ${show(replicas)}`);
    c.pause(pausedId);
    const failed = await commit(c, first, 20n);
    expect(failed).not.toBe(ErrorCode.NONE);
    expect(await fetchOffset(c, first)).toEqual({ offset: 10n });

    // Controlled shutdown moves the partition to `next`, whose log has the commit above its HW. It loads the partition
    // with that record uncommitted and must answer neither it nor the older committed offset (ADR 24): the group
    // answers COORDINATOR_LOAD_IN_PROGRESS until the HW passes the record.
    await c.kill(first, "SIGTERM");
    const loadLine = new RegExp(
      `"offsetsPartition":${partition},"groups":\\d+,"records":\\d+,"uncommitted":(\\d+),"msg":"group coordinator loaded"`,
    );
    let uncommitted: number | undefined;
    await pollUntil(
      `node ${next} to load ${OFFSETS_TOPIC}-${partition}`,
      () => Promise.resolve((uncommitted = Number(loadLine.exec(c.output(next))?.[1] ?? NaN)) >= 0),
      60_000,
    );
    const seen: OffsetAnswer[] = [];
    let answer = await fetchOffset(c, next);
    if ("offset" in answer) seen.push(answer);
    expect(answer).toEqual({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });
    expect(uncommitted).toBeGreaterThanOrEqual(1);

    // The paused follower comes back and fetches the commit: the HW passes it, so it is committed and now answered.
    c.resume(pausedId);
    await pollUntil(
      `node ${next} to serve the group once the HW passed the commit`,
      async () => "offset" in (answer = await fetchOffset(c, next)),
      60_000,
    );
    seen.push(answer);
    expect(answer).toEqual({ offset: 20n });

    // Leadership moves to the follower that was paused: every answer on the way is at least the one before.
    await c.kill(next, "SIGTERM");
    await pollUntil(
      `node ${pausedId} to serve the group`,
      async () => {
        answer = await fetchOffset(c, pausedId);
        if ("offset" in answer) seen.push(answer);
        return "offset" in answer;
      },
      90_000,
    ).catch((err: unknown) => {
      const lines = c
        .output(pausedId)
        .split("\n")
        .filter((l) => l.includes(`"offsetsPartition":${partition}`));
      throw new Error(`${String(err)}; last answer ${show(answer)}; its coordinator said ${lines.join("\n")}`);
    });
    const offsets = seen.map((a) => ("offset" in a ? a.offset : -1n));
    for (let i = 1; i < offsets.length; i++) {
      expect(offsets[i]!, `answers ${show(offsets)}`).toBeGreaterThanOrEqual(offsets[i - 1]!);
    }
    expect(offsets.at(-1)).toBe(20n);
    console.log(`coordinator-uncommitted: OffsetFetch answers in order ${show(offsets)}`);
  }, 300_000);
});
