import { pino } from "pino";
import { createDispatcher } from "../../src/handlers/dispatcher.ts";
import type { AnyHandler } from "../../src/handlers/handler.ts";
import { startNetwork, type NetworkServer } from "../../src/network/server.ts";

/** Serves the given handlers on a free loopback port: a scripted peer (a controller, say) for client-side tests. */
export async function serveHandlers(handlers: AnyHandler[]): Promise<{ port: number; server: NetworkServer }> {
  const logger = pino({ level: "silent" });
  const server = await startNetwork({
    listeners: [{ name: "CONTROLLER", host: "127.0.0.1", port: 0 }],
    dispatcher: createDispatcher({ handlers, logger }),
    logger,
    maxRequestBytes: 1 << 20,
    idleTimeoutMs: 60_000,
    requestReadTimeoutMs: 10_000,
  });
  return { port: server.listeners[0]?.port ?? 0, server };
}
