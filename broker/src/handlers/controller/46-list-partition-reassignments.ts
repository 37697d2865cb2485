// ListPartitionReassignments (key 46), version 0, controller listener (brokers forward it in an Envelope).
// The ongoing reassignments of the given partitions, or of every topic, once the controller's view has committed.
import { ApiKey, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse } from "../../protocol/index.ts";
import { failReassignmentList } from "../46-list-partition-reassignments.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function controllerListPartitionReassignmentsHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.ListPartitionReassignments,
    minVersion: 0,
    maxVersion: 0,
    request: ListPartitionReassignmentsRequest,
    response: ListPartitionReassignmentsResponse,
    handle: (request) =>
      runOrNotController(
        commands,
        (c) => c.listPartitionReassignments(request),
        (response): ListPartitionReassignmentsResponse => response,
        () => failReassignmentList(NOT_CONTROLLER_RESULT.errorCode, NOT_CONTROLLER_RESULT.errorMessage),
      ),
  });
}
