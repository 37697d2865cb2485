import { afterEach, describe, expect, it } from "vitest";
import { startNetwork, type NetworkOptions, type NetworkServer } from "../../src/network/server.ts";
import type { ConnectionContext, NetworkMetrics, RequestDispatcher, ResponseChunks } from "../../src/network/types.ts";
import { ExitCode, StartupError } from "../../src/runtime/exit-codes.ts";
import { captureLogger, frame, occupyPort, TestClient, waitFor } from "./helpers.ts";

/**
 * Frames are text commands: "echo:X" answers X; "slow:MS:X" answers X after MS; "none" answers nothing;
 * "throw" rejects; "last:X" answers X and asks to close; "big:N" answers N bytes; "hold:X" waits for release();
 * "chunks:X,Y,..." answers X, Y, ... as chunks and records in `released` when the connection gave them back;
 * "slow-chunks:MS:X,Y,..." does the same after MS.
 * Commands starting "pipe" are pipelined (they may start behind requests that called letNextStart): "pipe:X" calls
 * letNextStart, then answers X once finish("X") is called; "pipe-now:X" answers X at once; "pipe-chunks:X,Y" answers
 * X, Y as chunks at once; "pipe-last:X" asks to close and answers X at once; "pipe-throw" rejects without letting
 * the next request start.
 */
class FakeDispatcher implements RequestDispatcher {
  readonly seen: string[] = [];
  /** Each request as it started, with the number of requests of this dispatcher then started and not yet settled. */
  readonly starts: { text: string; open: number }[] = [];
  readonly contexts: ConnectionContext[] = [];
  /** The texts of chunked responses the connection released. */
  readonly released: string[] = [];
  private releaseHeld: (() => void) | null = null;
  private readonly finishers = new Map<string, () => void>();
  private open = 0;

  pipelined(frameBytes: Buffer): boolean {
    return frameBytes.toString().startsWith("pipe");
  }

  /** Lets "pipe:X" answer. */
  finish(x: string): void {
    const finisher = this.finishers.get(x);
    if (finisher === undefined) throw new Error(`pipe:${x} has not started`);
    finisher();
  }

  async dispatch(frameBytes: Buffer, ctx: ConnectionContext): Promise<Buffer | ResponseChunks | null> {
    this.starts.push({ text: frameBytes.toString(), open: this.open });
    this.open += 1;
    try {
      return await this.handle(frameBytes, ctx);
    } finally {
      this.open -= 1;
    }
  }

  private async handle(frameBytes: Buffer, ctx: ConnectionContext): Promise<Buffer | ResponseChunks | null> {
    const text = frameBytes.toString();
    this.seen.push(text);
    this.contexts.push(ctx);
    const [cmd = "", a = "", b = ""] = text.split(":");
    switch (cmd) {
      case "echo":
        return Buffer.from(a);
      case "slow":
        await new Promise((r) => setTimeout(r, Number(a)));
        return Buffer.from(b);
      case "none":
        return null;
      case "throw":
        throw new Error("handler exploded");
      case "last":
        ctx.closeAfterResponse("asked to close");
        return Buffer.from(a);
      case "big":
        return Buffer.alloc(Number(a), 0x61);
      case "hold":
        await new Promise<void>((r) => (this.releaseHeld = r));
        return Buffer.from(a);
      case "chunks":
        return this.chunks(a);
      case "slow-chunks":
        await new Promise((r) => setTimeout(r, Number(a)));
        return this.chunks(b);
      case "pipe": {
        const finished = new Promise<void>((r) => this.finishers.set(a, r));
        ctx.letNextStart();
        await finished;
        return Buffer.from(a);
      }
      case "pipe-now":
        return Buffer.from(a);
      case "pipe-chunks":
        return this.chunks(a);
      case "pipe-last":
        ctx.closeAfterResponse("asked to close");
        return Buffer.from(a);
      case "pipe-throw":
        throw new Error("handler exploded");
      default:
        return Buffer.from(`unknown ${text}`);
    }
  }

  release(): void {
    this.releaseHeld?.();
  }

  private chunks(texts: string): ResponseChunks {
    return { chunks: texts.split(",").map((c) => Buffer.from(c)), release: () => this.released.push(texts) };
  }
}

