import type { Logger } from "pino";
import type { BrokerConfig } from "../config/broker-config.ts";
import type { LogConfig } from "../log/index.ts";
import type { PartitionManager } from "../partitions/partition-manager.ts";
import { ErrorCode } from "../protocol/errors.ts";
import {
  CONFIG_SOURCE_CODE,
  staticBrokerDefaults,
  TOPIC_CONFIG_BY_BROKER_KEY,
  TOPIC_CONFIG_BY_NAME,
  TOPIC_CONFIGS,
  type ConfigSourceKind,
} from "./topic-config.ts";
import { applyConfigChanges, type ConfigChange } from "./config-changes.ts";
import type { TopicMetadata, TopicRegistry } from "./topic-registry.ts";
import {
  brokerConfigProblem,
  CONFIG_TYPE_LIST,
  fail,
  OK,
  partitionGrowthProblem,
  planTopicCreation,
  resolveTopicConfig,
  resolveTopicConfigs,
  topicConfigProblem,
  topicNameProblem,
  type AdminResult,
  type BrokerConfigLevels,
  type CreateTopicRequest,
  type EffectiveConfig,
} from "./topic-rules.ts";

// Topic lifecycle and configuration rules shared by CreateTopics, Metadata auto-creation, DeleteTopics,
// CreatePartitions and the config APIs, so each handler only translates wire types.

export { MAX_PARTITIONS, type AdminResult, type CreateTopicRequest, type EffectiveConfig } from "./topic-rules.ts";

/** What a successful (or validate-only) creation settled on, for CreateTopics v5+ responses. */
export interface CreatedTopic {
  numPartitions: number;
  replicationFactor: number;
  configs: EffectiveConfig[];
  /** Absent when the request only validated. */
  topic?: TopicMetadata;
}

export interface AlterOptions {
  /** "replace" is AlterConfigs; "incremental" is IncrementalAlterConfigs. */
  mode: "replace" | "incremental";
  validateOnly: boolean;
}

export class TopicAdmin {
  constructor(
    private readonly config: BrokerConfig,
    private readonly registry: TopicRegistry,
    private readonly partitions: PartitionManager,
    private readonly logger: Logger,
  ) {
    this.statics = staticBrokerDefaults(config);
  }

  /** server.properties values of the topic configs' broker keys; the config is frozen, so computed once. */
  private readonly statics: ReadonlyMap<string, { value: string; isSet: boolean }>;

  get nodeId(): number {
    return this.config.nodeId;
  }

  async createTopic(
    request: CreateTopicRequest,
  ): Promise<AdminResult & { topic?: TopicMetadata; created?: CreatedTopic }> {
    const planned = planTopicCreation(request, {
      existing: (name) =>
        this.registry.get(name)?.name ??
        this.registry.list().find((t) => t.name.replaceAll(".", "_") === name.replaceAll(".", "_"))?.name,
      defaultPartitions: this.config.numPartitions,
      defaultReplicationFactor: this.config.defaultReplicationFactor,
      usableBrokers: [this.nodeId],
      replicasProblem: (replicas) => this.replicasProblem(replicas),
    });
    if (!planned.ok) return planned.result;
    const { numPartitions: partitions, configs } = planned.plan;
    const plan = { numPartitions: partitions, replicationFactor: 1, configs: this.resolveTopicConfigs(configs) };
    if (request.validateOnly) return { ...OK, created: plan };
    let topic;
    try {
      topic = await this.registry.create({
        name: request.name,
        partitions,
        configs,
        internal: request.name.startsWith("__"),
      });
    } catch (err) {
      return this.storageFailure(`creating topic '${request.name}'`, err);
    }
    const logConfig = this.logConfigFor(topic.name);
    try {
      for (let p = 0; p < partitions; p++) await this.partitions.createPartition(topic.name, p, logConfig);
    } catch (err) {
      // Take the topic back out so no partition is announced without a log; if even that cannot be written, the
      // next start creates the missing logs.
      await this.registry.delete(topic.name).catch(() => undefined);
      for (let p = 0; p < partitions; p++) await this.partitions.deletePartition(topic.name, p).catch(() => undefined);
      return this.storageFailure(`creating the logs of topic '${request.name}'`, err);
    }
    return { ...OK, topic, created: { ...plan, topic } };
  }

