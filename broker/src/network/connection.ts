import type { Socket } from "node:net";
import type { Logger } from "pino";
import { FrameReader } from "../protocol/frame-reader.ts";
import type { ConnectionContext, NetworkMetrics, RequestDispatcher, ResponseChunks } from "./types.ts";

export interface ConnectionOptions {
  readonly listenerName: string;
  readonly dispatcher: RequestDispatcher;
  readonly logger: Logger;
  readonly metrics: NetworkMetrics;
  /** socket.request.max.bytes: a larger size prefix closes the connection before anything is allocated. */
  readonly maxRequestBytes: number;
  /**
   * connections.max.idle.ms: no bytes either way and nothing in progress for this long closes the connection. Zero or
   * negative disables it, as in Kafka.
   */
  readonly idleTimeoutMs: number;
  /** A frame that has begun to arrive must be complete within this time (defeats slowloris-style clients). */
  readonly requestReadTimeoutMs: number;
  /** Complete requests waiting to start before reading pauses. */
  readonly maxQueuedRequests: number;
  /**
   * Requests started but not yet answered: a pipelined request (Produce) behind earlier ones that let it start waits
   * in the queue while this many are in flight. With maxQueuedRequests it bounds the request frames a connection holds.
   */
  readonly maxInFlightRequests: number;
}

/** A request started and not yet answered, in request order. */
interface InFlight {
  /** It called letNextStart, or finished: a pipelined request may start behind it. */
  released: boolean;
  settled: boolean;
  response: Buffer | ResponseChunks | null;
  /** The dispatcher rejected: the connection closes once every earlier response is written. */
  failure: { readonly error: unknown } | null;
  /** It asked for the connection to close after its response. */
  closeReason: string | null;
}

const CLOSE_LINGER_MS = 5_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

type CloseKind = "protocol" | "timeout" | "error" | "peer" | "requested" | "shutdown";

/**
 * One client connection: framing, ordered dispatch, response writes in request order, flow control and timeouts.
 * Nothing a client sends can throw out of this class.
 *
 * A request starts once every earlier one is answered (as Kafka does by muting the channel), with one exception
 * (ADR 31): a pipelined request (Produce) may start as soon as every request in flight before it has called
 * letNextStart (an acks=all Produce whose appends are done and which only waits for the ISR), up to
 * maxInFlightRequests. Responses are written in request order whatever order the requests finish in.
 */
export class Connection {
  /** Settles once the socket has closed. */
  readonly closed: Promise<void>;

  /** The connection's part of every request's context. */
  private readonly context: Omit<ConnectionContext, "closeAfterResponse" | "letNextStart">;
  private readonly reader: FrameReader;
  /** Complete requests not started yet. */
  private readonly queue: Buffer[] = [];
  private readonly inFlight: InFlight[] = [];
  private readonly abort = new AbortController();
  private readonly log: Logger;
  /** advance() is running; a call meanwhile makes it go round once more instead of running inside it. */
  private advancing = false;
  private advanceAgain = false;
  private writeBlocked = false;
  private peerEnded = false;
  private closing = false;
  /** Set by shutdown(): nothing more is read, whatever the queue and the writer say. */
  private stopReading = false;
  /** Nothing more starts; the connection closes once the requests in flight are answered. */
  private closeAfterReason: string | null = null;
  private frameTimer: NodeJS.Timeout | null = null;
  /** Listeners of onLost; null once the connection closed (lost or shut down). */
  private lostListeners: (() => void)[] | null = [];
  private lost = false;

