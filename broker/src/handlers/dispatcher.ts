import type { Logger } from "pino";
import {
  ApiKey,
  ApiVersionsResponse,
  DecodeError,
  encodeResponse,
  encodeResponseChunks,
  ErrorCode,
  parseRequestHeader,
  type ApiVersionsResponse as ApiVersionsResponseBody,
} from "../protocol/index.ts";
import type { AnyHandler, RequestContext } from "./handler.ts";

/** What the dispatcher needs of a connection; the network layer's connection context satisfies it. */
export interface DispatchConnection {
  readonly id: string;
  readonly listenerName: string;
  readonly remoteAddress: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  closeAfterResponse(reason: string): void;
  /** See ConnectionContext.letNextStart; absent where requests are not pipelined (forwarded requests, tests). */
  readonly letNextStart?: () => void;
  /** See ConnectionContext.onLost; absent for connections that cannot be lost (forwarded requests, tests). */
  readonly onLost?: (listener: () => void) => void;
}

/** A response as chunks to write in order; `release` once the socket no longer needs them (written or dropped). */
export interface ChunkedResponse {
  readonly chunks: readonly Uint8Array[];
  release(): void;
}

export interface Dispatcher {
  /** The response as one buffer, for callers that keep or forward it (an Envelope, tests). */
  dispatch(frame: Buffer, connection: DispatchConnection): Promise<Buffer | null>;
  /** The response for a socket: values a handler sent by reference (Fetch records) are chunks of their own. */
  dispatchChunks(frame: Buffer, connection: DispatchConnection): Promise<ChunkedResponse | null>;
  /** Whether the frame's API may start behind requests that let the next one start (Handler.pipelined). */
  pipelined(frame: Buffer): boolean;
}

/** Per-request metrics hooks, so the dispatcher does not depend on a metrics library. */
export interface RequestMetrics {
  requestCompleted(apiKey: number, apiVersion: number, seconds: number): void;
  requestFailed(apiKey: number, reason: string): void;
}

export const NO_REQUEST_METRICS: RequestMetrics = {
  requestCompleted: () => undefined,
  requestFailed: () => undefined,
};

export interface DispatcherOptions {
  handlers: readonly AnyHandler[];
  logger: Logger;
  metrics?: RequestMetrics;
}

/** Kafka closes the connection on requests it cannot parse or does not support; the network layer does the closing. */
export class RequestRejected extends Error {
  override readonly name = "RequestRejected";
}

/**
 * Turns request frames into handler calls: parses the header, checks the API and version, decodes the body, runs the
 * handler and encodes its response with the right header version.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const byKey = new Map(options.handlers.map((h) => [h.apiKey, h]));
  const metrics = options.metrics ?? NO_REQUEST_METRICS;
  const apiVersionsRange = byKey.get(ApiKey.ApiVersions);

  const dispatchChunks = async (frame: Buffer, connection: DispatchConnection): Promise<ChunkedResponse | null> => {
    const started = process.hrtime.bigint();
    let parsed;
    try {
      parsed = parseRequestHeader(frame);
    } catch (error) {
      metrics.requestFailed(-1, "malformed_header");
      throw new RequestRejected(`malformed request header: ${String(error)}`);
    }
    const { header } = parsed;
    const apiKey = header.requestApiKey;
    const apiVersion = header.requestApiVersion;
    const handler = byKey.get(apiKey);
    if (!handler) {
      metrics.requestFailed(apiKey, "unsupported_api");
      throw new RequestRejected(`unsupported API key ${apiKey} (version ${apiVersion}) from ${header.clientId ?? "?"}`);
    }
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === ApiKey.ApiVersions && apiVersionsRange) {
        // A client newer than us: answer in v0 with our range so it can retry with a version we speak.
        metrics.requestFailed(apiKey, "unsupported_version");
        const body: ApiVersionsResponseBody = {
          ...ApiVersionsResponse.create(),
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
          apiKeys: [{ apiKey, minVersion: apiVersionsRange.minVersion, maxVersion: apiVersionsRange.maxVersion }],
        };
        return whole(encodeResponse(apiKey, 0, header.correlationId, ApiVersionsResponse, body));
      }
      metrics.requestFailed(apiKey, "unsupported_version");
      throw new RequestRejected(
        `unsupported version ${apiVersion} of API ${apiKey} (supported ${handler.minVersion}-${handler.maxVersion})`,
      );
    }
    let request: unknown;
    try {
      request = handler.request.read(parsed.body, apiVersion);
    } catch (error) {
      metrics.requestFailed(apiKey, "malformed_body");
      if (error instanceof DecodeError) {
        throw new RequestRejected(`malformed ${handler.request.name} v${apiVersion}: ${error.message}`);
      }
      throw error;
    }
    const releases: (() => void)[] = [];
    const byReference = new Set<Uint8Array>();
    const releaseAll = () => {
      for (const release of releases.splice(0)) release();
    };
    const context: RequestContext = {
      apiKey,
      apiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId ?? null,
      listenerName: connection.listenerName,
      connectionId: connection.id,
      clientHost: connection.remoteAddress,
      logger: connection.logger,
      signal: connection.signal,
      closeAfterResponse: (reason) => connection.closeAfterResponse(reason),
      letNextStart: () => connection.letNextStart?.(),
      ...(connection.onLost ? { onConnectionLost: connection.onLost } : {}),
      onResponseSent: (release) => releases.push(release),
      sendByReference: (data) => byReference.add(data),
    };
    let chunks: Uint8Array[];
    try {
      const response = await handler.handle(request, context);
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requestCompleted(apiKey, apiVersion, elapsed);
      if (response === null) {
        releaseAll();
        return null;
      }
      try {
        chunks = encodeResponseChunks(
          apiKey,
          apiVersion,
          header.correlationId,
          handler.response,
          response,
          byReference,
        );
      } catch (error) {
        // A response this version cannot carry is a broker bug: log it loudly and drop the connection cleanly.
        connection.logger.error({ err: error, apiKey, apiVersion }, "Could not encode a response");
        metrics.requestFailed(apiKey, "encode_failed");
        throw new RequestRejected(`could not encode the ${handler.response.name} v${apiVersion}: ${String(error)}`);
      }
    } catch (error) {
      releaseAll();
      throw error;
    }
    return { chunks, release: releaseAll };
  };

  return {
    dispatchChunks,
    // The API key is the request header's first field in every version; a frame too short for it is not pipelined
    // and fails in dispatch like any other malformed header.
    pipelined: (frame) => frame.length >= 2 && byKey.get(frame.readInt16BE(0))?.pipelined === true,
    async dispatch(frame: Buffer, connection: DispatchConnection): Promise<Buffer | null> {
      const response = await dispatchChunks(frame, connection);
      if (response === null) return null;
      try {
        const [first, ...rest] = response.chunks;
        // One chunk is the encoder's own buffer; several are copied out before the referenced ones are released.
        if (first !== undefined && rest.length === 0 && Buffer.isBuffer(first)) return first;
        return Buffer.concat(response.chunks);
      } finally {
        response.release();
      }
    },
  };
}

/** A response already encoded into one buffer of its own. */
function whole(buf: Buffer): ChunkedResponse {
  return { chunks: [buf], release: () => undefined };
}
