import type { Logger } from "pino";
import { ExitCode } from "./exit-codes.ts";

interface Started {
  readonly name: string;
  readonly stop: () => Promise<void>;
}

export interface LifecycleOptions {
  readonly logger: Logger;
  /** Upper bound for the whole stop sequence; past it the process exits with ExitCode.Failure. */
  readonly stopTimeoutMs?: number;
}

export type SignalSource = Pick<NodeJS.Process, "on" | "off">;

/**
 * Starts components in order and stops them in reverse, so the network stops taking requests before storage flushes
 * and closes, and metrics go last. A failed start stops what had already started.
 */
export class Lifecycle {
  private readonly started: Started[] = [];
  private readonly logger: Logger;
  private readonly stopTimeoutMs: number;
  private stopping: Promise<ExitCode> | null = null;
  private resolveDone!: (code: ExitCode) => void;
  /** Settles with the exit code once stop() has finished. */
  readonly done: Promise<ExitCode>;

  constructor(options: LifecycleOptions) {
    this.logger = options.logger;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Runs start(); if it succeeds, stop(value) joins the stop sequence. */
  async start<T>(name: string, start: () => Promise<T>, stop: (value: T) => Promise<void>): Promise<T> {
    if (this.stopping) throw new Error(`cannot start ${name}: stopping`);
    const value = await start();
    this.started.push({ name, stop: () => stop(value) });
    this.logger.debug({ component: name }, "Started");
    return value;
  }

  /** Idempotent; resolves with Ok, or Failure if a component failed to stop or the timeout passed. */
  stop(reason: string, code: ExitCode = ExitCode.Ok): Promise<ExitCode> {
    this.stopping ??= this.runStop(reason, code).then((result) => {
      this.resolveDone(result);
      return result;
    });
    return this.stopping;
  }

  private async runStop(reason: string, code: ExitCode): Promise<ExitCode> {
    this.logger.info({ reason }, "Stopping");
    let result = code;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.stopTimeoutMs);
      timer.unref();
    });
    const sequence = (async () => {
      for (const c of this.started.splice(0).reverse()) {
        try {
          await c.stop();
          this.logger.debug({ component: c.name }, "Stopped");
        } catch (err) {
          result = ExitCode.Failure;
          this.logger.error({ err, component: c.name }, "Component failed to stop");
        }
      }
    })();
    const outcome = await Promise.race([sequence.then(() => "done" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.logger.error({ timeoutMs: this.stopTimeoutMs }, "Stop did not finish in time");
      return ExitCode.Failure;
    }
    this.logger.info({ exitCode: result }, "Stopped");
    return result;
  }

  /**
   * SIGTERM and SIGINT stop gracefully; a second signal while stopping exits at once with ExitCode.Failure, for the
   * operator who really means it. Returns a function that removes the handlers.
   */
  handleSignals(proc: SignalSource = process, exit: (code: number) => void = (c) => process.exit(c)): () => void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.stopping) {
        this.logger.warn({ signal }, "Second signal while stopping; exiting now");
        exit(ExitCode.Failure);
        return;
      }
      this.logger.info({ signal }, "Received signal");
      void this.stop(`received ${signal}`);
    };
    proc.on("SIGTERM", onSignal);
    proc.on("SIGINT", onSignal);
    return () => {
      proc.off("SIGTERM", onSignal);
      proc.off("SIGINT", onSignal);
    };
  }
}
