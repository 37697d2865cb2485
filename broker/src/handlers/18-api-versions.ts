// ApiVersions (key 18), versions 0-4.
// Answered before anything else on a connection (and before SASL). Advertises the range of every registered handler;
// the response always uses header v0 (frame.ts) and an unsupported newer version gets a v0 answer (dispatcher.ts).
// v3+ requests carry the client's software name and version, which must match Kafka's pattern or INVALID_REQUEST.
import { ApiKey, ApiVersionsRequest, ApiVersionsResponse, ErrorCode } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";

const SOFTWARE_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export function apiVersionsHandler(advertised: () => readonly AnyHandler[]): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.ApiVersions,
    minVersion: 0,
    maxVersion: 4,
    request: ApiVersionsRequest,
    response: ApiVersionsResponse,
    handle(request, context) {
      const apiKeys = advertised()
        .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
        .sort((a, b) => a.apiKey - b.apiKey);
      const body = { ...ApiVersionsResponse.create(), apiKeys };
      if (context.apiVersion >= 3) {
        const name = request.clientSoftwareName ?? "";
        const version = request.clientSoftwareVersion ?? "";
        if (!SOFTWARE_PATTERN.test(name) || !SOFTWARE_PATTERN.test(version)) {
          context.logger.info(
            { name, version },
            "Rejected ApiVersions with an invalid client software name or version",
          );
          return Promise.resolve({ ...body, errorCode: ErrorCode.INVALID_REQUEST });
        }
      }
      return Promise.resolve(body);
    },
  });
}
