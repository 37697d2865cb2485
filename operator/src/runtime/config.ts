// Operator settings from the environment, parsed once at start (zod) and frozen; a bad value stops startup with a
// message naming the variable, and so does a TRIBUTARY_* variable the operator does not know (a misspelt setting
// would otherwise be ignored without a word), except the few that belong to the project's build and test tooling.
import { z } from "zod";
import { issuesText } from "../api/v1alpha1/common.ts";

const Bool = z.enum(["true", "false"]).transform((v) => v === "true");

const Env = z.object({
  KUBECONFIG: z.string().optional(),
  TRIBUTARY_WATCH_NAMESPACES: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    ),
  TRIBUTARY_LEADER_ELECTION: Bool.default(true),
  TRIBUTARY_LEADER_ELECTION_NAMESPACE: z.string().optional(),
  TRIBUTARY_LEASE_NAME: z.string().default("tributary-operator"),
  POD_NAMESPACE: z.string().optional(),
  POD_NAME: z.string().optional(),
  TRIBUTARY_HTTP_HOST: z.string().default("0.0.0.0"),
  TRIBUTARY_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  TRIBUTARY_BROKER_IMAGE: z.string().min(1).optional(),
  TRIBUTARY_BROKER_IMAGE_PULL_POLICY: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
  TRIBUTARY_RACK_CLUSTER_ROLE: z.string().min(1).optional(),
  TRIBUTARY_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TRIBUTARY_RESYNC_SECONDS: z.coerce.number().int().min(10).default(600),
  TRIBUTARY_WORKERS: z.coerce.number().int().min(1).max(64).default(2),
  TRIBUTARY_TOPIC_WORKERS: z.coerce.number().int().min(1).max(256).default(16),
  TRIBUTARY_TOPIC_SELECTOR: z.string().optional(),
  TRIBUTARY_TOPIC_DELETE_TIMEOUT_SECONDS: z.coerce.number().int().min(0).default(300),
  TRIBUTARY_CLUSTER_ADMIN: Bool.default(true),
  TRIBUTARY_BOOTSTRAP_OVERRIDES: z
    .string()
    .default("{}")
    .transform((v, ctx) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "not JSON" });
        return z.NEVER;
      }
    })
    .pipe(
      z.record(
        z.string().regex(/^[^/]+\/[^/]+$/, "keys are namespace/cluster"),
        z.string().regex(/^[^,:]+:[0-9]+(,[^,:]+:[0-9]+)*$/, "values are host:port[,host:port...]"),
      ),
    ),
});

/** A setting the operator refuses: its message says which and why, a stack trace would add nothing. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The operator's own TRIBUTARY_* settings. */
export const OPERATOR_ENV_KEYS: readonly string[] = Object.keys(Env.shape)
  .filter((k) => k.startsWith("TRIBUTARY_"))
  .sort();

/**
 * TRIBUTARY_* variables of the project's tooling (caches, test switches; docs/operator.md), which a shell that runs the
 * operator by hand may well export: they are not operator settings and are left alone.
 */
const TOOLING_ENV = new Set([
  "TRIBUTARY_BIN",
  "TRIBUTARY_CACHE",
  "TRIBUTARY_E2E_KUBECONFIG",
  "TRIBUTARY_GOCACHE",
  "TRIBUTARY_GOMODCACHE",
  "TRIBUTARY_HELM",
  "TRIBUTARY_IMAGE_CACHE",
  "TRIBUTARY_K8S_BIN",
  "TRIBUTARY_K8S_CACHE",
  "TRIBUTARY_TOPIC_SCALE",
]);
const TOOLING_PREFIX = "TRIBUTARY_COMPAT_";

/** TRIBUTARY_* variables set in `env` that are neither operator settings nor tooling ones, sorted. */
export function unknownEnvKeys(env: NodeJS.ProcessEnv): string[] {
  const known = new Set(OPERATOR_ENV_KEYS);
  return Object.keys(env)
    .filter((k) => k.startsWith("TRIBUTARY_") && !known.has(k) && !TOOLING_ENV.has(k) && !k.startsWith(TOOLING_PREFIX))
    .sort();
}

