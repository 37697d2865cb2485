// desired() renders plain objects in the form cdk8s gave them until ADR 27 (keys sorted, empty members dropped,
// cdk8s-plus-27's defaults kept). This test renders the same objects with cdk8s and cdk8s-plus-27 (dev dependencies
// since then) and compares the JSON byte for byte: server-side apply owns every field sent, so a difference would make
// the first pass after an operator upgrade rewrite every cluster's objects.
import { readFileSync } from "node:fs";
import { ApiObject, App, Chart, JsonPatch } from "cdk8s";
import * as kplus from "cdk8s-plus-27";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KafkaClusterSpec, type KafkaClusterSpecInput } from "../../../src/api/v1alpha1/index.ts";
import {
  CLUSTER_LABEL,
  desired,
  labelsOf,
  names,
  selectorOf,
  withOwner,
  type ClusterInput,
} from "../../../src/controllers/kafka-cluster/desired.ts";
import { CONTROLLER_PORT } from "../../../src/api/v1alpha1/index.ts";
import type { KubeObject } from "../../../src/kube/index.ts";
import { PROD_UID, prodOwner } from "./owner-fixture.ts";

/** The objects of `input` as the cdk8s renderer built them: cdk8s-plus-27 for the simple kinds, L1 objects otherwise. */
function withCdk8s(input: ClusterInput, plain: KubeObject[]): KubeObject[] {
  const { name: cluster, namespace, spec } = input;
  const chart = new Chart(new App(), cluster, { namespace, disableResourceNameHashes: true });
  const port = spec.listeners.internal.port;
  for (const [i, obj] of plain.entries()) {
    const { name } = obj.metadata;
    if (obj.kind === "ServiceAccount") {
      new kplus.ServiceAccount(chart, `o${i}`, { metadata: { name }, automountToken: false });
    } else if (obj.kind === "ConfigMap") {
      new kplus.ConfigMap(chart, `o${i}`, { metadata: { name }, data: obj["data"] as Record<string, string> });
    } else if (name === names.headless(cluster) || name === names.bootstrap(cluster)) {
      const headless = name === names.headless(cluster);
      const service = new kplus.Service(chart, `o${i}`, {
        metadata: { name, labels: labelsOf(cluster, "broker") },
        ...(headless ? { clusterIP: "None" } : {}),
        ports: [
          { name: "kafka", port, targetPort: port },
          ...(headless ? [{ name: "controller", port: CONTROLLER_PORT, targetPort: CONTROLLER_PORT }] : []),
        ],
      });
      const selector = headless ? { [CLUSTER_LABEL]: cluster } : selectorOf(cluster, "broker");
      for (const [k, v] of Object.entries(selector)) service.selectLabel(k, v);
      if (headless) ApiObject.of(service).addJsonPatch(JsonPatch.add("/spec/publishNotReadyAddresses", true));
    } else {
      // The external Services, StatefulSets and the PDB were L1 objects: only cdk8s's serialisation applies.
      const { namespace: _ns, ownerReferences: _owners, ...metadata } = obj.metadata;
      new ApiObject(chart, `o${i}`, { ...obj, metadata });
    }
  }
  return (chart.toJson() as KubeObject[]).map((obj) => withOwner(obj, prodOwner, cluster));
}

const example = (file: string): KafkaClusterSpecInput =>
  (
    parse(readFileSync(new URL(`../../../../manifests/examples/${file}`, import.meta.url), "utf8")) as {
      spec: KafkaClusterSpecInput;
    }
  ).spec;

const specs: [string, KafkaClusterSpecInput][] = [
  ["the dev example", example("kafka-cluster-dev.yaml")],
  ["the production example", example("kafka-cluster-production.yaml")],
  [
    "dedicated controllers, rack, NodePort listener",
    {
      replicas: 4,
      controller: { mode: "dedicated", replicas: 3 },
      rack: { topologyKey: "topology.kubernetes.io/zone" },
      listeners: { external: { type: "NodePort", port: 9094, nodePortBase: 31000 } },
      config: { "min.insync.replicas": 2, "default.replication.factor": 3 },
    },
  ],
  [
    "LoadBalancer listener with annotations, ephemeral storage with a limit",
    {
      replicas: 2,
      storage: { type: "ephemeral", sizeLimit: "1Gi" },
      listeners: {
        external: {
          type: "LoadBalancer",
          port: 9094,
          annotations: { "example.com/lb": "internal" },
          loadBalancerSourceRanges: ["10.0.0.0/8"],
        },
      },
      metrics: { enabled: false },
    },
  ],
];

describe("desired() against the cdk8s renderer", () => {
  for (const [what, spec] of specs) {
    it(`renders ${what} byte for byte as cdk8s did`, () => {
      const input: ClusterInput = {
        name: "prod",
        namespace: "kafka",
        uid: PROD_UID,
        spec: KafkaClusterSpec.parse(spec),
        manualRoll: "1",
      };
      const { objects } = desired(input, prodOwner);
      expect(objects.length).toBeGreaterThanOrEqual(6);
      expect(JSON.stringify(objects, null, 1)).toBe(JSON.stringify(withCdk8s(input, objects), null, 1));
    });
  }
});
