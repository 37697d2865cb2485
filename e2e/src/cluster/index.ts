export {
  attachCluster,
  startCluster,
  ZONES,
  type Cluster,
  type ClusterLogger,
  type ClusterOptions,
  type Tier,
} from "./cluster.ts";
export { binDir, missingBinaries, versions } from "./tools.ts";
export { localNodeNames, localTierUnavailable } from "./local.ts";
