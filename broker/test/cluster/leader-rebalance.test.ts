import { describe, expect, it } from "vitest";
import { AdminClient, type PartitionInfo } from "../../src/admin/index.ts";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { brokerAddress, waitForPartitions } from "../support/cluster-records.ts";

// auto.leader.rebalance.enable on three combined processes, with the check every second: a partition whose preferred
// replica (broker 1) shut down is led by another ISR member; broker 1 returns, catches up into the ISR, and the
// active controller's next pass gives it the leadership back without anyone asking.

const cluster = clusterPerFile({
  system: "tributary",
  topology: { combined: 3 },
  config: { "leader.imbalance.check.interval.seconds": "1" },
});

/** Polls broker `via`'s Metadata until every partition of `topic` satisfies `test`. */
const partitions = (via: number, topic: string, test: (p: PartitionInfo) => boolean): Promise<PartitionInfo[]> =>
  waitForPartitions(cluster(), via, topic, test, 45_000);

describe("automatic preferred-leader elections across three Tributary nodes", () => {
  it("gives the leadership back to the preferred replica once it is in the ISR again", async () => {
    const admin = new AdminClient({ bootstrap: brokerAddress(cluster(), 2), retries: 0 });
    try {
      const [created] = await admin.createTopics([{ name: "balance", partitions: 3, replicationFactor: 3 }]);
      expect(created?.error).toBeUndefined();
    } finally {
      admin.close();
    }
    const before = await partitions(2, "balance", (p) => p.isr.length === 3 && p.leader === p.replicas[0]);
    const ledBy1 = before.filter((p) => p.replicas[0] === 1).map((p) => p.partition);
    expect(ledBy1.length).toBeGreaterThan(0);

    await cluster().kill(1, "SIGTERM");
    await partitions(2, "balance", (p) => p.leader !== 1 && p.leader !== -1);
    await cluster().restart(1);
    // Back in every ISR, and the preferred leader everywhere again, by the controller's own pass.
    const after = await partitions(2, "balance", (p) => p.isr.includes(1) && p.leader === p.replicas[0]);
    expect(after.filter((p) => p.leader === 1).map((p) => p.partition)).toEqual(ledBy1);
  }, 180_000);
});
