import { describe, expect } from "vitest";
import type { PartitionInfo } from "../../src/admin/index.ts";
import { AckedProducer } from "../support/acked-producer.ts";
import { pollUntil } from "../support/broker-process.ts";
import type { Cluster } from "../support/cluster.ts";
import {
  consumeAll,
  createFullyReplicated,
  initProducerId,
  partitionInfo as readPartitionInfo,
} from "../support/cluster-records.ts";
import { smallDiskClusterTest } from "../support/small-disk-cluster.ts";

// A full disk under a partition leader (ADR 24, issue 12): three combined nodes, each with its log dir on a small
// tmpfs (the metadata log elsewhere), an RF-3 topic with min.insync.replicas 2 written by an idempotent acks=all
// producer. The leader's disk fills while the producer runs: the leader's log dir goes offline, it answers
// KAFKA_STORAGE_ERROR and asks to be fenced, the controller elects another ISR member and takes the full node out of
// the ISR, the producer carries on there, and every acknowledged record is served by the new leader once, in order.
// The full node then stops (exit code 1); with space again, restarted, it rejoins the ISR.

const TOPIC = "disk-full-replicated";
const partitionInfo = (cluster: Cluster, via: number) => readPartitionInfo(cluster, via, TOPIC);

describe("a full disk under a partition leader", () => {
  smallDiskClusterTest(
    "takes the leader's replicas offline; the producer goes on at the new leader and loses nothing",
    {},
    async (c, disks) => {
      const full = (await createFullyReplicated(c, TOPIC)).leader;
      const other = c.brokers.find((n) => n.id !== full)?.id ?? -1;
      const id = await initProducerId(c, full);
      const producer = new AckedProducer(c, TOPIC, 0, id, full);
      try {
        await pollUntil("some acknowledged records", () => Promise.resolve(producer.acked.length >= 200), 60_000);
        await disks.get(full)?.fill();
        let after: PartitionInfo | undefined;
        await pollUntil(
          `another replica to lead and node ${full} to leave the ISR`,
          async () => {
            after = await partitionInfo(c, other);
            return after !== undefined && after.leader >= 0 && after.leader !== full && !after.isr.includes(full);
          },
          60_000,
        );
        const before = producer.acked.length;
        await pollUntil(
          "the producer to go on at the new leader",
          () => Promise.resolve(producer.acked.length >= before + 200),
          60_000,
        );
        expect(producer.leader).toBe(after?.leader);
      } finally {
        await producer.stop();
      }
      const next = producer.leader;
      let served: string[] = [];
      await pollUntil(
        `the new leader (${next}) to serve every acknowledged record`,
        async () => {
          served = await consumeAll(c, next, TOPIC, 0).catch(() => []);
          return served.length >= producer.acked.length;
        },
        30_000,
      );
      expect(served.length).toBe(producer.acked.length);
      expect(served).toEqual(producer.acked);
      // The full node took its log dir offline, was fenced at its own request, then stopped with exit code 1 (as
      // Kafka's broker halts): its log dir would stay offline until a restart, and a process left running fenced
      // would never be restarted by a supervisor.
      expect(c.output(full)).toContain("the log dir goes offline");
      await pollUntil(`node ${full} to stop`, () => Promise.resolve(!c.isRunning(full)), 30_000);
      expect(c.output(full)).toContain("Every log dir is offline and the controller has fenced this broker");
      expect(c.output(full)).toMatch(/"exitCode":1,"msg":"Stopped"/);
      // Space again, and a restart (what a supervisor does): the node catches up and is back in the ISR.
      await disks.get(full)?.free();
      await c.restart(full);
      await pollUntil(
        `node ${full} back in the ISR`,
        async () => (await partitionInfo(c, other))?.isr.includes(full) === true,
        60_000,
      );
      console.log(
        `disk full: node ${full}'s disk filled; ${producer.acked.length} records acknowledged, all served once by ${next}; ` +
          `producer errors ${JSON.stringify([...producer.errors])}; node ${full} stopped, restarted and rejoined the ISR`,
      );
    },
  );
});
