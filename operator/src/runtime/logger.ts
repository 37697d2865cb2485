// The operator's pino logger: JSON lines with Kubernetes-style fields. Object references are logged as `kind`,
// `namespace` and `name`; callers bind them with child loggers rather than formatting them into messages.
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

export function createLogger(options: { level?: LevelWithSilent; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { component: "tributary-operator" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}

/** A child logger bound to one object, the shape every reconcile log line carries. */
export function objectLogger(logger: Logger, kind: string, namespace: string | undefined, name: string): Logger {
  return logger.child({ kind, namespace, name });
}
