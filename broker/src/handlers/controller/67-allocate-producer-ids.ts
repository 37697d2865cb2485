// AllocateProducerIds (key 67), version 0, controller listener.
// A broker of the current epoch gets the next block of 1000 producer ids, unique cluster-wide (a ProducerIdsRecord).
import { AllocateProducerIdsRequest, AllocateProducerIdsResponse, ApiKey, ErrorCode } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function allocateProducerIdsHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.AllocateProducerIds,
    minVersion: 0,
    maxVersion: 0,
    request: AllocateProducerIdsRequest,
    response: AllocateProducerIdsResponse,
    handle: (request) =>
      runOrNotController(
        commands,
        (c) => c.allocateProducerIds(request),
        (response) => response,
        () => ({ ...AllocateProducerIdsResponse.create(), errorCode: ErrorCode.NOT_CONTROLLER }),
      ),
  });
}
