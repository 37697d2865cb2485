// The Helm chart's values (charts/tributary/values.yaml) as a zod schema: the source of values.schema.json, which
// Helm checks on every install, upgrade, lint and template. Strict objects, so a misspelt key is an error.
import { z } from "zod";

const Image = (repository: string, what: string) =>
  z.strictObject({
    repository: z.string().min(1).default(repository).describe(`${what} image repository.`),
    tag: z.string().default("").describe("Image tag; empty means the chart's appVersion."),
    digest: z
      .string()
      .regex(/^(sha256:[a-f0-9]{64})?$/)
      .default("")
      .describe("Image digest; overrides tag when set."),
    pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).default("IfNotPresent").describe("Image pull policy."),
  });

const StringMap = z.record(z.string(), z.string());
const KubeObject = z.record(z.string(), z.unknown());
const Quantities = z.record(z.string(), z.union([z.string(), z.number()]));
const Port = z.int().min(1).max(65535);
const Interval = z
  .string()
  .regex(/^(([0-9]+(ms|s|m|h|d|w|y))+)?$/)
  .default("")
  .describe("Scrape interval, e.g. 30s; empty: Prometheus' default.");

export const ChartValues = z.strictObject({
  image: Image("docker.io/tributary/operator", "Operator").describe("The operator image."),
  brokerImage: Image("docker.io/tributary/broker", "Broker").describe(
    "Broker image of KafkaClusters that set neither spec.image nor spec.version; spec.version picks a tag of its " +
      "repository.",
  ),
  imagePullSecrets: z
    .array(z.strictObject({ name: z.string() }))
    .default([])
    .describe("Pull secrets for the images."),
  nameOverride: z.string().default("").describe("Replaces the chart name in object names."),
  fullnameOverride: z.string().default("").describe("Replaces the release-derived name of every object."),
  replicaCount: z.int().min(1).max(5).default(1).describe("Operator replicas; one leads (Lease), the others wait."),
  watchNamespaces: z
    .array(z.string().min(1))
    .default([])
    .describe("Namespaces to watch; empty watches all namespaces (ClusterRole). Otherwise one Role per namespace."),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error"]).default("info").describe("Operator log level."),
  resyncSeconds: z
    .int()
    .min(10)
    .default(600)
    .describe("Every resource is reconciled again this often (finds drift nothing announced, e.g. topic configs)."),
  leaderElection: z
    .strictObject({ enabled: z.boolean().default(true).describe("Elect a leader through a Lease.") })
    .describe("Leader election."),
  http: z
    .strictObject({ port: Port.default(8080).describe("Port serving /healthz, /readyz and /metrics.") })
    .describe("The operator's HTTP endpoint."),
  metrics: z
    .strictObject({
      podAnnotations: z
        .boolean()
        .default(true)
        .describe("Add prometheus.io/scrape, /port and /path annotations to the operator pod."),
      serviceMonitor: z
        .strictObject({
          enabled: z
            .boolean()
            .default(false)
            .describe("A Service on the operator's HTTP port and a Prometheus Operator ServiceMonitor for it."),
          interval: Interval,
          labels: StringMap.default({}).describe("Extra labels (to match a Prometheus serviceMonitorSelector)."),
        })
        .describe("Prometheus Operator ServiceMonitor for the operator."),
      brokerPodMonitor: z
        .strictObject({
          enabled: z
            .boolean()
            .default(false)
            .describe("A Prometheus Operator PodMonitor for the broker and controller pods of every KafkaCluster."),
          interval: Interval,
          labels: StringMap.default({}).describe("Extra labels (to match a Prometheus podMonitorSelector)."),
          namespaces: z
            .array(z.string().min(1))
            .default([])
            .describe("Namespaces of the KafkaClusters; empty: watchNamespaces, or every namespace if that is empty."),
        })
        .describe("Prometheus Operator PodMonitor for the brokers (their metrics port, spec.metrics)."),
    })
    .describe("Prometheus metrics of the operator and the brokers."),
  grafanaDashboard: z
    .strictObject({
      enabled: z
        .boolean()
        .default(false)
        .describe("Ship the Tributary dashboard as a ConfigMap for Grafana's dashboard sidecar."),
      namespace: z.string().default("").describe("Namespace of the ConfigMap; empty: the release namespace."),
      labels: StringMap.default({ grafana_dashboard: "1" }).describe("Labels the Grafana sidecar selects on."),
      annotations: StringMap.default({}).describe("Annotations of the ConfigMap, e.g. grafana_folder."),
    })
    .describe("Grafana dashboard (charts/tributary/dashboards/tributary.json)."),
  resources: z
    .strictObject({
      requests: Quantities.optional().describe("Requests, e.g. {cpu: 50m, memory: 128Mi}."),
      limits: Quantities.optional().describe("Limits, e.g. {memory: 256Mi}."),
    })
    .describe("Resources of the operator container."),
  nodeOptions: z
    .string()
    .default("--max-semi-space-size=4 --jitless")
    .describe(
      "NODE_OPTIONS of the operator process. The default caps V8's young generation at 4 MiB per semi-space " +
        "(Node sizes it up to 16 MiB otherwise, mostly empty in the operator: ~20 MiB of RSS) and runs JavaScript " +
        "interpreted only (no JIT code: ~16-19 MiB less RSS for 10-13% more CPU; WebAssembly is unavailable, and " +
        "the operator uses none); empty: Node's defaults.",
    ),
  podSecurityContext: KubeObject.describe("core/v1 PodSecurityContext of the operator pod."),
  securityContext: KubeObject.describe("core/v1 SecurityContext of the operator container."),
  serviceAccount: z
    .strictObject({
      create: z.boolean().default(true).describe("Create the ServiceAccount."),
      name: z.string().default("").describe("ServiceAccount name; empty derives it from the release."),
      annotations: StringMap.default({}).describe("ServiceAccount annotations (e.g. workload identity)."),
    })
    .describe("The operator's ServiceAccount."),
  rbac: z
    .strictObject({ create: z.boolean().default(true).describe("Create the (Cluster)Roles and bindings.") })
    .describe("RBAC."),
  podAnnotations: StringMap.default({}).describe("Extra annotations on the operator pod."),
  podLabels: StringMap.default({}).describe("Extra labels on the operator pod."),
  priorityClassName: z.string().default("").describe("PriorityClass of the operator pod."),
  nodeSelector: StringMap.default({}).describe("Node selector of the operator pod."),
  tolerations: z.array(KubeObject).default([]).describe("Tolerations of the operator pod."),
  affinity: KubeObject.default({}).describe("Affinity of the operator pod."),
});
export type ChartValues = z.output<typeof ChartValues>;

/** values.schema.json: JSON Schema draft-07, which Helm 3 validates values against. */
export function valuesJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ChartValues, { target: "draft-7", io: "input", unrepresentable: "throw" });
  return {
    ...schema,
    title: "Values of the tributary Helm chart (generated from operator/src/crdgen/chart-values.ts)",
  };
}
