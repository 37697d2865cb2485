// IncrementalAlterConfigs (key 44), versions 0-1: forwarded to the active controller (handlers/forwarding.ts), which
// applies SET / DELETE / APPEND / SUBTRACT and commits the result; every broker applies the committed ConfigRecords.
import { ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from "../protocol/index.ts";
import { failResources, forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function incrementalAlterConfigsHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.IncrementalAlterConfigs,
    minVersion: 0,
    maxVersion: 1,
    request: IncrementalAlterConfigsRequest,
    response: IncrementalAlterConfigsResponse,
    failAll: (request, _context, errorCode, errorMessage) => ({
      ...IncrementalAlterConfigsResponse.create(),
      responses: failResources(request.resources, errorCode, errorMessage),
    }),
  });
}
