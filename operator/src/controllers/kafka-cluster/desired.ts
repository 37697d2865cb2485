// Desired state of a KafkaCluster: PURE functions from the parsed resource to the objects the operator applies. No I/O,
// no clock, no randomness: the same input renders byte-identical objects, which is what makes server-side apply a no-op
// on an unchanged cluster. The objects are plain data in the form cdk8s rendered them until ADR 27 (keys sorted, empty
// members dropped): loading cdk8s and cdk8s-plus-27 cost the operator about 34 MiB of memory for six small objects, and
// keeping the form means an operator upgrade re-applies exactly what the previous version applied.
// operator/test/controllers/kafka-cluster/desired-cdk8s.test.ts renders the same objects with cdk8s-plus-27 and
// compares.
import { createHash } from "node:crypto";
import { CONTROLLER_PORT, type KafkaClusterSpec } from "../../api/v1alpha1/index.ts";
import type { KubeObject, ObjectMeta, OwnerReference } from "../../kube/index.ts";
import { OPERATOR_VERSION } from "../../version.ts";
import { dynamicConfigOf, restartKeys } from "./dynamic-config.ts";
import { evictionAnnotations } from "./evictions.ts";
import { rackPodParts } from "./rack.ts";

/**
 * Image used when the spec names neither an image nor a version, unless TRIBUTARY_BROKER_IMAGE says otherwise: the
 * broker of the operator's own release, the same image the chart's brokerImage defaults to.
 */
export const DEFAULT_BROKER_IMAGE = `docker.io/tributary/broker:${OPERATOR_VERSION}`;

/** Annotation on the pod template (and so on each pod) holding the hash of everything a restart would pick up. */
export const CONFIG_HASH_ANNOTATION = "tributary.dev/config-hash";
export const CLUSTER_LABEL = "tributary.dev/cluster";
/**
 * On the KafkaCluster: any new value restarts every pod (it is stamped on the pod template, and a pod whose own value
 * differs is stale). On a pod: a value other than the cluster's restarts that pod. The operator never removes it.
 */
export const MANUAL_ROLL_ANNOTATION = "tributary.dev/manual-rolling-update";
/** On a pod, "true": the roll passes this pod over (it stays on its old config) until the annotation is removed. */
export const ROLL_HOLD_ANNOTATION = "tributary.dev/roll-hold";
export const COMPONENT_LABEL = "app.kubernetes.io/component";

export const CONFIG_DIR = "/etc/tributary";
export const DATA_DIR = "/var/lib/tributary/data";
/** Dedicated controllers take node ids from here so that broker ids can grow from 0 without colliding. */
export const CONTROLLER_ID_BASE = 1000;
/** At most this many combined nodes vote in the KRaft quorum; the rest are brokers only. */
export const MAX_COMBINED_VOTERS = 3;

export type Role = "broker" | "controller";

/** What desired() needs of the resource: its identity and its parsed (defaulted) spec. */
export interface ClusterInput {
  name: string;
  namespace: string;
  uid: string;
  spec: KafkaClusterSpec;
  /**
   * The cluster id recorded in the resource's status by an earlier pass. It wins over the one derived from the uid:
   * formatted volumes carry the id they were formatted with, and a node refuses volumes of another cluster id.
   */
  clusterId?: string;
  /** @default DEFAULTS */
  defaults?: BrokerDefaults;
  /** The KafkaCluster's manual-rolling-update annotation, stamped on the pod templates. */
  manualRoll?: string;
  /**
   * maxUnavailable of the PodDisruptionBudget derived from the topics (scale-step.ts), used unless the spec sets one.
   * @default from spec.config (configMaxUnavailable)
   */
  maxUnavailable?: number;
  /** status.brokerImage of an earlier pass: kept while the spec names neither image nor version. */
  recordedImage?: string;
}

/** One pool of pods: the brokers (combined or broker-only), or the dedicated controllers. */
export interface Pool {
  role: Role;
  /** StatefulSet name, also the pod name prefix. */
  name: string;
  replicas: number;
  /** process.roles of ordinal i. */
  processRoles: (ordinal: number) => string;
  nodeId: (ordinal: number) => number;
  /** Node id of ordinal 0; ordinal i is firstNodeId + i. */
  firstNodeId: number;
  /** Ordinals 0 .. controllers-1 are KRaft controllers (voters); the rest are brokers only. */
  controllers: number;
}

