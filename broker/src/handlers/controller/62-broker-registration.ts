// BrokerRegistration (key 62), versions 0-4, controller listener.
// A broker process registers with the active controller at start: the answer carries its broker epoch (the offset of
// its registration record) once that record has committed. See QuorumController.registerBroker for the checks.
import { ApiKey, BrokerRegistrationRequest, BrokerRegistrationResponse, ErrorCode } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function brokerRegistrationHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.BrokerRegistration,
    minVersion: 0,
    maxVersion: 4,
    request: BrokerRegistrationRequest,
    response: BrokerRegistrationResponse,
    handle: (request) =>
      runOrNotController(
        commands,
        (c) => c.registerBroker(request),
        (response) => response,
        () => ({ ...BrokerRegistrationResponse.create(), errorCode: ErrorCode.NOT_CONTROLLER, brokerEpoch: -1n }),
      ),
  });
}
