// CreatePartitions (key 37), versions 0-3.
// Grows topics to `count` partitions; shrinking or keeping the count is INVALID_PARTITIONS. Explicit assignments must
// list one replica list per new partition, each exactly this node (INVALID_REPLICA_ASSIGNMENT otherwise).
// validate_only runs the checks and changes nothing. A topic named twice answers INVALID_REQUEST for that topic.
import {
  ApiKey,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  ErrorCode,
  type CreatePartitionsResponseCreatePartitionsTopicResult,
} from "../protocol/index.ts";
import { repeatedKeys } from "./19-create-topics.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

type Result = CreatePartitionsResponseCreatePartitionsTopicResult;

export function createPartitionsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.CreatePartitions,
    minVersion: 0,
    maxVersion: 3,
    request: CreatePartitionsRequest,
    response: CreatePartitionsResponse,
    async handle(request) {
      const repeated = repeatedKeys(request.topics, (t) => t.name);
      const results: Result[] = [];
      const answered = new Set<string>();
      for (const topic of request.topics) {
        if (repeated.has(topic.name)) {
          if (!answered.has(topic.name)) {
            answered.add(topic.name);
            results.push({
              name: topic.name,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: "Duplicate topic in request.",
            });
          }
          continue;
        }
        try {
          const outcome = await services.admin.createPartitions(
            topic.name,
            topic.count,
            request.validateOnly,
            topic.assignments?.map((a) => a.brokerIds),
          );
          results.push({ name: topic.name, ...outcome });
        } catch (err) {
          services.logger.error({ err, topic: topic.name }, "CreatePartitions failed");
          results.push({
            name: topic.name,
            errorCode: ErrorCode.UNKNOWN_SERVER_ERROR,
            errorMessage: `could not create partitions: ${String(err)}`,
          });
        }
      }
      return { ...CreatePartitionsResponse.create(), throttleTimeMs: 0, results };
    },
  });
}