/** What the roller and the status need of a pool: plain data. */
export interface PoolSummary {
  name: string;
  role: Role;
  replicas: number;
  firstNodeId: number;
  controllers: number;
}

export interface DesiredState {
  /** In apply order: the ConfigMap precedes the StatefulSets so a new pod always finds its server.properties. */
  objects: KubeObject[];
  /** The StatefulSets, controllers before brokers. */
  pools: PoolSummary[];
  /** Config/image hash per pool name, as stamped on the pod template. */
  hashes: Record<string, string>;
  image: string;
  clusterId: string;
  /** Label selector string of the broker pods, for the scale subresource. */
  brokerSelector: string;
  bootstrapServers: string;
  /** The voters' controller listeners (host:port), where DescribeQuorum is answered. */
  controllerServers: string[];
  /** The spec.config keys brokers take without a restart, applied cluster-wide by IncrementalAlterConfigs. */
  dynamicConfig: Record<string, string>;
}

export const names = {
  serviceAccount: (c: string) => `${c}-kafka`,
  headless: (c: string) => `${c}-kafka-brokers`,
  bootstrap: (c: string) => `${c}-kafka-bootstrap`,
  externalBootstrap: (c: string) => `${c}-kafka-external-bootstrap`,
  config: (c: string) => `${c}-kafka-config`,
  pool: (c: string, role: Role) => `${c}-${role}`,
  pdb: (c: string) => `${c}-kafka`,
  podExternal: (pod: string) => `${pod}-external`,
};

/** Operator-wide settings (from the chart's values) that shape every cluster. */
export interface BrokerDefaults {
  /** Image for clusters that set neither image nor version; its repository serves spec.version. */
  image: string;
  pullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** The ClusterRole (get nodes) bound to the broker ServiceAccount of a cluster with spec.rack. @default DEFAULT_RACK_CLUSTER_ROLE */
  rackClusterRole?: string;
}

export const DEFAULTS: BrokerDefaults = { image: DEFAULT_BROKER_IMAGE };

/**
 * The broker image: spec.image, else spec.version from the default image's repository, else the image recorded in the
 * status by an earlier pass, else the operator's default. The recorded one comes before the default so that an
 * operator upgrade (which changes the default) never restarts the brokers of a cluster that names no version.
 */
export function imageOf(spec: KafkaClusterSpec, defaults: BrokerDefaults = DEFAULTS, recorded?: string): string {
  if (spec.image !== undefined) return spec.image;
  if (spec.version !== undefined) return `${repositoryOf(defaults.image)}:${spec.version}`;
  return recorded ?? defaults.image;
}

/** `registry:5000/tributary/broker:0.1.0@sha256:...` -> `registry:5000/tributary/broker`. */
export function repositoryOf(image: string): string {
  const noDigest = image.split("@")[0] ?? image;
  const colon = noDigest.lastIndexOf(":");
  return colon > noDigest.lastIndexOf("/") ? noDigest.slice(0, colon) : noDigest;
}

/** Kafka's form of a cluster id (Uuid.toString): 22 characters of base64url, 16 bytes. */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/**
 * A Kafka-style cluster id derived from the resource uid: the id of a new cluster. Once recorded in the status, the
 * recorded id is used instead (clusterIdFor), so a change of this derivation never re-ids a running cluster.
 */
export function clusterIdOf(uid: string): string {
  const hex = uid.replace(/-/g, "");
  const bytes = /^[0-9a-f]{32}$/i.test(hex) ? Buffer.from(hex, "hex") : createHash("sha256").update(uid).digest();
  return bytes.subarray(0, 16).toString("base64url");
}

/** The recorded id when it is one (the status is writable by others than the operator), else the derived one. */
export function clusterIdFor(input: Pick<ClusterInput, "uid" | "clusterId">): string {
  const recorded = input.clusterId;
  return recorded !== undefined && CLUSTER_ID_PATTERN.test(recorded) ? recorded : clusterIdOf(input.uid);
}

