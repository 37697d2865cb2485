import { parseArgs } from "node:util";

export const USAGE = `Usage: tributary-broker --config <server.properties> [--override-file <file> ...] [--override key=value ...]

Starts a Tributary broker that speaks the Kafka protocol.

Options:
  -c, --config <file>        Kafka-style server.properties (may also be given as the only positional argument)
      --override-file <file> Properties whose keys are set as if by --override (before the --override arguments);
                             repeatable. The Kubernetes operator's init step writes broker.rack into one.
      --override key=value   Set a configuration key; repeatable; wins over the files and the environment
  -h, --help                 Show this help

Environment: TRIBUTARY_<KEY> sets a key, upper-case with dots as underscores (TRIBUTARY_LOG_DIRS=/data -> log.dirs);
KAFKA_<KEY> likewise. Only names of known keys count: other TRIBUTARY_* and KAFKA_* variables (tools' own, such as
TRIBUTARY_CACHE or KAFKA_HEAP_OPTS) are left alone, so a misspelt variable is not reported; a misspelt key in the
file or an --override is. LOG_LEVEL overrides logger.level.
Exit codes: 0 stopped cleanly, 1 failure, 2 invalid configuration or arguments, 3 a port could not be bound.
See docs/configuration.md for every key.`;

export type CliArgs =
  | { readonly kind: "help" }
  | {
      readonly kind: "run";
      readonly configPath: string;
      readonly overrideFiles: readonly string[];
      readonly overrides: readonly string[];
    }
  | { readonly kind: "error"; readonly message: string };

export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        config: { type: "string", short: "c" },
        override: { type: "string", multiple: true },
        "override-file": { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return { kind: "error", message: err instanceof Error ? err.message : String(err) };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (positionals.length > 1 || (positionals.length === 1 && values.config !== undefined))
    return { kind: "error", message: `unexpected argument ${JSON.stringify(positionals.at(-1))}` };
  const configPath = values.config ?? positionals[0];
  if (configPath === undefined) return { kind: "error", message: "--config <server.properties> is required" };
  return { kind: "run", configPath, overrideFiles: values["override-file"] ?? [], overrides: values.override ?? [] };
}
