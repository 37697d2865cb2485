// DescribeQuorum (key 55), versions 0-2: forwarded to the active controller (handlers/forwarding.ts) in an Envelope,
// as Kafka's brokers forward it, and the client gets the quorum as its leader describes it.
// `kafka-metadata-quorum --bootstrap-server … describe --status / --replication` reads it.
import { ApiKey, DescribeQuorumRequest, DescribeQuorumResponse } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function describeQuorumHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.DescribeQuorum,
    minVersion: 0,
    maxVersion: 2,
    request: DescribeQuorumRequest,
    response: DescribeQuorumResponse,
    failAll: (_request, _context, errorCode, errorMessage) => ({
      ...DescribeQuorumResponse.create(),
      errorCode,
      errorMessage,
    }),
  });
}
