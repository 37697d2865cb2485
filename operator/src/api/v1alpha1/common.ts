// Shared building blocks of the tributary.dev/v1alpha1 API: the CRD metadata each kind declares next to its schema,
// Kubernetes condition and quantity shapes, references and pass-through Kubernetes objects.
//
// Annotations understood by operator/src/crdgen (set with zod's .meta()):
//   x-kubernetes-preserve-unknown-fields  the value is kept as written (Kubernetes core types we pass through)
//   x-kubernetes-int-or-string            integer or string, like resource.Quantity and IntOrString
//   x-kubernetes-validations              CEL rules ({ rule, message, reason?, fieldPath? }); `oldSelf` rules are
//                                         transition rules (immutability)
//   x-kubernetes-list-type / -map-keys    list semantics for server-side apply
import { z } from "zod";

export const GROUP = "tributary.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Why zod refused a value, one "path: message" per issue, for a status condition or an error. */
export function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
}

/** One CEL rule, as in the CRD's `x-kubernetes-validations`. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  /** FieldValueInvalid (default), FieldValueForbidden, FieldValueRequired or FieldValueDuplicate. */
  readonly reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
  readonly fieldPath?: string;
}

/** Adds CEL rules to a schema (they land in the CRD, zod does not evaluate them). */
export function cel<T extends z.ZodType>(schema: T, ...rules: readonly CelRule[]): T {
  return schema.meta({ "x-kubernetes-validations": rules });
}

/** A transition rule: the field may be set on create but never changed afterwards. */
export function immutable(field: string, hint = ""): CelRule {
  return { rule: "self == oldSelf", message: `${field} is immutable${hint === "" ? "" : `; ${hint}`}` };
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: "string" | "integer" | "number" | "boolean" | "date";
  readonly jsonPath: string;
  readonly description?: string;
  /** 0 shows in `kubectl get`, 1 only with `-o wide`. */
  readonly priority?: number;
}

/** Everything crdgen needs to write a CustomResourceDefinition for one kind; the schemas are the single source. */
export interface CrdDefinition {
  readonly kind: string;
  readonly listKind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly scope: "Namespaced";
  readonly description: string;
  readonly spec: z.ZodType;
  readonly status: z.ZodType;
  readonly printerColumns: readonly PrinterColumn[];
  /** The scale subresource (`kubectl scale`, HorizontalPodAutoscaler); status is always a subresource. */
  readonly scale?: {
    readonly specReplicasPath: string;
    readonly statusReplicasPath: string;
    readonly labelSelectorPath: string;
  };
}

export interface KindOptions {
  readonly kind: string;
  readonly shortName: string;
  readonly description: string;
  readonly spec: z.ZodType;
  readonly status: z.ZodType;
  /** Columns between the name and Ready/Age, which every kind shows last. */
  readonly printerColumns: readonly PrinterColumn[];
  readonly scale?: CrdDefinition["scale"];
}

