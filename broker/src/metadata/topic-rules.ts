import { ErrorCode } from "../protocol/errors.ts";
import {
  CONFIG_SOURCE_CODE,
  BROKER_DYNAMIC_CONFIG_BY_NAME,
  TOPIC_CONFIG_BY_BROKER_KEY,
  TOPIC_CONFIG_BY_NAME,
  TOPIC_CONFIGS,
  TOPIC_DEFAULT_BROKER_KEYS,
  type ConfigSourceKind,
  type TopicConfigDefinition,
} from "./topic-config.ts";

// The rules a topic creation or config change must pass, pure so that the KRaft controller (controller/, which may do
// no I/O) checks them, with Kafka's error codes and words.

export const MAX_PARTITIONS = 10_000;
const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;
/** Kafka's DescribeConfigs ConfigType of a comma-separated list. */
export const CONFIG_TYPE_LIST = 7;

export interface AdminResult {
  errorCode: number;
  errorMessage: string | null;
}

export const OK: AdminResult = { errorCode: ErrorCode.NONE, errorMessage: null };

export function fail(errorCode: number, errorMessage: string): AdminResult {
  return { errorCode, errorMessage };
}

/** Kafka's topic name rules; returns why a name is invalid, or undefined. */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return "topic name is empty";
  if (name === "." || name === "..") return `topic name "${name}" is not allowed`;
  if (name.length > MAX_TOPIC_NAME_LENGTH) return `topic name is longer than ${MAX_TOPIC_NAME_LENGTH} characters`;
  if (!LEGAL_TOPIC_NAME.test(name))
    return `topic name "${name}" has characters other than ASCII letters, digits, '.', '_' and '-'`;
  return undefined;
}

/** Returns why `name=value` is not an acceptable topic config, or undefined. */
export function topicConfigProblem(name: string, value: string): string | undefined {
  const def = TOPIC_CONFIG_BY_NAME.get(name);
  if (!def) {
    return `Unknown topic config name: ${name} (supported: ${TOPIC_CONFIGS.map((d) => d.name).join(", ")})`;
  }
  const problem = def.validate(value);
  return problem ? `Invalid value ${value} for configuration ${name}: ${problem}` : undefined;
}

/** Returns why `key=value` is not an acceptable dynamic broker config, or undefined. */
export function brokerConfigProblem(key: string, value: string): string | undefined {
  const def = TOPIC_CONFIG_BY_BROKER_KEY.get(key) ?? BROKER_DYNAMIC_CONFIG_BY_NAME.get(key);
  if (!def) {
    const supported = [...TOPIC_DEFAULT_BROKER_KEYS, ...BROKER_DYNAMIC_CONFIG_BY_NAME.keys()];
    return `Cannot update broker config ${key} dynamically (supported: ${supported.join(", ")})`;
  }
  const problem = def.validate(value);
  return problem ? `Invalid value ${value} for configuration ${key}: ${problem}` : undefined;
}

export interface EffectiveConfig {
  name: string;
  value: string;
  source: ConfigSourceKind;
  sourceCode: number;
  readOnly: boolean;
  isSensitive: boolean;
  configType: number;
  documentation: string;
  /** Values from the other levels, most specific first, for DescribeConfigs synonyms. */
  synonyms: { name: string; value: string; source: ConfigSourceKind; sourceCode: number }[];
}

/** The levels under a topic's own overrides: this broker's dynamic configs, dynamic broker defaults, server.properties. */
export interface BrokerConfigLevels {
  /** Dynamic configs of this broker alone (BROKER resource "<node id>"), above the cluster-wide ones. */
  readonly node?: Readonly<Record<string, string>>;
  readonly dynamic: Readonly<Record<string, string>>;
  /** `staticBrokerDefaults` of the node's config. */
  readonly statics: ReadonlyMap<string, { value: string; isSet: boolean }>;
}

