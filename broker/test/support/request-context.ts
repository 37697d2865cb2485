import type { Logger } from "pino";
import type { RequestContext } from "../../src/handlers/handler.ts";

/** A request context for calling a handler directly, as if a request of `apiKey` v`apiVersion` arrived. */
export function requestContext(
  apiKey: number,
  apiVersion: number,
  logger: Logger,
  listenerName = "PLAINTEXT",
): RequestContext {
  return {
    apiKey,
    apiVersion,
    correlationId: 1,
    clientId: "test",
    listenerName,
    connectionId: "c1",
    clientHost: "127.0.0.1",
    logger,
    signal: new AbortController().signal,
    closeAfterResponse: () => undefined,
    letNextStart: () => undefined,
    onResponseSent: () => undefined,
    sendByReference: () => undefined,
  };
}
