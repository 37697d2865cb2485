import { afterAll, it } from "vitest";
import { replicatedCluster } from "./cluster-records.ts";
import { startCluster, type Cluster, type ClusterOptions } from "./cluster.ts";
import { SmallDiskLogDirs, smallDisksUnavailable, type SmallDisk } from "./small-disk.ts";

// The set-up of the multi-process disk-full tests, apart from small-disk.ts so that the chaos runner, which mounts
// small disks outside vitest, does not load vitest.

export interface SmallDiskClusterOptions {
  /** Broker config beyond replicatedCluster's and the metadata log's directory. */
  readonly config?: Readonly<Record<string, string>>;
  readonly nodeConfig?: ClusterOptions["nodeConfig"];
  /** Which nodes have their log dir "logs" on a small disk: all by default. */
  readonly smallDiskOn?: (id: number) => boolean;
}

/**
 * One test (in the caller's describe) on replicatedCluster's three combined nodes with the log dir "logs" on a 32 MiB
 * small disk (SmallDiskLogDirs) and the metadata log off it; skipped, saying why, where small disks cannot be mounted.
 * `body` gets the cluster, its brokers registered, and the small disks by node id; after the file's tests the
 * cluster goes with SmallDiskLogDirs.teardown.
 */
export function smallDiskClusterTest(
  title: string,
  options: SmallDiskClusterOptions,
  body: (cluster: Cluster, disks: ReadonlyMap<number, SmallDisk>) => Promise<void>,
  timeoutMs = 240_000,
): void {
  const smallDisks = new SmallDiskLogDirs(32 * 1024 * 1024);
  const unavailable = smallDisksUnavailable();
  const smallDiskOn = options.smallDiskOn ?? (() => true);
  let cluster: Cluster | undefined;
  afterAll(() => smallDisks.teardown(cluster));

  it.skipIf(unavailable !== undefined)(
    `${title}${unavailable ? ` (skipped: ${unavailable})` : ""}`,
    async () => {
      cluster = await startCluster(
        replicatedCluster(
          // Relative to each node's directory: the metadata log stays off the small disk.
          { "metadata.log.dir": "metadata", ...options.config },
          {
            ...(options.nodeConfig === undefined ? {} : { nodeConfig: options.nodeConfig }),
            prepare: (n) => (smallDiskOn(n.id) ? smallDisks.prepare(n) : undefined),
          },
        ),
      );
      await cluster.waitForBrokers(30_000);
      await body(cluster, smallDisks.disks);
    },
    timeoutMs,
  );
}
