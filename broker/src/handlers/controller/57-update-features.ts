// UpdateFeatures (key 57), versions 0-2, controller listener.
// Finalizes feature levels (metadata.version) by Kafka's upgrade and downgrade rules; all updates apply together or
// none does. v0 says allowDowngrade, v1+ an upgrade type. validateOnly checks and writes nothing.
import { ApiKey, UpdateFeaturesRequest, UpdateFeaturesResponse } from "../../protocol/index.ts";
import { failFeatureUpdates } from "../57-update-features.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import { NOT_CONTROLLER_RESULT, runOrNotController } from "./command.ts";
import type { ControllerCommands } from "./services.ts";

export function updateFeaturesHandler(commands: ControllerCommands): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.UpdateFeatures,
    minVersion: 0,
    maxVersion: 2,
    request: UpdateFeaturesRequest,
    response: UpdateFeaturesResponse,
    handle: (request, context) =>
      runOrNotController(
        commands,
        (c) => c.updateFeatures(request, context.apiVersion),
        (response): UpdateFeaturesResponse => response,
        () => failFeatureUpdates(request, NOT_CONTROLLER_RESULT.errorCode, NOT_CONTROLLER_RESULT.errorMessage),
      ),
  });
}
