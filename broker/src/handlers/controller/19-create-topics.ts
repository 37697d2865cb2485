// CreateTopics (key 19), versions 2-7, controller listener.
// The controller's side of topic creation: Kafka's checks and answers for CreateTopics (metadata/topic-rules.ts;
// names given twice fail with INVALID_REQUEST, each topic succeeds or fails on its own, validate_only writes
// nothing), with replicas placed over the registered, unfenced brokers. Created topics are answered once their
// records have committed. `__consumer_offsets` asked for with -1/-1 gets the offsets.topic.* settings.
import type { CreateTopicRequest } from "../../metadata/topic-rules.ts";
import {
  ApiKey,
  CreateTopicsRequest,
  CreateTopicsResponse,
  ErrorCode,
  ZERO_UUID,
  type CreateTopicsRequestCreatableTopic,
  type CreateTopicsResponseCreatableTopicResult,
} from "../../protocol/index.ts";
import { repeatedKeys } from "../19-create-topics.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

type Result = CreateTopicsResponseCreatableTopicResult;

function failed(name: string, errorCode: number, errorMessage: string | null): Result {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: [] };
}

/** The request's topic as a command, or why it is malformed. */
function command(topic: CreateTopicsRequestCreatableTopic, validateOnly: boolean): CreateTopicRequest | Result {
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
  return {
    name: topic.name,
    numPartitions: topic.numPartitions,
    replicationFactor: topic.replicationFactor,
    assignments,
    configs,
    validateOnly,
  };
}

export function controllerCreateTopicsHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.CreateTopics,
    minVersion: 2,
    maxVersion: 7,
    request: CreateTopicsRequest,
    response: CreateTopicsResponse,
    async handle(request) {
      const repeated = repeatedKeys(request.topics, (t) => t.name);
      const validateOnly = request.validateOnly ?? false;
      const slots: (Result | CreateTopicRequest)[] = [];
      const answered = new Set<string>();
      for (const topic of request.topics) {
        if (repeated.has(topic.name)) {
          if (answered.has(topic.name)) continue;
          answered.add(topic.name);
          slots.push(failed(topic.name, ErrorCode.INVALID_REQUEST, "Found multiple entries for this topic."));
          continue;
        }
        slots.push(command(topic, validateOnly));
      }
      const wanted = slots.filter((s): s is CreateTopicRequest => "validateOnly" in s);
      const topics = await runOrNotController(
        commands,
        (c) => c.createTopics(wanted),
        (results) => {
          let next = 0;
          return slots.map((slot): Result => {
            if (!("validateOnly" in slot)) return slot;
            const r = results[next++];
            if (r === undefined || r.errorCode !== ErrorCode.NONE) {
              return failed(slot.name, r?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR, r?.errorMessage ?? null);
            }
            return {
              name: slot.name,
              topicId: r.topicId,
              errorCode: ErrorCode.NONE,
              errorMessage: null,
              numPartitions: r.numPartitions,
              replicationFactor: r.replicationFactor,
              configs: r.configs.map((c) => ({
                name: c.name,
                value: c.isSensitive ? null : c.value,
                readOnly: c.readOnly,
                configSource: c.sourceCode,
                isSensitive: c.isSensitive,
              })),
            };
          });
        },
        () =>
          slots.map((slot) =>
            "validateOnly" in slot
              ? failed(slot.name, NOT_CONTROLLER_RESULT.errorCode, NOT_CONTROLLER_RESULT.errorMessage)
              : slot,
          ),
      );
      return { ...CreateTopicsResponse.create(), throttleTimeMs: 0, topics };
    },
  });
}
