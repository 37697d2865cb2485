// DeleteTopics (key 20), versions 1-6: forwarded to the active controller (handlers/forwarding.ts), which answers
// once the deletions are committed. v1-5 name topics in topicNames; v6 lists them by name or id.
import { ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, ZERO_UUID } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function deleteTopicsHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.DeleteTopics,
    minVersion: 1,
    maxVersion: 6,
    request: DeleteTopicsRequest,
    response: DeleteTopicsResponse,
    failAll: (request, context, errorCode, errorMessage) => {
      const wanted =
        context.apiVersion >= 6
          ? (request.topics ?? []).map((t) => ({ name: t.name ?? null, topicId: t.topicId ?? ZERO_UUID }))
          : (request.topicNames ?? []).map((name) => ({ name, topicId: ZERO_UUID }));
      return {
        ...DeleteTopicsResponse.create(),
        responses: wanted.map(({ name, topicId }) => ({ name, topicId, errorCode, errorMessage })),
      };
    },
  });
}
