// The zod schemas: defaults are filled, bad values are refused, and the denylist catches operator-owned keys.
import { describe, expect, it } from "vitest";
import {
  CRDS,
  KafkaCluster,
  KafkaClusterSpec,
  KafkaTopicSpec,
  KafkaUserSpec,
  operatorOwnedConfigKeys,
  portConflicts,
  quantityNanos,
} from "../../src/api/v1alpha1/index.ts";

describe("KafkaClusterSpec", () => {
  it("fills every default from an empty spec", () => {
    const spec = KafkaClusterSpec.parse({});
    expect(spec).toEqual({
      replicas: 3,
      controller: { mode: "combined" },
      listeners: { internal: { port: 9092 } },
      storage: { type: "ephemeral" },
      metrics: { enabled: true, port: 9404 },
    });
  });

  it("keeps persistent-claim storage and its fields", () => {
    const spec = KafkaClusterSpec.parse({ storage: { type: "persistent-claim", size: "100Gi", class: "fast" } });
    expect(spec.storage).toEqual({ type: "persistent-claim", size: "100Gi", class: "fast" });
  });

  it.each([
    [{ replicas: 0 }, "replicas"],
    [{ replicas: 2.5 }, "replicas"],
    [{ storage: { type: "persistent-claim", size: "ten gigs" } }, "storage"],
    [{ storage: { type: "persistent-claim" } }, "storage"],
    [{ storage: { type: "tmpfs" } }, "storage"],
    [{ listeners: { external: { type: "ClusterIP" } } }, "listeners"],
    [{ version: "latest" }, "version"],
    [{ config: { "num.partitions": { nested: 1 } } }, "config"],
  ])("refuses %j at %s", (input, path) => {
    const result = KafkaClusterSpec.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path[0]).toBe(path);
  });

  it("parses a whole resource read from the API server", () => {
    const cluster = KafkaCluster.parse({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      metadata: { name: "dev", namespace: "kafka", generation: 2, managedFields: [] },
      spec: { replicas: 1 },
    });
    expect(cluster.spec.replicas).toBe(1);
    expect(cluster.metadata["managedFields"]).toEqual([]);
    expect(cluster.status).toBeUndefined();
  });
});

describe("portConflicts", () => {
  const spec = (s: Parameters<typeof KafkaClusterSpec.parse>[0]) => KafkaClusterSpec.parse(s);
  it("accepts the defaults and distinct ports", () => {
    expect(portConflicts(spec({}))).toEqual([]);
    expect(portConflicts(spec({ listeners: { external: { type: "NodePort" } } }))).toEqual([]);
  });

  it("names every collision, with the controller port and between listeners and metrics", () => {
    expect(portConflicts(spec({ listeners: { internal: { port: 9093 } } }))).toEqual([
      "listeners.internal.port is 9093, the KRaft controller port",
    ]);
    expect(
      portConflicts(
        spec({
          listeners: { internal: { port: 9094 }, external: { type: "NodePort", port: 9094 } },
          metrics: { port: 9094 },
        }),
      ),
    ).toEqual([
      "listeners.internal.port and listeners.external.port are both 9094",
      "listeners.internal.port and metrics.port are both 9094",
      "listeners.external.port and metrics.port are both 9094",
    ]);
    expect(portConflicts(spec({ metrics: { port: 9093 } }))).toEqual([
      "metrics.port is 9093, the KRaft controller port",
    ]);
  });
});

describe("quantityNanos", () => {
  it("compares quantities by value whatever their form", () => {
    expect(quantityNanos("1Gi")).toBe(quantityNanos("1024Mi"));
    expect(quantityNanos("1.5Gi")).toBe(quantityNanos("1536Mi"));
    expect(quantityNanos("1k")).toBe(quantityNanos("1e3"));
    expect(quantityNanos(1000)).toBe(quantityNanos("1k"));
    expect(quantityNanos("500m")).toBe(500_000_000n);
    expect(quantityNanos("10G")).not.toBe(quantityNanos("10Gi"));
    expect(quantityNanos("ten")).toBeUndefined();
  });
});

describe("operatorOwnedConfigKeys", () => {
  it("names exact keys and controller.* keys, and nothing else", () => {
    expect(
      operatorOwnedConfigKeys({
        "num.partitions": 3,
        "node.id": 1,
        "controller.quorum.voters": "x",
        "log.dirs": "/data",
        "log.retention.ms": 1000,
        "advertised.listeners": "PLAINTEXT://x:9092",
      }),
    ).toEqual(["node.id", "controller.quorum.voters", "log.dirs", "advertised.listeners"]);
    expect(operatorOwnedConfigKeys(undefined)).toEqual([]);
    expect(operatorOwnedConfigKeys({ "log.retention.hours": 1 })).toEqual([]);
  });
});

describe("KafkaTopicSpec and KafkaUserSpec", () => {
  it("defaults partitions and ACL fields", () => {
    expect(KafkaTopicSpec.parse({ clusterRef: { name: "dev" } })).toEqual({
      clusterRef: { name: "dev" },
      partitions: 1,
    });
    const user = KafkaUserSpec.parse({
      clusterRef: { name: "dev" },
      authentication: { type: "scram-sha-512" },
      authorization: { type: "simple", acls: [{ resource: { type: "topic" }, operations: ["Read"] }] },
    });
    expect(user.authorization?.acls[0]).toEqual({
      resource: { type: "topic", name: "*", patternType: "literal" },
      operations: ["Read"],
      host: "*",
      type: "allow",
    });
  });

  it("refuses bad topic names and unknown ACL operations", () => {
    expect(KafkaTopicSpec.safeParse({ clusterRef: { name: "dev" }, topicName: "a/b" }).success).toBe(false);
    expect(
      KafkaUserSpec.safeParse({
        clusterRef: { name: "dev" },
        authentication: { type: "scram-sha-512" },
        authorization: { type: "simple", acls: [{ resource: { type: "topic" }, operations: ["Fly"] }] },
      }).success,
    ).toBe(false);
  });
});

describe("CRD metadata", () => {
  it("declares three namespaced kinds with distinct short names", () => {
    expect(CRDS.map((c) => [c.kind, c.plural, c.shortNames[0], c.scope])).toEqual([
      ["KafkaCluster", "kafkaclusters", "kc", "Namespaced"],
      ["KafkaTopic", "kafkatopics", "kt", "Namespaced"],
      ["KafkaUser", "kafkausers", "ku", "Namespaced"],
    ]);
  });
});
