// UnregisterBroker (key 64), version 0, controller listener: the active controller removes the registration (see
// QuorumController.unregisterBroker); Kafka's admin client sends it here directly with --bootstrap-controller.
import { ApiKey, UnregisterBrokerRequest, UnregisterBrokerResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function unregisterBrokerHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.UnregisterBroker,
    minVersion: 0,
    maxVersion: 0,
    request: UnregisterBrokerRequest,
    response: UnregisterBrokerResponse,
    handle: (request) =>
      runOrNotController(
        commands,
        (c) => c.unregisterBroker(request),
        (response) => response,
        () => ({ ...UnregisterBrokerResponse.create(), ...NOT_CONTROLLER_RESULT }),
      ),
  });
}
