// The cluster-wide dynamic broker configs (BROKER resource ""), read and changed through the Admin API: what the
// KafkaCluster reconciler applies without a restart (controllers/kafka-cluster/dynamic-config.ts decides); and the
// cluster's metadata.version (ApiVersions, UpdateFeatures), finalized once a version upgrade has rolled.
import { AdminClient, type AdminClientOptions } from "@tributary/broker/admin";
import type { ConfigOp } from "../controllers/kafka-cluster/dynamic-config.ts";

export interface BrokerConfigClient {
  /** The keys set dynamically for every broker, with their values. */
  clusterDefaults(bootstrap: string): Promise<Map<string, string>>;
  alterClusterDefaults(bootstrap: string, ops: readonly ConfigOp[]): Promise<void>;
  /** metadata.version: the level finalized for the cluster and the highest the answering broker supports. */
  metadataVersion(bootstrap: string): Promise<{ finalized: number | undefined; supported: number | undefined }>;
  finalizeMetadataVersion(bootstrap: string, level: number): Promise<void>;
}

export function brokerConfigClient(options: {
  clientId: string;
  /** @default 5 000 */
  timeoutMs?: number;
  factory?: (options: AdminClientOptions) => AdminClient;
}): BrokerConfigClient {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const withClient = async <T>(bootstrap: string, fn: (client: AdminClient) => Promise<T>): Promise<T> => {
    const client = (options.factory ?? ((o) => new AdminClient(o)))({
      bootstrap,
      clientId: options.clientId,
      requestTimeoutMs: timeoutMs,
      connectTimeoutMs: timeoutMs,
      retries: 1,
    });
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };
  return {
    clusterDefaults: (bootstrap) =>
      withClient(bootstrap, async (client) => {
        const [result] = await client.describeConfigs([{ type: "broker", name: "" }]);
        if (result?.error !== undefined) throw result.error;
        return new Map((result?.configs ?? []).flatMap((c) => (c.value === null ? [] : [[c.name, c.value] as const])));
      }),
    alterClusterDefaults: (bootstrap, ops) =>
      withClient(bootstrap, async (client) => {
        const [result] = await client.alterConfigs([{ type: "broker", name: "", ops: [...ops] }]);
        if (result?.error !== undefined) throw result.error;
      }),
    metadataVersion: (bootstrap) =>
      withClient(bootstrap, async (client) => {
        const levels = await client.features();
        return {
          finalized: levels.finalized.get("metadata.version"),
          supported: levels.supported.get("metadata.version")?.[1],
        };
      }),
    finalizeMetadataVersion: (bootstrap, level) =>
      withClient(bootstrap, (client) =>
        client.updateFeatures([{ feature: "metadata.version", maxVersionLevel: level, upgradeType: "upgrade" }]),
      ),
  };
}
