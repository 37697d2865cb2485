// KafkaCluster: a Tributary cluster of brokers (and optionally dedicated KRaft controllers). The schema is the single
// source of the CRD (crds/kafkaclusters.tributary.dev.yaml is generated from it by operator/src/crdgen).
import { z } from "zod";
import {
  QuantityString,
  ResourceRequirements,
  StringMap,
  cel,
  configMap,
  defineKind,
  immutable,
  kubeObject,
  resource,
  statusOf,
  type CelRule,
  type CrdDefinition,
} from "./common.ts";

/** A Tributary release, e.g. 0.1.0; the operator maps it to the broker image it was built with. */
export const BROKER_VERSION_PATTERN = /^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$/;

export const ControllerQuorum = cel(
  z
    .object({
      mode: cel(
        z
          .enum(["combined", "dedicated"])
          .default("combined")
          .describe(
            "combined: every broker is also a KRaft controller (process.roles=broker,controller); dedicated: a " +
              "separate StatefulSet of controller-only nodes. Immutable: changing it needs a metadata migration.",
          ),
        immutable("controller.mode", "create a new cluster to change the quorum mode"),
      ),
      replicas: z
        .int()
        .min(1)
        .max(9)
        .optional()
        .describe("Dedicated mode only: number of controller nodes, odd (1, 3 or 5) so that a majority exists."),
      resources: ResourceRequirements.optional().describe("Dedicated mode only: resources of the controller pods."),
    })
    .describe("The KRaft controller quorum."),
  {
    rule: "self.mode == 'dedicated' || !has(self.replicas)",
    message:
      "controller.replicas is only valid with mode: dedicated (in combined mode the brokers are the controllers)",
  },
  {
    rule: "self.mode != 'dedicated' || (has(self.replicas) && self.replicas % 2 == 1)",
    message: "controller.replicas must be set to an odd number (1, 3, 5, 7 or 9) with mode: dedicated",
  },
);
export type ControllerQuorum = z.output<typeof ControllerQuorum>;

const Port = z.int().min(1024).max(65535);

/**
 * The port of the KRaft controller listener, which the operator renders itself on every node (and on the headless
 * Service); no client listener or metrics port may take it.
 */
export const CONTROLLER_PORT = 9093;

/** CEL: the port at `path` (optional when `parent` is given and absent) is not the controller port. */
const notControllerPort = (field: string, path: string, parent?: string): CelRule => ({
  rule: `${parent === undefined ? "" : `!has(${parent}) || `}${path} != ${CONTROLLER_PORT}`,
  message: `${field} must not be ${CONTROLLER_PORT}: the operator serves the KRaft controller listener on that port`,
});

export const InternalListener = z
  .object({
    port: Port.default(9092).describe("Port of the in-cluster listener, served by the bootstrap Service."),
  })
  .describe("The in-cluster PLAINTEXT listener; always present.");

export const ExternalListener = cel(
  z
    .object({
      type: z
        .enum(["NodePort", "LoadBalancer"])
        .describe(
          "NodePort: one node port per broker plus a bootstrap one; LoadBalancer: one load balancer per broker.",
        ),
      port: Port.default(9094).describe("Container port of the external listener."),
      nodePortBase: z
        .int()
        .min(30000)
        .max(32767)
        .optional()
        .describe(
          "NodePort only: broker N gets nodePortBase + N + 1 and the bootstrap gets nodePortBase. Unset: assigned.",
        ),
      host: z
        .string()
        .max(253)
        .optional()
        .describe("Host advertised to clients (NodePort: a node address or DNS name reachable from outside)."),
      annotations: StringMap.optional().describe("Annotations on the external Services (cloud load balancer options)."),
      loadBalancerSourceRanges: z
        .array(z.string())
        .max(64)
        .optional()
        .describe("LoadBalancer only: client CIDRs allowed to connect."),
    })
    .describe("A listener reachable from outside the Kubernetes cluster."),
  { rule: "self.type == 'NodePort' || !has(self.nodePortBase)", message: "nodePortBase needs type: NodePort" },
  {
    rule: "self.type == 'LoadBalancer' || !has(self.loadBalancerSourceRanges)",
    message: "loadBalancerSourceRanges needs type: LoadBalancer",
  },
);

