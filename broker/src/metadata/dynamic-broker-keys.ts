// The broker configs a running broker takes without a restart (IncrementalAlterConfigs on the BROKER resource, per
// broker or cluster-wide ""): the broker defaults of topic configs and the replication throttles. The operator reads
// this list (package export "@tributary/broker/dynamic-broker-keys") to keep these keys out of its restart hash.
import { BROKER_DYNAMIC_CONFIG_BY_NAME, TOPIC_DEFAULT_BROKER_KEYS } from "./topic-config.ts";

export const DYNAMIC_BROKER_CONFIG_KEYS: readonly string[] = [
  ...TOPIC_DEFAULT_BROKER_KEYS,
  ...BROKER_DYNAMIC_CONFIG_BY_NAME.keys(),
];
