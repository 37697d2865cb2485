import type { Logger } from "pino";
import type { MessageCodec } from "../protocol/index.ts";

/** What a handler may know about the request beyond its body. Sockets stay in the network layer. */
export interface RequestContext {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** The listener the request arrived on: Metadata answers with that listener's advertised address. */
  readonly listenerName: string;
  readonly connectionId: string;
  readonly clientHost: string;
  readonly logger: Logger;
  /** Aborted when the connection closes or the broker stops, so long waits end early. */
  readonly signal: AbortSignal;
  /** Close the connection after this request's response (or right away when there is none). */
  closeAfterResponse(reason: string): void;
  /**
   * The connection may start its next request now if that one is pipelined (Handler.pipelined), while this one goes
   * on waiting; this one's response still goes out first. Only for a handler whose remaining work no later request
   * depends on (an acks=all Produce once its appends are done); closeAfterResponse, if at all, must come before it.
   */
  letNextStart(): void;
  /**
   * Calls `listener` once the connection this request came on is lost (closed by the peer or broken, not by this
   * process shutting down). Absent when the request did not come on a connection of its own (forwarded in an
   * Envelope) or in tests.
   */
  readonly onConnectionLost?: (listener: () => void) => void;
  /**
   * Runs `release` once nothing needs the response's bytes any more: it has been written to the socket, or dropped.
   * A handler can so answer with views of pooled buffers (Fetch records) that it gives back afterwards.
   */
  onResponseSent(release: () => void): void;
  /**
   * Asks that `data`, a byte value of the response (Fetch records), go to the socket by reference, as a chunk of its
   * own, instead of being copied into the encoded response. It must stay unchanged until onResponseSent.
   */
  sendByReference(data: Uint8Array): void;
}

/** Kafka's value for authorized-operations fields the client did not ask for. */
export const OPERATIONS_NOT_REQUESTED = -2147483648;

/**
 * One Kafka API. `minVersion`-`maxVersion` is what ApiVersions advertises and what the dispatcher lets through; a
 * handler that advertises versions it does not serve (Produce v0-2, for old clients' feature checks) answers them with
 * UNSUPPORTED_VERSION itself.
 */
export interface Handler<Req, Res> {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
  /**
   * May start behind earlier requests of its connection that called letNextStart, before they are answered (Produce,
   * ADR 31). Every other request starts once everything before it on the connection is answered.
   */
  readonly pipelined?: boolean;
  /** Resolves to the response body, or null when the request gets no response (Produce with acks=0). */
  handle(request: Req, context: RequestContext): Promise<Res | null>;
}

export type AnyHandler = Handler<unknown, unknown>;

/** Keeps the request and response types tied together at the definition, then erases them for the registry. */
export function defineHandler<Req, Res>(handler: Handler<Req, Res>): AnyHandler {
  return handler;
}
