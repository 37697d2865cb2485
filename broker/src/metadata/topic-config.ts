import type { BrokerConfig } from "../config/broker-config.ts";

// Topic-level configs the broker understands, each with the broker key that supplies its default. Kafka resolves a
// topic's value as: topic override, else dynamic broker default, else static broker config, else Kafka's default.

export type ConfigSourceKind =
  | "TOPIC_CONFIG"
  | "DYNAMIC_BROKER_CONFIG"
  | "DYNAMIC_DEFAULT_BROKER_CONFIG"
  | "STATIC_BROKER_CONFIG"
  | "DEFAULT_CONFIG";

/** Kafka's DescribeConfigs ConfigSource codes. */
export const CONFIG_SOURCE_CODE: Record<ConfigSourceKind, number> = {
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
};

export interface TopicConfigDefinition {
  readonly name: string;
  /** The broker key whose value is the default for every topic; null when only Kafka's default is below the topic. */
  readonly brokerKey: string | null;
  /** Kafka's DescribeConfigs ConfigType: 1 boolean, 2 string, 3 int, 4 short, 5 long, 6 double, 7 list. */
  readonly configType: number;
  readonly documentation: string;
  /** Returns why the value is invalid, or undefined when it is fine. */
  validate(value: string): string | undefined;
  /** Kafka's own default, used when the broker config does not set the broker key. */
  readonly kafkaDefault: string;
}

const LONG = /^-?\d+$/;

function long(min: number): (value: string) => string | undefined {
  return (value) => {
    if (!LONG.test(value.trim())) return `must be an integer`;
    const n = Number(value);
    if (!Number.isSafeInteger(n)) return `is out of range`;
    if (n < min) return `must be at least ${min}`;
    return undefined;
  };
}

/** Any Java long from `min` on, Long.MAX_VALUE included. */
function javaLong(min: bigint): (value: string) => string | undefined {
  return (value) => {
    if (!LONG.test(value.trim())) return `must be an integer`;
    const n = BigInt(value.trim());
    if (n > 9223372036854775807n) return `is out of range`;
    if (n < min) return `must be at least ${min}`;
    return undefined;
  };
}

function oneOf(...allowed: string[]): (value: string) => string | undefined {
  return (value) => (allowed.includes(value.trim()) ? undefined : `must be one of ${allowed.join(", ")}`);
}

/** Kafka's ThrottledReplicaListValidator: '*' or comma-separated partition:broker pairs (empty entries allowed). */
function throttledReplicasProblem(value: string): string | undefined {
  const entries = value.split(",").map((e) => e.trim());
  if (entries.join("") === "*" || entries.every((e) => /^(\d+:\d+)?$/.test(e))) return undefined;
  return "must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...";
}

export const TOPIC_CONFIGS: readonly TopicConfigDefinition[] = [
  {
    name: "cleanup.policy",
    brokerKey: "log.cleanup.policy",
    configType: 7,
    documentation: "delete: remove old segments by retention.ms and retention.bytes; compact is not supported yet.",
    validate: (value) => {
      const parts = value.split(",").map((p) => p.trim());
      if (parts.length === 0 || parts.some((p) => p !== "delete" && p !== "compact"))
        return "must be delete and/or compact";
      return undefined;
    },
    kafkaDefault: "delete",
  },
  {
    name: "retention.ms",
    brokerKey: "log.retention.ms",
    configType: 5,
    documentation: "How long to keep a segment after its newest record; -1 keeps data forever.",
    validate: long(-1),
    kafkaDefault: "604800000",
  },
  {
    name: "retention.bytes",
    brokerKey: "log.retention.bytes",
    configType: 5,
    documentation: "Largest size of a partition before old segments are deleted; -1 means no limit.",
    validate: long(-1),
    kafkaDefault: "-1",
  },
  {
    name: "segment.bytes",
    brokerKey: "log.segment.bytes",
    configType: 3,
    documentation: "Size at which a new segment file is started.",
    validate: (value) => long(14)(value) ?? (Number(value) > 2147483647 ? "must be at most 2147483647" : undefined),
    kafkaDefault: "1073741824",
  },
  {
    name: "segment.ms",
    brokerKey: "log.roll.ms",
    configType: 5,
    documentation: "Age of a segment's first record after which a new segment is started.",
    validate: long(1),
    kafkaDefault: "604800000",
  },
  {
    name: "min.insync.replicas",
    brokerKey: "min.insync.replicas",
    configType: 3,
    documentation: "Replicas that must acknowledge an acks=all write.",
    validate: long(1),
    kafkaDefault: "1",
  },
  {
    name: "unclean.leader.election.enable",
    brokerKey: "unclean.leader.election.enable",
    configType: 1,
    documentation:
      "Whether a replica outside the ISR may become leader when no ISR member can, at the cost of losing acknowledged records.",
    validate: (value) => (/^(true|false)$/i.test(value.trim()) ? undefined : "must be true or false"),
    kafkaDefault: "false",
  },
  {
    name: "max.message.bytes",
    brokerKey: "message.max.bytes",
    configType: 3,
    documentation: "Largest record batch the topic accepts.",
    validate: long(0),
    kafkaDefault: "1048588",
  },
  {
    name: "message.timestamp.type",
    brokerKey: "log.message.timestamp.type",
    configType: 2,
    documentation: "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the broker's clock.",
    validate: oneOf("CreateTime", "LogAppendTime"),
    kafkaDefault: "CreateTime",
  },
  {
    name: "message.timestamp.before.max.ms",
    brokerKey: "log.message.timestamp.before.max.ms",
    configType: 5,
    documentation:
      "CreateTime: how far before the broker's clock a record's timestamp may lie; older records are INVALID_TIMESTAMP.",
    validate: javaLong(0n),
    kafkaDefault: "9223372036854775807",
  },
  {
    name: "message.timestamp.after.max.ms",
    brokerKey: "log.message.timestamp.after.max.ms",
    configType: 5,
    documentation:
      "CreateTime: how far after the broker's clock a record's timestamp may lie; later records are INVALID_TIMESTAMP.",
    validate: javaLong(0n),
    kafkaDefault: "3600000",
  },
  {
    name: "message.timestamp.difference.max.ms",
    brokerKey: "log.message.timestamp.difference.max.ms",
    configType: 5,
    documentation:
      "[DEPRECATED] The bound in either direction whose message.timestamp.before/after.max.ms is Long.MAX_VALUE.",
    validate: javaLong(0n),
    kafkaDefault: "9223372036854775807",
  },
  {
    name: "flush.messages",
    brokerKey: "log.flush.interval.messages",
    configType: 5,
    documentation: "Force an fsync after this many unflushed records.",
    validate: long(1),
    kafkaDefault: "9223372036854775807",
  },
  {
    name: "flush.ms",
    brokerKey: "log.flush.interval.ms",
    configType: 5,
    documentation: "Force an fsync this long after the first unflushed record.",
    validate: long(0),
    kafkaDefault: "9223372036854775807",
  },
  {
    name: "leader.replication.throttled.replicas",
    brokerKey: null,
    configType: 7,
    documentation:
      "Replicas whose replication the leader side throttles (leader.replication.throttled.rate): '*' or partition:broker pairs.",
    validate: throttledReplicasProblem,
    kafkaDefault: "",
  },
  {
    name: "follower.replication.throttled.replicas",
    brokerKey: null,
    configType: 7,
    documentation:
      "Replicas whose replication the follower side throttles (follower.replication.throttled.rate): '*' or partition:broker pairs.",
    validate: throttledReplicasProblem,
    kafkaDefault: "",
  },
];

