// The pure desired-state builder: the structure that matters for running Kafka on Kubernetes, asserted field by field.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KafkaClusterSpec, type KafkaClusterSpecInput } from "../../../src/api/v1alpha1/index.ts";
import {
  CONFIG_HASH_ANNOTATION,
  DEFAULT_BROKER_IMAGE,
  clusterIdOf,
  desired,
  repositoryOf,
  type ClusterInput,
  type DesiredState,
} from "../../../src/controllers/kafka-cluster/desired.ts";
import type { KubeObject } from "../../../src/kube/index.ts";
import { PROD_UID, prodOwner } from "./owner-fixture.ts";
import { OPERATOR_VERSION } from "../../../src/version.ts";

const UID = PROD_UID;
const owner = prodOwner;

function render(spec: KafkaClusterSpecInput): DesiredState {
  const input: ClusterInput = { name: "prod", namespace: "kafka", uid: UID, spec: KafkaClusterSpec.parse(spec) };
  return desired(input, owner);
}

function find(state: DesiredState, kind: string, name: string): KubeObject {
  const obj = state.objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (obj === undefined)
    throw new Error(`no ${kind} ${name} in ${state.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return obj;
}

interface Sts {
  spec: {
    replicas: number;
    serviceName: string;
    updateStrategy: { type: string };
    selector: { matchLabels: Record<string, string> };
    volumeClaimTemplates?: {
      metadata: { name: string };
      spec: { resources: { requests: { storage: string } }; storageClassName?: string };
    }[];
    persistentVolumeClaimRetentionPolicy?: { whenDeleted: string; whenScaled: string };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        securityContext: Record<string, unknown>;
        containers: {
          image: string;
          args: string[];
          securityContext: Record<string, unknown>;
          readinessProbe?: unknown;
          livenessProbe?: unknown;
          startupProbe?: unknown;
          volumeMounts: { name: string; mountPath: string }[];
        }[];
        volumes: { name: string; emptyDir?: unknown; configMap?: { name: string } }[];
        tolerations?: unknown[];
        topologySpreadConstraints?: { topologyKey: string }[];
      };
    };
  };
}

function sts(state: DesiredState, name: string): Sts {
  return find(state, "StatefulSet", name) as unknown as Sts;
}

function props(text: string): Map<string, string> {
  return new Map(
    text
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
  );
}

function configFor(state: DesiredState, pod: string): Map<string, string> {
  const cm = find(state, "ConfigMap", "prod-kafka-config") as KubeObject & { data: Record<string, string> };
  const text = cm.data[`${pod}.properties`];
  if (text === undefined) throw new Error(`no config for ${pod}`);
  return props(text);
}

describe("desired state of a KafkaCluster", () => {
  const three = render({ replicas: 3 });

  it("renders every owned object, each with the controller owner reference and namespace", () => {
    expect(three.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      "ConfigMap/prod-kafka-config",
      "PodDisruptionBudget/prod-kafka",
      "Service/prod-kafka-bootstrap",
      "Service/prod-kafka-brokers",
      "ServiceAccount/prod-kafka",
      "StatefulSet/prod-broker",
    ]);
    for (const obj of three.objects) {
      expect(obj.metadata.ownerReferences).toEqual([owner]);
      expect(obj.metadata.namespace).toBe("kafka");
      expect(obj.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("tributary-operator");
    }
  });

  it("applies the ConfigMap before the StatefulSet so new pods find their file", () => {
    const kinds = three.objects.map((o) => o.kind);
    expect(kinds.indexOf("ConfigMap")).toBeLessThan(kinds.indexOf("StatefulSet"));
  });

  it("uses OnDelete, a non-root read-only pod, probes and the config hash on the pod template", () => {
    const s = sts(three, "prod-broker");
    expect(s.spec.replicas).toBe(3);
    expect(s.spec.updateStrategy).toEqual({ type: "OnDelete" });
    expect(s.spec.serviceName).toBe("prod-kafka-brokers");
    const pod = s.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 });
    const c = pod.containers[0];
    expect(c?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(c?.readinessProbe).toBeDefined();
    expect(c?.livenessProbe).toBeDefined();
    expect(c?.startupProbe).toBeDefined();
    expect(c?.args).toEqual(["--config", "/etc/tributary/$(POD_NAME).properties"]);
    expect(s.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe(three.hashes["prod-broker"]);
    expect(three.hashes["prod-broker"]).toMatch(/^[0-9a-f]{16}$/);
    // The selector holds identity only: it is immutable on a StatefulSet.
    expect(s.spec.selector.matchLabels).toEqual({
      "tributary.dev/cluster": "prod",
      "app.kubernetes.io/component": "broker",
    });
    expect(s.spec.template.metadata.labels).toMatchObject(s.spec.selector.matchLabels);
  });

  it("formats each pod's storage in an init container, with the cluster id its server.properties carries", () => {
    const pod = sts(three, "prod-broker").spec.template.spec as Sts["spec"]["template"]["spec"] & {
      initContainers?: { name: string; command: string[]; args: string[]; volumeMounts: { name: string }[] }[];
    };
    const init = pod.initContainers?.[0];
    const clusterId = configFor(three, "prod-broker-0").get("cluster.id");
    expect(clusterId).toBe(clusterIdOf(UID));
    expect(init?.command).toEqual(["/usr/local/bin/node", "/app/broker/bin/tributary-storage"]);
    expect(init?.args).toEqual([
      "format",
      `--cluster-id=${clusterId}`,
      "--config",
      "/etc/tributary/$(POD_NAME).properties",
      "--ignore-formatted",
    ]);
    expect(init?.volumeMounts.map((m) => m.name).sort()).toEqual(["config", "data"]);
  });

  it("writes one server.properties per broker with its node id and advertised per-pod DNS name", () => {
    for (const i of [0, 1, 2]) {
      const cfg = configFor(three, `prod-broker-${i}`);
      expect(cfg.get("node.id")).toBe(String(i));
      // The controller listener too: the quorum's peers learn the leader's endpoint from it (KIP-853).
      expect(cfg.get("advertised.listeners")).toBe(
        `PLAINTEXT://prod-broker-${i}.prod-kafka-brokers.kafka.svc:9092,CONTROLLER://prod-broker-${i}.prod-kafka-brokers.kafka.svc:9093`,
      );
      expect(cfg.get("process.roles")).toBe("broker,controller");
      expect(cfg.get("log.dirs")).toBe("/var/lib/tributary/data");
      expect(cfg.get("cluster.id")).toBe(clusterIdOf(UID));
      expect(cfg.get("controller.quorum.voters")).toBe(
        [0, 1, 2].map((n) => `${n}@prod-broker-${n}.prod-kafka-brokers.kafka.svc:9093`).join(","),
      );
    }
    expect(clusterIdOf(UID)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("publishes not-ready addresses on the headless Service and selects brokers on the bootstrap Service", () => {
    const headless = find(three, "Service", "prod-kafka-brokers") as KubeObject & {
      spec: { clusterIP: string; publishNotReadyAddresses: boolean };
    };
    expect(headless.spec.clusterIP).toBe("None");
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const bootstrap = find(three, "Service", "prod-kafka-bootstrap") as KubeObject & {
      spec: { selector: Record<string, string>; ports: { port: number }[] };
    };
    expect(bootstrap.spec.selector).toEqual({
      "tributary.dev/cluster": "prod",
      "app.kubernetes.io/component": "broker",
    });
    expect(bootstrap.spec.ports.map((p) => p.port)).toEqual([9092]);
    expect(three.bootstrapServers).toBe("prod-kafka-bootstrap.kafka.svc:9092");
  });

  it("derives the PodDisruptionBudget from min.insync.replicas unless the spec sets it", () => {
    type Pdb = KubeObject & { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } };
    const pdbOf = (state: DesiredState): Pdb => find(state, "PodDisruptionBudget", "prod-kafka") as Pdb;
    // Kafka's defaults (replication factor 1, min.insync.replicas 1): no broker may be evicted.
    expect(pdbOf(three).spec.maxUnavailable).toBe(0);
    expect(pdbOf(three).spec.selector.matchLabels).toEqual({ "tributary.dev/cluster": "prod" });
    const rf3 = render({ replicas: 3, config: { "default.replication.factor": 3, "min.insync.replicas": 2 } });
    expect(pdbOf(rf3).spec.maxUnavailable).toBe(1);
    // The topics' value (the scale step reads it from Kafka) wins over spec.config; an explicit budget over both.
    const input = (spec: KafkaClusterSpecInput): ClusterInput => ({
      name: "prod",
      namespace: "kafka",
      uid: UID,
      spec: KafkaClusterSpec.parse(spec),
      maxUnavailable: 2,
    });
    expect(pdbOf(desired(input({ replicas: 5 }), owner)).spec.maxUnavailable).toBe(2);
    const explicit = desired(input({ replicas: 5, podDisruptionBudget: { maxUnavailable: 1 } }), owner);
    expect(pdbOf(explicit).spec.maxUnavailable).toBe(1);
  });

  it("uses an emptyDir for ephemeral storage and claim templates for persistent-claim", () => {
    const eph = sts(three, "prod-broker");
    expect(eph.spec.volumeClaimTemplates).toBeUndefined();
    expect(eph.spec.template.spec.volumes.find((v) => v.name === "data")?.emptyDir).toEqual({});

    const pv = sts(
      render({ replicas: 3, storage: { type: "persistent-claim", size: "100Gi", class: "fast", deleteClaim: true } }),
      "prod-broker",
    );
    expect(pv.spec.volumeClaimTemplates?.[0]?.metadata.name).toBe("data");
    expect(pv.spec.volumeClaimTemplates?.[0]?.spec.resources.requests.storage).toBe("100Gi");
    expect(pv.spec.volumeClaimTemplates?.[0]?.spec.storageClassName).toBe("fast");
    expect(pv.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Delete" });
    expect(pv.spec.template.spec.volumes.some((v) => v.name === "data")).toBe(false);
    const keep = sts(render({ storage: { type: "persistent-claim", size: "1Gi" } }), "prod-broker");
    expect(keep.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
  });

  it("is deterministic: the same spec renders identical objects", () => {
    expect(JSON.stringify(render({ replicas: 3 }))).toBe(JSON.stringify(three));
  });

  it("changes the hash for a config or image change but not for scaling", () => {
    const base = three.hashes["prod-broker"];
    expect(render({ replicas: 3, config: { "num.partitions": 6 } }).hashes["prod-broker"]).not.toBe(base);
    expect(render({ replicas: 3, version: "0.2.0" }).hashes["prod-broker"]).not.toBe(base);
    expect(render({ replicas: 3, version: "0.2.0" }).image).toBe("docker.io/tributary/broker:0.2.0");
    expect(render({ replicas: 4 }).hashes["prod-broker"]).toBe(base);
    expect(
      configFor(render({ replicas: 3, config: { "num.partitions": 6 } }), "prod-broker-1").get("num.partitions"),
    ).toBe("6");
  });

  it("gives the quorum's listener only to controllers: broker-only nodes beyond three voters have none", () => {
    const five = render({ replicas: 5 });
    for (const i of [0, 1, 2]) {
      const cfg = configFor(five, `prod-broker-${i}`);
      expect(cfg.get("process.roles")).toBe("broker,controller");
      expect(cfg.get("listeners")).toBe("PLAINTEXT://:9092,CONTROLLER://:9093");
      expect(cfg.get("listener.security.protocol.map")).toBe("PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    }
    for (const i of [3, 4]) {
      const cfg = configFor(five, `prod-broker-${i}`);
      expect(cfg.get("process.roles")).toBe("broker");
      expect(cfg.get("listeners")).toBe("PLAINTEXT://:9092");
      expect(cfg.get("listener.security.protocol.map")).toBe("PLAINTEXT:PLAINTEXT");
      expect(cfg.get("controller.listener.names")).toBe("CONTROLLER");
      expect(cfg.get("controller.quorum.voters")).toBe(
        configFor(five, "prod-broker-0").get("controller.quorum.voters"),
      );
    }
    expect(five.controllerServers).toEqual([0, 1, 2].map((n) => `prod-broker-${n}.prod-kafka-brokers.kafka.svc:9093`));
    expect(five.pools).toEqual([{ name: "prod-broker", role: "broker", replicas: 5, firstNodeId: 0, controllers: 3 }]);
    // A listener change reaches every pod's per-pod keys: it changes the hash.
    expect(render({ replicas: 3, listeners: { internal: { port: 9095 } } }).hashes["prod-broker"]).not.toBe(
      three.hashes["prod-broker"],
    );
    expect(five.hashes["prod-broker"]).toBe(three.hashes["prod-broker"]);
  });

  it("uses the cluster id recorded in the status over the uid's, unless the recorded one is not an id", () => {
    const spec = KafkaClusterSpec.parse({ replicas: 3 });
    const recorded = "MkU3OEVBNTcwNTJENDM2Qg";
    const kept = desired({ name: "prod", namespace: "kafka", uid: UID, spec, clusterId: recorded }, owner);
    expect(kept.clusterId).toBe(recorded);
    expect(configFor(kept, "prod-broker-2").get("cluster.id")).toBe(recorded);
    const init = (sts(kept, "prod-broker").spec.template.spec as unknown as { initContainers: { args: string[] }[] })
      .initContainers[0];
    expect(init?.args[1]).toBe(`--cluster-id=${recorded}`);
    const bad = desired({ name: "prod", namespace: "kafka", uid: UID, spec, clusterId: "x" }, owner);
    expect(bad.clusterId).toBe(clusterIdOf(UID));
  });

  it("renders a dedicated controller pool with its own ids and voters", () => {
    const d = render({ replicas: 2, controller: { mode: "dedicated", replicas: 3 } });
    expect(sts(d, "prod-controller").spec.replicas).toBe(3);
    expect(sts(d, "prod-broker").spec.replicas).toBe(2);
    const ctl = configFor(d, "prod-controller-2");
    expect(ctl.get("node.id")).toBe("1002");
    expect(ctl.get("process.roles")).toBe("controller");
    expect(ctl.get("advertised.listeners")).toBe("CONTROLLER://prod-controller-2.prod-kafka-brokers.kafka.svc:9093");
    expect(configFor(d, "prod-broker-0").get("advertised.listeners")).toBe(
      "PLAINTEXT://prod-broker-0.prod-kafka-brokers.kafka.svc:9092",
    );
    expect(ctl.get("listeners")).toBe("CONTROLLER://:9093");
    expect(configFor(d, "prod-broker-0").get("listeners")).toBe("PLAINTEXT://:9092");
    expect(d.controllerServers).toEqual([0, 1, 2].map((n) => `prod-controller-${n}.prod-kafka-brokers.kafka.svc:9093`));
    const broker = configFor(d, "prod-broker-1");
    expect(broker.get("process.roles")).toBe("broker");
    expect(broker.get("controller.quorum.voters")).toBe(
      [0, 1, 2].map((n) => `${1000 + n}@prod-controller-${n}.prod-kafka-brokers.kafka.svc:9093`).join(","),
    );
  });

  it("passes the pod template through and spreads over the rack key", () => {
    const s = sts(
      render({
        rack: { topologyKey: "topology.kubernetes.io/zone" },
        template: { pod: { labels: { team: "data" }, tolerations: [{ key: "dedicated", operator: "Exists" }] } },
      }),
      "prod-broker",
    );
    expect(s.spec.template.metadata.labels["team"]).toBe("data");
    expect(s.spec.template.spec.tolerations).toEqual([{ key: "dedicated", operator: "Exists" }]);
    expect(s.spec.template.spec.topologySpreadConstraints?.[0]?.topologyKey).toBe("topology.kubernetes.io/zone");
  });

  it("renders a per-broker external Service and advertises it", () => {
    const d = render({
      replicas: 2,
      listeners: { external: { type: "NodePort", nodePortBase: 31000, host: "kafka.example.com" } },
    });
    const svc = find(d, "Service", "prod-broker-1-external") as KubeObject & {
      spec: { type: string; selector: Record<string, string>; ports: { nodePort?: number }[] };
    };
    expect(svc.spec.type).toBe("NodePort");
    expect(svc.spec.selector).toEqual({ "statefulset.kubernetes.io/pod-name": "prod-broker-1" });
    expect(svc.spec.ports[0]?.nodePort).toBe(31002);
    const boot = find(d, "Service", "prod-kafka-external-bootstrap") as KubeObject & {
      spec: { type: string; selector: Record<string, string>; ports: { nodePort?: number }[] };
    };
    expect(boot.spec.type).toBe("NodePort");
    expect(boot.spec.selector).toEqual({ "tributary.dev/cluster": "prod", "app.kubernetes.io/component": "broker" });
    expect(boot.spec.ports[0]?.nodePort).toBe(31000);
    expect(configFor(d, "prod-broker-1").get("advertised.listeners")).toContain("EXTERNAL://kafka.example.com:31002");
  });

  it("takes the default image and pull policy from the operator, and spec.version from its repository", () => {
    const spec = KafkaClusterSpec.parse({ version: "0.3.1" });
    const defaults = {
      image: "registry.example.com:5000/tributary/broker:0.2.0@sha256:abc",
      pullPolicy: "Always" as const,
    };
    const state = desired({ name: "prod", namespace: "kafka", uid: UID, spec, defaults }, owner);
    expect(state.image).toBe("registry.example.com:5000/tributary/broker:0.3.1");
    const c = (sts(state, "prod-broker").spec.template.spec.containers[0] ?? {}) as { imagePullPolicy?: string };
    expect(c.imagePullPolicy).toBe("Always");
    const plain = desired(
      { name: "prod", namespace: "kafka", uid: UID, spec: KafkaClusterSpec.parse({}), defaults },
      owner,
    );
    expect(plain.image).toBe(defaults.image);
    expect(repositoryOf("tributary/broker")).toBe("tributary/broker");
    expect(repositoryOf("localhost:5000/broker")).toBe("localhost:5000/broker");
  });

  it("defaults to the broker of the operator's release, the image the chart defaults to", () => {
    const repo = new URL("../../../../", import.meta.url);
    const pkg = JSON.parse(readFileSync(new URL("operator/package.json", repo), "utf8")) as { version: string };
    const chart = parse(readFileSync(new URL("charts/tributary/Chart.yaml", repo), "utf8")) as { appVersion: string };
    const values = parse(readFileSync(new URL("charts/tributary/values.yaml", repo), "utf8")) as {
      brokerImage: { repository: string; tag: string };
    };
    expect(OPERATOR_VERSION).toBe(pkg.version);
    expect(chart.appVersion).toBe(OPERATOR_VERSION);
    expect(values.brokerImage.tag).toBe("");
    expect(DEFAULT_BROKER_IMAGE).toBe(`${values.brokerImage.repository}:${chart.appVersion}`);
    expect(render({}).image).toBe(`docker.io/tributary/broker:${OPERATOR_VERSION}`);
  });

  it("keeps dynamic broker keys out of the restart hash, still rendering them into server.properties", () => {
    const base = three.hashes["prod-broker"];
    const dynamic = render({ replicas: 3, config: { "log.retention.ms": 60_000, "min.insync.replicas": 2 } });
    expect(dynamic.hashes["prod-broker"]).toBe(base);
    expect(dynamic.dynamicConfig).toEqual({ "log.retention.ms": "60000", "min.insync.replicas": "2" });
    expect(configFor(dynamic, "prod-broker-0").get("log.retention.ms")).toBe("60000");
    // A restart-only key next to them still rolls.
    const mixed = render({ replicas: 3, config: { "log.retention.ms": 60_000, "num.partitions": 6 } });
    expect(mixed.hashes["prod-broker"]).not.toBe(base);
    expect(mixed.dynamicConfig).toEqual({ "log.retention.ms": "60000" });
  });

  it("an operator upgrade (a new default image) changes nothing of a cluster that recorded its image", () => {
    const spec = KafkaClusterSpec.parse({ replicas: 3 });
    const input = { name: "prod", namespace: "kafka", uid: UID, spec };
    const before = desired({ ...input, defaults: { image: "tributary/broker:0.1.0" } }, owner);
    const after = desired(
      { ...input, defaults: { image: "tributary/broker:0.2.0" }, recordedImage: before.image },
      owner,
    );
    expect(JSON.stringify(after.objects)).toBe(JSON.stringify(before.objects));
    expect(after.hashes).toEqual(before.hashes);
    // spec.version is how a cluster moves to another broker version.
    const upgraded = desired(
      {
        ...input,
        spec: KafkaClusterSpec.parse({ replicas: 3, version: "0.2.0" }),
        defaults: { image: "tributary/broker:0.2.0" },
        recordedImage: before.image,
      },
      owner,
    );
    expect(upgraded.image).toBe("tributary/broker:0.2.0");
  });
});
