// DeleteGroups (key 42), versions 0-2.
// Deletes groups with their committed offsets, each with its own result: only an Empty group can go (NON_EMPTY_GROUP
// otherwise, GROUP_ID_NOT_FOUND for a group that does not exist). Answered once the deletions are in the offsets log,
// so a restart cannot bring a deleted group back. v2 is flexible.
import { ApiKey, DeleteGroupsRequest, DeleteGroupsResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function deleteGroupsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DeleteGroups,
    minVersion: 0,
    maxVersion: 2,
    request: DeleteGroupsRequest,
    response: DeleteGroupsResponse,
    async handle(request) {
      const results = await services.groups.deleteGroups(request.groupsNames);
      return { ...DeleteGroupsResponse.create(), results };
    },
  });
}
