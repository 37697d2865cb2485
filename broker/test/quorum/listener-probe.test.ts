import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { nothingListens, probe } from "../../src/quorum/listener-probe.ts";

// The probe behind ADR 32's fence of a broker whose heartbeat connection was lost: only a refused connect at the
// address that connection came from counts as "nothing listens".

const servers: Server[] = [];

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { server, port: address.port };
}

/** A port something listened on a moment ago and nothing does now (allocated by the kernel, never hard-coded). */
async function closedPort(): Promise<number> {
  const { server, port } = await listening();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const endpoint = (host: string, port: number) => ({ listener: "PLAINTEXT", host, port, securityProtocol: 0 });

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

describe("listener probe", () => {
  it("tells a refused connect from an accepted one", async () => {
    const { port } = await listening();
    expect(await probe("127.0.0.1", port, 5000)).toBe("accepted");
    expect(await probe("127.0.0.1", await closedPort(), 5000)).toBe("refused");
  });

  it("says nothing listens only when every endpoint at the peer's address refuses", async () => {
    const gone = await closedPort();
    const { port: alive } = await listening();
    expect(await nothingListens([endpoint("127.0.0.1", gone)], "127.0.0.1", 5000)).toBe(true);
    // The dual-stack form of the same address, and a name that resolves to it.
    expect(await nothingListens([endpoint("localhost", gone)], "::ffff:127.0.0.1", 5000)).toBe(true);
    expect(await nothingListens([endpoint("127.0.0.1", gone), endpoint("127.0.0.1", alive)], "127.0.0.1", 5000)).toBe(
      false,
    );
  });

  it("proves nothing about endpoints advertised at another address, or none", async () => {
    const gone = await closedPort();
    expect(await nothingListens([endpoint("127.0.0.1", gone)], "127.0.0.2", 5000)).toBe(false);
    expect(await nothingListens([endpoint("no-such-host.invalid", gone)], "127.0.0.1", 5000)).toBe(false);
    expect(await nothingListens([], "127.0.0.1", 5000)).toBe(false);
  });
});
