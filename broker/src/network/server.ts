import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import { bindError } from "../runtime/exit-codes.ts";
import { Connection } from "./connection.ts";
import { NO_NETWORK_METRICS, type NetworkMetrics, type RequestDispatcher } from "./types.ts";

export interface ListenerSpec {
  readonly name: string;
  /** Empty for every interface. */
  readonly host: string;
  /** 0 picks a free port (see NetworkServer.listeners). */
  readonly port: number;
}

export interface NetworkOptions {
  readonly listeners: readonly ListenerSpec[];
  readonly dispatcher: RequestDispatcher;
  readonly logger: Logger;
  readonly metrics?: NetworkMetrics;
  readonly maxRequestBytes: number;
  readonly idleTimeoutMs: number;
  readonly requestReadTimeoutMs: number;
  /** Complete requests queued per connection before reading pauses; Kafka clients keep at most 5 in flight. */
  readonly maxQueuedRequests?: number;
  /** Requests of one connection started and not yet answered (pipelined Produces, ADR 31); 5 by default. */
  readonly maxInFlightRequests?: number;
}

export interface BoundListener {
  readonly name: string;
  readonly host: string;
  /** The port actually bound (differs from the spec when it asked for 0). */
  readonly port: number;
}

export interface NetworkServer {
  readonly listeners: readonly BoundListener[];
  /** Open connections across all listeners. */
  readonly connectionCount: number;
  /**
   * Stops accepting, lets each connection finish the requests it is handling and send their responses, then closes
   * everything; connections still open after graceMs are dropped.
   */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 10_000;
/** What a Kafka client keeps in flight at most when idempotent (Java's and librdkafka's limit). */
const DEFAULT_MAX_IN_FLIGHT_REQUESTS = 5;

function listen(server: Server, spec: ListenerSpec): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) =>
      reject(
        bindError(
          err,
          spec.host,
          spec.port,
          `listener ${spec.name}`,
          "change the port in listeners (e.g. --override listeners=PLAINTEXT://127.0.0.1:9094)",
        ),
      );
    server.once("error", onError);
    const opts = spec.host === "" ? { port: spec.port } : { host: spec.host, port: spec.port };
    server.listen(opts, () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : spec.port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Binds every listener (all or none) and serves Kafka-framed requests through the dispatcher. */
export async function startNetwork(options: NetworkOptions): Promise<NetworkServer> {
  const connections = new Set<Connection>();
  const servers: Server[] = [];
  const bound: BoundListener[] = [];
  let nextId = 1;

  const accept = (spec: ListenerSpec, socket: Socket): void => {
    const conn = new Connection(socket, `${spec.name}-${nextId++}`, {
      listenerName: spec.name,
      dispatcher: options.dispatcher,
      logger: options.logger,
      metrics: options.metrics ?? NO_NETWORK_METRICS,
      maxRequestBytes: options.maxRequestBytes,
      idleTimeoutMs: options.idleTimeoutMs,
      requestReadTimeoutMs: options.requestReadTimeoutMs,
      maxQueuedRequests: options.maxQueuedRequests ?? 16,
      maxInFlightRequests: options.maxInFlightRequests ?? DEFAULT_MAX_IN_FLIGHT_REQUESTS,
    });
    connections.add(conn);
    void conn.closed.then(() => connections.delete(conn));
  };

  try {
    for (const spec of options.listeners) {
      const server = createServer({
        allowHalfOpen: true,
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: 30_000,
      });
      server.on("connection", (socket) => accept(spec, socket));
      // Accept errors (EMFILE and the like) must not take the broker down; the listener keeps going.
      server.on("error", (err) => options.logger.error({ err, listener: spec.name }, "Listener error"));
      servers.push(server);
      const port = await listen(server, spec);
      bound.push({ name: spec.name, host: spec.host, port });
      options.logger.info({ listener: spec.name, host: spec.host || "*", port }, "Listening");
    }
  } catch (err) {
    await Promise.all(servers.filter((s) => s.listening).map(closeServer));
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    listeners: bound,
    get connectionCount() {
      return connections.size;
    },
    close(graceMs = DEFAULT_GRACE_MS) {
      closing ??= (async () => {
        const stopped = Promise.all(servers.map(closeServer));
        await Promise.all([...connections].map((c) => c.shutdown(graceMs)));
        await stopped;
      })();
      return closing;
    },
  };
}
