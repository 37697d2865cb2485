// Shared by the multi-node benchmarks (metadata.ts, replicated.ts): a 3-node cluster of either system started the same
// way, and Tributary's 3 nodes profiled under node --cpu-prof.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { AdminClient, PartitionInfo } from "../src/admin/index.ts";
import { startCluster, type Cluster, type ClusterOptions, type ClusterSystem } from "../test/support/cluster.ts";
import { printProfiles, type ProfileWindow } from "./cpu-profile.ts";
import { ROOT } from "./perf-tools.ts";
import { OUT_DIR } from "./report.ts";

/** TRIBUTARY_BIN=<path to tributary-broker> runs another build of Tributary (before/after figures). */
export const TRIBUTARY_BIN = process.env["TRIBUTARY_BIN"];

/**
 * 3 combined nodes of `system` on loopback, each given up to 180 s to start (a loaded machine), Kafka with a 1 GiB
 * heap; `options` adds to or overrides that.
 */
export function startBenchCluster(system: ClusterSystem, options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  return startCluster({
    system,
    topology: { combined: 3 },
    kafkaHeap: "1G",
    startTimeoutMs: 180_000,
    ...(TRIBUTARY_BIN !== undefined ? { tributaryBin: TRIBUTARY_BIN } : {}),
    ...options,
  });
}

/**
 * Tributary's 3 nodes under `node --cpu-prof`, profiles in bench/out/profile-<name>: `work` runs (closing its own
 * clients) and resolves with the window to look at; every node then stops with SIGTERM, which writes its profile, and
 * the hottest frames of each within the window are printed, titled `what`.
 */
export async function profileTributary(
  name: string,
  options: Partial<ClusterOptions>,
  what: string,
  work: (cluster: Cluster) => Promise<ProfileWindow>,
): Promise<void> {
  const profileDir = join(OUT_DIR, `profile-${name}`);
  rmSync(profileDir, { recursive: true, force: true });
  const cluster = await startBenchCluster("tributary", {
    ...options,
    nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profileDir],
  });
  let window: ProfileWindow | undefined;
  try {
    window = await work(cluster);
    await Promise.all(cluster.nodes.map((n) => cluster.kill(n.id, "SIGTERM")));
  } finally {
    await cluster.destroy();
  }
  printProfiles(profileDir, ROOT, what, window);
}

/** A topic's partitions (leader, replicas, ISR) as the node `admin` talks to sees them, by partition number. */
export async function topicPartitions(admin: AdminClient, topic: string): Promise<PartitionInfo[]> {
  const t = (await admin.describeTopics([topic])).get(topic);
  if (t?.topic === undefined) throw new Error(`describing ${topic}: ${t?.error?.message ?? "not in the answer"}`);
  return [...t.topic.partitions].sort((a, b) => a.partition - b.partition);
}
