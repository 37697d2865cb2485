// DeleteTopics (key 20), versions 1-6.
// v1-5 name topics in topicNames; v6 lists topics by name or by id (not both). Each topic gets its own result with
// an error message (v5+) and, from v6, both its name and id. Unknown names answer UNKNOWN_TOPIC_OR_PARTITION, unknown
// ids UNKNOWN_TOPIC_ID; a topic named twice answers INVALID_REQUEST. Deletion is synchronous: once answered, the
// topic is gone from Metadata and its partition directories are removed.
import {
  ApiKey,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  ErrorCode,
  ZERO_UUID,
  type DeleteTopicsResponseDeletableTopicResult,
} from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

type Result = DeleteTopicsResponseDeletableTopicResult;

function result(name: string | null, topicId: string, errorCode: number, errorMessage: string | null): Result {
  return { name, topicId, errorCode, errorMessage };
}

async function deleteByName(services: BrokerServices, name: string, topicId: string): Promise<Result> {
  try {
    const outcome = await services.admin.deleteTopic(name);
    return result(name, topicId, outcome.errorCode, outcome.errorMessage);
  } catch (err) {
    services.logger.error({ err, topic: name }, "DeleteTopics failed");
    return result(name, topicId, ErrorCode.UNKNOWN_SERVER_ERROR, `could not delete topic: ${String(err)}`);
  }
}

export function deleteTopicsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DeleteTopics,
    minVersion: 1,
    maxVersion: 6,
    request: DeleteTopicsRequest,
    response: DeleteTopicsResponse,
    async handle(request, context) {
      const wanted =
        context.apiVersion >= 6
          ? (request.topics ?? []).map((t) => ({ name: t.name ?? null, topicId: t.topicId ?? ZERO_UUID }))
          : (request.topicNames ?? []).map((name) => ({ name, topicId: ZERO_UUID }));
      const seen = new Set<string>();
      const responses: Result[] = [];
      for (const { name, topicId } of wanted) {
        const byId = topicId !== ZERO_UUID;
        if (name !== null && byId) {
          responses.push(
            result(name, topicId, ErrorCode.INVALID_REQUEST, "You may not specify both topic name and topic id."),
          );
          continue;
        }
        if (name === null && !byId) {
          responses.push(result(null, topicId, ErrorCode.INVALID_REQUEST, "A topic needs a name or an id."));
          continue;
        }
        const key = byId ? `id:${topicId}` : `name:${name}`;
        if (seen.has(key)) {
          responses.push(result(name, topicId, ErrorCode.INVALID_REQUEST, "Duplicate topic in request."));
          continue;
        }
        seen.add(key);
        if (byId) {
          const topic = services.topics.getById(topicId);
          responses.push(
            topic
              ? await deleteByName(services, topic.name, topicId)
              : result(null, topicId, ErrorCode.UNKNOWN_TOPIC_ID, `Topic id ${topicId} does not exist.`),
          );
        } else {
          const topic = services.topics.get(name ?? "");
          responses.push(await deleteByName(services, name ?? "", topic?.id ?? ZERO_UUID));
        }
      }
      return { ...DeleteTopicsResponse.create(), throttleTimeMs: 0, responses };
    },
  });
}
