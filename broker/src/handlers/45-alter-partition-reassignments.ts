// AlterPartitionReassignments (key 45), version 0: forwarded to the active controller (handlers/forwarding.ts), which
// starts, replaces or cancels reassignments and answers once the partition changes are committed.
import { AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/** The answer giving every partition of the request the error. */
export function failReassignments(
  request: AlterPartitionReassignmentsRequest,
  errorCode: number,
  errorMessage: string,
): AlterPartitionReassignmentsResponse {
  return {
    ...AlterPartitionReassignmentsResponse.create(),
    errorCode,
    errorMessage,
    responses: request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage })),
    })),
  };
}

export function alterPartitionReassignmentsHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.AlterPartitionReassignments,
    minVersion: 0,
    maxVersion: 0,
    request: AlterPartitionReassignmentsRequest,
    response: AlterPartitionReassignmentsResponse,
    failAll: (request, _context, errorCode, errorMessage) => failReassignments(request, errorCode, errorMessage),
  });
}
