// The cluster-wide dynamic broker configs (BROKER resource ""), read and changed through the Admin API: what the
// KafkaCluster reconciler applies without a restart (controllers/kafka-cluster/dynamic-config.ts decides); and the
// cluster's metadata.version (ApiVersions, UpdateFeatures), finalized once a version upgrade has rolled. Every call
// goes through the cluster's pooled client (admin-pool.ts).
import type { ClusterAdmin } from "./admin-pool.ts";
import type { ConfigOp } from "../controllers/kafka-cluster/dynamic-config.ts";

type Admin = Pick<ClusterAdmin, "describeConfigs" | "alterConfigsNow" | "features" | "updateFeatures">;

export interface BrokerConfigClient {
  /** The keys set dynamically for every broker, with their values. */
  clusterDefaults(admin: Admin): Promise<Map<string, string>>;
  alterClusterDefaults(admin: Admin, ops: readonly ConfigOp[]): Promise<void>;
  /**
   * metadata.version: the level finalized for the cluster and the highest the answering broker supports; and whether
   * eligible leader replicas (KIP-966) are finalized on (absent: unknown).
   */
  metadataVersion(
    admin: Admin,
  ): Promise<{ finalized: number | undefined; supported: number | undefined; elr?: boolean }>;
  finalizeMetadataVersion(admin: Admin, level: number): Promise<void>;
}

export function brokerConfigClient(): BrokerConfigClient {
  return {
    async clusterDefaults(admin) {
      const [result] = await admin.describeConfigs([{ type: "broker", name: "" }]);
      if (result?.error !== undefined) throw result.error;
      return new Map((result?.configs ?? []).flatMap((c) => (c.value === null ? [] : [[c.name, c.value] as const])));
    },
    async alterClusterDefaults(admin, ops) {
      const [result] = await admin.alterConfigsNow([{ type: "broker", name: "", ops: [...ops] }]);
      if (result?.error !== undefined) throw result.error;
    },
    async metadataVersion(admin) {
      const levels = await admin.features();
      return {
        finalized: levels.finalized.get("metadata.version"),
        supported: levels.supported.get("metadata.version")?.[1],
        elr: (levels.finalized.get("eligible.leader.replicas.version") ?? 0) >= 1,
      };
    },
    finalizeMetadataVersion: (admin, level) =>
      admin.updateFeatures([{ feature: "metadata.version", maxVersionLevel: level, upgradeType: "upgrade" }]),
  };
}
