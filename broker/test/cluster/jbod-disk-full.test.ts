import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { AckedProducer } from "../support/acked-producer.ts";
import { pollUntil } from "../support/broker-process.ts";
import {
  brokerAddress,
  consumeAll,
  createAssigned,
  describePartitions,
  initProducerId,
  waitForPartitions,
} from "../support/cluster-records.ts";
import { smallDiskClusterTest } from "../support/small-disk-cluster.ts";

// One full disk of a broker with two log dirs (JBOD, KIP-858, ADR 30): three combined nodes; node 1 has log.dirs
// "logs" (a small tmpfs) and "logs-b" (the node's own disk), and leads every partition of an RF-3 topic, some stored in
// each dir. Idempotent acks=all producers write every partition while "logs" fills: that dir goes offline, the
// controller moves only its partitions to other ISR members and takes node 1 out of their ISRs, and node 1 stays up,
// leading the partitions of "logs-b" with all three replicas in sync. Every acknowledged record is served once, in
// order, by each partition's final leader, and DescribeLogDirs reports the full dir's KAFKA_STORAGE_ERROR.

const TOPIC = "jbod-replicated";
const PARTITIONS = 4;
const VICTIM = 1;

describe("a full log dir of a broker with two", () => {
  smallDiskClusterTest(
    "moves only that dir's partitions; the broker keeps leading the other's and nothing acknowledged is lost",
    {
      nodeConfig: (id): Record<string, string> => (id === VICTIM ? { "log.dirs": "logs,logs-b" } : {}),
      // "logs" is the small disk; "logs-b" is on the node's own.
      smallDiskOn: (id) => id === VICTIM,
    },
    async (c, disks) => {
      // Every partition on [VICTIM, 2, 3], so that VICTIM leads them all.
      const topicId = await createAssigned(
        c,
        VICTIM,
        TOPIC,
        Array.from({ length: PARTITIONS }, () => [VICTIM, 2, 3]),
      );
      await waitForPartitions(c, 2, TOPIC, (p) => p.leader === VICTIM && p.isr.length === 3, 60_000);
      const all = Array.from({ length: PARTITIONS }, (_, p) => p);
      // The victim has told the controller where each replica is (AssignReplicasToDirs). It does so once it has
      // created the replica's log in a dir, so only then do the dirs say where each partition is: node 2 describing
      // the partitions says nothing of whether the victim has replayed the topic yet.
      await pollUntil(
        "the victim's directory assignments to be recorded",
        () => Promise.resolve(all.every((p) => c.output(VICTIM).includes(`${topicId}:${p}@`))),
        30_000,
      );
      // Which of the victim's dirs holds each partition (its log manager spreads new partitions over both).
      const victimDir = c.node(VICTIM).dir;
      const inFullDir = (p: number) => existsSync(join(victimDir, "logs", `${TOPIC}-${p}`));
      const full = all.filter(inFullDir);
      const healthy = all.filter((p) => !inFullDir(p));
      expect(full.length).toBeGreaterThan(0);
      expect(healthy.length).toBeGreaterThan(0);
      for (const p of healthy) expect(existsSync(join(victimDir, "logs-b", `${TOPIC}-${p}`))).toBe(true);

      const id = await initProducerId(c, 2);
      const producers = all.map((p) => new AckedProducer(c, TOPIC, p, id, VICTIM));
      try {
        await pollUntil(
          "some acknowledged records on every partition",
          () => Promise.resolve(producers.every((p) => p.acked.length >= 40)),
          60_000,
        );
        await disks.get(VICTIM)?.fill();
        await pollUntil(
          `the full dir's partitions led elsewhere without node ${VICTIM} in their ISRs`,
          async () => {
            const parts = (await describePartitions(c, 2, TOPIC)) ?? [];
            return full.every((p) => {
              const info = parts.find((x) => x.partition === p);
              return info !== undefined && info.leader >= 0 && info.leader !== VICTIM && !info.isr.includes(VICTIM);
            });
          },
          60_000,
        );
        const before = producers.map((p) => p.acked.length);
        await pollUntil(
          "every producer to go on",
          () => Promise.resolve(producers.every((p, i) => p.acked.length >= (before[i] ?? 0) + 40)),
          60_000,
        );
      } finally {
        await Promise.all(producers.map((p) => p.stop()));
      }
      // The healthy dir's partitions kept their leader and ISR; the victim is still up and unfenced.
      const after = (await describePartitions(c, 2, TOPIC)) ?? [];
      for (const p of healthy) {
        expect(after.find((x) => x.partition === p)).toMatchObject({ leader: VICTIM, isr: [VICTIM, 2, 3] });
        expect(producers[p]?.leader).toBe(VICTIM);
      }
      for (const p of full) expect(producers[p]?.leader).not.toBe(VICTIM);
      expect(c.isRunning(VICTIM)).toBe(true);
      expect(c.output(VICTIM)).not.toContain("Every log dir is offline");

      for (const [p, producer] of producers.entries()) {
        let served: string[] = [];
        await pollUntil(
          `partition ${p}'s leader (${producer.leader}) to serve every acknowledged record`,
          async () => {
            served = await consumeAll(c, producer.leader, TOPIC, p).catch(() => []);
            return served.length >= producer.acked.length;
          },
          30_000,
        );
        expect(served).toEqual(producer.acked);
      }

      // DescribeLogDirs: the full dir with KAFKA_STORAGE_ERROR, the other with its partitions.
      const admin = new AdminClient({ bootstrap: brokerAddress(c, VICTIM), retries: 2 });
      try {
        const dirs = await admin.describeLogDirs(VICTIM);
        const fullDir = dirs.find((d) => d.logDir === join(victimDir, "logs"));
        const otherDir = dirs.find((d) => d.logDir === join(victimDir, "logs-b"));
        expect(fullDir?.error?.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
        expect(fullDir?.partitions).toEqual([]);
        expect(otherDir?.error).toBeUndefined();
        expect(otherDir?.partitions.filter((x) => x.topic === TOPIC).map((x) => x.partition)).toEqual(healthy);
      } finally {
        admin.close();
      }
      console.log(
        `jbod: node ${VICTIM}'s dir "logs" filled; partitions ${full.join(",")} moved to ` +
          `${full.map((p) => producers[p]?.leader).join(",")}, ${healthy.join(",")} stayed on ${VICTIM}; ` +
          `acknowledged ${producers.map((p) => p.acked.length).join(",")} records, all served once; producer errors ` +
          JSON.stringify(producers.map((p) => [...p.errors])),
      );
    },
  );
});
