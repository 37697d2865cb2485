// AlterConfigs (key 33), versions 0-2: forwarded to the active controller (handlers/forwarding.ts), which checks and
// commits topic and broker config changes; every broker applies them from the committed ConfigRecords.
import { AlterConfigsRequest, AlterConfigsResponse, ApiKey } from "../protocol/index.ts";
import { failResources, forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function alterConfigsHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.AlterConfigs,
    minVersion: 0,
    maxVersion: 2,
    request: AlterConfigsRequest,
    response: AlterConfigsResponse,
    failAll: (request, _context, errorCode, errorMessage) => ({
      ...AlterConfigsResponse.create(),
      responses: failResources(request.resources, errorCode, errorMessage),
    }),
  });
}