export const TOPIC_CONFIG_BY_NAME = new Map(TOPIC_CONFIGS.map((d) => [d.name, d]));
export const TOPIC_CONFIG_BY_BROKER_KEY = new Map(
  TOPIC_CONFIGS.flatMap((d) => (d.brokerKey === null ? [] : [[d.brokerKey, d] as const])),
);

/** The broker keys that give topic configs their defaults. */
export const TOPIC_DEFAULT_BROKER_KEYS: readonly string[] = [...TOPIC_CONFIG_BY_BROKER_KEY.keys()];

/**
 * Broker configs that may be set dynamically without being a topic default: the replication throttles (KIP-73),
 * whose rates apply to the replicas listed in the topics' throttled-replicas configs.
 */
export interface BrokerDynamicConfigDefinition {
  readonly name: string;
  readonly configType: number;
  readonly documentation: string;
  validate(value: string): string | undefined;
  readonly kafkaDefault: string;
}

const JAVA_LONG_MAX = "9223372036854775807";

export const BROKER_DYNAMIC_CONFIGS: readonly BrokerDynamicConfigDefinition[] = [
  {
    name: "leader.replication.throttled.rate",
    configType: 5,
    documentation: "Bytes per second the leaders on this broker send to throttled replicas' followers.",
    validate: long(0),
    kafkaDefault: JAVA_LONG_MAX,
  },
  {
    name: "follower.replication.throttled.rate",
    configType: 5,
    documentation: "Bytes per second this broker's throttled follower replicas fetch.",
    validate: long(0),
    kafkaDefault: JAVA_LONG_MAX,
  },
  {
    name: "replica.alter.log.dirs.io.max.bytes.per.second",
    configType: 5,
    documentation:
      "Bytes per second of moves between this broker's log directories (accepted; such moves are not built).",
    validate: long(0),
    kafkaDefault: JAVA_LONG_MAX,
  },
];

export const BROKER_DYNAMIC_CONFIG_BY_NAME = new Map(BROKER_DYNAMIC_CONFIGS.map((d) => [d.name, d]));

/** Static broker values for the broker keys above, as strings, from the parsed server.properties. */
export function staticBrokerDefaults(config: BrokerConfig): Map<string, { value: string; isSet: boolean }> {
  const entries = config.entries as Readonly<Record<string, { value: string | null; source: string } | undefined>>;
  const out = new Map<string, { value: string; isSet: boolean }>();
  const derived: Record<string, string> = {
    "log.retention.ms": String(config.logRetentionMs),
    "log.retention.bytes": String(config.logRetentionBytes),
    "log.segment.bytes": String(config.logSegmentBytes),
    "log.roll.ms": String(config.logRollMs),
    "message.max.bytes": String(config.messageMaxBytes),
  };
  for (const def of TOPIC_CONFIGS) {
    if (def.brokerKey === null) continue;
    const entry = entries[def.brokerKey];
    const value = derived[def.brokerKey] ?? entry?.value ?? def.kafkaDefault;
    const isSet = entry !== undefined && entry.source !== "default";
    out.set(def.brokerKey, { value, isSet });
  }
  return out;
}