  async deleteTopic(name: string): Promise<AdminResult> {
    const topic = this.registry.get(name);
    if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic: ${name}`);
    if (topic.internal && name === "__consumer_offsets") {
      return fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED, "the internal offsets topic cannot be deleted");
    }
    // Registry first: a crash between the two steps leaves orphan directories, which the next start removes.
    try {
      await this.registry.delete(name);
    } catch (err) {
      return this.storageFailure(`deleting topic '${name}'`, err);
    }
    for (let p = 0; p < topic.partitions; p++) await this.partitions.deletePartition(name, p);
    return OK;
  }

  /** The metadata file or a log dir could not be written (a full disk): the change did not happen. */
  private storageFailure(what: string, err: unknown): AdminResult {
    this.logger.error({ err }, `Failed ${what}`);
    return fail(ErrorCode.KAFKA_STORAGE_ERROR, `${what} failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  /** Why a replica list cannot be placed on this single node, or undefined. */
  private replicasProblem(replicas: readonly number[]): string | undefined {
    if (replicas.length === 1 && replicas[0] === this.nodeId) return undefined;
    return `this cluster has one broker (id ${this.nodeId}); cannot place replicas on ${replicas.join(", ")}`;
  }

  /**
   * Grows a topic to `count` partitions. `assignments`, when given, holds the replicas of each new partition in
   * order; on one node each must be exactly this node.
   */
  async createPartitions(
    name: string,
    count: number,
    validateOnly: boolean,
    assignments?: readonly (readonly number[])[],
  ): Promise<AdminResult> {
    const topic = this.registry.get(name);
    if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
    const problem = partitionGrowthProblem(topic.partitions, count, assignments, (r) => this.replicasProblem(r));
    if (problem) return problem;
    if (validateOnly) return OK;
    const logConfig = this.logConfigFor(name);
    try {
      // Logs first: new partitions are announced only once they can be written; leftover logs of a failure are
      // unknown to the metadata, and the next start removes them.
      for (let p = topic.partitions; p < count; p++) await this.partitions.createPartition(name, p, logConfig);
      await this.registry.update(name, { partitions: count });
    } catch (err) {
      return this.storageFailure(`adding partitions to topic '${name}'`, err);
    }
    return OK;
  }

  /** Returns why `name=value` is not an acceptable topic config, or undefined. */
  configProblem(name: string, value: string): string | undefined {
    return topicConfigProblem(name, value);
  }

  /** Returns why `key=value` is not an acceptable dynamic broker config, or undefined. */
  brokerConfigProblem(key: string, value: string): string | undefined {
    return brokerConfigProblem(key, value);
  }

  /** Replaces a topic's overrides (AlterConfigs semantics: keys not given return to their defaults). */
  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const topic = await this.registry.update(name, { configs });
    this.logger.info({ topic: name, configs }, "Updated topic configs");
    const logConfig = this.logConfigFor(name);
    for (let p = 0; p < topic.partitions; p++) this.partitions.setConfig(name, p, logConfig);
  }

  async setBrokerConfigs(configs: Record<string, string>): Promise<void> {
    await this.registry.setBrokerConfigs(configs);
    this.logger.info({ configs }, "Updated dynamic broker configs");
    for (const topic of this.registry.list()) {
      const logConfig = this.logConfigFor(topic.name);
      for (let p = 0; p < topic.partitions; p++) this.partitions.setConfig(topic.name, p, logConfig);
    }
  }

