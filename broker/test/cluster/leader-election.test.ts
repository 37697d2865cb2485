import { describe, expect, it } from "vitest";
import type { PartitionInfo } from "../../src/admin/index.ts";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { brokerAddress, waitForPartitions } from "../support/cluster-records.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Kafka's own kafka-leader-election against three combined Tributary processes: ElectLeaders is forwarded by the
// broker to the active controller in an Envelope, as Kafka's brokers forward it, and the tool reads the per-partition
// results. A partition on brokers [1, 2, 3] loses its leader 1 when broker 1 shuts down; a PREFERRED election cannot
// help while the preferred replica is gone. With broker 1 its only ISR member, the partition has no leader and an
// UNCLEAN election elects broker 2; with followers in the ISR, one of them leads and PREFERRED moves the leadership
// back once broker 1 has returned into the ISR.

const cluster = clusterPerFile({ system: "tributary", topology: { combined: 3 } }, requireReferenceKafka);
const bootstrapOf = (id: number): string => brokerAddress(cluster(), id);

const election = (via: number, ...args: string[]) =>
  runKafkaClass("org.apache.kafka.tools.LeaderElectionCommand", ["--bootstrap-server", bootstrapOf(via), ...args]);

/** Polls broker `via`'s Metadata until partition 0 of `topic` (its only one) satisfies `test`. */
async function partitionZero(via: number, topic: string, test: (p: PartitionInfo) => boolean): Promise<PartitionInfo> {
  const [p] = await waitForPartitions(cluster(), via, topic, test, 30_000);
  if (p === undefined) throw new Error("unreachable");
  return p;
}

describe("kafka-leader-election against three Tributary nodes", () => {
  it("reports no election needed, refuses PREFERRED without the preferred replica, elects UNCLEAN or PREFERRED", async () => {
    await runKafkaClass("org.apache.kafka.tools.TopicCommand", [
      "--bootstrap-server",
      bootstrapOf(2),
      "--create",
      "--topic",
      "elect",
      "--replica-assignment",
      "1:2:3",
    ]);
    await partitionZero(2, "elect", (p) => p.leader === 1);

    const preferred = await election(2, "--election-type", "PREFERRED", "--topic", "elect", "--partition", "0");
    expect(preferred.stdout).toContain("Valid replica already elected for partitions elect-0");
    const all = await election(2, "--election-type", "PREFERRED", "--all-topic-partitions");
    expect(all.stdout).not.toContain("elect-0");

    // Broker 1 shuts down in a controlled way and gives up the leadership.
    await cluster().kill(1, "SIGTERM");
    const after = await partitionZero(2, "elect", (p) => p.leader !== 1);
    await expect(election(2, "--election-type", "PREFERRED", "--topic", "elect", "--partition", "0")).rejects.toThrow(
      /PreferredLeaderNotAvailableException: The preferred leader was not available/,
    );
    if (after.leader === -1) {
      // Broker 1 was the only ISR member (its followers had not joined the ISR): only an unclean election helps.
      // Eligible leader replicas are on (a new cluster's default), so the ISR empties and broker 1 is in the ELR.
      expect(after.isr).toEqual([]);
      const unclean = await election(3, "--election-type", "UNCLEAN", "--topic", "elect", "--partition", "0");
      expect(unclean.stdout).toContain("Successfully completed leader election (UNCLEAN) for partitions elect-0");
      const elected = await partitionZero(3, "elect", (p) => p.leader === 2);
      expect(elected.isr).toEqual([2]);
    } else {
      // A follower in the ISR took over; broker 1 returns, catches up into the ISR, and PREFERRED gives it back.
      await cluster().restart(1);
      await partitionZero(3, "elect", (p) => p.isr.includes(1));
      const back = await election(3, "--election-type", "PREFERRED", "--topic", "elect", "--partition", "0");
      expect(back.stdout).toContain("Successfully completed leader election (PREFERRED) for partitions elect-0");
      await partitionZero(3, "elect", (p) => p.leader === 1);
    }

    const again = await election(3, "--election-type", "UNCLEAN", "--topic", "elect", "--partition", "0");
    expect(again.stdout).toContain("Valid replica already elected for partitions elect-0");
    await expect(election(3, "--election-type", "PREFERRED", "--topic", "nope", "--partition", "0")).rejects.toThrow(
      /UnknownTopicOrPartitionException/,
    );
  }, 180_000);
});