export const Listeners = cel(
  z
    .object({
      internal: InternalListener.default({ port: 9092 }),
      external: ExternalListener.optional(),
    })
    .describe("Client listeners. The operator owns the broker's listener keys and renders them from here."),
  {
    rule: "!has(self.external) || self.external.port != self.internal.port",
    message: "listeners.internal.port and listeners.external.port must differ",
  },
  notControllerPort("listeners.internal.port", "self.internal.port"),
  notControllerPort("listeners.external.port", "self.external.port", "self.external"),
);
export type Listeners = z.output<typeof Listeners>;

export const EphemeralStorage = z
  .object({
    type: z.literal("ephemeral").describe("Data in an emptyDir: lost when a pod is deleted. For development only."),
    sizeLimit: QuantityString.optional().describe("emptyDir size limit, e.g. 2Gi."),
  })
  .describe("ephemeral storage.");

export const PersistentClaimStorage = z
  .object({
    type: z.literal("persistent-claim").describe("One PersistentVolumeClaim per broker."),
    size: QuantityString.describe(
      "Requested size, e.g. 100Gi. May grow later when the StorageClass has allowVolumeExpansion: the operator " +
        "expands every claim and re-creates the StatefulSet for the new size without restarting pods (a pod " +
        "restarts, one at a time, only when its volume reports FileSystemResizePending); status.volumes shows " +
        "progress. A smaller size, or a class without expansion, is refused with a Warning condition and the " +
        "storage is kept as it is. A claim grown beyond this out of band is kept, never shrunk.",
    ),
    class: z.string().min(1).max(253).optional().describe("StorageClass name; unset uses the cluster default."),
    deleteClaim: z
      .boolean()
      .optional()
      .describe("Delete the claims when the KafkaCluster is deleted or scaled down. Unset means false (keep data)."),
  })
  .describe("persistent-claim storage.");

export const Storage = cel(
  z
    .discriminatedUnion("type", [EphemeralStorage, PersistentClaimStorage])
    .describe("Where each broker keeps its log (log.dirs): ephemeral or persistent-claim. The type is immutable."),
  {
    rule: "self.type == oldSelf.type",
    message: "storage.type is immutable; create a new cluster and move the data",
  },
  {
    rule: "self.type != 'persistent-claim' || has(self.size)",
    message: "storage.size is required with type: persistent-claim",
    reason: "FieldValueRequired",
  },
  {
    rule: "self.type == 'persistent-claim' || (!has(self.size) && !has(self.class) && !has(self.deleteClaim))",
    message: "size, class and deleteClaim need type: persistent-claim",
  },
  {
    // Covers adding and removing the class too: either changes the claim template, which a StatefulSet cannot change.
    rule: "has(self.class) == has(oldSelf.class) && (!has(self.class) || self.class == oldSelf.class)",
    message:
      "storage.class is immutable, and cannot be added or removed after creation (PersistentVolumeClaim templates " +
      "cannot change)",
  },
);
export type Storage = z.output<typeof Storage>;

export const Rack = z
  .object({
    topologyKey: z
      .string()
      .min(1)
      .max(316)
      .default("topology.kubernetes.io/zone")
      .describe("Node label over whose values the pods are spread, e.g. topology.kubernetes.io/zone."),
  })
  .describe(
    "Rack awareness: each broker's broker.rack is the value of this label on its pod's node (read by an init " +
      "container whose ServiceAccount may get nodes and nothing more), so partition replicas spread over racks; the " +
      "pods spread evenly over the label's values (a topology spread constraint, ScheduleAnyway). A node without " +
      "the label gives a broker without broker.rack and a Warning condition. status.racks lists each broker's rack " +
      "(the client.rack hint for clients).",
  );
export type Rack = z.output<typeof Rack>;

export const RollingUpdate = z
  .object({
    maxParallelSameRack: z
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe(
        "Broker pods a roll may restart at once, all in one rack (needs spec.rack), and only when restarting them " +
          "together keeps every partition at or above min.insync.replicas by the ISRs the operator reads. 1: one " +
          "broker at a time. KRaft controllers always restart one at a time.",
      ),
  })
  .describe("How rolling restarts proceed.");