  /**
   * AlterConfigs / IncrementalAlterConfigs on a topic. Partitions pick up the new storage settings at once (retention
   * on its next run, segment size from the next append).
   */
  async alterTopicConfigs(name: string, changes: readonly ConfigChange[], options: AlterOptions): Promise<AdminResult> {
    const nameProblem = topicNameProblem(name);
    if (nameProblem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
    const topic = this.registry.get(name);
    if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
    const outcome = applyConfigChanges(topic.configs, changes, {
      mode: options.mode,
      isList: (key) => TOPIC_CONFIG_BY_NAME.get(key)?.configType === CONFIG_TYPE_LIST,
      effectiveValue: (key) => this.topicConfigs(name).find((c) => c.name === key)?.value,
      problem: (key, value) => this.configProblem(key, value),
    });
    if (!outcome.ok) return fail(outcome.errorCode, outcome.errorMessage);
    if (options.validateOnly) return OK;
    try {
      await this.setTopicConfigs(name, outcome.configs);
    } catch (err) {
      return this.storageFailure(`changing the configs of topic '${name}'`, err);
    }
    return OK;
  }

  /** The same for the dynamic broker defaults of the topic configs' broker keys, which every topic inherits. */
  async alterBrokerConfigs(changes: readonly ConfigChange[], options: AlterOptions): Promise<AdminResult> {
    const outcome = applyConfigChanges(this.registry.dynamicBrokerConfigs(), changes, {
      mode: options.mode,
      isList: (key) => TOPIC_CONFIG_BY_BROKER_KEY.get(key)?.configType === CONFIG_TYPE_LIST,
      effectiveValue: (key) => this.brokerConfigs().find((c) => c.name === key)?.value,
      problem: (key, value) => this.brokerConfigProblem(key, value),
    });
    if (!outcome.ok) return fail(outcome.errorCode, outcome.errorMessage);
    if (options.validateOnly) return OK;
    try {
      await this.setBrokerConfigs(outcome.configs);
    } catch (err) {
      return this.storageFailure("changing the dynamic broker configs", err);
    }
    return OK;
  }

  /** The value of every topic config for `name`, with where it came from. */
  topicConfigs(name: string): EffectiveConfig[] {
    return this.resolveTopicConfigs(this.registry.get(name)?.configs ?? {});
  }

  /** Every topic config given a topic's overrides, resolved through the broker levels. */
  private resolveTopicConfigs(overrides: Readonly<Record<string, string>>): EffectiveConfig[] {
    return resolveTopicConfigs(overrides, this.levels());
  }

  private levels(): BrokerConfigLevels {
    return { dynamic: this.registry.dynamicBrokerConfigs(), statics: this.statics };
  }

  /** The broker's own configs: every key of server.properties we support, plus the dynamic overrides. */
  brokerConfigs(): EffectiveConfig[] {
    const dynamic = this.registry.dynamicBrokerConfigs();
    const entries = this.config.entries as Readonly<Record<string, { value: string | null; source: string }>>;
    const statics = this.statics;
    const names = new Set([...Object.keys(entries), ...TOPIC_CONFIGS.map((d) => d.brokerKey)]);
    return [...names].sort().map((name) => {
      const entry = entries[name];
      const def = TOPIC_CONFIG_BY_BROKER_KEY.get(name);
      const staticValue = statics.get(name)?.value ?? entry?.value ?? "";
      const staticSource: ConfigSourceKind =
        entry && entry.source !== "default" ? "STATIC_BROKER_CONFIG" : "DEFAULT_CONFIG";
      const dyn = dynamic[name];
      const source: ConfigSourceKind = dyn !== undefined ? "DYNAMIC_DEFAULT_BROKER_CONFIG" : staticSource;
      const synonyms = [
        ...(dyn !== undefined ? [{ name, value: dyn, source: "DYNAMIC_DEFAULT_BROKER_CONFIG" as const }] : []),
        { name, value: staticValue, source: staticSource },
      ];
      return {
        name,
        value: dyn ?? staticValue,
        source,
        sourceCode: CONFIG_SOURCE_CODE[source],
        readOnly: def === undefined,
        isSensitive: false,
        configType: def?.configType ?? 2,
        documentation: def?.documentation ?? "",
        synonyms: synonyms.map((s) => ({ ...s, sourceCode: CONFIG_SOURCE_CODE[s.source] })),
      };
    });
  }

  /** One config's effective value; the produce path asks for a few per request, so only that one is resolved. */
  configValue(topic: string, name: string): string {
    const def = TOPIC_CONFIG_BY_NAME.get(name);
    if (!def) throw new Error(`unknown topic config ${name}`);
    return resolveTopicConfig(def, this.registry.get(topic)?.configs ?? {}, this.levels()).value;
  }

  /** Storage settings for a topic's partitions, from its effective configs. */
  logConfigFor(topic: string): Partial<LogConfig> {
    const value = (name: string) => this.configValue(topic, name);
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
