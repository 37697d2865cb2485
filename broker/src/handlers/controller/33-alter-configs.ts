// AlterConfigs (key 33), versions 0-2, controller listener.
// Replace semantics, as Kafka's AlterConfigs: the configs given become the resource's whole override
// set. TOPIC (2), and BROKER (4) named "" (the cluster-wide default) or by a broker id (that broker's overrides).
import { AlterConfigsRequest, AlterConfigsResponse, ApiKey } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { alterResources } from "./alter-configs.ts";
import type { ControllerCommands } from "./services.ts";

export function controllerAlterConfigsHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.AlterConfigs,
    minVersion: 0,
    maxVersion: 2,
    request: AlterConfigsRequest,
    response: AlterConfigsResponse,
    async handle(request) {
      const resources = request.resources.map((r) => ({
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        changes: r.configs.map((c) => ({ name: c.name, operation: 0, value: c.value })),
      }));
      const responses = await alterResources(commands, resources, "replace", request.validateOnly);
      return { ...AlterConfigsResponse.create(), throttleTimeMs: 0, responses };
    },
  });
}
