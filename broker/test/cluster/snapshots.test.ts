import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { agreeOnOneCluster, restartedNodeCatchesUp, topicsFromAnyBrokerAppearEverywhere } from "./scenarios.ts";

// Three combined processes that snapshot their committed metadata after every commit (KIP-630,
// metadata.log.max.record.bytes.between.snapshots=1) and trim their logs: a node killed with -9 misses records the
// leader has meanwhile trimmed away, so when it restarts it catches up by FetchSnapshot and then the log.

const METADATA_DIR = join("logs", "__cluster_metadata-0");

describe("three combined nodes with metadata snapshots", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("a node restarted after the leader trimmed its log catches up from the leader's snapshot", async () => {
    cluster = await startCluster({
      system: "tributary",
      topology: { combined: 3 },
      config: {
        "metadata.log.max.record.bytes.between.snapshots": "1",
        "metadata.log.segment.bytes": "4096",
        // Retention by size at 0: every snapshot but the newest goes at once, and the log below it.
        "metadata.max.retention.bytes": "0",
      },
    });
    const c = cluster;
    await agreeOnOneCluster(c);
    await topicsFromAnyBrokerAppearEverywhere(c, "before");
    // Enough records (one per partition) to fill more than the first 4 KiB segment, so the leader can delete it.
    const admin = new AdminClient({ bootstrap: c.bootstrap(), retries: 0, requestTimeoutMs: 5_000 });
    try {
      const [bulk] = await admin.createTopics([{ name: "bulk", partitions: 60, replicationFactor: 1 }]);
      expect(bulk?.error?.message).toBeUndefined();
    } finally {
      admin.close();
    }
    const leader = (await c.describeQuorum()).leaderId;
    const lagging = c.brokers.find((n) => n.id !== leader);
    if (lagging === undefined) throw new Error("no node other than the leader");

    // output.log is appended to across restarts: count the installs of this node's next life only.
    const installs = async () =>
      (await readFile(join(lagging.dir, "output.log"), "utf8")).split(
        "Installed a metadata snapshot fetched from the leader",
      ).length - 1;
    const before = await installs();
    await restartedNodeCatchesUp(c, lagging, "while-down");
    expect(await installs()).toBeGreaterThan(before);
    const files = await readdir(join(lagging.dir, METADATA_DIR));
    expect(files.some((f) => f.endsWith(".checkpoint"))).toBe(true);
    // The leader keeps only its newest snapshot, and no longer the log's first segment. Retention runs after each
    // snapshot, and the restarted node's registration and ISR changes still write records (each a new snapshot here),
    // so a listing can fall between a snapshot and the deletion of the one before it: poll until the two settle.
    let leaderFiles: string[] = [];
    await pollUntil(
      "the leader to keep one snapshot and no first segment",
      async () => {
        leaderFiles = await readdir(join(c.node(leader).dir, METADATA_DIR));
        return (
          leaderFiles.filter((f) => f.endsWith(".checkpoint")).length === 1 &&
          !leaderFiles.includes("00000000000000000000.log")
        );
      },
      30_000,
    ).catch(() => undefined);
    expect(leaderFiles.filter((f) => f.endsWith(".checkpoint"))).toHaveLength(1);
    expect(leaderFiles).not.toContain("00000000000000000000.log");
  }, 120_000);
});
