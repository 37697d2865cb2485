// AlterPartitionReassignments (key 45), version 0, controller listener (brokers forward it in an Envelope).
// Starts, replaces or cancels partition reassignments (controller/replication-commands.ts); answered once committed.
import {
  AlterPartitionReassignmentsRequest,
  AlterPartitionReassignmentsResponse,
  ApiKey,
} from "../../protocol/index.ts";
import { failReassignments } from "../45-alter-partition-reassignments.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function controllerAlterPartitionReassignmentsHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.AlterPartitionReassignments,
    minVersion: 0,
    maxVersion: 0,
    request: AlterPartitionReassignmentsRequest,
    response: AlterPartitionReassignmentsResponse,
    handle: (request) =>
      runOrNotController(
        commands,
        (c) => c.alterPartitionReassignments(request),
        (response): AlterPartitionReassignmentsResponse => response,
        () => failReassignments(request, NOT_CONTROLLER_RESULT.errorCode, NOT_CONTROLLER_RESULT.errorMessage),
      ),
  });
}