export function resolveTopicConfig(
  def: TopicConfigDefinition,
  overrides: Readonly<Record<string, string>>,
  levelsBelow: BrokerConfigLevels,
): EffectiveConfig {
  const levels: { name: string; value: string; source: ConfigSourceKind }[] = [];
  const override = overrides[def.name];
  if (override !== undefined) levels.push({ name: def.name, value: override, source: "TOPIC_CONFIG" });
  if (def.brokerKey === null) {
    levels.push({ name: def.name, value: def.kafkaDefault, source: "DEFAULT_CONFIG" });
    return effective(def, levels);
  }
  const node = levelsBelow.node?.[def.brokerKey];
  if (node !== undefined) levels.push({ name: def.brokerKey, value: node, source: "DYNAMIC_BROKER_CONFIG" });
  const dyn = levelsBelow.dynamic[def.brokerKey];
  if (dyn !== undefined) levels.push({ name: def.brokerKey, value: dyn, source: "DYNAMIC_DEFAULT_BROKER_CONFIG" });
  const stat = levelsBelow.statics.get(def.brokerKey);
  if (stat?.isSet) levels.push({ name: def.brokerKey, value: stat.value, source: "STATIC_BROKER_CONFIG" });
  // A statically set key still has Kafka's own default underneath it.
  const fallback = stat?.isSet ? def.kafkaDefault : (stat?.value ?? def.kafkaDefault);
  levels.push({ name: def.brokerKey, value: fallback, source: "DEFAULT_CONFIG" });
  return effective(def, levels);
}

function effective(
  def: TopicConfigDefinition,
  levels: readonly { name: string; value: string; source: ConfigSourceKind }[],
): EffectiveConfig {
  const winner = levels[0] ?? { value: def.kafkaDefault, source: "DEFAULT_CONFIG" as const };
  return {
    name: def.name,
    value: winner.value,
    source: winner.source,
    sourceCode: CONFIG_SOURCE_CODE[winner.source],
    readOnly: false,
    isSensitive: false,
    configType: def.configType,
    documentation: def.documentation,
    synonyms: levels.map((l) => ({ ...l, sourceCode: CONFIG_SOURCE_CODE[l.source] })),
  };
}

/** Every topic config given a topic's overrides, resolved through the broker levels. */
export function resolveTopicConfigs(
  overrides: Readonly<Record<string, string>>,
  levelsBelow: BrokerConfigLevels,
): EffectiveConfig[] {
  return TOPIC_CONFIGS.map((def) => resolveTopicConfig(def, overrides, levelsBelow));
}

export interface CreateTopicRequest {
  name: string;
  /** -1 means the broker default. */
  numPartitions: number;
  /** -1 means the broker default. */
  replicationFactor: number;
  /** Explicit assignments, partition → replicas. */
  assignments?: ReadonlyMap<number, readonly number[]>;
  configs: ReadonlyMap<string, string | null>;
  validateOnly: boolean;
}

/** What a creation is checked against. */
export interface TopicCluster {
  /** The name of an existing topic that `name` is or collides with (same name once '.' and '_' are equated). */
  existing(name: string): string | undefined;
  readonly defaultPartitions: number;
  readonly defaultReplicationFactor: number;
  /** Brokers new replicas may be placed on (Kafka: registered, unfenced, not shutting down). */
  readonly usableBrokers: readonly number[];
  /** Why a replica list given explicitly cannot be used, or undefined. */
  replicasProblem(replicas: readonly number[]): string | undefined;
}

/** What a creation settled on: partitions and replication factor, or the explicit assignment, and the overrides. */
export interface TopicPlan {
  numPartitions: number;
  replicationFactor: number;
  /** Explicit replicas by partition, when the request gave them. */
  assignments: ReadonlyMap<number, readonly number[]> | undefined;
  configs: Record<string, string>;
}

