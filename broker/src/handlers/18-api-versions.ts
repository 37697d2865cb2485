// ApiVersions (key 18), versions 0-4.
// Answered before anything else on a connection (and before SASL). Advertises the range of every registered handler;
// the response always uses header v0 (frame.ts) and an unsupported newer version gets a v0 answer (dispatcher.ts).
// v3+ requests carry the client's software name and version, which must match Kafka's pattern or INVALID_REQUEST.
// With a features source (both listeners of a KRaft node), v3+ answers also carry the features this node supports
// and the cluster's finalized levels with their epoch (the image's offset), as Kafka's brokers and controllers do:
// `kafka-features describe` reads them. Levels of 0 are left out, and below v4 so are supported ranges starting at 0
// (KAFKA-17492).
import { SUPPORTED_FEATURES } from "../controller/index.ts";
import { ApiKey, ApiVersionsRequest, ApiVersionsResponse, ErrorCode } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";

const SOFTWARE_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/** The cluster's finalized feature levels and the epoch (metadata offset) they were read at. */
export type FinalizedFeatures = () => { epoch: bigint; levels: ReadonlyMap<string, number> };

export function apiVersionsHandler(advertised: () => readonly AnyHandler[], features?: FinalizedFeatures): AnyHandler {
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
      if (context.apiVersion < 3) return Promise.resolve(body);
      const name = request.clientSoftwareName ?? "";
      const version = request.clientSoftwareVersion ?? "";
      if (!SOFTWARE_PATTERN.test(name) || !SOFTWARE_PATTERN.test(version)) {
        context.logger.info({ name, version }, "Rejected ApiVersions with an invalid client software name or version");
        return Promise.resolve({ ...body, errorCode: ErrorCode.INVALID_REQUEST });
      }
      if (!features) return Promise.resolve(body);
      const { epoch, levels } = features();
      return Promise.resolve({
        ...body,
        supportedFeatures: [...SUPPORTED_FEATURES]
          .filter(([, range]) => context.apiVersion >= 4 || range.min > 0)
          .map(([name, range]) => ({ name, minVersion: range.min, maxVersion: range.max })),
        finalizedFeaturesEpoch: epoch,
        finalizedFeatures: [...levels]
          .filter(([, level]) => level !== 0)
          .map(([name, level]) => ({ name, minVersionLevel: level, maxVersionLevel: level })),
      });
    },
  });
}
