// One TCP (or TLS) connection to a broker: size-prefixed frames out, responses matched to requests by correlation id,
// a deadline per request. Encoding and decoding are the protocol library's; this file owns the socket.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from "node:tls";
import type { MessageCodec } from "../protocol/codec-runtime.ts";
import { decodeResponse, encodeRequest } from "../protocol/frame.ts";
import { FrameReader } from "../protocol/frame-reader.ts";
import { AdminTimeoutError, BrokerConnectionError } from "./errors.ts";

/** Refuse response frames above this size instead of buffering them (a misdirected connection, say to HTTP). */
const MAX_RESPONSE_BYTES = 100 * 1024 * 1024;

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  connectTimeoutMs: number;
  /** TLS client options; plaintext when undefined. */
  tls?: TlsOptions | undefined;
}

interface Pending {
  apiKey: number;
  version: number;
  codec: MessageCodec<unknown>;
  resolve: (body: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class BrokerConnection {
  readonly address: string;
  readonly #socket: Socket;
  readonly #clientId: string;
  readonly #pending = new Map<number, Pending>();
  #nextCorrelationId = 1;
  readonly #reader = new FrameReader(MAX_RESPONSE_BYTES);
  #closed: Error | undefined;
  /** Called once if the peer's end closes or resets the connection (not when this side closes it). */
  readonly #onPeerClose: (() => void)[] = [];

  private constructor(socket: Socket, address: string, clientId: string) {
    this.#socket = socket;
    this.address = address;
    this.#clientId = clientId;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) =>
      this.#fail(new BrokerConnectionError(`connection to ${address} failed: ${err.message}`), true),
    );
    socket.on("close", () =>
      this.#fail(new BrokerConnectionError(`connection to ${address} closed by the broker`), true),
    );
  }

  /** Connects, or rejects with BrokerConnectionError after connectTimeoutMs. */
  static open(options: ConnectionOptions): Promise<BrokerConnection> {
    const address = `${options.host}:${options.port}`;
    return new Promise((resolve, reject) => {
      const socket =
        options.tls === undefined
          ? netConnect({ host: options.host, port: options.port })
          : tlsConnect({ servername: options.host, ...options.tls, host: options.host, port: options.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BrokerConnectionError(`connecting to ${address} timed out after ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        const refused = (err as NodeJS.ErrnoException).code === "ECONNREFUSED";
        reject(new BrokerConnectionError(`cannot connect to ${address}: ${err.message}`, refused));
      };
      socket.once("error", onError);
      socket.once(options.tls === undefined ? "connect" : "secureConnect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new BrokerConnection(socket, address, options.clientId));
      });
    });
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /**
   * Calls `listener` once if the broker's end closes or resets this connection (a killed process's kernel does so at
   * once); never when this side closes it (close(), a request timeout, a bad answer), nor if it is closed already.
   */
  onPeerClose(listener: () => void): void {
    if (this.#closed === undefined) this.#onPeerClose.push(listener);
  }

  /** Sends one request and resolves with the decoded response body. */
  send<Req, Res>(
    request: MessageCodec<Req>,
    response: MessageCodec<Res>,
    version: number,
    body: Req,
    timeoutMs: number,
  ): Promise<Res> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const correlationId = this.#nextCorrelationId;
    this.#nextCorrelationId = (this.#nextCorrelationId % 0x7fffffff) + 1;
    let frame: Buffer;
    try {
      frame = encodeRequest(
        { apiKey: request.apiKey, apiVersion: version, correlationId, clientId: this.#clientId },
        request,
        body,
      );
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<Res>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new AdminTimeoutError(
          `${request.name} v${version} to ${this.address} got no answer within ${timeoutMs} ms`,
        );
        this.#pending.delete(correlationId);
        reject(err);
        // Kafka's clients close the connection on a request timeout: the broker may be stuck on it, and a late answer
        // must not be read as the answer to something else.
        this.#fail(new BrokerConnectionError(`connection to ${this.address} closed after a request timed out`));
      }, timeoutMs);
      this.#pending.set(correlationId, {
        apiKey: request.apiKey,
        version,
        codec: response,
        resolve: resolve as (body: unknown) => void,
        reject,
        timer,
      });
      const size = Buffer.allocUnsafe(4);
      size.writeInt32BE(frame.length, 0);
      // Corked, prefix and frame leave as one writev rather than two segments (the socket sets no-delay).
      this.#socket.cork();
      this.#socket.write(size);
      this.#socket.write(frame);
      this.#socket.uncork();
    });
  }

  close(): void {
    this.#fail(new BrokerConnectionError(`connection to ${this.address} was closed by the client`));
  }

  #onData(chunk: Buffer): void {
    this.#reader.push(chunk);
    while (this.#closed === undefined) {
      const event = this.#reader.next();
      if (event === null) return;
      if (event.kind === "invalid-size" || event.frame.length < 4) {
        const size = event.kind === "invalid-size" ? event.size : event.frame.length;
        this.#fail(new BrokerConnectionError(`${this.address} sent a response frame of ${size} bytes; not Kafka?`));
        return;
      }
      this.#onFrame(event.frame);
    }
  }

  #onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.#pending.get(correlationId);
    if (pending === undefined) {
      // An answer to a request that already timed out cannot arrive (the connection closed then), so this is a
      // broker bug or not a Kafka broker; nothing after it can be trusted.
      this.#fail(new BrokerConnectionError(`${this.address} answered unknown correlation id ${correlationId}`));
      return;
    }
    this.#pending.delete(correlationId);
    clearTimeout(pending.timer);
    try {
      pending.resolve(decodeResponse(frame, pending.apiKey, pending.version, pending.codec).body);
    } catch (err) {
      const what = `${pending.codec.name} v${pending.version} from ${this.address} could not be decoded`;
      pending.reject(new BrokerConnectionError(`${what}: ${err instanceof Error ? err.message : String(err)}`));
      this.#fail(new BrokerConnectionError(`connection to ${this.address} closed after an undecodable response`));
    }
  }

  #fail(err: Error, byPeer = false): void {
    if (this.#closed !== undefined) return;
    this.#closed = err;
    this.#socket.destroy();
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
    const listeners = this.#onPeerClose.splice(0);
    if (byPeer) for (const listener of listeners) listener();
  }
}
