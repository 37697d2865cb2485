// ElectLeaders (key 43), versions 0-2: forwarded to the active controller (handlers/forwarding.ts), which elects
// preferred (or, v1+, unclean) leaders and answers once the changes are committed and this broker's image has them.
import { ApiKey, ElectLeadersRequest, ElectLeadersResponse } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/** The answer giving every partition of the request (none when it named none) the error. */
export function failElections(
  request: ElectLeadersRequest,
  errorCode: number,
  errorMessage: string,
): ElectLeadersResponse {
  return {
    ...ElectLeadersResponse.create(),
    errorCode,
    replicaElectionResults: (request.topicPartitions ?? []).map((t) => ({
      topic: t.topic,
      partitionResult: t.partitions.map((partitionId) => ({ partitionId, errorCode, errorMessage })),
    })),
  };
}

export function electLeadersHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.ElectLeaders,
    minVersion: 0,
    maxVersion: 2,
    request: ElectLeadersRequest,
    response: ElectLeadersResponse,
    failAll: (request, _context, errorCode, errorMessage) => failElections(request, errorCode, errorMessage),
  });
}
