// tributary.dev/v1alpha1: the operator's API, defined once as zod schemas (docs/adr/0020-crds-from-zod.md).
// Parse objects read from the API server with KafkaCluster.parse(...) etc. to get typed values with defaults.
import type { CrdDefinition } from "./common.ts";
import { kafkaClusterCrd } from "./kafka-cluster.ts";
import { kafkaTopicCrd } from "./kafka-topic.ts";
import { kafkaUserCrd } from "./kafka-user.ts";

export * from "./common.ts";
export * from "./kafka-cluster.ts";
export * from "./kafka-topic.ts";
export * from "./kafka-user.ts";

/** Every kind in this version, in the order crdgen writes them. */
export const CRDS: readonly CrdDefinition[] = [kafkaClusterCrd, kafkaTopicCrd, kafkaUserCrd];