const servers: NetworkServer[] = [];
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close(1000)));
});

async function start(overrides: Partial<NetworkOptions> = {}) {
  const dispatcher = new FakeDispatcher();
  const log = captureLogger();
  const server = await startNetwork({
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 0 }],
    dispatcher,
    logger: log.logger,
    maxRequestBytes: 1024 * 1024,
    idleTimeoutMs: 60_000,
    requestReadTimeoutMs: 60_000,
    ...overrides,
  });
  servers.push(server);
  const port = server.listeners[0]?.port ?? 0;
  const client = async () => {
    const c = await TestClient.connect(port);
    clients.push(c);
    return c;
  };
  return { server, dispatcher, log, port, client };
}

/** Two clients, each with one request answered. */
async function twoAnswered(client: () => Promise<TestClient>): Promise<{ a: TestClient; b: TestClient }> {
  const a = await client();
  const b = await client();
  a.send("echo:a");
  b.send("echo:b");
  await a.waitForResponses(1);
  await b.waitForResponses(1);
  return { a, b };
}

function closeReasons(log: ReturnType<typeof captureLogger>): string[] {
  return log
    .lines()
    .filter((l) => l["msg"] === "Closing connection")
    .map((l) => String(l["reason"]));
}

describe("network server", () => {
  it("binds port 0 to a real port and reports it", async () => {
    const { server } = await start();
    expect(server.listeners[0]?.port).toBeGreaterThan(0);
  });

  it("answers pipelined requests in request order even when earlier ones are slower", async () => {
    const { client } = await start();
    const c = await client();
    c.send("slow:60:a", "slow:30:b", "echo:c", "slow:10:d", "echo:e");
    expect(await c.waitForResponses(5)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("reassembles requests that arrive a byte at a time and requests larger than one socket read", async () => {
    const { client } = await start();
    const c = await client();
    for (const byte of frame("echo:slowly")) c.socket.write(Buffer.from([byte]));
    const big = `echo:${"x".repeat(300_000)}`;
    c.send(big);
    const [first, second] = await c.waitForResponses(2);
    expect(first).toBe("slowly");
    expect(second).toBe("x".repeat(300_000));
  });

  it("sends nothing for a request whose dispatch returns null and keeps the order of the rest", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("echo:1", "none", "echo:2");
    expect(await c.waitForResponses(2)).toEqual(["1", "2"]);
    expect(dispatcher.seen).toEqual(["echo:1", "none", "echo:2"]);
  });

  it("writes a chunked response as one frame and releases its chunks once written", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("chunks:ab,,cde", "echo:f", "chunks:g");
    expect(await c.waitForResponses(3)).toEqual(["abcde", "f", "g"]);
    await waitFor(() => dispatcher.released.length === 2, "both chunked responses released");
    expect(dispatcher.released).toEqual(["ab,,cde", "g"]);
  });

  it("releases a chunked response whose connection is gone before it is written", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("slow-chunks:100:y,z");
    await waitFor(() => dispatcher.seen.length === 1, "the request to be dispatched");
    c.destroy();
    await waitFor(() => dispatcher.released.length === 1, "the chunked response released", 5000);
    expect(dispatcher.released).toEqual(["y,z"]);
  });

  it("closes a connection whose size prefix exceeds socket.request.max.bytes, and serves other clients", async () => {
    const { client, dispatcher, log, server } = await start({ maxRequestBytes: 1024 });
    const good = await client();
    const bad = await client();
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(0x7fffffff, 0);
    bad.socket.write(prefix);
    await bad.waitForClose();
    expect(closeReasons(log)).toEqual(["request of 2147483647 bytes exceeds socket.request.max.bytes (1024)"]);
    good.send("echo:still-here");
    expect(await good.waitForResponses(1)).toEqual(["still-here"]);
    const late = await client();
    late.send("echo:new");
    expect(await late.waitForResponses(1)).toEqual(["new"]);
    expect(dispatcher.seen).toEqual(["echo:still-here", "echo:new"]);
    await waitFor(() => server.connectionCount === 2, "the bad connection to be forgotten");
  });

  it("closes a connection on a negative or zero size", async () => {
    const { client, log } = await start();
    const c = await client();
    c.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xfe]));
    await c.waitForClose();
    expect(closeReasons(log)).toEqual(["invalid request size -2"]);
  });

  it("closes a connection whose request stops arriving part-way (slowloris), and serves other clients", async () => {
    const { client, log } = await start({ requestReadTimeoutMs: 150 });
    const slow = await client();
    slow.socket.write(frame("echo:never-finished").subarray(0, 7));
    const good = await client();
    good.send("echo:ok");
    expect(await good.waitForResponses(1)).toEqual(["ok"]);
    await slow.waitForClose();
    expect(closeReasons(log)).toEqual(["request incomplete after 150 ms (socket.request.read.timeout.ms)"]);
  });

  it("closes idle connections after connections.max.idle.ms", async () => {
    const { client, log } = await start({ idleTimeoutMs: 150 });
    const c = await client();
    c.send("echo:first");
    expect(await c.waitForResponses(1)).toEqual(["first"]);
    await c.waitForClose();
    expect(closeReasons(log)).toEqual(["idle for 150 ms (connections.max.idle.ms)"]);
  });

  it("never closes idle connections when connections.max.idle.ms is -1", async () => {
    const { client, server } = await start({ idleTimeoutMs: -1, requestReadTimeoutMs: 100 });
    const c = await client();
    c.send("echo:x");
    expect(await c.waitForResponses(1)).toEqual(["x"]);
    // A later, unrelated timeout firing proves time has passed without the idle check closing anything.
    const other = await client();
    other.socket.write(Buffer.from([0]));
    await other.waitForClose();
    await waitFor(() => server.connectionCount === 1, "the timed-out connection to be forgotten");
    expect(c.closed).toBe(false);
  });

  it("does not count a request in progress as idle", async () => {
    const { client, dispatcher } = await start({ idleTimeoutMs: 100 });
    const c = await client();
    c.send("hold:done");
    await waitFor(() => dispatcher.seen.length === 1, "the request to be dispatched");
    // Several idle periods pass while the request is held; the connection must survive them.
    const heldSince = Date.now();
    await waitFor(() => Date.now() - heldSince > 350, "several idle periods");
    expect(c.closed).toBe(false);
    dispatcher.release();
    expect(await c.waitForResponses(1)).toEqual(["done"]);
  });

  it("answers requests already sent by a client that half-closes, then closes", async () => {
    const { client } = await start();
    const c = await client();
    c.send("slow:30:a", "echo:b");
    c.socket.end();
    expect(await c.waitForResponses(2)).toEqual(["a", "b"]);
    await c.waitForClose();
  });

  it("closes only the affected connection when the dispatcher throws", async () => {
    const { client, log } = await start();
    const bad = await client();
    const good = await client();
    bad.send("throw", "echo:never");
    await bad.waitForClose();
    expect(bad.responses).toEqual([]);
    const failure = log.lines().find((l) => l["msg"] === "Request handling failed; closing the connection");
    expect((failure?.["err"] as { message?: string } | undefined)?.message).toBe("handler exploded");
    good.send("echo:fine");
    expect(await good.waitForResponses(1)).toEqual(["fine"]);
  });

  it("closes after the response when the dispatcher asks, without dispatching later requests", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("last:bye", "echo:ignored");
    await c.waitForClose();
    expect(c.texts()).toEqual(["bye"]);
    expect(dispatcher.seen).toEqual(["last:bye"]);
  });

  it("gives each connection its own context and aborts its signal on close", async () => {
    const { client, dispatcher, port } = await start();
    const { a, b } = await twoAnswered(client);
    const [ca, cb] = dispatcher.contexts;
    expect(ca?.id).not.toBe(cb?.id);
    expect(ca?.listenerName).toBe("PLAINTEXT");
    expect(ca?.remoteAddress).toBe("127.0.0.1");
    expect(ca?.localPort).toBe(port);
    const ctxA = dispatcher.contexts.find((c) => c.remotePort === a.socket.localPort);
    a.destroy();
    await waitFor(() => ctxA?.signal.aborted, "the signal to abort");
    expect(dispatcher.contexts.find((c) => c.remotePort === b.socket.localPort)?.signal.aborted).toBe(false);
  });

  it("reports a connection the peer closed as lost, once, and one closed by shutdown as not", async () => {
    const { client, dispatcher, server } = await start();
    const { a, b } = await twoAnswered(client);
    const lost: string[] = [];
    const ctxA = dispatcher.contexts.find((c) => c.remotePort === a.socket.localPort);
    const ctxB = dispatcher.contexts.find((c) => c.remotePort === b.socket.localPort);
    ctxA?.onLost(() => lost.push("a"));
    ctxB?.onLost(() => lost.push("b"));
    a.destroy();
    await waitFor(() => lost.length > 0, "connection a to be reported lost");
    // A listener added after the loss hears of it at once.
    ctxA?.onLost(() => lost.push("a-late"));
    expect(lost).toEqual(["a", "a-late"]);
    await server.close(1000);
    await b.waitForClose();
    ctxB?.onLost(() => lost.push("b-late"));
    expect(lost).toEqual(["a", "a-late"]);
  });

  it("stops dispatching while the client does not read its responses, and resumes when it does", async () => {
    const { client, dispatcher } = await start({ maxQueuedRequests: 2 });
    const c = await client();
    c.socket.pause();
    const total = 60;
    c.send(...Array.from({ length: total }, (_, i) => `big:${1024 * 1024 + i}`));
    // Wait until dispatching has stalled: the count stops moving for a while.
    let last = -1;
    let stableSince = Date.now();
    await waitFor(() => {
      if (dispatcher.seen.length !== last) {
        last = dispatcher.seen.length;
        stableSince = Date.now();
      }
      return Date.now() - stableSince > 500;
    }, "dispatching to stall");
    expect(dispatcher.seen.length).toBeLessThan(total);
    c.socket.resume();
    await waitFor(() => c.responses.length === total, "every response", 30_000);
    expect(c.responses.map((r) => r.length)).toEqual(Array.from({ length: total }, (_, i) => 1024 * 1024 + i));
  });

  it("finishes the request in progress on close, then closes the connection", async () => {
    const { client, dispatcher, server } = await start();
    const c = await client();
    c.send("hold:last-words");
    await waitFor(() => dispatcher.seen.length === 1, "the request to be dispatched");
    const closing = server.close(5000);
    expect(dispatcher.contexts[0]?.signal.aborted).toBe(true);
    dispatcher.release();
    await closing;
    await c.waitForClose();
    expect(c.texts()).toEqual(["last-words"]);
  });

  it("counts connections and bytes through the metrics hooks", async () => {
    const events: string[] = [];
    let bytesIn = 0;
    let bytesOut = 0;
    const metrics: NetworkMetrics = {
      connectionOpened: (l) => events.push(`open ${l}`),
      connectionClosed: (l) => events.push(`close ${l}`),
      bytesReceived: (_l, n) => (bytesIn += n),
      bytesSent: (_l, n) => (bytesOut += n),
    };
    const { client } = await start({ metrics });
    const c = await client();
    c.send("echo:12345");
    await c.waitForResponses(1);
    c.destroy();
    await waitFor(() => events.length === 2, "the close to be counted");
    expect(events).toEqual(["open PLAINTEXT", "close PLAINTEXT"]);
    expect(bytesIn).toBe(4 + "echo:12345".length);
    expect(bytesOut).toBe(4 + 5);
  });

  it("fails with a clear message and the bind exit code when the port is taken", async () => {
    const { port, release } = await occupyPort();
    try {
      const err: unknown = await start({
        listeners: [
          { name: "FIRST", host: "127.0.0.1", port: 0 },
          { name: "PLAINTEXT", host: "127.0.0.1", port },
        ],
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StartupError);
      expect((err as StartupError).exitCode).toBe(ExitCode.Bind);
      expect((err as StartupError).message).toMatch(
        new RegExp(`^port ${port} on 127\\.0\\.0\\.1 is already in use \\(listener PLAINTEXT\\)`),
      );
    } finally {
      await release();
    }
  });
});

