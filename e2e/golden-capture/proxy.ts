// A recording TCP proxy for the Kafka protocol: forwards bytes unchanged in both directions and, on the side, splits
// each direction into size-prefixed frames and pairs every request with its response by correlation id.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface Exchange {
  /** Which capture this connection belongs to (the `session` current when it was accepted). */
  session: string;
  connection: number;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** The frame without its 4-byte size prefix. */
  request: Buffer;
  /** The response frame without its size prefix; null while none came (acks=0 produce, closed connections). */
  response: Buffer | null;
  /** Set when `rewriteResponse` changed the response: what it changed. */
  rewritten?: string;
}

/** Changes a response frame in place before the client sees it (same length); returns a description, or undefined. */
export type ResponseRewriter = (exchange: Exchange, frame: Buffer) => string | undefined;

/** Calls `onFrame` with each complete size-prefixed frame (prefix removed) of a byte stream. */
function frameSplitter(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (pending.length < 4 + size) break;
      onFrame(Buffer.from(pending.subarray(4, 4 + size)));
      pending = pending.subarray(4 + size);
    }
  };
}

function readClientId(frame: Buffer): string | null {
  const length = frame.readInt16BE(8);
  return length < 0 ? null : frame.toString("utf8", 10, 10 + length);
}

export class RecordingProxy {
  readonly exchanges: Exchange[] = [];
  /** Connections accepted from now on are recorded under this name. */
  session = "default";
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private connections = 0;

  constructor(
    private readonly upstreamPort: number,
    private readonly rewriteResponse: ResponseRewriter = () => undefined,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => resolve());
    });
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    // Responses are forwarded frame by frame (not chunk by chunk) so that a rewritten frame reaches the client.
    const session = this.session;
    const connection = ++this.connections;
    const inFlight = new Map<number, Exchange>();
    const upstream = connect(this.upstreamPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());

    const onRequest = frameSplitter((frame) => {
      const exchange: Exchange = {
        session,
        connection,
        apiKey: frame.readInt16BE(0),
        apiVersion: frame.readInt16BE(2),
        correlationId: frame.readInt32BE(4),
        clientId: readClientId(frame),
        request: frame,
        response: null,
      };
      this.exchanges.push(exchange);
      inFlight.set(exchange.correlationId, exchange);
    });
    const onResponse = frameSplitter((frame) => {
      const exchange = inFlight.get(frame.readInt32BE(0));
      if (exchange !== undefined) {
        inFlight.delete(exchange.correlationId);
        const rewritten = this.rewriteResponse(exchange, frame);
        if (rewritten !== undefined) exchange.rewritten = rewritten;
        exchange.response = frame;
      }
      const size = Buffer.alloc(4);
      size.writeInt32BE(frame.length);
      client.write(Buffer.concat([size, frame]));
    });
    client.on("data", (chunk: Buffer) => {
      onRequest(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => onResponse(chunk));
  }
}