export type RollingUpdate = z.output<typeof RollingUpdate>;

export const PodTemplate = z
  .object({
    labels: StringMap.optional().describe("Extra pod labels (the operator's own labels win)."),
    annotations: StringMap.optional().describe("Extra pod annotations."),
    affinity: kubeObject("core/v1 Affinity of the broker pods.").optional(),
    tolerations: z
      .array(kubeObject("core/v1 Toleration."))
      .max(64)
      .optional()
      .describe("core/v1 Tolerations of the broker pods."),
    priorityClassName: z.string().max(253).optional().describe("PriorityClass of the broker pods."),
    securityContext: kubeObject(
      "core/v1 PodSecurityContext. Default: runAsNonRoot with the image's user and fsGroup 65532.",
    ).optional(),
    topologySpreadConstraints: z
      .array(kubeObject("core/v1 TopologySpreadConstraint."))
      .max(16)
      .optional()
      .describe("core/v1 TopologySpreadConstraints of the broker pods (e.g. spread over zones)."),
  })
  .describe("Customisations of the broker (and controller) pods.");
export type PodTemplate = z.output<typeof PodTemplate>;

export const Metrics = z
  .object({
    enabled: z.boolean().default(true).describe("Serve Prometheus metrics (metrics.port) on every broker."),
    port: Port.default(9404).describe("Port of the metrics endpoint."),
  })
  .describe("Prometheus metrics.");

export const PodDisruptionBudget = z
  .object({
    maxUnavailable: z
      .int()
      .min(0)
      .default(1)
      .describe("Brokers that voluntary disruptions (drains) may take down at once. 0 blocks drains."),
  })
  .describe(
    "Sets the brokers' PodDisruptionBudget explicitly. Unset, maxUnavailable is derived so that no eviction can " +
      "take a partition below min.insync.replicas: the smallest replication factor minus min.insync.replicas over " +
      "the topics Kafka reports, or, before Kafka has been read or while it has no topics, " +
      "default.replication.factor minus min.insync.replicas from spec.config (both default to 1, giving 0).",
  );

/**
 * Broker config keys the operator renders itself. A KafkaCluster whose spec.config sets one of them is not applied:
 * the reconciler reports a Warning condition (see operatorOwnedConfigKeys).
 */
export const OPERATOR_OWNED_CONFIG_KEYS: readonly string[] = [
  "node.id",
  "broker.id",
  "process.roles",
  "cluster.id",
  "listeners",
  "advertised.listeners",
  "listener.security.protocol.map",
  "inter.broker.listener.name",
  "log.dirs",
  "log.dir",
  "metadata.log.dir",
  "broker.rack",
  "metrics.port",
  "metrics.host",
];

/** Key prefixes the operator owns (the KRaft controller and quorum settings). */
export const OPERATOR_OWNED_CONFIG_PREFIXES: readonly string[] = ["controller."];

/** The keys of `config` the operator owns, in the order given; empty when the config may be applied. */
export function operatorOwnedConfigKeys(config: Readonly<Record<string, unknown>> | undefined): string[] {
  if (config === undefined) return [];
  return Object.keys(config).filter(
    (key) =>
      OPERATOR_OWNED_CONFIG_KEYS.includes(key) ||
      OPERATOR_OWNED_CONFIG_PREFIXES.some((prefix) => key.startsWith(prefix)),
  );
}

