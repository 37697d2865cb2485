// IncrementalAlterConfigs (key 44), versions 0-1.
// Changes single keys and leaves the rest: SET (0) sets a value, DELETE (1) returns the key to its default, APPEND
// (2) and SUBTRACT (3) add or remove items of a list config (cleanup.policy), starting from the effective value.
// Resources are as in AlterConfigs: TOPIC (2), and BROKER (4) named by this node's id or "" for the dynamic broker
// defaults of the topic configs' broker keys. Changes reach the partitions' storage settings at once. A key named
// twice in one resource is INVALID_REQUEST; APPEND/SUBTRACT on a non-list key and invalid values are INVALID_CONFIG.
import { ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from "../protocol/index.ts";
import { alterResources } from "./33-alter-configs.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function incrementalAlterConfigsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.IncrementalAlterConfigs,
    minVersion: 0,
    maxVersion: 1,
    request: IncrementalAlterConfigsRequest,
    response: IncrementalAlterConfigsResponse,
    async handle(request) {
      const resources = request.resources.map((r) => ({
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        changes: r.configs.map((c) => ({ name: c.name, operation: c.configOperation, value: c.value })),
      }));
      const responses = await alterResources(services, resources, {
        mode: "incremental",
        validateOnly: request.validateOnly,
      });
      return { ...IncrementalAlterConfigsResponse.create(), throttleTimeMs: 0, responses };
    },
  });
}
