import { LATEST_METADATA_VERSION, type ControllerConfig } from "../../src/controller/index.ts";

/** A controller's settings for tests: Kafka's defaults, no static broker configs. */
export const TEST_CONTROLLER_CONFIG: ControllerConfig = {
  nodeId: 1,
  clusterId: "MkU3OEVBNTcwNTJENDM2Qg",
  brokerSessionTimeoutMs: 9000,
  connectionLossGraceMs: 2500,
  colocatedBroker: false,
  defaultPartitions: 1,
  defaultReplicationFactor: 1,
  offsetsTopicNumPartitions: 50,
  offsetsTopicReplicationFactor: null,
  staticBrokerConfigs: new Map(),
  bootstrapMetadataVersion: LATEST_METADATA_VERSION,
  autoLeaderRebalanceEnable: true,
  leaderImbalancePerBrokerPercentage: 10,
};
