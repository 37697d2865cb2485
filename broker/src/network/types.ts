import type { Logger } from "pino";

/**
 * The only thing the network layer knows about request handling. It hands over the complete request frames of a
 * connection in arrival order, one at a time: the next once the previous one is answered, or, for a pipelined request,
 * once every request in flight before it has called letNextStart. Whatever the dispatcher returns is written in request
 * order, so responses always leave in request order (Kafka clients pipeline up to 5 requests and rely on it).
 */
export interface RequestDispatcher {
  /**
   * @param frame one request without its 4-byte size prefix. It may be a view into a larger read buffer; copy any part
   *   kept beyond the returned promise's settlement.
   * @returns the response without its size prefix, as one buffer or as chunks written in order with one writev, or
   *   null when the request gets no response (Produce with acks=0). A rejection closes this connection only; it is
   *   logged and other connections carry on.
   */
  dispatch(frame: Buffer, connection: ConnectionContext): Promise<Buffer | ResponseChunks | null>;
  /**
   * Whether the request in `frame` may start while earlier requests of its connection are still in flight, every one
   * of them having called letNextStart (Produce, ADR 31). Absent or false: it starts once every earlier one is answered.
   */
  pipelined?(frame: Buffer): boolean;
}

/** A response in chunks (records sent by reference rather than copied); `release` runs once the socket is done. */
export interface ResponseChunks {
  readonly chunks: readonly Uint8Array[];
  /** Called once, when the chunks have been handed to the kernel or the connection dropped them. */
  release(): void;
}

/** What a request's handling sees of its connection. */
export interface ConnectionContext {
  /** Unique within the process, e.g. "PLAINTEXT-7". Appears in every log line about the connection. */
  readonly id: string;
  readonly listenerName: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** A child logger bound to { conn, listener, remote }. */
  readonly logger: Logger;
  /** Aborted when the connection closes or the broker shuts down, so long-polls (Fetch max_wait_ms) stop waiting. */
  readonly signal: AbortSignal;
  /**
   * Close the connection once the response to the current request (if any) is written, e.g. after an error response
   * Kafka answers by disconnecting. No further requests of this connection are dispatched.
   */
  closeAfterResponse(reason: string): void;
  /**
   * Lets the connection start its next request now, if that one is pipelined, while this one goes on (an acks=all
   * Produce whose appends are done and which only waits for the ISR). This request's response still goes out before
   * any later one. A request that may call closeAfterResponse must do so before this, if at all.
   */
  letNextStart(): void;
  /**
   * Calls `listener` once, when the connection has closed for any reason but this process shutting down: the peer
   * closed or reset it (a peer process that dies has its sockets closed by its kernel), or it was closed for
   * misbehaving or idling. A closed connection calls a listener added later at once.
   */
  onLost(listener: () => void): void;
}

/** Hooks the network layer calls for metrics, so it needs no metrics library. */
export interface NetworkMetrics {
  connectionOpened(listenerName: string): void;
  connectionClosed(listenerName: string): void;
  bytesReceived(listenerName: string, bytes: number): void;
  bytesSent(listenerName: string, bytes: number): void;
}

export const NO_NETWORK_METRICS: NetworkMetrics = {
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
  bytesReceived: () => undefined,
  bytesSent: () => undefined,
};
