// CreateTopics (key 19), versions 2-7.
// Each topic succeeds or fails on its own, with an error message (v1+). validate_only runs every check and creates
// nothing. v5+ answers with the partitions, replication factor and every config of the topic as created (or as it
// would be), with their sources, as Kafka does; v7 adds the topic id. A name given twice in one request fails with
// INVALID_REQUEST for that name and neither entry is created. Creation is synchronous, so timeoutMs is not needed.
import type { CreatedTopic } from "../metadata/topic-admin.ts";
import {
  ApiKey,
  CreateTopicsRequest,
  CreateTopicsResponse,
  ErrorCode,
  ZERO_UUID,
  type CreateTopicsRequestCreatableTopic,
  type CreateTopicsResponseCreatableTopicResult,
} from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/** The keys that occur more than once: Kafka fails every entry of a name given twice rather than picking one. */
export function repeatedKeys<T>(items: readonly T[], key: (item: T) => string): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) repeated.add(k);
    seen.add(k);
  }
  return repeated;
}

function failed(name: string, errorCode: number, errorMessage: string): CreateTopicsResponseCreatableTopicResult {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: [] };
}

function succeeded(name: string, created: CreatedTopic | undefined): CreateTopicsResponseCreatableTopicResult {
  return {
    name,
    topicId: created?.topic?.id ?? ZERO_UUID,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    numPartitions: created?.numPartitions ?? -1,
    replicationFactor: created?.replicationFactor ?? -1,
    configs: (created?.configs ?? []).map((c) => ({
      name: c.name,
      value: c.isSensitive ? null : c.value,
      readOnly: c.readOnly,
      configSource: c.sourceCode,
      isSensitive: c.isSensitive,
    })),
  };
}

async function createOne(
  services: BrokerServices,
  topic: CreateTopicsRequestCreatableTopic,
  validateOnly: boolean,
): Promise<CreateTopicsResponseCreatableTopicResult> {
  const configs = new Map<string, string | null>();
  for (const c of topic.configs) {
    if (configs.has(c.name)) {
      return failed(topic.name, ErrorCode.INVALID_REQUEST, `Duplicate config ${c.name} for topic ${topic.name}`);
    }
    configs.set(c.name, c.value);
  }
  const assignments = new Map<number, number[]>();
  for (const a of topic.assignments) {
    if (assignments.has(a.partitionIndex)) {
      return failed(
        topic.name,
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        `Duplicate assignment for partition ${a.partitionIndex}`,
      );
    }
    assignments.set(a.partitionIndex, a.brokerIds);
  }
  try {
    const result = await services.admin.createTopic({
      name: topic.name,
      numPartitions: topic.numPartitions,
      replicationFactor: topic.replicationFactor,
      assignments,
      configs,
      validateOnly,
    });
    if (result.errorCode !== ErrorCode.NONE) {
      return failed(topic.name, result.errorCode, result.errorMessage ?? "");
    }
    return succeeded(topic.name, result.created);
  } catch (err) {
    // The registry refuses a name that a concurrent request created between our check and our write.
    if (services.topics.get(topic.name)) {
      return failed(topic.name, ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${topic.name}' already exists.`);
    }
    services.logger.error({ err, topic: topic.name }, "CreateTopics failed");
    return failed(topic.name, ErrorCode.UNKNOWN_SERVER_ERROR, `could not create topic: ${String(err)}`);
  }
}

export function createTopicsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.CreateTopics,
    minVersion: 2,
    maxVersion: 7,
    request: CreateTopicsRequest,
    response: CreateTopicsResponse,
    async handle(request) {
      const repeated = repeatedKeys(request.topics, (t) => t.name);
      const validateOnly = request.validateOnly ?? false;
      const topics: CreateTopicsResponseCreatableTopicResult[] = [];
      const answered = new Set<string>();
      // One at a time: creations touch the shared metadata file, and order makes results deterministic.
      for (const topic of request.topics) {
        if (repeated.has(topic.name)) {
          if (answered.has(topic.name)) continue;
          answered.add(topic.name);
          // Kafka's own words (KRaft ControllerApis), which the Java admin client shows to its user.
          topics.push(failed(topic.name, ErrorCode.INVALID_REQUEST, "Found multiple entries for this topic."));
          continue;
        }
        topics.push(await createOne(services, topic, validateOnly));
      }
      return { ...CreateTopicsResponse.create(), throttleTimeMs: 0, topics };
    },
  });
}
