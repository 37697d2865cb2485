import { connect, createServer, type Socket } from "node:net";
import { pino, type Logger } from "pino";
import { FrameReader } from "../../src/protocol/frame-reader.ts";

export interface CapturedLogger {
  readonly logger: Logger;
  readonly lines: () => Array<Record<string, unknown>>;
}

export function captureLogger(): CapturedLogger {
  const raw: string[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void raw.push(s) });
  return { logger, lines: () => raw.map((s) => JSON.parse(s) as Record<string, unknown>) };
}

/** Polls until check() returns a value other than undefined/false, or throws after the deadline. */
export async function waitFor<T>(check: () => T | undefined | false, what: string, deadlineMs = 10_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function frame(body: Buffer | string): Buffer {
  const b = typeof body === "string" ? Buffer.from(body) : body;
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(b.length, 0);
  return Buffer.concat([prefix, b]);
}

/** A raw Kafka-framed client: collects response frames and notes when the server closes. */
export class TestClient {
  readonly responses: Buffer[] = [];
  closed = false;
  private readonly reader = new FrameReader(1 << 30);

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.reader.push(chunk);
      for (let ev = this.reader.next(); ev !== null; ev = this.reader.next()) {
        if (ev.kind === "frame") this.responses.push(Buffer.from(ev.frame));
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => (this.closed = true));
  }

  static async connect(port: number): Promise<TestClient> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new TestClient(socket);
  }

  send(...bodies: Array<Buffer | string>): void {
    this.socket.write(Buffer.concat(bodies.map(frame)));
  }

  texts(): string[] {
    return this.responses.map((r) => r.toString());
  }

  async waitForResponses(n: number): Promise<string[]> {
    await waitFor(() => this.responses.length >= n || this.closed, `${n} responses`);
    return this.texts();
  }

  async waitForClose(): Promise<void> {
    await waitFor(() => this.closed, "the server to close the connection");
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Holds a loopback port open so that binding it fails with EADDRINUSE. */
export async function occupyPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen({ host: "127.0.0.1", port: 0 }, r));
  const address = blocker.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { port, release: () => new Promise((r) => blocker.close(() => r())) };
}
