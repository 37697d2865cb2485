// Heartbeat (key 12), versions 0-4.
// Keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin, ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID
// that it was left behind. v3 adds group.instance.id (FENCED_INSTANCE_ID for a replaced static member), v4 is flexible.
import { ApiKey, HeartbeatRequest, HeartbeatResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function heartbeatHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.Heartbeat,
    minVersion: 0,
    maxVersion: 4,
    request: HeartbeatRequest,
    response: HeartbeatResponse,
    handle(request, context) {
      const { errorCode } = services.groups.heartbeat({
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: context.apiVersion >= 3 ? (request.groupInstanceId ?? null) : null,
      });
      return Promise.resolve({ ...HeartbeatResponse.create(), errorCode });
    },
  });
}
