// ControllerRegistration (key 70), version 0, controller listener (KIP-919).
// Each controller, voter or observer, registers its listeners with the active controller at start; DescribeCluster
// on the controller listener lists the registered ones. See QuorumController.registerController.
import { ApiKey, ControllerRegistrationRequest, ControllerRegistrationResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function controllerRegistrationHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.ControllerRegistration,
    minVersion: 0,
    maxVersion: 0,
    request: ControllerRegistrationRequest,
    response: ControllerRegistrationResponse,
    handle: (request) =>
      runOrNotController(
        commands,
        (c) => c.registerController(request),
        (response) => response,
        () => ({ ...ControllerRegistrationResponse.create(), ...NOT_CONTROLLER_RESULT }),
      ),
  });
}
