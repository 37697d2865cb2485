// UnregisterBroker (key 64), version 0 (KIP-631): forwarded to the active controller (handlers/forwarding.ts), which
// removes the broker's registration, as `kafka-cluster unregister --id N` asks of any broker.
import { ApiKey, UnregisterBrokerRequest, UnregisterBrokerResponse } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function unregisterBrokerHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.UnregisterBroker,
    minVersion: 0,
    maxVersion: 0,
    request: UnregisterBrokerRequest,
    response: UnregisterBrokerResponse,
    failAll: (_request, _context, errorCode, errorMessage) => ({
      ...UnregisterBrokerResponse.create(),
      errorCode,
      errorMessage,
    }),
  });
}
