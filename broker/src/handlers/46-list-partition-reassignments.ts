// ListPartitionReassignments (key 46), version 0: forwarded to the active controller (handlers/forwarding.ts), which
// lists the ongoing reassignments (replicas, adding and removing) of the given partitions or of every topic.
import { ApiKey, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function failReassignmentList(errorCode: number, errorMessage: string): ListPartitionReassignmentsResponse {
  return { ...ListPartitionReassignmentsResponse.create(), errorCode, errorMessage, topics: [] };
}

export function listPartitionReassignmentsHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.ListPartitionReassignments,
    minVersion: 0,
    maxVersion: 0,
    request: ListPartitionReassignmentsRequest,
    response: ListPartitionReassignmentsResponse,
    failAll: (_request, _context, errorCode, errorMessage) => failReassignmentList(errorCode, errorMessage),
  });
}