export interface OperatorConfig {
  kubeconfig: string | undefined;
  /** Empty: all namespaces. */
  namespaces: readonly string[];
  leaderElection: { enabled: boolean; namespace: string; name: string; identity: string };
  /** /healthz, /readyz and /metrics. */
  http: { host: string; port: number };
  broker: {
    image: string | undefined;
    pullPolicy: "Always" | "IfNotPresent" | "Never" | undefined;
    rackClusterRole: string | undefined;
  };
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  resyncMs: number;
  workers: number;
  /** Concurrent KafkaTopic reconciles: their admin calls are batched, so more workers mean bigger batches. */
  topicWorkers: number;
  /** Label selector of the KafkaTopics this operator reconciles; unset: all. */
  topicSelector: string | undefined;
  /** How long a KafkaTopic deletion waits for an unreachable cluster before its finalizer is removed anyway. */
  topicDeleteTimeoutMs: number;
  /**
   * Bootstrap addresses by "namespace/cluster", replacing the bootstrap Service's DNS name: for an operator running
   * outside the cluster network (tests, development).
   */
  bootstrapOverrides: Readonly<Record<string, string>>;
  /**
   * The KafkaCluster controller talks to the cluster's brokers: restart gates (roll-gates.ts) and dynamic broker
   * configs. Off only where the operator cannot reach any broker (tests against an API server whose pods do not run):
   * rolls then go by pod readiness alone, and dynamic keys reach brokers only when they restart.
   */
  clusterAdmin: boolean;
}

export function loadConfig(env: NodeJS.ProcessEnv, hostname: string): OperatorConfig {
  const unknown = unknownEnvKeys(env);
  if (unknown.length > 0) {
    throw new ConfigError(
      `invalid operator environment: unknown ${unknown.length === 1 ? "variable" : "variables"} ` +
        `${unknown.join(", ")} (misspelt?); the operator's settings are ${OPERATOR_ENV_KEYS.join(", ")}`,
    );
  }
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`invalid operator environment: ${issuesText(parsed.error)}`);
  }
  const e = parsed.data;
  return Object.freeze({
    kubeconfig: e.KUBECONFIG,
    namespaces: Object.freeze(e.TRIBUTARY_WATCH_NAMESPACES),
    leaderElection: {
      enabled: e.TRIBUTARY_LEADER_ELECTION,
      namespace: e.TRIBUTARY_LEADER_ELECTION_NAMESPACE ?? e.POD_NAMESPACE ?? "default",
      name: e.TRIBUTARY_LEASE_NAME,
      identity: e.POD_NAME ?? `${hostname}-${process.pid}`,
    },
    http: { host: e.TRIBUTARY_HTTP_HOST, port: e.TRIBUTARY_HTTP_PORT },
    broker: {
      image: e.TRIBUTARY_BROKER_IMAGE,
      pullPolicy: e.TRIBUTARY_BROKER_IMAGE_PULL_POLICY,
      rackClusterRole: e.TRIBUTARY_RACK_CLUSTER_ROLE,
    },
    logLevel: e.TRIBUTARY_LOG_LEVEL,
    resyncMs: e.TRIBUTARY_RESYNC_SECONDS * 1000,
    workers: e.TRIBUTARY_WORKERS,
    topicWorkers: e.TRIBUTARY_TOPIC_WORKERS,
    topicSelector: e.TRIBUTARY_TOPIC_SELECTOR,
    topicDeleteTimeoutMs: e.TRIBUTARY_TOPIC_DELETE_TIMEOUT_SECONDS * 1000,
    bootstrapOverrides: Object.freeze(e.TRIBUTARY_BOOTSTRAP_OVERRIDES),
    clusterAdmin: e.TRIBUTARY_CLUSTER_ADMIN,
  });
}
