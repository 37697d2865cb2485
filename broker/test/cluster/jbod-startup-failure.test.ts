import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { ExitCode } from "../../src/runtime/exit-codes.ts";
import { AckedProducer } from "../support/acked-producer.ts";
import { binPath, cleanEnv } from "../support/bin.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";
import {
  brokerAddress,
  consumeAll,
  createAssigned,
  initProducerId,
  metricsPort,
  replicatedCluster,
  waitForPartitions,
} from "../support/cluster-records.ts";
import { smallDisksUnavailable } from "../support/small-disk.ts";

// A log dir that fails while its broker is down (KIP-858, ADR 30): three combined nodes; node 3 has log.dirs "logs"
// (also its metadata log dir) and "logs-b", and leads every partition of an RF-3 topic, some stored in each dir. Node
// 3 stops (SIGTERM) and "logs-b" becomes read-only before it starts again: a file system the kernel remounts read-only
// after I/O errors (ext4's errors=remount-ro) is how a failing data disk most often shows, and unlike chmod it stops
// root too (EROFS). Node 3 starts, logging the failed dir, and serves "logs": it rejoins the ISRs of that dir's
// partitions and leads them again after a preferred election, which it is refused for the partitions of "logs-b":
// those stay led elsewhere without node 3 in their ISRs. Every acknowledged record is served by each partition's
// leader, and DescribeLogDirs on node 3 reports "logs-b" with KAFKA_STORAGE_ERROR. Then "logs" fails too: node 3
// cannot start without its metadata log dir and exits with code 1, naming it.

const TOPIC = "jbod-startup";
const PARTITIONS = 4;
const VICTIM = 3;
const unavailable = smallDisksUnavailable();

/** Bind-mounts `dir` on itself read-only; returns it for the unmount. */
function makeReadOnly(dir: string): string {
  execFileSync("mount", ["--bind", dir, dir], { stdio: "pipe" });
  execFileSync("mount", ["-o", "remount,bind,ro", dir], { stdio: "pipe" });
  return dir;
}