/** A namespaced kind in the tributary and kafka categories, with plural/singular/listKind derived from kind. */
export function defineKind(options: KindOptions): CrdDefinition {
  const singular = options.kind.toLowerCase();
  return {
    kind: options.kind,
    listKind: `${options.kind}List`,
    plural: `${singular}s`,
    singular,
    shortNames: [options.shortName],
    categories: ["tributary", "kafka"],
    scope: "Namespaced",
    description: options.description,
    spec: options.spec,
    status: options.status,
    printerColumns: [
      ...options.printerColumns,
      { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
    ...(options.scale === undefined ? {} : { scale: options.scale }),
  };
}

/** The fully qualified CRD name, e.g. kafkaclusters.tributary.dev. */
export function crdName(def: Pick<CrdDefinition, "plural">): string {
  return `${def.plural}.${GROUP}`;
}

/** A DNS-1123 subdomain-ish object name as Kubernetes accepts for most kinds. */
export const ObjectName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);

/** The KafkaCluster a topic or user belongs to, in the same namespace. */
export const ClusterRef = cel(
  z
    .object({
      name: ObjectName.describe("Name of the KafkaCluster in the same namespace."),
    })
    .describe("The KafkaCluster this resource belongs to (same namespace). Immutable."),
  immutable("clusterRef", "delete and recreate the resource to move it to another cluster"),
);
export type ClusterRef = z.output<typeof ClusterRef>;

/** A resource.Quantity given as a string, e.g. 10Gi, 500m, 1.5G. */
export const QUANTITY_PATTERN = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

export const QuantityString = z.string().regex(QUANTITY_PATTERN);

const BINARY_SUFFIX: Record<string, bigint> = { Ki: 1n, Mi: 2n, Gi: 3n, Ti: 4n, Pi: 5n, Ei: 6n };
const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/**
 * A quantity in billionths (so 500m and 1.5Gi are whole numbers), or undefined when it is not one. The API server
 * rewrites quantities into canonical form (1024Mi is stored as 1Gi), so equal sizes must be compared by value.
 */
export function quantityNanos(quantity: string | number): bigint | undefined {
  const text = String(quantity);
  const m = QUANTITY_PATTERN.exec(text);
  if (m === null) return undefined;
  const [whole = "", fraction = ""] = (m[1] ?? "").split(".");
  const suffix = m[3] ?? "";
  let value = BigInt(`${whole}${fraction}` || "0") * 10n ** 9n;
  let exponent = -fraction.length;
  const binary = BINARY_SUFFIX[suffix];
  if (binary !== undefined) value *= 1024n ** binary;
  else if (/^[eE]/.test(suffix)) exponent += Number(suffix.slice(1));
  else exponent += DECIMAL_SUFFIX[suffix] ?? 0;
  return exponent >= 0 ? value * 10n ** BigInt(exponent) : value / 10n ** BigInt(-exponent);
}

/** A resource.Quantity as Kubernetes accepts it: an integer or a string such as "10Gi" or "500m". */
export const Quantity = z
  .union([z.int().min(0), QuantityString])
  .meta({ "x-kubernetes-int-or-string": true, description: "A Kubernetes quantity, e.g. 2, 500m, 4Gi." });
export type Quantity = z.output<typeof Quantity>;

/** A Kubernetes object kept as written: the operator copies it into the pods it renders (core/v1 types). */
export function kubeObject(description: string) {
  return z.record(z.string(), z.unknown()).meta({ "x-kubernetes-preserve-unknown-fields": true, description });
}

export const StringMap = z.record(z.string(), z.string());

/** core/v1 ResourceRequirements (requests and limits; claims are not supported). */
export const ResourceRequirements = z
  .object({
    requests: z
      .record(z.string(), Quantity)
      .optional()
      .describe("Minimum resources, e.g. {cpu: 500m, memory: 1Gi}. Used for scheduling."),
    limits: z.record(z.string(), Quantity).optional().describe("Maximum resources, e.g. {memory: 2Gi}."),
  })
  .describe("CPU and memory requests and limits of the container (core/v1 ResourceRequirements).");
export type ResourceRequirements = z.output<typeof ResourceRequirements>;

/** metav1.Condition. */
export const Condition = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
      )
      .describe("Condition type in CamelCase, e.g. Ready."),
    status: z.enum(["True", "False", "Unknown"]).describe("True, False or Unknown."),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe("metadata.generation of the resource the condition was computed from."),
    lastTransitionTime: z
      .string()
      .meta({ format: "date-time" })
      .describe("When the status last changed (not when the condition was last written)."),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe("A CamelCase reason for the last transition."),
    message: z.string().max(32768).describe("A human-readable explanation of the condition."),
  })
  .describe("A metav1.Condition.");
export type Condition = z.output<typeof Condition>;

export const Conditions = z
  .array(Condition)
  .max(32)
  .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
  .describe("Latest observations, one per type.");

export const ObservedGeneration = z
  .int()
  .min(0)
  .describe("The metadata.generation the operator last reconciled; status is current when it equals it.");

/** A status object: observedGeneration and conditions, then the kind's own fields. */
export function statusOf<F extends z.ZodRawShape>(conditionTypes: string, fields: F, description: string) {
  return z
    .object({
      observedGeneration: ObservedGeneration.optional(),
      conditions: Conditions.optional().describe(`${conditionTypes} conditions (metav1.Condition).`),
      ...fields,
    })
    .describe(description);
}

/** The parts of metav1.ObjectMeta the operator reads; everything else is kept. */
export const ObjectMeta = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
  deletionTimestamp: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
});
export type ObjectMeta = z.output<typeof ObjectMeta>;

/** A whole custom resource of one kind: apiVersion, kind, metadata, spec and optional status. */
export function resource<K extends string, S extends z.ZodType, T extends z.ZodType>(kind: K, spec: S, status: T) {
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: ObjectMeta,
    spec,
    status: status.optional(),
  });
}

/**
 * Kafka config values as written in YAML: strings, numbers or booleans; the operator renders them as strings. The CRD
 * keeps the values untyped (x-kubernetes-preserve-unknown-fields: Kubernetes has no string|number|boolean type, and CEL
 * cannot type such a map), so a nested value is refused by this schema in the reconciler (a Warning condition).
 */
export const ConfigValue = z.union([z.string(), z.number(), z.boolean()]);

export function configMap(description: string) {
  return z
    .record(z.string(), ConfigValue.meta({ "x-kubernetes-preserve-unknown-fields": true }))
    .meta({ maxProperties: 512 })
    .describe(description);
}
