import type { BrokerConfig } from "../config/broker-config.ts";
import type { LogConfig } from "../log/index.ts";
import { ConfigResourceType, configKey, type MetadataImage } from "./image/index.ts";
import {
  BROKER_DYNAMIC_CONFIG_BY_NAME,
  CONFIG_SOURCE_CODE,
  staticBrokerDefaults,
  TOPIC_CONFIG_BY_BROKER_KEY,
  TOPIC_CONFIG_BY_NAME,
  TOPIC_DEFAULT_BROKER_KEYS,
  type ConfigSourceKind,
} from "./topic-config.ts";
import {
  resolveTopicConfig,
  resolveTopicConfigs,
  type BrokerConfigLevels,
  type EffectiveConfig,
} from "./topic-rules.ts";

// Effective configuration values, resolved through Kafka's levels: a topic's override, this broker's dynamic
// config, the cluster-wide dynamic broker default, server.properties, Kafka's default. The dynamic levels come from
// the image's ConfigRecords (BROKER resource "<node id>" and ""), the static ones from this node's config.

const NONE: ReadonlyMap<string, string> = new Map();

export class EffectiveConfigs {
  /** server.properties values of the topic configs' broker keys; the config is frozen, so computed once. */
  private readonly statics: ReadonlyMap<string, { value: string; isSet: boolean }>;

  constructor(private readonly config: BrokerConfig) {
    this.statics = staticBrokerDefaults(config);
  }

  topicOverrides(image: MetadataImage, topic: string): ReadonlyMap<string, string> {
    return image.configs.get(configKey(ConfigResourceType.TOPIC, topic)) ?? NONE;
  }

  /** The cluster-wide dynamic broker defaults (BROKER resource ""). */
  clusterBrokerOverrides(image: MetadataImage): ReadonlyMap<string, string> {
    return image.configs.get(configKey(ConfigResourceType.BROKER, "")) ?? NONE;
  }

  /** This broker's own dynamic configs (BROKER resource "<node id>"). */
  nodeBrokerOverrides(image: MetadataImage): ReadonlyMap<string, string> {
    return image.configs.get(configKey(ConfigResourceType.BROKER, String(this.config.nodeId))) ?? NONE;
  }

  /** The broker levels of the last image asked about: the produce path asks for a few values per request. */
  private cached: { configs: MetadataImage["configs"]; levels: BrokerConfigLevels } | undefined;

  private levels(image: MetadataImage): BrokerConfigLevels {
    if (this.cached?.configs !== image.configs) {
      const levels = {
        node: Object.fromEntries(this.nodeBrokerOverrides(image)),
        dynamic: Object.fromEntries(this.clusterBrokerOverrides(image)),
        statics: this.statics,
      };
      this.cached = { configs: image.configs, levels };
    }
    return this.cached.levels;
  }

  /** The value of every topic config for `topic`, with where it came from. */
  topicConfigs(image: MetadataImage, topic: string): EffectiveConfig[] {
    return this.resolveTopicConfigs(image, Object.fromEntries(this.topicOverrides(image, topic)));
  }

  /** Every topic config given a topic's overrides, resolved through the broker levels. */
  resolveTopicConfigs(image: MetadataImage, overrides: Readonly<Record<string, string>>): EffectiveConfig[] {
    return resolveTopicConfigs(overrides, this.levels(image));
  }

  /** The broker's own configs: every key of server.properties we support, plus the dynamic overrides. */
  brokerConfigs(image: MetadataImage): EffectiveConfig[] {
    const node = this.nodeBrokerOverrides(image);
    const cluster = this.clusterBrokerOverrides(image);
    const entries = this.config.entries as Readonly<Record<string, { value: string | null; source: string }>>;
    const names = new Set([
      ...Object.keys(entries),
      ...TOPIC_DEFAULT_BROKER_KEYS,
      ...BROKER_DYNAMIC_CONFIG_BY_NAME.keys(),
    ]);
    return [...names].sort().map((name) => {
      const entry = entries[name];
      const def = TOPIC_CONFIG_BY_BROKER_KEY.get(name) ?? BROKER_DYNAMIC_CONFIG_BY_NAME.get(name);
      const staticValue = this.statics.get(name)?.value ?? entry?.value ?? def?.kafkaDefault ?? "";
      const staticSource: ConfigSourceKind =
        entry && entry.source !== "default" ? "STATIC_BROKER_CONFIG" : "DEFAULT_CONFIG";
      const levels: { name: string; value: string; source: ConfigSourceKind }[] = [];
      const own = node.get(name);
      if (own !== undefined) levels.push({ name, value: own, source: "DYNAMIC_BROKER_CONFIG" });
      const dyn = cluster.get(name);
      if (dyn !== undefined) levels.push({ name, value: dyn, source: "DYNAMIC_DEFAULT_BROKER_CONFIG" });
      levels.push({ name, value: staticValue, source: staticSource });
      const winner = levels[0] ?? { value: staticValue, source: staticSource };
      return {
        name,
        value: winner.value,
        source: winner.source,
        sourceCode: CONFIG_SOURCE_CODE[winner.source],
        readOnly: def === undefined,
        isSensitive: false,
        configType: def?.configType ?? 2,
        documentation: def?.documentation ?? "",
        synonyms: levels.map((s) => ({ ...s, sourceCode: CONFIG_SOURCE_CODE[s.source] })),
      };
    });
  }

  /** One config's effective value; the produce path asks for a few per request, so only that one is resolved. */
  configValue(image: MetadataImage, topic: string, name: string): string {
    const def = TOPIC_CONFIG_BY_NAME.get(name);
    if (!def) throw new Error(`unknown topic config ${name}`);
    return resolveTopicConfig(def, Object.fromEntries(this.topicOverrides(image, topic)), this.levels(image)).value;
  }

  /** Storage settings for a topic's partitions, from its effective configs. */
  logConfigFor(image: MetadataImage, topic: string): Partial<LogConfig> {
    const value = (name: string) => this.configValue(image, topic, name);
    const int = (name: string) => {
      const n = Number(value(name));
      return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n;
    };
    return {
      segmentBytes: int("segment.bytes"),
      segmentMs: int("segment.ms"),
      indexIntervalBytes: this.config.logIndexIntervalBytes,
      retentionMs: value("cleanup.policy").includes("delete") ? int("retention.ms") : -1,
      retentionBytes: value("cleanup.policy").includes("delete") ? int("retention.bytes") : -1,
      flushIntervalMessages: int("flush.messages"),
      flushIntervalMs: Math.max(1, int("flush.ms")),
    };
  }
}
