// IncrementalAlterConfigs (key 44), versions 0-1, controller listener.
// SET, DELETE, APPEND and SUBTRACT on single keys, as Kafka's IncrementalAlterConfigs, for TOPIC and
// BROKER resources (see 33-alter-configs.ts); each change is a ConfigRecord, answered once committed.
import { ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { alterResources } from "./alter-configs.ts";
import type { ControllerCommands } from "./services.ts";

export function controllerIncrementalAlterConfigsHandler(commands: ControllerCommands): AnyHandler {
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
      const responses = await alterResources(commands, resources, "incremental", request.validateOnly);
      return { ...IncrementalAlterConfigsResponse.create(), throttleTimeMs: 0, responses };
    },
  });
}