  constructor(
    private readonly socket: Socket,
    readonly id: string,
    private readonly options: ConnectionOptions,
  ) {
    this.reader = new FrameReader(options.maxRequestBytes);
    const remoteAddress = socket.remoteAddress ?? "unknown";
    const remotePort = socket.remotePort ?? 0;
    this.log = options.logger.child({
      conn: id,
      listener: options.listenerName,
      remote: `${remoteAddress}:${remotePort}`,
    });
    this.context = {
      id,
      listenerName: options.listenerName,
      remoteAddress,
      remotePort,
      localAddress: socket.localAddress ?? "unknown",
      localPort: socket.localPort ?? 0,
      logger: this.log,
      signal: this.abort.signal,
      onLost: (listener: () => void) => {
        if (this.lostListeners !== null) this.lostListeners.push(listener);
        else if (this.lost) listener();
      },
    };
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));

    options.metrics.connectionOpened(options.listenerName);
    this.log.debug("Accepted connection");
    // Node turns a timer beyond 2^31-1 ms into 1 ms; such values mean "practically never" anyway.
    if (options.idleTimeoutMs > 0) socket.setTimeout(Math.min(options.idleTimeoutMs, MAX_TIMER_MS));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onPeerEnd());
    socket.on("timeout", () => this.onIdle());
    socket.on("drain", () => this.onDrain());
    socket.on("error", (err: NodeJS.ErrnoException) => {
      // Resets and broken pipes are how clients usually leave; anything else is worth a closer look.
      const level = err.code === "ECONNRESET" || err.code === "EPIPE" ? "debug" : "warn";
      this.log[level]({ err }, "Socket error");
    });
    socket.once("close", () => this.onClose());
  }

  /** Stop reading, let the requests in flight finish and their responses go out, then close; force after graceMs. */
  async shutdown(graceMs: number): Promise<void> {
    if (!this.closing) {
      this.queue.length = 0;
      this.stopReading = true;
      this.socket.pause();
      // Ends long-polls early so their (empty) responses go out within the grace period.
      this.abort.abort();
      this.closeAfterReason ??= "broker shutting down";
      if (this.inFlight.length === 0) this.close("shutdown", "broker shutting down");
    }
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    await this.closed;
    clearTimeout(timer);
  }

  private onData(chunk: Buffer): void {
    this.options.metrics.bytesReceived(this.options.listenerName, chunk.length);
    if (this.closing) return;
    this.reader.push(chunk);
    for (let ev = this.reader.next(); ev !== null; ev = this.reader.next()) {
      if (ev.kind === "invalid-size") {
        const why =
          ev.size <= 0
            ? `invalid request size ${ev.size}`
            : `request of ${ev.size} bytes exceeds socket.request.max.bytes (${this.options.maxRequestBytes})`;
        this.close("protocol", why, true);
        return;
      }
      this.queue.push(ev.frame);
    }
    this.armFrameTimer();
    this.advance();
  }

  private armFrameTimer(): void {
    if (this.reader.pendingBytes === 0) {
      if (this.frameTimer) clearTimeout(this.frameTimer);
      this.frameTimer = null;
    } else if (!this.frameTimer) {
      // Not restarted by progress: a client trickling one byte at a time must still finish the frame in time.
      this.frameTimer = setTimeout(() => {
        this.close(
          "timeout",
          `request incomplete after ${this.options.requestReadTimeoutMs} ms (socket.request.read.timeout.ms)`,
          true,
        );
      }, this.options.requestReadTimeoutMs);
      this.frameTimer.unref();
    }
  }

  /** Reads only while there is room for more requests and the client is taking its responses. */
  private updateFlow(): void {
    const wantRead =
      !this.closing && !this.stopReading && !this.writeBlocked && this.queue.length < this.options.maxQueuedRequests;
    if (wantRead && this.socket.isPaused()) this.socket.resume();
    else if (!wantRead && !this.socket.isPaused()) this.socket.pause();
  }

  /**
   * Writes the responses at the head that are ready, in request order, starts every queued request that may start,
   * then closes the connection if it is due. Called on every change: a request read, settled or letting the next one
   * start, the socket draining.
   */
  private advance(): void {
    if (this.advancing) {
      this.advanceAgain = true;
      return;
    }
    this.advancing = true;
    try {
      do {
        this.advanceAgain = false;
        this.writeReady();
        while (!this.closing && this.mayStart()) {
          const frame = this.queue.shift();
          if (frame !== undefined) this.start(frame);
        }
      } while (this.advanceAgain && !this.closing);
      this.updateFlow();
      if (this.closing || this.inFlight.length > 0) return;
      if (this.closeAfterReason !== null) this.close("requested", this.closeAfterReason);
      else if (this.peerEnded && this.queue.length === 0) this.close("peer", "client closed its side");
    } finally {
      this.advancing = false;
    }
  }

  /** Writes the settled responses at the head of the in-flight list, in request order. */
  private writeReady(): void {
    for (let head = this.inFlight[0]; head?.settled === true && !this.closing; head = this.inFlight[0]) {
      this.inFlight.shift();
      if (head.failure !== null) {
        this.log.warn({ err: head.failure.error }, "Request handling failed; closing the connection");
        this.close("error", "request handling failed", true);
        return;
      }
      if (this.socket.destroyed) {
        discard(head.response);
        continue;
      }
      if (head.response !== null) this.write(head.response);
      if (head.closeReason !== null) this.close("requested", head.closeReason);
    }
  }

  /**
   * The next queued request may start: nothing is in flight, or it is pipelined and every request in flight has let
   * the next one start (each of those started only once all before it had, so the last one's word stands for all).
   */
  private mayStart(): boolean {
    if (this.writeBlocked || this.closeAfterReason !== null) return false;
    const next = this.queue[0];
    if (next === undefined) return false;
    const last = this.inFlight.at(-1);
    if (last === undefined) return true;
    return (
      last.released &&
      this.inFlight.length < this.options.maxInFlightRequests &&
      this.options.dispatcher.pipelined?.(next) === true
    );
  }

  private start(frame: Buffer): void {
    const request: InFlight = { released: false, settled: false, response: null, failure: null, closeReason: null };
    this.inFlight.push(request);
    const context: ConnectionContext = {
      ...this.context,
      closeAfterResponse: (reason: string) => {
        request.closeReason ??= reason;
        this.closeAfterReason ??= reason;
      },
      letNextStart: () => {
        if (request.released) return;
        request.released = true;
        // Not from inside the handler's call stack: the next request starts on a stack of its own.
        queueMicrotask(() => this.advance());
      },
    };
    // A dispatcher that throws instead of rejecting fails the request the same way.
    new Promise<Buffer | ResponseChunks | null>((resolve) =>
      resolve(this.options.dispatcher.dispatch(frame, context)),
    ).then(
      (response) => this.settle(request, response, null),
      (error: unknown) => this.settle(request, null, { error }),
    );
  }

  private settle(request: InFlight, response: Buffer | ResponseChunks | null, failure: InFlight["failure"]): void {
    request.settled = true;
    request.released = true;
    if (this.closing) {
      // The connection went away meanwhile (close() dropped the in-flight list): nobody will write this.
      discard(response);
      return;
    }
    request.response = response;
    request.failure = failure;
    // Whatever came after a failed request is not started: the connection closes once the responses before it are out.
    if (failure !== null) this.closeAfterReason ??= "request handling failed";
    this.advance();
  }

  private write(response: Buffer | ResponseChunks): void {
    const chunks = Buffer.isBuffer(response) ? [response] : response.chunks;
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeInt32BE(size, 0);
    // Corked, the writes reach the socket as one writev: one syscall and no copy of the chunks. The callback of the
    // last write runs once all of them were handed to the kernel, or dropped with the socket.
    this.socket.cork();
    let ok = this.socket.write(prefix);
    chunks.forEach((chunk, i) => {
      const done = i === chunks.length - 1 && !Buffer.isBuffer(response) ? () => response.release() : undefined;
      ok = this.socket.write(chunk, done);
    });
    this.socket.uncork();
    this.options.metrics.bytesSent(this.options.listenerName, size + 4);
    if (!ok) {
      this.writeBlocked = true;
      this.updateFlow();
    }
  }

  private onDrain(): void {
    if (!this.writeBlocked) return;
    this.writeBlocked = false;
    this.advance();
  }

  private onPeerEnd(): void {
    this.peerEnded = true;
    // Requests already received are still answered (allowHalfOpen), then the connection closes.
    if (this.inFlight.length === 0 && this.queue.length === 0) this.close("peer", "client closed its side");
  }

  private onIdle(): void {
    if (this.inFlight.length > 0 || this.queue.length > 0 || this.reader.pendingBytes > 0 || this.writeBlocked) return;
    this.close("timeout", `idle for ${this.options.idleTimeoutMs} ms (connections.max.idle.ms)`, true);
  }

  /** @param abrupt drop anything unsent (the client misbehaved); otherwise flush pending responses first. */
  private close(kind: CloseKind, reason: string, abrupt = false): void {
    if (this.closing) return;
    this.closing = true;
    this.queue.length = 0;
    this.dropInFlight();
    if (this.frameTimer) clearTimeout(this.frameTimer);
    this.frameTimer = null;
    const level = kind === "protocol" || kind === "error" ? "warn" : kind === "timeout" ? "info" : "debug";
    this.log[level]({ reason }, "Closing connection");
    if (abrupt) {
      this.socket.destroy();
      return;
    }
    this.socket.end();
    // The peer's end of stream is only seen once its data is read: a socket paused by shutdown() would wait out the
    // linger below even after the client closed. What still arrives is dropped (onData ignores it once closing).
    this.socket.resume();
    // With allowHalfOpen the socket lingers until the client closes its side too; do not wait on it forever.
    setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS).unref();
  }

  private onClose(): void {
    this.closing = true;
    if (this.frameTimer) clearTimeout(this.frameTimer);
    this.frameTimer = null;
    this.queue.length = 0;
    this.dropInFlight();
    this.abort.abort();
    this.options.metrics.connectionClosed(this.options.listenerName);
    this.log.debug("Connection closed");
    const listeners = this.lostListeners ?? [];
    this.lostListeners = null;
    // shutdown() sets stopReading: a connection this process closed on its way down was not lost.
    this.lost = !this.stopReading;
    if (!this.lost) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (err) {
        this.log.warn({ err }, "A connection-lost listener failed");
      }
    }
  }

  /** Responses not written yet are never written: those ready are released now, the others when they settle. */
  private dropInFlight(): void {
    for (const request of this.inFlight.splice(0)) if (request.settled) discard(request.response);
  }
}

/** Gives back a response that will not be written. */
function discard(response: Buffer | ResponseChunks | null): void {
  if (response !== null && !Buffer.isBuffer(response)) response.release();
}
