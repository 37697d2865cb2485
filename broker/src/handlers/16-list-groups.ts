// ListGroups (key 16), versions 0-5.
// Every group this broker coordinates: those of the __consumer_offsets partitions it leads (admin clients ask every
// broker), or COORDINATOR_LOAD_IN_PROGRESS while one of them is loading. v3 is flexible; v4 adds a states filter and
// each group's state; v5 a types filter and each group's type, always "classic" here. Filters compare
// case-insensitively and an empty filter matches everything, as in Kafka.
import { ApiKey, ListGroupsRequest, ListGroupsResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function listGroupsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.ListGroups,
    minVersion: 0,
    maxVersion: 5,
    request: ListGroupsRequest,
    response: ListGroupsResponse,
    handle(request, context) {
      const v = context.apiVersion;
      const result = services.groups.listGroups({
        statesFilter: v >= 4 ? (request.statesFilter ?? []) : [],
        typesFilter: v >= 5 ? (request.typesFilter ?? []) : [],
      });
      return Promise.resolve({
        ...ListGroupsResponse.create(),
        errorCode: result.errorCode,
        groups: result.groups.map((g) => ({
          groupId: g.groupId,
          protocolType: g.protocolType,
          groupState: g.groupState,
          groupType: g.groupType,
        })),
      });
    },
  });
}