describe("a log dir that fails while its broker is down", () => {
  let cluster: Cluster | undefined;
  const mounts: string[] = [];
  afterAll(async () => {
    // The processes first, then the mounts, then the directories (a mount point cannot be deleted).
    for (const node of cluster?.nodes ?? []) if (cluster?.isRunning(node.id)) await cluster.kill(node.id, "SIGKILL");
    for (const m of mounts.splice(0).reverse()) execFileSync("umount", [m], { stdio: "pipe" });
    await cluster?.destroy();
  });

  it.skipIf(unavailable !== undefined)(
    `is offline from the broker's start: it serves its other dir, the failed dir's partitions stay elsewhere${unavailable ? ` (skipped: ${unavailable})` : ""}`,
    async () => {
      cluster = await startCluster(
        replicatedCluster(
          {},
          {
            nodeConfig: (id) =>
              id === VICTIM ? { "log.dirs": "logs,logs-b", "metrics.port": "0", "metrics.host": "127.0.0.1" } : {},
          },
        ),
      );
      const c = cluster;
      await c.waitForBrokers(30_000);
      const all = Array.from({ length: PARTITIONS }, (_, p) => p);
      // Every partition on [VICTIM, 1, 2], so that VICTIM leads them all.
      const topicId = await createAssigned(
        c,
        1,
        TOPIC,
        all.map(() => [VICTIM, 1, 2]),
      );
      await waitForPartitions(c, 1, TOPIC, (p) => p.leader === VICTIM && p.isr.length === 3, 60_000);
      const victimDir = c.node(VICTIM).dir;
      const inDir = (dir: string, p: number) => existsSync(join(victimDir, dir, `${TOPIC}-${p}`));
      // The victim's log manager spread the partitions over both dirs, and told the controller which holds each.
      await pollUntil(
        "the victim's directory assignments to be recorded",
        () => Promise.resolve(all.every((p) => c.output(VICTIM).includes(`${topicId}:${p}@`))),
        30_000,
      );
      const failing = all.filter((p) => inDir("logs-b", p));
      const healthy = all.filter((p) => inDir("logs", p));
      expect(failing.length).toBeGreaterThan(0);
      expect(healthy.length).toBeGreaterThan(0);
      expect(failing.length + healthy.length).toBe(PARTITIONS);

      const id = await initProducerId(c, 1);
      const producers = all.map((p) => new AckedProducer(c, TOPIC, p, id, VICTIM));
      try {
        await pollUntil(
          "some acknowledged records on every partition",
          () => Promise.resolve(producers.every((p) => p.acked.length >= 20)),
          60_000,
        );
      } finally {
        await Promise.all(producers.map((p) => p.stop()));
      }

      expect(await c.kill(VICTIM, "SIGTERM")).toBe(0);
      mounts.push(makeReadOnly(join(victimDir, "logs-b")));
      await c.restart(VICTIM);
      expect(c.output(VICTIM)).toMatch(new RegExp(`Log dir ${join(victimDir, "logs-b")} failed at start-up.*EROFS`));

      // The healthy dir's partitions take the victim back into their ISRs.
      await waitForPartitions(
        c,
        1,
        TOPIC,
        (p) => (healthy.includes(p.partition) ? p.isr.length === 3 : p.leader >= 0),
        60_000,
      );
      // A preferred election gives the victim back the healthy dir's partitions, and not the failed dir's: the
      // controller elects no replica in a dir the broker did not register.
      const admin = new AdminClient({ bootstrap: brokerAddress(c, 1), retries: 2 });
      try {
        const elected = await admin.electLeaders({
          type: "preferred",
          partitions: all.map((partition) => ({ topic: TOPIC, partition })),
        });
        for (const p of failing) expect(elected.find((r) => r.partition === p)?.error).toBeDefined();
      } finally {
        admin.close();
      }
      const after = await waitForPartitions(
        c,
        1,
        TOPIC,
        (p) => (healthy.includes(p.partition) ? p.leader === VICTIM : p.leader >= 0),
        60_000,
      );
      for (const p of failing) {
        const info = after.find((x) => x.partition === p);
        expect(info?.leader).not.toBe(VICTIM);
        expect(info?.isr).not.toContain(VICTIM);
        expect(info?.isr.length).toBe(2);
      }
      for (const p of healthy) expect(after.find((x) => x.partition === p)?.isr).toHaveLength(3);

      // Every acknowledged record, from each partition's leader: the victim for the healthy dir's.
      for (const [p, producer] of producers.entries()) {
        const leader = after.find((x) => x.partition === p)?.leader ?? -1;
        let served: string[] = [];
        await pollUntil(
          `partition ${p}'s leader (${leader}) to serve every acknowledged record`,
          async () => {
            served = await consumeAll(c, leader, TOPIC, p).catch(() => []);
            return served.length >= producer.acked.length;
          },
          30_000,
        );
        expect(served).toEqual(producer.acked);
      }

      // DescribeLogDirs on the victim: the failed dir with KAFKA_STORAGE_ERROR, the other with its partitions.
      const victimAdmin = new AdminClient({ bootstrap: brokerAddress(c, VICTIM), retries: 2 });
      try {
        const dirs = await victimAdmin.describeLogDirs(VICTIM);
        const failedDir = dirs.find((d) => d.logDir === join(victimDir, "logs-b"));
        const otherDir = dirs.find((d) => d.logDir === join(victimDir, "logs"));
        expect(failedDir?.error?.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
        expect(failedDir?.partitions).toEqual([]);
        expect(otherDir?.error).toBeUndefined();
        expect(otherDir?.partitions.filter((x) => x.topic === TOPIC).map((x) => x.partition)).toEqual(healthy);
      } finally {
        victimAdmin.close();
      }

      // Its metrics say which dir is offline (Kafka's LogDirectoryOffline).
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort(c, VICTIM)}/metrics`)).text();
      expect(metrics).toContain(`tributary_log_dir_offline{log_dir="${join(victimDir, "logs-b")}"} 1`);
      expect(metrics).toContain(`tributary_log_dir_offline{log_dir="${join(victimDir, "logs")}"} 0`);

      // Its metadata log dir failing too, the victim cannot start: exit code 1, naming the dir and the error.
      expect(await c.kill(VICTIM, "SIGTERM")).toBe(0);
      mounts.push(makeReadOnly(join(victimDir, "logs")));
      const r = spawnSync(process.execPath, [binPath("tributary-broker"), "--config", c.configPath(VICTIM)], {
        cwd: victimDir,
        encoding: "utf8",
        env: cleanEnv,
        timeout: 60_000,
      });
      expect(r.status).toBe(ExitCode.Failure);
      expect(r.stderr).toContain(`the metadata log dir ${join(victimDir, "logs")} (EROFS`);
      console.log(
        `jbod start-up: node ${VICTIM}'s dir "logs-b" read-only at restart; partitions ${failing.join(",")} stayed on ` +
          `${failing.map((p) => after.find((x) => x.partition === p)?.leader).join(",")} without node ${VICTIM} in ` +
          `their ISRs, ${healthy.join(",")} led by ${VICTIM} again; acknowledged ` +
          `${producers.map((p) => p.acked.length).join(",")} records, all served; metadata dir read-only: exit ${r.status}`,
      );
    },
    300_000,
  );
});