export function labelsOf(cluster: string, role: Role): Record<string, string> {
  return {
    "app.kubernetes.io/name": "tributary",
    "app.kubernetes.io/instance": cluster,
    [COMPONENT_LABEL]: role,
    "app.kubernetes.io/managed-by": "tributary-operator",
    [CLUSTER_LABEL]: cluster,
  };
}

/** The immutable part of the labels: a StatefulSet selector can never change, so it holds only identity. */
export function selectorOf(cluster: string, role: Role): Record<string, string> {
  return { [CLUSTER_LABEL]: cluster, [COMPONENT_LABEL]: role };
}

export function selectorString(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

export function pools(input: ClusterInput): Pool[] {
  const { spec, name } = input;
  if (spec.controller.mode === "dedicated") {
    return [
      {
        role: "controller",
        name: names.pool(name, "controller"),
        replicas: spec.controller.replicas ?? 3,
        processRoles: () => "controller",
        nodeId: (i) => CONTROLLER_ID_BASE + i,
        firstNodeId: CONTROLLER_ID_BASE,
        controllers: spec.controller.replicas ?? 3,
      },
      {
        role: "broker",
        name: names.pool(name, "broker"),
        replicas: spec.replicas,
        processRoles: () => "broker",
        nodeId: (i) => i,
        firstNodeId: 0,
        controllers: 0,
      },
    ];
  }
  const voters = Math.min(spec.replicas, MAX_COMBINED_VOTERS);
  return [
    {
      role: "broker",
      name: names.pool(name, "broker"),
      replicas: spec.replicas,
      processRoles: (i) => (i < voters ? "broker,controller" : "broker"),
      nodeId: (i) => i,
      firstNodeId: 0,
      controllers: voters,
    },
  ];
}

/** `<pod>.<headless service>.<namespace>.svc`: resolvable as soon as the pod exists (publishNotReadyAddresses). */
export function podHost(input: Pick<ClusterInput, "name" | "namespace">, pod: string): string {
  return `${pod}.${names.headless(input.name)}.${input.namespace}.svc`;
}

/** The KRaft voters as [node id, host:port of the controller listener]. */
function voters(input: ClusterInput, all: Pool[]): [number, string][] {
  const voterPool = all.find((p) => p.controllers > 0);
  if (voterPool === undefined) return [];
  return Array.from({ length: voterPool.controllers }, (_, i) => [
    voterPool.nodeId(i),
    `${podHost(input, `${voterPool.name}-${i}`)}:${CONTROLLER_PORT}`,
  ]);
}

/** Keys shared by every node of a pool; their hash decides restarts (per-pod keys follow from the ordinal). */
export function commonConfig(input: ClusterInput, pool: Pool, all: Pool[]): Map<string, string> {
  const { spec } = input;
  const config = new Map<string, string>();
  // User overrides first, so that operator-owned keys below always win (validation refuses them anyway).
  for (const [k, v] of Object.entries(spec.config ?? {}).sort(([a], [b]) => a.localeCompare(b)))
    config.set(k, String(v));
  config.set("cluster.id", clusterIdFor(input));
  config.set("controller.listener.names", "CONTROLLER");
  config.set(
    "controller.quorum.voters",
    voters(input, all)
      .map(([id, address]) => `${id}@${address}`)
      .join(","),
  );
  if (pool.role === "broker") config.set("inter.broker.listener.name", "PLAINTEXT");
  config.set("log.dirs", DATA_DIR);
  if (spec.metrics.enabled) {
    config.set("metrics.port", String(spec.metrics.port));
    config.set("metrics.host", "0.0.0.0");
  }
  return config;
}

/**
 * The per-pod keys: node.id, process.roles, the listeners its roles call for (a broker-only node must not serve the
 * quorum's port, a controller-only node serves nothing else: the broker refuses both at start) and the advertised
 * listeners on the pod's own DNS name. Ports come from spec.listeners, which configHash covers.
 */
export function podConfig(input: ClusterInput, pool: Pool, ordinal: number): Map<string, string> {
  const pod = `${pool.name}-${ordinal}`;
  const config = new Map<string, string>();
  config.set("node.id", String(pool.nodeId(ordinal)));
  config.set("process.roles", pool.processRoles(ordinal));
  const external = input.spec.listeners.external;
  const listeners: string[] = [];
  const protocols: string[] = [];
  if (pool.role === "broker") {
    listeners.push(`PLAINTEXT://:${input.spec.listeners.internal.port}`);
    protocols.push("PLAINTEXT:PLAINTEXT");
    if (external !== undefined) {
      listeners.push(`EXTERNAL://:${external.port}`);
      protocols.push("EXTERNAL:PLAINTEXT");
    }
  }
  if (ordinal < pool.controllers) {
    listeners.push(`CONTROLLER://:${CONTROLLER_PORT}`);
    protocols.push("CONTROLLER:PLAINTEXT");
  }
  config.set("listeners", listeners.join(","));
  config.set("listener.security.protocol.map", protocols.join(","));
  const advertised: string[] = [];
  if (pool.role === "broker") {
    advertised.push(`PLAINTEXT://${podHost(input, pod)}:${input.spec.listeners.internal.port}`);
    if (external !== undefined) {
      const host = external.host ?? `${names.podExternal(pod)}.${input.namespace}.svc`;
      const port =
        external.type === "NodePort" && external.nodePortBase !== undefined
          ? external.nodePortBase + ordinal + 1
          : external.port;
      advertised.push(`EXTERNAL://${host}:${port}`);
    }
  }
  // The quorum's peers learn the leader's endpoint from what it advertises (KIP-853), so a controller advertises the
  // DNS name its voter entry uses; left to the broker, a wildcard bind would advertise the pod's bare host name, which
  // other pods cannot resolve.
  if (ordinal < pool.controllers) advertised.push(`CONTROLLER://${podHost(input, pod)}:${CONTROLLER_PORT}`);
  config.set("advertised.listeners", advertised.join(","));
  return config;
}

export function renderProperties(header: string, ...parts: Map<string, string>[]): string {
  const lines = [`# ${header}`];
  for (const part of parts)
    for (const [k, v] of part) lines.push(`${k}=${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
  return `${lines.join("\n")}\n`;
}

/**
 * Hash of what a running pod cannot pick up without a restart: its pool's shared config less the dynamic broker keys
 * (applied without a restart, dynamic-config.ts), the listeners (their ports and external addresses shape every pod's
 * per-pod keys) and the image. Per-pod keys otherwise follow from the ordinal, so scaling changes no running pod's
 * hash. Nothing of the operator itself (its version, its settings) goes in: upgrading the operator restarts nothing.
 */
export function configHash(
  common: Map<string, string>,
  listeners: KafkaClusterSpec["listeners"],
  image: string,
  rackKey?: string,
): string {
  // The rack key joins only when set, so that clusters without spec.rack keep the hash (and pods) they had.
  return createHash("sha256")
    .update(JSON.stringify([image, [...common], listeners, ...(rackKey === undefined ? [] : [rackKey])]))
    .digest("hex")
    .slice(0, 16);
}

/** Every object the operator owns for this cluster, with owner references, in apply order. */
export function desired(input: ClusterInput, owner: OwnerReference): DesiredState {
  const { name: cluster, namespace, spec } = input;
  const image = imageOf(spec, input.defaults, input.recordedImage);
  const all = pools(input);
  const objects: KubeObject[] = [];
  const add = (apiVersion: string, kind: string, metadata: ObjectMeta, rest: Record<string, unknown>): void => {
    objects.push(
      withOwner(rendered({ apiVersion, kind, metadata: { ...metadata, namespace }, ...rest }), owner, cluster),
    );
  };

  // ServiceAccount: brokers need no API access, so no token is mounted (with spec.rack, only the init step that reads
  // the node gets a projected one).
  add("v1", "ServiceAccount", { name: names.serviceAccount(cluster) }, { automountServiceAccountToken: false });

  const configData: Record<string, string> = {};
  const hashes: Record<string, string> = {};
  for (const pool of all) {
    const common = commonConfig(input, pool, all);
    hashes[pool.name] = configHash(
      restartKeys(common),
      spec.listeners,
      image,
      pool.role === "broker" ? spec.rack?.topologyKey : undefined,
    );
    for (let i = 0; i < pool.replicas; i++) {
      const pod = `${pool.name}-${i}`;
      configData[`${pod}.properties`] = renderProperties(
        `${pod}: rendered by tributary-operator from KafkaCluster ${namespace}/${cluster}; edits are overwritten`,
        podConfig(input, pool, i),
        common,
      );
    }
  }
  // `immutable: false` and the Services' empty `externalIPs` are what cdk8s-plus-27 wrote; server-side apply owns them,
  // so they stay, or the first pass after an operator upgrade would rewrite every cluster's objects.
  add("v1", "ConfigMap", { name: names.config(cluster) }, { data: configData, immutable: false });

  const brokerPool = all.find((p) => p.role === "broker");
  const brokerSelector = selectorOf(cluster, "broker");
  const internalPort = spec.listeners.internal.port;
  const brokerLabels = labelsOf(cluster, "broker");

  // Headless Service: per-pod DNS for every node (brokers and controllers), published before pods are Ready because
  // nodes must find each other to become Ready at all.
  add(
    "v1",
    "Service",
    { name: names.headless(cluster), labels: brokerLabels },
    {
      spec: {
        type: "ClusterIP",
        clusterIP: "None",
        externalIPs: [],
        ports: [
          { name: "kafka", port: internalPort, targetPort: internalPort },
          { name: "controller", port: CONTROLLER_PORT, targetPort: CONTROLLER_PORT },
        ],
        publishNotReadyAddresses: true,
        selector: { [CLUSTER_LABEL]: cluster },
      },
    },
  );

  add(
    "v1",
    "Service",
    { name: names.bootstrap(cluster), labels: brokerLabels },
    {
      spec: {
        type: "ClusterIP",
        externalIPs: [],
        ports: [{ name: "kafka", port: internalPort, targetPort: internalPort }],
        selector: brokerSelector,
      },
    },
  );

  const external = spec.listeners.external;
  if (external !== undefined && brokerPool !== undefined) {
    // One Service per broker (clients reach the broker that leads a partition) plus a bootstrap one over all brokers.
    const base = external.type === "NodePort" ? external.nodePortBase : undefined;
    const externalService = (name: string, selector: Record<string, string>, nodePort?: number): void => {
      add(
        "v1",
        "Service",
        {
          name,
          labels: brokerLabels,
          ...(external.annotations === undefined ? {} : { annotations: external.annotations }),
        },
        {
          spec: {
            type: external.type,
            selector,
            ports: [{ name: "external", port: external.port, targetPort: external.port, nodePort }],
            loadBalancerSourceRanges: external.loadBalancerSourceRanges,
          },
        },
      );
    };
    externalService(names.externalBootstrap(cluster), brokerSelector, base);
    for (let i = 0; i < brokerPool.replicas; i++) {
      const pod = `${brokerPool.name}-${i}`;
      externalService(
        names.podExternal(pod),
        { "statefulset.kubernetes.io/pod-name": pod },
        base === undefined ? undefined : base + i + 1,
      );
    }
  }

  for (const pool of all) {
    const { apiVersion, kind, metadata, ...rest } = statefulSet(input, pool, image, hashes[pool.name] ?? "");
    add(apiVersion, kind, metadata, rest);
  }

  add(
    "policy/v1",
    "PodDisruptionBudget",
    { name: names.pdb(cluster), labels: brokerLabels },
    {
      spec: {
        maxUnavailable:
          spec.podDisruptionBudget?.maxUnavailable ?? input.maxUnavailable ?? configMaxUnavailable(spec.config),
        selector: { matchLabels: { [CLUSTER_LABEL]: cluster } },
      },
    },
  );

  return {
    objects,
    pools: all.map(({ name, role, replicas, firstNodeId, controllers }) => ({
      name,
      role,
      replicas,
      firstNodeId,
      controllers,
    })),
    hashes,
    image,
    clusterId: clusterIdFor(input),
    brokerSelector: selectorString(brokerSelector),
    bootstrapServers: `${names.bootstrap(cluster)}.${namespace}.svc:${internalPort}`,
    controllerServers: voters(input, all).map(([, address]) => address),
    dynamicConfig: dynamicConfigOf(spec.config),
  };
}

/**
 * maxUnavailable for a cluster whose topics are not known yet: default.replication.factor minus min.insync.replicas
 * from spec.config (Kafka's defaults are 1 and 1), never below 0.
 */
export function configMaxUnavailable(config: KafkaClusterSpec["config"]): number {
  const int = (key: string): number => {
    const n = Number(config?.[key] ?? 1);
    return Number.isInteger(n) ? n : 1;
  };
  return Math.max(0, int("default.replication.factor") - int("min.insync.replicas"));
}

/**
 * The canonical form of an object: keys sorted at every level, undefined and null members dropped, and in metadata also
 * empty maps and lists; apiVersion, kind and metadata lead. It is the form cdk8s gave the objects (see the header).
 */
function rendered(obj: KubeObject): KubeObject {
  const members: [string, unknown][] = Object.entries(obj.metadata);
  const metadata = Object.fromEntries(
    members.filter(([, v]) => typeof v !== "object" || v === null || Object.keys(v).length > 0),
  );
  const { apiVersion, kind, metadata: sorted, ...rest } = sortedValue({ ...obj, metadata }) as KubeObject;
  return { apiVersion, kind, metadata: sorted, ...rest };
}

function sortedValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedValue);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined && member !== null) out[key] = sortedValue(member);
  }
  return out;
}

/** The common labels (an object's own win) and the controller reference every owned object carries. */
export function withOwner(obj: KubeObject, owner: OwnerReference, cluster: string): KubeObject {
  const role = obj.metadata.labels?.[COMPONENT_LABEL] === "controller" ? "controller" : "broker";
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      labels: { ...labelsOf(cluster, role), ...obj.metadata.labels },
      ownerReferences: [owner],
    },
  };
}

/** Paths inside the broker image (e2e/image/build.sh): the init container runs the storage tool, not the broker. */
const NODE_PATH = "/usr/local/bin/node";
const STORAGE_TOOL_PATH = "/app/broker/bin/tributary-storage";
const POD_NAME_ENV = { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } };
const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
};

function statefulSet(input: ClusterInput, pool: Pool, image: string, hash: string): KubeObject {
  const { name: cluster, spec } = input;
  const podTemplate = spec.template?.pod;
  const labels = labelsOf(cluster, pool.role);
  const ports = [
    ...(pool.role === "broker" ? [{ name: "kafka", containerPort: spec.listeners.internal.port }] : []),
    ...(pool.role === "broker" && spec.listeners.external !== undefined
      ? [{ name: "external", containerPort: spec.listeners.external.port }]
      : []),
    ...(pool.controllers > 0 ? [{ name: "controller", containerPort: CONTROLLER_PORT }] : []),
    ...(spec.metrics.enabled ? [{ name: "metrics", containerPort: spec.metrics.port }] : []),
  ];
  // The port that proves the process serves: clients for brokers, the quorum for dedicated controllers.
  const probePort = pool.role === "broker" ? spec.listeners.internal.port : CONTROLLER_PORT;
  const persistent = spec.storage.type === "persistent-claim" ? spec.storage : undefined;
  const resources = pool.role === "controller" ? (spec.controller.resources ?? spec.resources) : spec.resources;
  const rackSpread =
    spec.rack === undefined
      ? []
      : [
          {
            maxSkew: 1,
            topologyKey: spec.rack.topologyKey,
            whenUnsatisfiable: "ScheduleAnyway",
            labelSelector: { matchLabels: selectorOf(cluster, pool.role) },
          },
        ];
  const spread = [...rackSpread, ...(podTemplate?.topologySpreadConstraints ?? [])];
  // Brokers read broker.rack from their node (rack.ts); controller-only nodes have no use for it.
  const rack =
    pool.role === "broker" && spec.rack !== undefined
      ? rackPodParts(spec.rack.topologyKey, image, input.defaults?.pullPolicy, CONTAINER_SECURITY)
      : undefined;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: pool.name, labels },
    spec: {
      serviceName: names.headless(cluster),
      replicas: pool.replicas,
      // The operator decides when a pod restarts (one at a time, Ready first); Kubernetes never rolls them itself.
      updateStrategy: { type: "OnDelete" },
      // Nodes must all be up to form a quorum; ordered start would deadlock waiting for Ready.
      podManagementPolicy: "Parallel",
      selector: { matchLabels: selectorOf(cluster, pool.role) },
      ...(persistent === undefined
        ? {}
        : {
            persistentVolumeClaimRetentionPolicy: {
              whenDeleted: persistent.deleteClaim === true ? "Delete" : "Retain",
              whenScaled: persistent.deleteClaim === true ? "Delete" : "Retain",
            },
            volumeClaimTemplates: [
              {
                apiVersion: "v1",
                kind: "PersistentVolumeClaim",
                metadata: { name: "data", labels },
                spec: {
                  accessModes: ["ReadWriteOnce"],
                  resources: { requests: { storage: persistent.size } },
                  ...(persistent.class === undefined ? {} : { storageClassName: persistent.class }),
                },
              },
            ],
          }),
      template: {
        metadata: {
          labels: { ...podTemplate?.labels, ...labels },
          annotations: {
            ...evictionAnnotations(spec.storage),
            ...podTemplate?.annotations,
            [CONFIG_HASH_ANNOTATION]: hash,
            ...(input.manualRoll === undefined ? {} : { [MANUAL_ROLL_ANNOTATION]: input.manualRoll }),
          },
        },
        spec: {
          serviceAccountName: names.serviceAccount(cluster),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 60,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
            ...podTemplate?.securityContext,
          },
          ...(podTemplate?.affinity === undefined ? {} : { affinity: podTemplate.affinity }),
          ...(podTemplate?.tolerations === undefined ? {} : { tolerations: podTemplate.tolerations }),
          ...(podTemplate?.priorityClassName === undefined ? {} : { priorityClassName: podTemplate.priorityClassName }),
          ...(spread.length === 0 ? {} : { topologySpreadConstraints: spread }),
          // A node of a multi-voter quorum refuses unformatted storage, as Kafka's does: format it first, with the
          // cluster id the configuration carries; a formatted volume (a restart) is left as it is.
          initContainers: [
            ...(rack === undefined ? [] : [rack.initContainer]),
            {
              name: "format-storage",
              image,
              ...(input.defaults?.pullPolicy === undefined ? {} : { imagePullPolicy: input.defaults.pullPolicy }),
              // The image's entrypoint runs the broker; the storage tool sits beside it (e2e/image/build.sh).
              command: [NODE_PATH, STORAGE_TOOL_PATH],
              args: [
                "format",
                // One argument: an id derived from the uid may start with "-", which would read as an option.
                `--cluster-id=${clusterIdFor(input)}`,
                "--config",
                `${CONFIG_DIR}/$(POD_NAME).properties`,
                "--ignore-formatted",
              ],
              env: [POD_NAME_ENV],
              securityContext: CONTAINER_SECURITY,
              volumeMounts: [
                { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                { name: "data", mountPath: DATA_DIR },
              ],
            },
          ],
          containers: [
            {
              name: "kafka",
              image,
              ...(input.defaults?.pullPolicy === undefined ? {} : { imagePullPolicy: input.defaults.pullPolicy }),
              // $(POD_NAME) is expanded by the kubelet: each pod reads its own file from the shared ConfigMap.
              args: ["--config", `${CONFIG_DIR}/$(POD_NAME).properties`, ...(rack?.brokerArgs ?? [])],
              env: [POD_NAME_ENV],
              ports,
              ...(resources === undefined ? {} : { resources }),
              securityContext: CONTAINER_SECURITY,
              startupProbe: { tcpSocket: { port: probePort }, periodSeconds: 2, failureThreshold: 150 },
              readinessProbe: { tcpSocket: { port: probePort }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { tcpSocket: { port: probePort }, periodSeconds: 10, failureThreshold: 6 },
              volumeMounts: [
                { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                { name: "data", mountPath: DATA_DIR },
                { name: "tmp", mountPath: "/tmp" },
                ...(rack === undefined ? [] : [rack.brokerMount]),
              ],
            },
          ],
          volumes: [
            { name: "config", configMap: { name: names.config(cluster) } },
            ...(persistent === undefined
              ? [
                  {
                    name: "data",
                    emptyDir:
                      spec.storage.type === "ephemeral" && spec.storage.sizeLimit !== undefined
                        ? { sizeLimit: spec.storage.sizeLimit }
                        : {},
                  },
                ]
              : []),
            { name: "tmp", emptyDir: {} },
            ...(rack?.volumes ?? []),
          ],
        },
      },
    },
  };
}
