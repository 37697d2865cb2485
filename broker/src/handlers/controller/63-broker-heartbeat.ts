// BrokerHeartbeat (key 63), versions 0-1, controller listener.
// Keeps a broker's session alive and moves it between fenced, unfenced and controlled shutdown; answered once any
// records it caused have committed. See QuorumController.heartbeat. The connection a heartbeat came on is watched:
// once it is lost, the controller fences the brokers that heartbeat on it after broker.connection.loss.grace.ms
// unless they heartbeat again elsewhere first (QuorumController.heartbeatConnectionLost, ADR 26), at once if nothing
// listens at their address any more (ADR 32).
import { ApiKey, BrokerHeartbeatRequest, BrokerHeartbeatResponse, ErrorCode } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler, type RequestContext } from "../handler.ts";
import { runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function brokerHeartbeatHandler(commands: ControllerCommands): AnyHandler {
  /** Connections already watched, so a long-lived one gets one listener, not one per heartbeat. */
  const watched = new Set<string>();
  const watch = (context: RequestContext): string | undefined => {
    const onLost = context.onConnectionLost;
    if (onLost === undefined) return undefined;
    const id = context.connectionId;
    if (!watched.has(id)) {
      watched.add(id);
      onLost(() => {
        watched.delete(id);
        // Not the active controller (any more): the sessions it kept are gone, and there is nothing to shorten.
        commands
          .heartbeatConnectionLost(id, context.clientHost)
          .catch((err: unknown) => context.logger.debug({ err }, "A lost heartbeat connection was not reported"));
      });
    }
    return id;
  };
  return defineHandler({
    apiKey: ApiKey.BrokerHeartbeat,
    minVersion: 0,
    maxVersion: 1,
    request: BrokerHeartbeatRequest,
    response: BrokerHeartbeatResponse,
    handle: (request, context) => {
      const connectionId = watch(context);
      return runOrNotController(
        commands,
        (c) => c.heartbeat(request, connectionId),
        (response) => response,
        () => ({ ...BrokerHeartbeatResponse.create(), errorCode: ErrorCode.NOT_CONTROLLER, isFenced: true }),
      );
    },
  });
}
