import { apiVersionsHandler } from "./18-api-versions.ts";
import { metadataHandler } from "./03-metadata.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/**
 * Every API this broker serves. ApiVersions advertises exactly this list, so an API is advertised if and only if it
 * has a handler here.
 */
export function createHandlers(services: BrokerServices): AnyHandler[] {
  const handlers: AnyHandler[] = [metadataHandler(services)];
  handlers.push(apiVersionsHandler(() => handlers));
  return handlers;
}
