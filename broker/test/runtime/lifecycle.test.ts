import { EventEmitter } from "node:events";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../../src/runtime/exit-codes.ts";
import { Lifecycle, type SignalSource } from "../../src/runtime/lifecycle.ts";

const logger = pino({ level: "silent" });

function fakeProcess(): SignalSource & EventEmitter {
  return new EventEmitter() as SignalSource & EventEmitter;
}

describe("Lifecycle", () => {
  it("stops components in reverse start order and settles done with Ok", async () => {
    const events: string[] = [];
    const lc = new Lifecycle({ logger });
    for (const name of ["metrics", "storage", "network"]) {
      await lc.start(
        name,
        () => {
          events.push(`start ${name}`);
          return Promise.resolve(name);
        },
        (value) => {
          events.push(`stop ${value}`);
          return Promise.resolve();
        },
      );
    }
    expect(await lc.stop("test")).toBe(ExitCode.Ok);
    expect(await lc.done).toBe(ExitCode.Ok);
    expect(events).toEqual([
      "start metrics",
      "start storage",
      "start network",
      "stop network",
      "stop storage",
      "stop metrics",
    ]);
  });

  it("keeps stopping the others when one fails to stop, and reports Failure", async () => {
    const stopped: string[] = [];
    const lc = new Lifecycle({ logger });
    await lc.start(
      "a",
      () => Promise.resolve(),
      () => Promise.resolve(void stopped.push("a")),
    );
    await lc.start(
      "b",
      () => Promise.resolve(),
      () => Promise.reject(new Error("flush failed")),
    );
    expect(await lc.stop("test")).toBe(ExitCode.Failure);
    expect(stopped).toEqual(["a"]);
  });

  it("is idempotent", async () => {
    let stops = 0;
    const lc = new Lifecycle({ logger });
    await lc.start(
      "a",
      () => Promise.resolve(),
      () => Promise.resolve(void stops++),
    );
    const [first, second] = await Promise.all([lc.stop("one"), lc.stop("two")]);
    expect([first, second, stops]).toEqual([ExitCode.Ok, ExitCode.Ok, 1]);
  });

  it("gives up with Failure when stopping hangs past the timeout", async () => {
    const lc = new Lifecycle({ logger, stopTimeoutMs: 50 });
    await lc.start(
      "stuck",
      () => Promise.resolve(),
      () => new Promise<void>(() => undefined),
    );
    expect(await lc.stop("test")).toBe(ExitCode.Failure);
  });

  it("passes a start failure's code through stop and refuses new starts while stopping", async () => {
    const lc = new Lifecycle({ logger });
    expect(await lc.stop("failed to start", ExitCode.Bind)).toBe(ExitCode.Bind);
    await expect(
      lc.start(
        "late",
        () => Promise.resolve(),
        () => Promise.resolve(),
      ),
    ).rejects.toThrow(/stopping/);
  });

  it("stops gracefully on SIGTERM and exits at once on a second signal", async () => {
    const proc = fakeProcess();
    const exits: number[] = [];
    const lc = new Lifecycle({ logger });
    let release!: () => void;
    await lc.start(
      "slow",
      () => Promise.resolve(),
      () => new Promise<void>((r) => (release = r)),
    );
    const remove = lc.handleSignals(proc, (c) => exits.push(c));
    proc.emit("SIGTERM", "SIGTERM");
    proc.emit("SIGINT", "SIGINT");
    expect(exits).toEqual([ExitCode.Failure]);
    release();
    expect(await lc.done).toBe(ExitCode.Ok);
    remove();
    expect(proc.listenerCount("SIGTERM") + proc.listenerCount("SIGINT")).toBe(0);
  });
});
