// UpdateFeatures (key 57), versions 0-2: forwarded to the active controller (handlers/forwarding.ts), which finalizes
// the levels (metadata.version) and answers once they are committed.
import { ApiKey, UpdateFeaturesRequest, UpdateFeaturesResponse } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/** The answer giving the request and every feature update in it the error. */
export function failFeatureUpdates(
  request: UpdateFeaturesRequest,
  errorCode: number,
  errorMessage: string,
): UpdateFeaturesResponse {
  return {
    ...UpdateFeaturesResponse.create(),
    errorCode,
    errorMessage,
    results: request.featureUpdates.map((u) => ({ feature: u.feature, errorCode, errorMessage })),
  };
}

export function updateFeaturesHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.UpdateFeatures,
    minVersion: 0,
    maxVersion: 2,
    request: UpdateFeaturesRequest,
    response: UpdateFeaturesResponse,
    failAll: (request, _context, errorCode, errorMessage) => failFeatureUpdates(request, errorCode, errorMessage),
  });
}
