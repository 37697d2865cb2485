// DeleteTopics (key 20), versions 1-6, controller listener.
// As Kafka's DeleteTopics: v1-5 name topics, v6 names or ids (not both); unknown names answer
// UNKNOWN_TOPIC_OR_PARTITION, unknown ids UNKNOWN_TOPIC_ID, a topic named twice INVALID_REQUEST. Each deleted topic
// is a RemoveTopicRecord, answered once committed; every node's partitions go when they apply it.
import {
  ApiKey,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  ErrorCode,
  ZERO_UUID,
  type DeleteTopicsResponseDeletableTopicResult,
} from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

type Result = DeleteTopicsResponseDeletableTopicResult;
type Wanted = { name: string } | { topicId: string };

function result(name: string | null, topicId: string, errorCode: number, errorMessage: string | null): Result {
  return { name, topicId, errorCode, errorMessage };
}

export function controllerDeleteTopicsHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DeleteTopics,
    minVersion: 1,
    maxVersion: 6,
    request: DeleteTopicsRequest,
    response: DeleteTopicsResponse,
    async handle(request, context) {
      const given =
        context.apiVersion >= 6
          ? (request.topics ?? []).map((t) => ({ name: t.name ?? null, topicId: t.topicId ?? ZERO_UUID }))
          : (request.topicNames ?? []).map((name) => ({ name, topicId: ZERO_UUID }));
      const seen = new Set<string>();
      const slots: (Result | Wanted)[] = given.map(({ name, topicId }) => {
        const byId = topicId !== ZERO_UUID;
        if (name !== null && byId) {
          return result(name, topicId, ErrorCode.INVALID_REQUEST, "You may not specify both topic name and topic id.");
        }
        if (name === null && !byId)
          return result(null, topicId, ErrorCode.INVALID_REQUEST, "A topic needs a name or an id.");
        const key = byId ? `id:${topicId}` : `name:${name}`;
        if (seen.has(key)) return result(name, topicId, ErrorCode.INVALID_REQUEST, "Duplicate topic in request.");
        seen.add(key);
        return name !== null ? { name } : { topicId };
      });
      const isWanted = (s: Result | Wanted): s is Wanted => !("errorCode" in s);
      const wanted = slots.filter(isWanted);
      const responses = await runOrNotController(
        commands,
        (c) => c.deleteTopics(wanted),
        (results) => {
          let next = 0;
          return slots.map((slot) => {
            if (!isWanted(slot)) return slot;
            const r = results[next++];
            return r ?? result(null, ZERO_UUID, ErrorCode.UNKNOWN_SERVER_ERROR, null);
          });
        },
        () =>
          slots.map((slot) =>
            isWanted(slot)
              ? result(
                  "name" in slot ? slot.name : null,
                  "topicId" in slot ? slot.topicId : ZERO_UUID,
                  NOT_CONTROLLER_RESULT.errorCode,
                  NOT_CONTROLLER_RESULT.errorMessage,
                )
              : slot,
          ),
      );
      return { ...DeleteTopicsResponse.create(), throttleTimeMs: 0, responses };
    },
  });
}
