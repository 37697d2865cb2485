// KafkaTopic: a topic on a KafkaCluster in the same namespace, managed by the operator through the admin API.
import { z } from "zod";
import { ClusterRef, cel, configMap, defineKind, immutable, resource, statusOf, type CrdDefinition } from "./common.ts";

/** Kafka's own rule for topic names (legal characters, at most 249). */
export const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;

export const KafkaTopicSpec = cel(
  z
    .object({
      clusterRef: ClusterRef,
      topicName: cel(
        z
          .string()
          .regex(TOPIC_NAME_PATTERN)
          .optional()
          .describe("Name of the topic in Kafka when it differs from metadata.name (e.g. uses '_' or capitals)."),
        immutable("topicName", "a Kafka topic cannot be renamed"),
      ),
      partitions: z
        .int()
        .min(1)
        .max(100000)
        .default(1)
        .describe("Number of partitions. May grow, never shrink (Kafka cannot remove partitions)."),
      replicas: z
        .int()
        .min(1)
        .max(32767)
        .optional()
        .describe("Replication factor. Unset: the cluster's default.replication.factor."),
      config: configMap("Topic config (e.g. retention.ms: 604800000, cleanup.policy: compact).").optional(),
    })
    .describe("Desired state of a Kafka topic."),
  {
    rule: "self.partitions >= oldSelf.partitions",
    message: "partitions may grow but never shrink",
  },
  {
    rule: "has(self.topicName) == has(oldSelf.topicName)",
    message: "topicName cannot be added or removed after creation",
  },
);
export type KafkaTopicSpec = z.output<typeof KafkaTopicSpec>;

export const KafkaTopicStatus = statusOf(
  "Ready and Warning",
  {
    topicName: z.string().optional().describe("Name of the topic in Kafka."),
    topicId: z.string().optional().describe("Kafka topic id (base64 UUID)."),
    partitions: z.int().min(0).optional().describe("Partitions the topic has in Kafka."),
  },
  "Observed state of the topic, written by the operator.",
);
export type KafkaTopicStatus = z.output<typeof KafkaTopicStatus>;

export const KafkaTopic = resource("KafkaTopic", KafkaTopicSpec, KafkaTopicStatus);
export type KafkaTopic = z.output<typeof KafkaTopic>;

export const kafkaTopicCrd: CrdDefinition = defineKind({
  kind: "KafkaTopic",
  shortName: "kt",
  description: "A topic on a Tributary KafkaCluster in the same namespace.",
  spec: KafkaTopicSpec,
  status: KafkaTopicStatus,
  printerColumns: [
    { name: "Cluster", type: "string", jsonPath: ".spec.clusterRef.name" },
    { name: "Partitions", type: "integer", jsonPath: ".spec.partitions" },
    { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
  ],
});
