// DescribeGroups (key 15), versions 0-5.
// A group this broker does not know is described as Dead with no error (Kafka does so up to v5); one whose
// __consumer_offsets partition another broker leads, with NOT_COORDINATOR. Member metadata and
// assignments are filled only while the group is Stable, as in Kafka. v3+ may ask for authorized operations: there is
// no authorizer, so, like Kafka without one, every operation a group supports is reported. v4 adds member instance
// ids, v5 is flexible. A group named more than once is described once: a group's members and assignments can make
// one answer large, and clients match answers by group id.
import { ApiKey, DescribeGroupsRequest, DescribeGroupsResponse } from "../protocol/index.ts";
import { defineHandler, OPERATIONS_NOT_REQUESTED, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/** The ACL operations Kafka supports on a group (READ 3, DELETE 6, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11). */
const GROUP_OPERATIONS = [3, 6, 8, 10, 11].reduce((bits, op) => bits | (1 << op), 0);

export function describeGroupsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DescribeGroups,
    minVersion: 0,
    maxVersion: 5,
    request: DescribeGroupsRequest,
    response: DescribeGroupsResponse,
    handle(request, context) {
      const withOperations = context.apiVersion >= 3 && request.includeAuthorizedOperations === true;
      const groups = services.groups.describeGroups([...new Set(request.groups)]).map((g) => ({
        errorCode: g.errorCode,
        groupId: g.groupId,
        groupState: g.groupState,
        protocolType: g.protocolType,
        protocolData: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
        authorizedOperations: withOperations ? GROUP_OPERATIONS : OPERATIONS_NOT_REQUESTED,
      }));
      return Promise.resolve({ ...DescribeGroupsResponse.create(), groups });
    },
  });
}
