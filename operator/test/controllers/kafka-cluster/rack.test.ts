// Rack awareness, the pure parts: what spec.rack adds to the broker pods, the per-cluster binding, and the racks and
// Warning the status reports.
import { describe, expect, it } from "vitest";
import { KafkaClusterSpec, type KafkaClusterSpecInput } from "../../../src/api/v1alpha1/index.ts";
import { configHash, desired, type DesiredState } from "../../../src/controllers/kafka-cluster/desired.ts";
import {
  RACK_FILE,
  brokerRacks,
  rackBinding,
  rackBindingName,
  unlabelledMessage,
} from "../../../src/controllers/kafka-cluster/rack.ts";
import type { KubeObject } from "../../../src/kube/index.ts";
import { PROD_UID, prodOwner } from "./owner-fixture.ts";

const UID = PROD_UID;
const ZONE = "topology.kubernetes.io/zone";
const owner = prodOwner;

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  automountServiceAccountToken?: boolean;
  initContainers: Container[];
  containers: Container[];
  volumes: { name: string; projected?: { sources: Record<string, unknown>[] } }[];
  topologySpreadConstraints?: { topologyKey: string; whenUnsatisfiable: string }[];
}

function render(spec: KafkaClusterSpecInput): DesiredState {
  return desired({ name: "prod", namespace: "kafka", uid: UID, spec: KafkaClusterSpec.parse(spec) }, owner);
}

function podSpec(state: DesiredState, pool: string): PodSpec {
  const sts = state.objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === pool);
  if (sts === undefined) throw new Error(`no StatefulSet ${pool}`);
  return (sts as KubeObject & { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

describe("broker pods with spec.rack", () => {
  const state = render({ replicas: 3, rack: { topologyKey: ZONE } });
  const pod = podSpec(state, "prod-broker");

  it("run the rack init step first, with the node name from the downward API and the topology key", () => {
    const init = pod.initContainers[0];
    expect(pod.initContainers.map((c) => c.name)).toEqual(["rack", "format-storage"]);
    expect(init?.command).toEqual(["/usr/local/bin/node", "/app/broker/bin/tributary-rack"]);
    expect(init?.args).toEqual(expect.arrayContaining(["--topology-key", ZONE, "--output", RACK_FILE]));
    expect(init?.env).toContainEqual({ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } });
  });

  it("give the ServiceAccount token to the init step alone, never to the broker container", () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    const credentials = pod.volumes.find((v) => v.name === "rack-credentials");
    expect(credentials?.projected?.sources).toContainEqual({
      serviceAccountToken: { path: "token", expirationSeconds: 600 },
    });
    expect(pod.initContainers[0]?.volumeMounts?.map((m) => m.name)).toContain("rack-credentials");
    const kafka = pod.containers[0];
    expect(kafka?.volumeMounts?.map((m) => m.name)).not.toContain("rack-credentials");
    expect(kafka?.volumeMounts).toContainEqual({ name: "rack", mountPath: "/var/run/tributary/rack", readOnly: true });
  });

  it("start the broker with the rack file as --override-file", () => {
    expect(pod.containers[0]?.args).toEqual([
      "--config",
      "/etc/tributary/$(POD_NAME).properties",
      "--override-file",
      RACK_FILE,
    ]);
  });

  it("spread over the topology key", () => {
    expect(pod.topologySpreadConstraints?.[0]).toMatchObject({
      topologyKey: ZONE,
      whenUnsatisfiable: "ScheduleAnyway",
    });
  });

  it("restart for the rack (the key joins the hash), while clusters without spec.rack keep their hash", () => {
    const without = render({ replicas: 3 });
    expect(state.hashes["prod-broker"]).not.toBe(without.hashes["prod-broker"]);
    expect(render({ replicas: 3, rack: { topologyKey: "rack" } }).hashes["prod-broker"]).not.toBe(
      state.hashes["prod-broker"],
    );
    // Unset, the rack key adds nothing to the hash: a cluster without spec.rack keeps the hash it had before rack
    // awareness existed, so an operator upgrade rolls nothing.
    const common = new Map([["num.partitions", "3"]]);
    const listeners = KafkaClusterSpec.parse({}).listeners;
    expect(configHash(common, listeners, "img", undefined)).toBe(configHash(common, listeners, "img"));
    expect(configHash(common, listeners, "img", ZONE)).not.toBe(configHash(common, listeners, "img"));
  });

  it("leave dedicated controllers and rackless clusters without the init step", () => {
    const dedicated = render({ replicas: 3, rack: { topologyKey: ZONE }, controller: { mode: "dedicated" } });
    expect(podSpec(dedicated, "prod-controller").initContainers.map((c) => c.name)).toEqual(["format-storage"]);
    expect(podSpec(dedicated, "prod-broker").initContainers.map((c) => c.name)).toEqual(["rack", "format-storage"]);
    const plain = podSpec(render({ replicas: 3 }), "prod-broker");
    expect(plain.initContainers.map((c) => c.name)).toEqual(["format-storage"]);
    expect(plain.containers[0]?.args).not.toContain("--override-file");
    expect(plain.volumes.map((v) => v.name)).not.toContain("rack-credentials");
  });
});

