// LeaveGroup (key 13), versions 0-5.
// v0-2 carry one dynamic member and answer with one error code: the group's, or else that member's. v3+ carry a batch
// of members (an empty member id with an instance id removes a static member, as admin tools do) and answer an error
// per member next to the group-level one. v4 is flexible, v5 adds a reason per member, which only goes to the log.
import { ApiKey, ErrorCode, LeaveGroupRequest, LeaveGroupResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function leaveGroupHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.LeaveGroup,
    minVersion: 0,
    maxVersion: 5,
    request: LeaveGroupRequest,
    response: LeaveGroupResponse,
    handle(request, context) {
      const v = context.apiVersion;
      if (v <= 2) {
        const result = services.groups.leaveGroup({
          groupId: request.groupId,
          members: [{ memberId: request.memberId ?? "", groupInstanceId: null }],
        });
        const errorCode =
          result.errorCode !== ErrorCode.NONE ? result.errorCode : (result.members[0]?.errorCode ?? ErrorCode.NONE);
        return Promise.resolve({ ...LeaveGroupResponse.create(), errorCode });
      }
      const result = services.groups.leaveGroup({
        groupId: request.groupId,
        members: (request.members ?? []).map((m) => ({
          memberId: m.memberId ?? "",
          groupInstanceId: m.groupInstanceId ?? null,
          reason: v >= 5 ? (m.reason ?? null) : null,
        })),
      });
      return Promise.resolve({
        ...LeaveGroupResponse.create(),
        errorCode: result.errorCode,
        members: result.members,
      });
    },
  });
}
