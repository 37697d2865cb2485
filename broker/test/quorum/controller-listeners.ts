import type { Logger } from "pino";
import type { Dispatcher } from "../../src/handlers/dispatcher.ts";
import { startNetwork, type NetworkServer } from "../../src/network/server.ts";
import type { NodeId } from "../../src/raft/index.ts";

/**
 * Binds a controller listener on a free loopback port for each node before anything else starts: the quorum needs
 * every peer's port, and each node's handlers need its quorum, so requests go to the dispatcher `dispatchers` holds
 * for the node once it is filled in.
 */
export async function bindControllerListeners(
  ids: readonly NodeId[],
  dispatchers: ReadonlyMap<NodeId, Dispatcher>,
  logger: Logger,
): Promise<Map<NodeId, NetworkServer>> {
  const servers = new Map<NodeId, NetworkServer>();
  for (const id of ids) {
    const server = await startNetwork({
      listeners: [{ name: "CONTROLLER", host: "127.0.0.1", port: 0 }],
      dispatcher: {
        dispatch: (frame, connection) => {
          const target = dispatchers.get(id);
          if (!target) throw new Error("controller not started yet");
          return target.dispatch(frame, connection);
        },
      },
      logger,
      maxRequestBytes: 8 * 1024 * 1024,
      idleTimeoutMs: 60_000,
      requestReadTimeoutMs: 10_000,
    });
    servers.set(id, server);
  }
  return servers;
}