describe("rackBinding", () => {
  it("binds the node-reader ClusterRole to the cluster's broker ServiceAccount only, under a unique name", () => {
    const b = rackBinding("kafka", "prod", "prod-kafka", "tributary-operator-kafka-rack", {}) as KubeObject & {
      roleRef: unknown;
      subjects: unknown[];
    };
    expect(b.metadata.name).toBe("tributary-rack.kafka.prod");
    expect(b.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "tributary-operator-kafka-rack",
    });
    expect(b.subjects).toEqual([{ kind: "ServiceAccount", name: "prod-kafka", namespace: "kafka" }]);
    // Namespaces hold no dots: (a-b, c) and (a, b-c) cannot collide.
    expect(rackBindingName("a-b", "c")).not.toBe(rackBindingName("a", "b-c"));
  });
});

describe("brokerRacks", () => {
  const labels = (node: string): Record<string, string> | undefined =>
    ({ n1: { [ZONE]: "a" }, n2: { [ZONE]: "b" }, n3: { other: "x" } })[node];

  it("reports each broker's rack from its node, in broker id order", () => {
    const { racks, unlabelled } = brokerRacks(
      [
        { brokerId: 1, pod: "p-1", node: "n2" },
        { brokerId: 0, pod: "p-0", node: "n1" },
        { brokerId: 2, pod: "p-2" },
      ],
      labels,
      ZONE,
    );
    expect(racks).toEqual([
      { brokerId: 0, pod: "p-0", node: "n1", rack: "a" },
      { brokerId: 1, pod: "p-1", node: "n2", rack: "b" },
      { brokerId: 2, pod: "p-2" },
    ]);
    expect(unlabelled).toEqual([]);
  });

  it("names the nodes without the label (or gone) and their pods", () => {
    const { racks, unlabelled } = brokerRacks(
      [
        { brokerId: 0, pod: "p-0", node: "n3" },
        { brokerId: 1, pod: "p-1", node: "n3" },
        { brokerId: 2, pod: "p-2", node: "gone" },
      ],
      labels,
      ZONE,
    );
    expect(racks.every((r) => r.rack === undefined)).toBe(true);
    expect(unlabelled).toEqual([
      { node: "n3", pods: ["p-0", "p-1"] },
      { node: "gone", pods: ["p-2"] },
    ]);
    expect(unlabelledMessage(unlabelled, ZONE)).toMatch(
      /^nodes n3 \(p-0, p-1\), gone \(p-2\) have no label topology\.kubernetes\.io\/zone: .*without broker\.rack/,
    );
  });
});
