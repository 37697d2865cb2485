// Which node leads a cluster's KRaft quorum (the active controller), asked of the controllers themselves: a broker
// only forwards DescribeQuorum to an active controller it already knows, the controller listener answers it.
import { AdminClient, type AdminClientOptions } from "@tributary/broker/admin";

/** Node id of the active controller, or undefined while the quorum has no leader. Throws when no controller answers. */
export type ActiveControllerLookup = (controllers: readonly string[]) => Promise<number | undefined>;

export interface QuorumLookupOptions {
  clientId: string;
  /** @default 5 000 */
  requestTimeoutMs?: number;
  /** Builds clients; tests may substitute. */
  factory?: (options: AdminClientOptions) => AdminClient;
}

/** One short-lived admin client per lookup: the roller asks only when a controller is about to restart. */
export function activeControllerLookup(options: QuorumLookupOptions): ActiveControllerLookup {
  return async (controllers) => {
    const timeoutMs = options.requestTimeoutMs ?? 5_000;
    const client = (options.factory ?? ((o) => new AdminClient(o)))({
      bootstrap: [...controllers],
      clientId: options.clientId,
      requestTimeoutMs: timeoutMs,
      connectTimeoutMs: timeoutMs,
      retries: 1,
    });
    try {
      const { leaderId } = await client.describeQuorum();
      return leaderId >= 0 ? leaderId : undefined;
    } finally {
      client.close();
    }
  };
}
