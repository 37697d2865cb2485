// The restart-safety client (roll-probe.ts) against local HTTP servers: its GETs share kept connections across passes,
// a new connection that hangs in its connect fails within the connect limit, and a kept connection the server closed
// meanwhile is replaced without an error.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { rollProbe, type RollProbe } from "../../src/kafka/roll-probe.ts";

const ANSWER = {
  brokerId: 1,
  canStop: true,
  canStopReasons: [],
  blockingPartitions: [],
  caughtUp: true,
  caughtUpReasons: [],
};

let cleanup: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

/** A restart-safety endpoint on loopback that counts the connections it accepts. */
async function endpoint(): Promise<{ address: string; connections: () => number; server: Server }> {
  let connections = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(ANSWER));
  });
  server.keepAliveTimeout = 65_000;
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  return { address: `127.0.0.1:${port}`, connections: () => connections, server };
}

function probe(options: { connectTimeoutMs?: number } = {}): RollProbe {
  const p = rollProbe({ clientId: "test", ...options });
  cleanup.push(() => p.close?.());
  return p;
}

describe("restart-safety client", () => {
  it("keeps one connection per broker across passes", async () => {
    const [a, b] = [await endpoint(), await endpoint()];
    const p = probe();
    const brokers = [
      { pod: "p-0", nodeId: 0, address: a.address },
      { pod: "p-1", nodeId: 1, address: b.address },
    ];
    for (let pass = 0; pass < 5; pass++) {
      const answers = await p.restartSafety(brokers);
      expect(answers.map((x) => x.answer?.canStop)).toEqual([true, true]);
    }
    expect([a.connections(), b.connections()]).toEqual([1, 1]);
  });

  it("replaces a kept connection the server closed meanwhile", async () => {
    const a = await endpoint();
    const p = probe();
    const brokers = [{ pod: "p-0", nodeId: 0, address: a.address }];
    expect((await p.restartSafety(brokers))[0]?.answer).toBeDefined();
    a.server.closeAllConnections();
    expect((await p.restartSafety(brokers))[0]?.answer).toBeDefined();
    expect(a.connections()).toBe(2);
  });

  it("gives up a connect that hangs after the connect limit, not the whole request limit", async () => {
    // A listener whose process is stopped: once its accept queue is full the kernel drops further SYNs, so a
    // connect neither succeeds nor fails.
    const child: ChildProcess = spawn(
      process.execPath,
      [
        "-e",
        "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { console.log(this.address().port); });",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    cleanup.push(() => {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once("exit", () => reject(new Error("the listener exited")));
    });
    child.kill("SIGSTOP");
    const fillers: Socket[] = [];
    cleanup.push(() => fillers.forEach((s) => s.destroy()));
    // Fill the accept queue: connects complete until it is full, then one hangs.
    for (let i = 0; i < 8; i++) {
      const s = connect(port, "127.0.0.1");
      s.on("error", () => undefined);
      fillers.push(s);
      const connected = await new Promise<boolean>((resolve) => {
        s.once("connect", () => resolve(true));
        setTimeout(() => resolve(false), 300);
      });
      if (!connected) break;
    }
    const p = probe({ connectTimeoutMs: 300 });
    const started = Date.now();
    const [answer] = await p.restartSafety([{ pod: "p-0", nodeId: 0, address: `127.0.0.1:${port}` }]);
    const took = Date.now() - started;
    expect(answer?.error).toContain("connect timed out after 300 ms");
    expect(took).toBeLessThan(3_000);
  });
});
