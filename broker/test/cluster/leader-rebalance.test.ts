import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient, type PartitionInfo } from "../../src/admin/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";

// auto.leader.rebalance.enable on three combined processes, with the check every second: a partition whose preferred
// replica (broker 1) shut down is led by another ISR member; broker 1 returns, catches up into the ISR, and the
// active controller's next pass gives it the leadership back without anyone asking.

let cluster: Cluster | undefined;

beforeAll(async () => {
  cluster = await startCluster({
    system: "tributary",
    topology: { combined: 3 },
    config: { "leader.imbalance.check.interval.seconds": "1" },
  });
  await cluster.waitForBrokers(60_000);
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
});

function bootstrapOf(id: number): string {
  const node = cluster?.nodes.find((n) => n.id === id);
  if (node?.clientPort === undefined) throw new Error(`no broker ${id}`);
  return `127.0.0.1:${node.clientPort}`;
}

/** Polls broker `via`'s Metadata until every partition of `topic` satisfies `test`. */
async function partitions(via: number, topic: string, test: (p: PartitionInfo) => boolean): Promise<PartitionInfo[]> {
  const admin = new AdminClient({ bootstrap: bootstrapOf(via), retries: 0, requestTimeoutMs: 5_000 });
  let last: PartitionInfo[] = [];
  try {
    await pollUntil(
      `the partitions of ${topic} as expected`,
      async () => {
        last = (await admin.describeTopics([topic])).get(topic)?.topic?.partitions ?? [];
        return last.length > 0 && last.every(test);
      },
      45_000,
    ).catch((err: unknown) => {
      const seen = last.map((p) => `${p.partition}: leader ${p.leader} isr [${p.isr.join(",")}]`).join("; ");
      throw new Error(`${err instanceof Error ? err.message : String(err)}; last seen ${seen}`, { cause: err });
    });
  } finally {
    admin.close();
  }
  return last;
}

describe("automatic preferred-leader elections across three Tributary nodes", () => {
  it("gives the leadership back to the preferred replica once it is in the ISR again", async () => {
    const admin = new AdminClient({ bootstrap: bootstrapOf(2), retries: 0 });
    try {
      const [created] = await admin.createTopics([{ name: "balance", partitions: 3, replicationFactor: 3 }]);
      expect(created?.error).toBeUndefined();
    } finally {
      admin.close();
    }
    const before = await partitions(2, "balance", (p) => p.isr.length === 3 && p.leader === p.replicas[0]);
    const ledBy1 = before.filter((p) => p.replicas[0] === 1).map((p) => p.partition);
    expect(ledBy1.length).toBeGreaterThan(0);

    await cluster?.kill(1, "SIGTERM");
    await partitions(2, "balance", (p) => p.leader !== 1 && p.leader !== -1);
    await cluster?.restart(1);
    // Back in every ISR, and the preferred leader everywhere again, by the controller's own pass.
    const after = await partitions(2, "balance", (p) => p.isr.includes(1) && p.leader === p.replicas[0]);
    expect(after.filter((p) => p.leader === 1).map((p) => p.partition)).toEqual(ledBy1);
  }, 180_000);
});
