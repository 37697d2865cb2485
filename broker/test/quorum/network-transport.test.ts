import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startNetwork, type NetworkServer } from "../../src/network/server.ts";
import { NetworkTransport } from "../../src/quorum/network-transport.ts";
import { QuorumDriver } from "../../src/quorum/quorum-driver.ts";
import { DEFAULT_RAFT_TIMING, SeededRng, type NodeId } from "../../src/raft/index.ts";
import { waitFor } from "../network/helpers.ts";

// Three controllers in one process, each with its own controller listener on a loopback port: the quorum over real
// sockets and Kafka's wire format.

const VOTERS = [1, 2, 3];
const CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg";
// Short enough for a quick test, long enough that a loaded machine (shared CPU) does not make leaders churn.
const TIMING = {
  ...DEFAULT_RAFT_TIMING,
  electionTimeoutMs: 300,
  fetchTimeoutMs: 1000,
  electionBackoffMaxMs: 300,
  requestTimeoutMs: 1000,
  fetchMaxWaitMs: 100,
  retryBackoffMs: 20,
};
const logger = pino({ level: "silent" });

interface Node {
  driver: QuorumDriver;
  transport: NetworkTransport;
  server: NetworkServer;
  committed: string[];
}

let root: string | undefined;
const nodes = new Map<NodeId, Node>();

afterEach(async () => {
  for (const node of nodes.values()) {
    node.transport.close();
    await node.driver.close();
    await node.server.close(100);
  }
  nodes.clear();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe("NetworkTransport", () => {
  it("forms a quorum over the controller listeners and commits on every node", async () => {
    root = await mkdtemp(join(tmpdir(), "quorum-net-"));
    const transports = new Map<NodeId, NetworkTransport>();
    const servers = new Map<NodeId, NetworkServer>();
    for (const id of VOTERS) {
      const transport = new NetworkTransport({
        nodeId: id,
        clusterId: CLUSTER_ID,
        logger,
        requestTimeoutMs: TIMING.requestTimeoutMs,
        fetchMaxWaitMs: TIMING.fetchMaxWaitMs,
      });
      const server = await startNetwork({
        listeners: [{ name: "CONTROLLER", host: "127.0.0.1", port: 0 }],
        dispatcher: transport.dispatcher,
        logger,
        maxRequestBytes: 8 * 1024 * 1024,
        idleTimeoutMs: 60_000,
        requestReadTimeoutMs: 10_000,
      });
      transports.set(id, transport);
      servers.set(id, server);
    }
    for (const transport of transports.values()) {
      for (const [id, server] of servers) transport.setPeer(id, "127.0.0.1", server.listeners[0]?.port ?? 0);
    }
    for (const id of VOTERS) {
      const transport = transports.get(id);
      const server = servers.get(id);
      if (!transport || !server) throw new Error("setup");
      const driver = await QuorumDriver.start({
        config: { nodeId: id, voters: VOTERS, ...TIMING },
        metadataDir: join(root, `node-${id}`),
        transport,
        rng: new SeededRng(id * 104729),
        logger,
        tickMs: 10,
      });
      transport.attach((envelope) => driver.receive(envelope));
      const node: Node = { driver, transport, server, committed: [] };
      driver.onCommit((entries) => {
        for (const e of entries)
          if (e.record.kind === "data") node.committed.push(Buffer.from(e.record.data).toString());
      });
      nodes.set(id, node);
    }

    const leader = await waitFor(
      () => [...nodes.entries()].find(([, n]) => n.driver.status().role === "leader")?.[0],
      "a leader elected over the network",
    );
    expect(nodes.get(leader)?.driver.propose([Buffer.from("x"), Buffer.from("y")])).not.toBeNull();
    await waitFor(() => VOTERS.every((id) => nodes.get(id)?.committed.join() === "x,y"), "x, y committed everywhere");
    // Every node names the same leader (it may have changed meanwhile on a loaded machine; they must agree).
    await waitFor(() => new Set(VOTERS.map((id) => nodes.get(id)?.driver.status().leaderId)).size === 1, "one leader");
    for (const node of nodes.values()) expect(node.driver.error).toBeNull();
  });
});
