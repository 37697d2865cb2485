import type { ConfigEntry } from "@tributary/broker/admin";
import { describe, expect, it } from "vitest";
import { KafkaCluster } from "../../../src/api/v1alpha1/index.ts";
import {
  bootstrapOf,
  configOps,
  conflictWinner,
  replicaPlan,
  rivalsOf,
  topicNameOf,
  topicNameProblem,
} from "../../../src/controllers/kafka-topic/plan.ts";
import { computeTopicStatus } from "../../../src/controllers/kafka-topic/status.ts";

const entry = (name: string, value: string, source: ConfigEntry["source"] = "DYNAMIC_TOPIC_CONFIG"): ConfigEntry => ({
  name,
  value,
  source,
  isDefault: source === "DEFAULT_CONFIG",
  readOnly: false,
  sensitive: false,
});

const topic = (name: string, created: string, spec: object, annotations?: Record<string, string>) => ({
  metadata: { name, namespace: "ns", creationTimestamp: created, ...(annotations ? { annotations } : {}) },
  spec: { clusterRef: { name: "c" }, ...spec },
});

describe("KafkaTopic plan", () => {
  it("names the topic by spec.topicName, else metadata.name, and refuses names Kafka cannot hold", () => {
    expect(topicNameOf(topic("a", "", {}))).toBe("a");
    expect(topicNameOf(topic("a", "", { topicName: "Orders_v2" }))).toBe("Orders_v2");
    expect(topicNameProblem("a".repeat(249))).toBeUndefined();
    expect(topicNameProblem("a".repeat(250))).toMatch(/not a legal Kafka topic name/);
    expect(topicNameProblem("..")).toBeDefined();
  });

  it("reverts drift: sets what differs, resets overrides the spec does not name, leaves defaults alone", () => {
    const current = [
      entry("retention.ms", "1000"),
      entry("cleanup.policy", "compact"),
      entry("segment.bytes", "1073741824", "DEFAULT_CONFIG"),
      entry("max.message.bytes", "2000", "DEFAULT_CONFIG"),
    ];
    expect(configOps({ "retention.ms": "3600000", "max.message.bytes": "2000" }, current)).toEqual([
      { name: "cleanup.policy", op: "delete" },
      // Equal to the default but not an override: set, so a later change of the broker default does not move it.
      { name: "max.message.bytes", op: "set", value: "2000" },
      { name: "retention.ms", op: "set", value: "3600000" },
    ]);
    expect(configOps({ "retention.ms": "1000", "cleanup.policy": "compact" }, current)).toEqual([]);
  });

  it("picks the oldest resource naming a topic, then the first by name; unmanaged ones do not compete", () => {
    const a = topic("b-new", "2026-01-02T00:00:00Z", { topicName: "t" });
    const b = topic("z-old", "2026-01-01T00:00:00Z", { topicName: "t" });
    const c = topic("a-same", "2026-01-01T00:00:00Z", { topicName: "t" });
    const other = topic("t", "2025-01-01T00:00:00Z", { clusterRef: { name: "other" } });
    const off = topic("off", "2020-01-01T00:00:00Z", { topicName: "t" }, { "tributary.dev/managed": "false" });
    const rivals = rivalsOf(a, [a, b, c, other, off]);
    expect(rivals.map((r) => r.metadata.name)).toEqual(["b-new", "z-old", "a-same"]);
    expect(conflictWinner(rivals)).toBe("a-same");
    expect(conflictWinner([a])).toBe("b-new");
  });

  it("plans a replication-factor change that keeps current replicas and spreads new ones", () => {
    const partitions = [
      { partition: 0, replicas: [1] },
      { partition: 1, replicas: [2] },
      { partition: 2, replicas: [3, 1] },
    ];
    expect(replicaPlan("t", partitions, 2, [3, 1, 2])).toEqual([
      { topic: "t", partition: 0, replicas: [1, 2] },
      { topic: "t", partition: 1, replicas: [2, 3] },
    ]);
    expect(replicaPlan("t", partitions, 1, [1, 2, 3])).toEqual([{ topic: "t", partition: 2, replicas: [3] }]);
  });

  it("reaches a cluster through its bootstrap Service unless an override names it", () => {
    const cluster = KafkaCluster.parse({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "dev", namespace: "kafka" },
      spec: { listeners: { internal: { port: 9095 } } },
    });
    expect(bootstrapOf(cluster, {})).toBe("dev-kafka-bootstrap.kafka.svc:9095");
    expect(bootstrapOf(cluster, { "kafka/dev": "127.0.0.1:1234" })).toBe("127.0.0.1:1234");
  });
});

describe("KafkaTopic status", () => {
  const now = new Date("2026-12-06T00:00:00Z");
  const later = new Date("2026-12-06T01:00:00Z");

  it("is Ready once Kafka matches, and identical on a pass that changes nothing", () => {
    const first = computeTopicStatus(
      {},
      { kind: "reconciled", topicName: "t", partitions: 3, topicId: "x", refusals: [] },
      1,
      now,
    );
    expect(first).toMatchObject({ observedGeneration: 1, topicName: "t", partitions: 3, topicId: "x" });
    expect(first.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "True", "TopicReady"],
      ["Warning", "False", "NoWarnings"],
    ]);
    const again = computeTopicStatus(
      first,
      { kind: "reconciled", topicName: "t", partitions: 3, topicId: "x", refusals: [] },
      1,
      later,
    );
    expect(again).toEqual(first);
  });

  it("reports refusals as not Ready with a Warning, keeping what is known of the topic", () => {
    const ready = computeTopicStatus({}, { kind: "reconciled", topicName: "t", partitions: 3, refusals: [] }, 1, now);
    const refused = computeTopicStatus(
      ready,
      {
        kind: "reconciled",
        topicName: "t",
        partitions: 5,
        refusals: [
          { reason: "PartitionDecreaseRefused", message: "m1" },
          { reason: "ConfigRefused", message: "m2" },
        ],
      },
      2,
      later,
    );
    expect(refused.partitions).toBe(5);
    expect(refused.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "PartitionDecreaseRefused",
      observedGeneration: 2,
      lastTransitionTime: "2026-12-06T01:00:00Z",
    });
    expect(refused.conditions?.find((c) => c.type === "Warning")).toMatchObject({ status: "True", message: "m1 m2" });
  });

  it("names the winner on a conflict's loser, and says an unmanaged topic is left alone", () => {
    const lost = computeTopicStatus({}, { kind: "conflict", topicName: "t", winner: "older" }, 1, now);
    expect(lost.conditions?.[0]).toMatchObject({ type: "Ready", status: "False", reason: "ResourceConflict" });
    expect(lost.conditions?.[0]?.message).toContain("managed by KafkaTopic older");
    const off = computeTopicStatus({}, { kind: "unmanaged", topicName: "t" }, 1, now);
    expect(off.conditions?.[0]).toMatchObject({ type: "Ready", status: "Unknown", reason: "Unmanaged" });
  });
});
