import { describe, expect } from "vitest";
import { OFFSETS_TOPIC } from "../../src/coordinator/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { createTopic, type Cluster } from "../support/cluster.ts";
import { waitForPartitions } from "../support/cluster-records.ts";
import { commitOffset, fetchCommittedOffset, findCoordinator } from "../support/group-calls.ts";
import { smallDiskClusterTest } from "../support/small-disk-cluster.ts";

// A full disk under a group coordinator (ADR 24, issue 12): three combined nodes, each with its log dir on a small
// tmpfs, __consumer_offsets with three replicas. The coordinator's commit fails for lack of space and takes its log
// dir offline as a client's append would, so leadership of the group's partition, and the coordinator with it, moves
// to another replica, which answers every acknowledged commit and takes new ones. (Before, the coordinator answered
// NOT_COORDINATOR for ever while FindCoordinator kept naming it.)

const GROUP = "disk-full-group";
const TOPIC = "orders";
const target = { group: GROUP, topic: TOPIC };

const commit = (cluster: Cluster, node: number, offset: bigint) =>
  commitOffset(cluster, node, target, offset, 10_000).catch(() => undefined);

describe("a full disk under a group coordinator", () => {
  smallDiskClusterTest(
    "takes the coordinator's log dir offline; another replica coordinates the group with every acknowledged offset",
    { config: { "offsets.topic.replication.factor": "3", "offsets.topic.num.partitions": "3" } },
    async (c, disks) => {
      await createTopic(c, TOPIC, 3);
      let coordinator: number | undefined;
      await pollUntil(
        "a coordinator",
        async () => (coordinator = await findCoordinator(c, 1, GROUP)) !== undefined,
        60_000,
      );
      await waitForPartitions(c, 1, OFFSETS_TOPIC, (p) => p.isr.length === 3, 60_000);
      const full = coordinator!;
      let acknowledged = 0n;
      for (let i = 1n; i <= 5n; i++) {
        await pollUntil(`commit ${i}`, async () => (await commit(c, full, i)) === ErrorCode.NONE, 20_000);
        acknowledged = i;
      }

      await disks.get(full)?.fill();
      // A small commit may still fit in the last page of the segment file; the commits after it find no space, are
      // refused, and the log dir goes offline.
      let refused: number | undefined;
      for (let i = acknowledged + 1n; refused === undefined; i++) {
        if (i > acknowledged + 1000n) throw new Error("a thousand commits fitted on the full disk");
        const code = await commit(c, full, i);
        if (code === ErrorCode.NONE) acknowledged = i;
        else refused = code;
      }
      expect(refused).toBe(ErrorCode.NOT_COORDINATOR);
      await pollUntil(
        `node ${full} to take its log dir offline`,
        () => Promise.resolve(c.output(full).includes("the log dir goes offline")),
        30_000,
      );
      const other = c.brokers.find((n) => n.id !== full)!.id;
      let next: number | undefined;
      await pollUntil(
        "FindCoordinator to name another broker",
        async () => (next = await findCoordinator(c, other, GROUP)) !== undefined && next !== full,
        60_000,
      );
      let fetched: Awaited<ReturnType<typeof fetchCommittedOffset>> = { errorCode: undefined };
      await pollUntil(
        `the new coordinator (${next}) to answer the last acknowledged offset`,
        async () => {
          fetched = await fetchCommittedOffset(c, next!, target, 10_000).catch(() => ({ errorCode: undefined }));
          return "offset" in fetched;
        },
        60_000,
      );
      // The refused commit may have been kept by the others only if it was written before the disk filled: it was not.
      expect(fetched).toEqual({ offset: acknowledged });
      await pollUntil(
        "a commit at the new coordinator",
        async () => (await commit(c, next!, 100n)) === ErrorCode.NONE,
        20_000,
      );
      expect(await fetchCommittedOffset(c, next!, target, 10_000)).toEqual({ offset: 100n });
      console.log(
        `coordinator disk full: node ${full}'s disk filled; its commit was refused NOT_COORDINATOR, node ${next} coordinates with offset ${acknowledged}`,
      );
    },
  );
});