export const KafkaClusterSpec = cel(
  z
    .object({
      version: z
        .string()
        .regex(BROKER_VERSION_PATTERN)
        .optional()
        .describe("Tributary version, e.g. 0.1.0; selects the broker image. Unset: the operator's own version."),
      image: z
        .string()
        .min(1)
        .max(512)
        .optional()
        .describe("Broker image, e.g. registry.example.com/tributary/broker:0.1.0. Overrides version."),
      replicas: z
        .int()
        .min(1)
        .max(100)
        .default(3)
        .describe(
          "Number of brokers. Scalable with kubectl scale or an autoscaler (scale subresource). A decrease first " +
            "moves every partition replica off the brokers being removed (blocked with a Warning if a topic's " +
            "replication factor exceeds the brokers left or the data would not fit), then removes them highest " +
            "ordinal first; an increase moves partitions onto the new brokers with a throttled reassignment.",
        ),
      controller: ControllerQuorum.default({ mode: "combined" }),
      listeners: Listeners.default({ internal: { port: 9092 } }),
      storage: Storage.default({ type: "ephemeral" }),
      resources: ResourceRequirements.optional(),
      config: configMap(
        "Broker config overrides (server.properties keys, e.g. num.partitions: 3). Keys the operator owns (node.id, " +
          "process.roles, listeners, advertised.listeners, listener.security.protocol.map, controller.*, log.dirs, " +
          "broker.rack, metrics.*, ...) are refused with a Warning condition and the spec is not applied.",
      ).optional(),
      rack: Rack.optional(),
      rollingUpdate: RollingUpdate.optional(),
      template: z
        .object({ pod: PodTemplate.optional() })
        .optional()
        .describe("Templates for the objects the operator creates."),
      metrics: Metrics.default({ enabled: true, port: 9404 }),
      podDisruptionBudget: PodDisruptionBudget.optional(),
    })
    .describe("Desired state of a Tributary cluster."),
  { rule: "!(has(self.version) && has(self.image))", message: "set version or image, not both" },
  {
    rule: "!has(self.rollingUpdate) || self.rollingUpdate.maxParallelSameRack <= 1 || has(self.rack)",
    message: "rollingUpdate.maxParallelSameRack above 1 needs spec.rack (parallel restarts stay within one rack)",
  },
  {
    rule: "self.metrics.port != self.listeners.internal.port",
    message: "metrics.port must differ from listeners.internal.port",
  },
  {
    rule: "!has(self.listeners.external) || self.metrics.port != self.listeners.external.port",
    message: "metrics.port must differ from listeners.external.port",
  },
  notControllerPort("metrics.port", "self.metrics.port"),
);
export type KafkaClusterSpec = z.output<typeof KafkaClusterSpec>;

/**
 * Ports of the spec that collide with each other or with the controller port, as messages (empty: none). The CRD's CEL
 * rules refuse the same at admission; the reconciler checks again for objects stored under an older CRD.
 */
export function portConflicts(spec: Pick<KafkaClusterSpec, "listeners" | "metrics">): string[] {
  const ports: [string, number][] = [
    ["listeners.internal.port", spec.listeners.internal.port],
    ...(spec.listeners.external === undefined
      ? []
      : [["listeners.external.port", spec.listeners.external.port] as [string, number]]),
    ["metrics.port", spec.metrics.port],
  ];
  const out: string[] = [];
  for (const [i, [field, port]] of ports.entries()) {
    if (port === CONTROLLER_PORT) out.push(`${field} is ${port}, the KRaft controller port`);
    for (const [other, otherPort] of ports.slice(i + 1)) {
      if (otherPort === port) out.push(`${field} and ${other} are both ${port}`);
    }
  }
  return out;
}
export type KafkaClusterSpecInput = z.input<typeof KafkaClusterSpec>;

export const ListenerStatus = z.object({
  name: z.string().describe("internal or external."),
  type: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).describe("How the listener is exposed."),
  bootstrapServers: z.string().describe("host:port list a client passes as bootstrap.servers."),
  addresses: z
    .array(z.object({ host: z.string(), port: z.int() }))
    .max(256)
    .optional()
    .describe("The bootstrap addresses one by one."),
});
export type ListenerStatus = z.output<typeof ListenerStatus>;

export const RollStep = z.object({
  pod: z.string().describe("The pod that will restart."),
  reason: z.string().describe("Why it restarts: config hash, image, manual request."),
  state: z
    .enum(["Restarting", "Next", "Queued", "Held"])
    .describe(
      "Restarting: deleted in this pass; Next: restarts once nothing blocks it; Queued: after the pods before it; Held: passed over (tributary.dev/roll-hold).",
    ),
  blockedBy: z.array(z.string()).max(16).optional().describe("What keeps it from restarting right now."),
});
export type RollStep = z.output<typeof RollStep>;
export const BrokerRackStatus = z.object({
  brokerId: z.int().min(0).describe("The broker's node.id."),
  pod: z.string().describe("The broker's pod."),
  node: z.string().optional().describe("The Kubernetes node the pod runs on (unset: not scheduled yet)."),
  rack: z
    .string()
    .optional()
    .describe("The node's rack label: the broker's broker.rack, and the client.rack of clients near it."),
});
export type BrokerRackStatus = z.output<typeof BrokerRackStatus>;

