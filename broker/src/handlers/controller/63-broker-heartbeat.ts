// BrokerHeartbeat (key 63), versions 0-1, controller listener.
// Keeps a broker's session alive and moves it between fenced, unfenced and controlled shutdown; answered once any
// records it caused have committed. See QuorumController.heartbeat.
import { ApiKey, BrokerHeartbeatRequest, BrokerHeartbeatResponse, ErrorCode } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function brokerHeartbeatHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.BrokerHeartbeat,
    minVersion: 0,
    maxVersion: 1,
    request: BrokerHeartbeatRequest,
    response: BrokerHeartbeatResponse,
    handle: (request) =>
      runOrNotController(
        commands,
        (c) => c.heartbeat(request),
        (response) => response,
        () => ({ ...BrokerHeartbeatResponse.create(), errorCode: ErrorCode.NOT_CONTROLLER, isFenced: true }),
      ),
  });
}