/** Runs every check of a topic creation (CreateTopics, auto-creation); the plan, or why it is refused. */
export function planTopicCreation(
  request: CreateTopicRequest,
  cluster: TopicCluster,
): { ok: true; plan: TopicPlan } | { ok: false; result: AdminResult } {
  const refuse = (errorCode: number, message: string) => ({ ok: false as const, result: fail(errorCode, message) });
  const nameProblem = topicNameProblem(request.name);
  if (nameProblem) return refuse(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
  const existing = cluster.existing(request.name);
  if (existing === request.name)
    return refuse(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${request.name}' already exists.`);
  if (existing !== undefined) {
    return refuse(
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      `topic '${request.name}' collides with existing topic '${existing}'`,
    );
  }
  let partitions = request.numPartitions === -1 ? cluster.defaultPartitions : request.numPartitions;
  let replicationFactor =
    request.replicationFactor === -1 ? cluster.defaultReplicationFactor : request.replicationFactor;
  let assignments: ReadonlyMap<number, readonly number[]> | undefined;
  if (request.assignments && request.assignments.size > 0) {
    if (request.numPartitions !== -1 || request.replicationFactor !== -1) {
      return refuse(
        ErrorCode.INVALID_REQUEST,
        "give either replica assignments or numPartitions/replicationFactor, not both",
      );
    }
    partitions = request.assignments.size;
    replicationFactor = -1;
    for (const [partition, replicas] of request.assignments) {
      if (partition < 0 || partition >= partitions) {
        return refuse(
          ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          `partitions must be numbered 0-${partitions - 1}, got ${partition}`,
        );
      }
      const problem = replicaListProblem(replicas) ?? cluster.replicasProblem(replicas);
      if (problem) return refuse(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
      if (replicationFactor === -1) replicationFactor = replicas.length;
      else if (replicas.length !== replicationFactor) {
        return refuse(
          ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          "All partitions in the manual partition assignment must have the same number of replicas.",
        );
      }
    }
    assignments = request.assignments;
  } else {
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      return refuse(
        ErrorCode.INVALID_PARTITIONS,
        `number of partitions must be between 1 and ${MAX_PARTITIONS}, got ${partitions}`,
      );
    }
    const rfProblem = replicationFactorProblem(replicationFactor, cluster.usableBrokers.length);
    if (rfProblem) return refuse(ErrorCode.INVALID_REPLICATION_FACTOR, rfProblem);
  }
  const configs: Record<string, string> = {};
  for (const [name, value] of request.configs) {
    if (value === null) continue;
    const problem = topicConfigProblem(name, value);
    if (problem) return refuse(ErrorCode.INVALID_CONFIG, problem);
    configs[name] = value;
  }
  return { ok: true, plan: { numPartitions: partitions, replicationFactor, assignments, configs } };
}

/** Why `replicationFactor` replicas cannot be placed on `available` brokers, or undefined. */
export function replicationFactorProblem(replicationFactor: number, available: number): string | undefined {
  if (replicationFactor < 1) return `replication factor must be at least 1, got ${replicationFactor}`;
  if (replicationFactor > available) {
    return `Replication factor: ${replicationFactor} larger than available brokers: ${available}.`;
  }
  return undefined;
}

/** The shape checks every explicit replica list must pass, whoever places it. */
function replicaListProblem(replicas: readonly number[]): string | undefined {
  if (replicas.length === 0) return "a partition needs at least one replica";
  if (new Set(replicas).size !== replicas.length) {
    return `Duplicate brokers not allowed in replica assignment: ${replicas.join(", ")}`;
  }
  return undefined;
}

/** CreatePartitions' checks of the new count and explicit assignments against the topic's current count. */
export function partitionGrowthProblem(
  current: number,
  count: number,
  assignments: readonly (readonly number[])[] | undefined,
  replicasProblem: (replicas: readonly number[]) => string | undefined,
): AdminResult | undefined {
  if (count === current) return fail(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partitions.`);
  if (count < current) {
    return fail(
      ErrorCode.INVALID_PARTITIONS,
      `Topic currently has ${current} partitions, which is higher than the requested ${count}.`,
    );
  }
  if (count > MAX_PARTITIONS) return fail(ErrorCode.INVALID_PARTITIONS, `at most ${MAX_PARTITIONS} partitions`);
  if (assignments) {
    const added = count - current;
    if (assignments.length !== added) {
      return fail(
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        `Attempted to add ${added} additional partition(s), but only ${assignments.length} assignment(s) were specified.`,
      );
    }
    for (const replicas of assignments) {
      const problem = replicaListProblem(replicas) ?? replicasProblem(replicas);
      if (problem) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
    }
  }
  return undefined;
}