export const ClaimStatus = z.object({
  name: z.string().describe("The PersistentVolumeClaim."),
  requested: z.string().describe("Its spec.resources.requests.storage."),
  capacity: z.string().optional().describe("Its status.capacity.storage: what the volume provides now."),
  phase: z
    .enum(["Pending", "Bound", "Resizing", "FileSystemResizePending", "ResizeFailed"])
    .describe(
      "Pending: not bound yet; Bound: capacity covers the request; Resizing: the volume is being expanded; " +
        "FileSystemResizePending: the volume grew, its filesystem grows when the pod restarts (the operator " +
        "restarts it, one pod at a time); ResizeFailed: the resizer reported an error (see message).",
    ),
  message: z.string().optional().describe("Why, when there is more to say."),
});
export type ClaimStatus = z.output<typeof ClaimStatus>;

export const KafkaClusterStatus = statusOf(
  "Ready, Reconciling and Warning",
  {
    listeners: z
      .array(ListenerStatus)
      .max(8)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .optional()
      .describe("Where clients connect."),
    replicas: z.int().min(0).optional().describe("Broker pods that exist (scale subresource status)."),
    readyReplicas: z.int().min(0).optional().describe("Broker pods that are Ready."),
    selector: z.string().optional().describe("Label selector of the broker pods (scale subresource, autoscalers)."),
    brokerImage: z
      .string()
      .optional()
      .describe(
        "The broker image the pods run or roll to. Kept while the spec names neither version nor image, so that upgrading the operator restarts no broker; set spec.version or spec.image to change it.",
      ),
    rollPlan: z
      .array(RollStep)
      .max(1024)
      .optional()
      .describe("Pods still to restart, in the order they will, with what blocks each now. Absent: no roll pending."),
    volumes: z
      .array(ClaimStatus)
      .max(1024)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .optional()
      .describe("Each data volume claim: requested size, capacity and where a volume expansion stands."),
    clusterId: z
      .string()
      .optional()
      .describe(
        "The KRaft cluster.id every node's storage is formatted with: derived from the uid when the cluster is created, then kept.",
      ),
    racks: z
      .array(BrokerRackStatus)
      .max(1024)
      .optional()
      .describe(
        "With spec.rack: the rack of each broker, from its node's label (a broker reads it when it starts): the " +
          "client.rack hint for clients in the same rack (fetching from the nearest replica, docs/operator.md).",
      ),
  },
  "Observed state of a Tributary cluster, written by the operator.",
);
export type KafkaClusterStatus = z.output<typeof KafkaClusterStatus>;

export const KafkaCluster = resource("KafkaCluster", KafkaClusterSpec, KafkaClusterStatus);
export type KafkaCluster = z.output<typeof KafkaCluster>;

/** The condition types the operator writes on a KafkaCluster. */
export const KAFKA_CLUSTER_CONDITIONS = ["Ready", "Reconciling", "Warning"] as const;
export type KafkaClusterConditionType = (typeof KAFKA_CLUSTER_CONDITIONS)[number];

export const kafkaClusterCrd: CrdDefinition = defineKind({
  kind: "KafkaCluster",
  shortName: "kc",
  description: "A Tributary (Kafka-compatible) cluster: brokers, KRaft controllers, listeners and storage.",
  spec: KafkaClusterSpec,
  status: KafkaClusterStatus,
  printerColumns: [
    { name: "Replicas", type: "integer", jsonPath: ".spec.replicas", description: "Desired brokers." },
    { name: "Ready Replicas", type: "integer", jsonPath: ".status.readyReplicas", priority: 1 },
    { name: "Version", type: "string", jsonPath: ".spec.version" },
  ],
  scale: {
    specReplicasPath: ".spec.replicas",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  },
});
