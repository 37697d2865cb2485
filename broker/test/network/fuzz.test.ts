import fc from "fast-check";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNetwork, type NetworkServer } from "../../src/network/server.ts";
import type { RequestDispatcher } from "../../src/network/types.ts";
import { frame, TestClient, waitFor } from "./helpers.ts";

/** Echoes frames, answers nothing to frames starting 0xfe and throws on frames starting 0xff. */
const dispatcher: RequestDispatcher = {
  dispatch(f) {
    if (f[0] === 0xff) return Promise.reject(new Error("boom"));
    if (f[0] === 0xfe) return Promise.resolve(null);
    return Promise.resolve(Buffer.from(f));
  },
};

const chunk = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => frame(Buffer.from(a))),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n, 0);
    return b;
  }),
);

describe("network fuzz", () => {
  let server: NetworkServer;
  let port = 0;

  beforeAll(async () => {
    server = await startNetwork({
      listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 0 }],
      dispatcher,
      logger: pino({ level: "silent" }),
      maxRequestBytes: 4096,
      idleTimeoutMs: 60_000,
      requestReadTimeoutMs: 60_000,
    });
    port = server.listeners[0]?.port ?? 0;
  });

  afterAll(() => server.close(1000));

  it("survives any byte stream: each connection ends, and a well-behaved client is always served", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { maxLength: 12 }), async (chunks) => {
        const fuzzer = await TestClient.connect(port);
        for (const c of chunks) fuzzer.socket.write(c);
        fuzzer.socket.end();
        await fuzzer.waitForClose();
        const healthy = await TestClient.connect(port);
        healthy.send("ping");
        const got = await healthy.waitForResponses(1);
        healthy.destroy();
        expect(got).toEqual(["ping"]);
      }),
      { numRuns: 60 },
    );
    await waitFor(() => server.connectionCount === 0, "every connection to close");
  });

  it("answers valid frames in order however the stream is split", async () => {
    const body = fc.uint8Array({ minLength: 1, maxLength: 2000 }).map((a) => Buffer.from(a.map((b) => b & 0x7f)));
    await fc.assert(
      fc.asyncProperty(
        fc.array(body, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (bodies, cuts) => {
          const stream = Buffer.concat(bodies.map((b) => frame(b)));
          const points = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
          const client = await TestClient.connect(port);
          let from = 0;
          for (const p of [...points, stream.length]) {
            client.socket.write(stream.subarray(from, p));
            from = p;
          }
          await waitFor(() => client.responses.length >= bodies.length || client.closed, "the responses");
          client.destroy();
          expect(client.responses).toEqual(bodies);
        },
      ),
      { numRuns: 40 },
    );
  });
});
