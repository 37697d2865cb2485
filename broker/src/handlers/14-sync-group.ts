// SyncGroup (key 14), versions 0-5.
// The leader sends the assignments it computed; every member (leader included) gets its own back once the coordinator
// has stored them, so followers that sync first wait here. v3 adds group.instance.id, v4 is flexible, v5 sends the
// protocol type and name both ways: the coordinator checks them against the group's (INCONSISTENT_GROUP_PROTOCOL) and
// the response echoes the group's. Older versions skip that check (null).
import { ApiKey, SyncGroupRequest, SyncGroupResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function syncGroupHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.SyncGroup,
    minVersion: 0,
    maxVersion: 5,
    request: SyncGroupRequest,
    response: SyncGroupResponse,
    async handle(request, context) {
      const v = context.apiVersion;
      const result = await services.groups.syncGroup({
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: v >= 3 ? (request.groupInstanceId ?? null) : null,
        protocolType: v >= 5 ? (request.protocolType ?? null) : null,
        protocolName: v >= 5 ? (request.protocolName ?? null) : null,
        assignments: request.assignments,
      });
      return {
        ...SyncGroupResponse.create(),
        errorCode: result.errorCode,
        protocolType: result.protocolType,
        protocolName: result.protocolName,
        assignment: result.assignment,
      };
    },
  });
}