describe("network server: pipelined requests (ADR 31)", () => {
  it("starts a pipelined request once the one before lets it, and writes the responses in request order", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("pipe:a", "pipe:b", "pipe-now:c", "pipe:d");
    await waitFor(() => dispatcher.seen.length === 4, "all four requests to start");
    expect(dispatcher.starts.map((s) => s.open)).toEqual([0, 1, 2, 2]);
    // Finished last to first: each response waits for the ones before it.
    dispatcher.finish("d");
    dispatcher.finish("b");
    dispatcher.finish("a");
    expect(await c.waitForResponses(4)).toEqual(["a", "b", "c", "d"]);
  });

  it("starts a request that is not pipelined only once everything before it is answered", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("pipe:a", "echo:x", "pipe:b");
    await waitFor(() => dispatcher.seen.length === 1, "the first request to start");
    dispatcher.finish("a");
    await waitFor(() => dispatcher.seen.length === 3, "the last request to start");
    dispatcher.finish("b");
    expect(await c.waitForResponses(3)).toEqual(["a", "x", "b"]);
    expect(dispatcher.starts).toEqual([
      { text: "pipe:a", open: 0 },
      { text: "echo:x", open: 0 },
      { text: "pipe:b", open: 0 },
    ]);
  });

  it("does not start a pipelined request behind one that has not let it", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("hold:h", "pipe-now:p");
    await waitFor(() => dispatcher.seen.length === 1, "the first request to start");
    dispatcher.release();
    expect(await c.waitForResponses(2)).toEqual(["h", "p"]);
    expect(dispatcher.starts.map((s) => s.open)).toEqual([0, 0]);
  });

  it("keeps at most maxInFlightRequests requests in flight", async () => {
    const { client, dispatcher } = await start({ maxInFlightRequests: 2 });
    const c = await client();
    c.send("pipe:a", "pipe:b", "pipe:c");
    await waitFor(() => dispatcher.seen.length === 2, "two requests to start");
    dispatcher.finish("a");
    await waitFor(() => dispatcher.seen.length === 3, "the third request to start");
    expect(dispatcher.starts.map((s) => s.open)).toEqual([0, 1, 1]);
    dispatcher.finish("c");
    dispatcher.finish("b");
    expect(await c.waitForResponses(3)).toEqual(["a", "b", "c"]);
  });

  it("when a request fails, writes the responses before it, starts nothing after it and closes", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("pipe:a", "pipe-throw", "pipe-now:never");
    await waitFor(() => dispatcher.seen.includes("pipe-throw"), "the failing request to start");
    dispatcher.finish("a");
    await c.waitForClose();
    expect(c.texts()).toEqual(["a"]);
    expect(dispatcher.seen).toEqual(["pipe:a", "pipe-throw"]);
  });

  it("closes after the response of a pipelined request that asks, once the ones before it are written", async () => {
    const { client, dispatcher } = await start();
    const c = await client();
    c.send("pipe:a", "pipe-last:b", "pipe-now:never");
    await waitFor(() => dispatcher.seen.length === 2, "the closing request to start");
    dispatcher.finish("a");
    await c.waitForClose();
    expect(c.texts()).toEqual(["a", "b"]);
    expect(dispatcher.seen).toEqual(["pipe:a", "pipe-last:b"]);
  });

  it("releases a finished chunked response waiting behind an earlier one when the connection is dropped", async () => {
    const { client, dispatcher } = await start({ requestReadTimeoutMs: 200 });
    const c = await client();
    c.send("pipe:a", "pipe-chunks:y,z");
    await waitFor(() => dispatcher.seen.length === 2, "both requests to start");
    // A request that never completes: the connection is dropped at the read timeout, with a response unwritten.
    c.socket.write(frame("echo:never").subarray(0, 6));
    await c.waitForClose();
    await waitFor(() => dispatcher.released.length === 1, "the chunked response released", 5000);
    expect(dispatcher.released).toEqual(["y,z"]);
    expect(c.texts()).toEqual([]);
    dispatcher.finish("a");
  });

  it("on shutdown, answers every request in flight, then closes", async () => {
    const { client, dispatcher, server } = await start();
    const c = await client();
    c.send("pipe:a", "pipe:b");
    await waitFor(() => dispatcher.seen.length === 2, "both requests to start");
    const closing = server.close(5000);
    dispatcher.finish("b");
    dispatcher.finish("a");
    await closing;
    await c.waitForClose();
    expect(c.texts()).toEqual(["a", "b"]);
  });
});
