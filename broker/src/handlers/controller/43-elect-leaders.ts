// ElectLeaders (key 43), versions 0-2, controller listener (brokers forward it in an Envelope).
// PREFERRED or UNCLEAN elections with Kafka's per-partition errors (controller/replication-commands.ts), answered
// once the partition changes have committed.
import { ApiKey, ElectLeadersRequest, ElectLeadersResponse } from "../../protocol/index.ts";
import { failElections } from "../43-elect-leaders.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function controllerElectLeadersHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.ElectLeaders,
    minVersion: 0,
    maxVersion: 2,
    request: ElectLeadersRequest,
    response: ElectLeadersResponse,
    handle: (request, context) =>
      runOrNotController(
        commands,
        (c) => c.electLeaders(request, context.apiVersion),
        (response): ElectLeadersResponse => response,
        () => failElections(request, NOT_CONTROLLER_RESULT.errorCode, NOT_CONTROLLER_RESULT.errorMessage),
      ),
  });
}
