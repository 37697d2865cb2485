// CreatePartitions (key 37), versions 0-3: forwarded to the active controller (handlers/forwarding.ts), which places
// the new partitions and answers once they are committed.
import { ApiKey, CreatePartitionsRequest, CreatePartitionsResponse } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function createPartitionsHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.CreatePartitions,
    minVersion: 0,
    maxVersion: 3,
    request: CreatePartitionsRequest,
    response: CreatePartitionsResponse,
    failAll: (request, _context, errorCode, errorMessage) => ({
      ...CreatePartitionsResponse.create(),
      results: request.topics.map((t) => ({ name: t.name, errorCode, errorMessage })),
    }),
  });
}
