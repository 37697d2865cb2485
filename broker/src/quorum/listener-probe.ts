import { lookup } from "node:dns/promises";
import { connect } from "node:net";
import type { BrokerEndpoint } from "../metadata/image/metadata-image.ts";

// Whether a broker process still listens (ADR 32): after the connection a broker heartbeat on was lost, the active
// controller connects to the broker's listeners and closes at once. Only a refused connect (ECONNREFUSED: the host's
// kernel answered that nothing listens on that port) is taken as "gone"; a paused process still accepts, and a
// partitioned or blackholed host answers nothing (a timeout) or is unreachable, which say nothing.

export type ProbeOutcome = "refused" | "accepted" | "unknown";

/** One TCP connect to host:port, closed as soon as it is open. */
export function probe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (outcome: ProbeOutcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done("unknown"), timeoutMs);
    socket.once("connect", () => done("accepted"));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code === "ECONNREFUSED" ? "refused" : "unknown"));
  });
}

/** An IPv4 address as Node reports it on a dual-stack socket (::ffff:10.0.0.1) in its plain form. */
function plain(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/**
 * Whether nothing listens on any of `endpoints` at `peerHost`, the address the broker's heartbeat connection came
 * from. Only endpoints whose host is that address (or resolves to it) are probed, at that address: a registration
 * that advertises another host (a load balancer, a name that no longer resolves) proves nothing here. False unless at
 * least one endpoint was probed and every probe was refused.
 */
export async function nothingListens(
  endpoints: readonly BrokerEndpoint[],
  peerHost: string,
  timeoutMs: number,
): Promise<boolean> {
  const peer = plain(peerHost);
  const ports = new Set<number>();
  for (const e of endpoints) {
    const addresses = await lookup(e.host, { all: true }).catch(() => []);
    if (addresses.some((a) => plain(a.address) === peer)) ports.add(e.port);
  }
  if (ports.size === 0) return false;
  const outcomes = await Promise.all([...ports].map((port) => probe(peer, port, timeoutMs)));
  return outcomes.every((o) => o === "refused");
}
