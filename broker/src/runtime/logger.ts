import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** From the broker config (logger.level); LOG_LEVEL in the environment wins so a running setup can be debugged. */
  readonly level: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Defaults to stdout, written synchronously so nothing is lost when the process exits right after a log line. */
  readonly destination?: DestinationStream;
  /** Fields on every line, e.g. { nodeId }. */
  readonly base?: Readonly<Record<string, unknown>>;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.env?.["LOG_LEVEL"]?.trim().toLowerCase() || options.level;
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level,
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
