import type { Logger } from "pino";
import type { BrokerConfig } from "../config/broker-config.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { TOPIC_CONFIG_BY_BROKER_KEY, TOPIC_CONFIG_BY_NAME } from "./topic-config.ts";
import { applyConfigChanges, type ConfigChange } from "./config-changes.ts";
import type { EffectiveConfigs } from "./effective-configs.ts";
import type { MetadataImage } from "./image/index.ts";
import type { TopicMetadata, TopicRegistry } from "./topic-registry.ts";
import {
  brokerConfigProblem,
  CONFIG_TYPE_LIST,
  fail,
  OK,
  partitionGrowthProblem,
  planTopicCreation,
  topicConfigProblem,
  topicNameProblem,
  type AdminResult,
  type CreateTopicRequest,
  type EffectiveConfig,
} from "./topic-rules.ts";

// Topic lifecycle and configuration rules shared by CreateTopics, Metadata auto-creation, DeleteTopics,
// CreatePartitions and the config APIs, so each handler only translates wire types. Changes are written to the
// registry and then published as the next metadata image (`AdminMetadata.sync`); the partition publisher creates and
// deletes the logs from that image, and a change is answered once every publisher has acted on it.

export { MAX_PARTITIONS, type AdminResult, type CreateTopicRequest, type EffectiveConfig } from "./topic-rules.ts";

/** The metadata source the admin publishes its registry changes through (SingleNodeMetadataSource). */
export interface AdminMetadata {
  image(): MetadataImage;
  /** Publishes the registry's current contents as the next image; rejects when a publisher failed. */
  sync(): Promise<void>;
}

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
    private readonly metadata: AdminMetadata,
    private readonly configs: EffectiveConfigs,
    private readonly logger: Logger,
  ) {}

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
    const plan = {
      numPartitions: partitions,
      replicationFactor: 1,
      configs: this.configs.resolveTopicConfigs(this.metadata.image(), configs),
    };
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
    try {
      await this.metadata.sync();
    } catch (err) {
      // Take the topic back out so no partition is announced without a log (publishing its removal deletes what
      // logs were made); if even that cannot be written, the next start creates the missing logs.
      await this.registry.delete(topic.name).catch(() => undefined);
      await this.metadata.sync().catch(() => undefined);
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
    // Registry first: a crash before the logs are deleted leaves orphan directories, which the next start removes.
    try {
      await this.registry.delete(name);
      await this.metadata.sync();
    } catch (err) {
      return this.storageFailure(`deleting topic '${name}'`, err);
    }
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
    try {
      // Handlers see the new partitions only once their logs exist. If creating a log fails, the partitions stay in
      // the metadata (partitions are never removed from a topic) and the next start creates their logs.
      await this.registry.update(name, { partitions: count });
      await this.metadata.sync();
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
    await this.registry.update(name, { configs });
    this.logger.info({ topic: name, configs }, "Updated topic configs");
    await this.metadata.sync();
  }

  async setBrokerConfigs(configs: Record<string, string>): Promise<void> {
    await this.registry.setBrokerConfigs(configs);
    this.logger.info({ configs }, "Updated dynamic broker configs");
    await this.metadata.sync();
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
    return this.configs.topicConfigs(this.metadata.image(), name);
  }

  /** The broker's own configs: every key of server.properties we support, plus the dynamic overrides. */
  brokerConfigs(): EffectiveConfig[] {
    return this.configs.brokerConfigs(this.metadata.image());
  }
}
