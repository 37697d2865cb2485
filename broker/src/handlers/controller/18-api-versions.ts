// ApiVersions (key 18), versions 0-4, controller listener.
// The broker listener's answer (every registered API's range) plus, from v3, the features this controller supports
// and the cluster's finalized levels with their epoch (the committed image's offset), as Kafka's controllers answer
// it: `kafka-features --bootstrap-controller describe` reads them. Levels of 0 are left out, and below v4 so are
// supported ranges starting at 0 (KAFKA-17492).
import { SUPPORTED_FEATURES } from "../../controller/index.ts";
import { ApiKey, ApiVersionsRequest, ApiVersionsResponse, ErrorCode } from "../../protocol/index.ts";
import { apiVersionsHandler } from "../18-api-versions.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { ControllerCommands } from "./services.ts";

export function controllerApiVersionsHandler(
  advertised: () => readonly AnyHandler[],
  commands: ControllerCommands,
): AnyHandler {
  const plain = apiVersionsHandler(advertised);
  return defineHandler({
    apiKey: ApiKey.ApiVersions,
    minVersion: plain.minVersion,
    maxVersion: plain.maxVersion,
    request: ApiVersionsRequest,
    response: ApiVersionsResponse,
    async handle(request, context) {
      const body = (await plain.handle(request, context)) as ApiVersionsResponse;
      if (context.apiVersion < 3 || body.errorCode !== ErrorCode.NONE) return body;
      const { epoch, levels } = commands.finalizedFeatures();
      return {
        ...body,
        supportedFeatures: [...SUPPORTED_FEATURES]
          .filter(([, range]) => context.apiVersion >= 4 || range.min > 0)
          .map(([name, range]) => ({ name, minVersion: range.min, maxVersion: range.max })),
        finalizedFeaturesEpoch: epoch,
        finalizedFeatures: [...levels]
          .filter(([, level]) => level !== 0)
          .map(([name, level]) => ({ name, minVersionLevel: level, maxVersionLevel: level })),
      };
    },
  });
}
