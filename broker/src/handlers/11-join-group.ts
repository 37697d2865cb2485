// JoinGroup (key 11), versions 0-9.
// The classic group coordinator does the work; this translates versions. v0 has no rebalance timeout, so the session
// timeout stands in for it (-1 tells the coordinator). v4+ (KIP-394): a dynamic member without an id first gets
// MEMBER_ID_REQUIRED with its new id and joins again with it. v5 adds group.instance.id (static membership); v6 is
// flexible; v7 returns protocolType and a nullable protocolName (v0-6 cannot say null, so they get ""); v8 carries a
// reason; v9 lets a rejoining static leader skip the assignment (KIP-814).
// The response is held until the rebalance completes, which may take up to the rebalance timeout.
import { ApiKey, JoinGroupRequest, JoinGroupResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler, type RequestContext } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/** Kafka records a member's host as Java prints an InetAddress without a name ("/127.0.0.1"); tools show it as is. */
function clientHostOf(context: Pick<RequestContext, "clientHost">): string {
  return `/${context.clientHost}`;
}

export function joinGroupHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.JoinGroup,
    minVersion: 0,
    maxVersion: 9,
    request: JoinGroupRequest,
    response: JoinGroupResponse,
    async handle(request, context) {
      const v = context.apiVersion;
      const result = await services.groups.joinGroup({
        groupId: request.groupId,
        memberId: request.memberId,
        groupInstanceId: v >= 5 ? (request.groupInstanceId ?? null) : null,
        protocolType: request.protocolType,
        protocols: request.protocols,
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: v >= 1 ? (request.rebalanceTimeoutMs ?? -1) : -1,
        clientId: context.clientId ?? "",
        clientHost: clientHostOf(context),
        requireKnownMemberId: v >= 4,
        supportSkippingAssignment: v >= 9,
        reason: v >= 8 ? (request.reason ?? null) : null,
      });
      return {
        ...JoinGroupResponse.create(),
        errorCode: result.errorCode,
        generationId: result.generationId,
        protocolType: result.protocolType,
        protocolName: v >= 7 ? result.protocolName : (result.protocolName ?? ""),
        leader: result.leader,
        skipAssignment: result.skipAssignment,
        memberId: result.memberId,
        members: result.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          metadata: m.metadata,
        })),
      };
    },
  });
}
