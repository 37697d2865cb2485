// CreatePartitions (key 37), versions 0-3, controller listener.
// Grows topics with Kafka's CreatePartitions checks (a topic named twice is INVALID_REQUEST);
// the new partitions are PartitionRecords placed like a new topic's, answered once committed.
import {
  ApiKey,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  ErrorCode,
  type CreatePartitionsResponseCreatePartitionsTopicResult,
} from "../../protocol/index.ts";
import { repeatedKeys } from "../19-create-topics.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

type Result = CreatePartitionsResponseCreatePartitionsTopicResult;

export function controllerCreatePartitionsHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.CreatePartitions,
    minVersion: 0,
    maxVersion: 3,
    request: CreatePartitionsRequest,
    response: CreatePartitionsResponse,
    async handle(request) {
      const repeated = repeatedKeys(request.topics, (t) => t.name);
      const wanted = request.topics
        .filter((t) => !repeated.has(t.name))
        .map((t) => ({ name: t.name, count: t.count, assignments: t.assignments?.map((a) => a.brokerIds) ?? null }));
      const answer = (results: readonly { errorCode: number; errorMessage: string | null }[]): Result[] => {
        let next = 0;
        return request.topics.map((t) => {
          if (repeated.has(t.name)) {
            return { name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "Duplicate topic name." };
          }
          const r = results[next++];
          return {
            name: t.name,
            errorCode: r?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
            errorMessage: r?.errorMessage ?? null,
          };
        });
      };
      const results = await runOrNotController(
        commands,
        (c) => c.createPartitions(wanted, request.validateOnly),
        answer,
        () => answer(wanted.map(() => NOT_CONTROLLER_RESULT)),
      );
      return { ...CreatePartitionsResponse.create(), throttleTimeMs: 0, results };
    },
  });
}
