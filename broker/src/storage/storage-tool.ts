import { parseArgs } from "node:util";
import { ConfigError, loadBrokerConfig } from "../config/broker-config.ts";
import { ExitCode } from "../runtime/exit-codes.ts";
import { processIo, type ProcessIo } from "../runtime/process-io.ts";
import { parseKafkaUuid, randomKafkaUuid } from "./kafka-uuid.ts";
import {
  LATEST_METADATA_VERSION,
  METADATA_VERSION,
  METADATA_VERSIONS,
  SUPPORTED_FEATURES,
} from "../controller/index.ts";
import type { MetadataRecordAndVersion } from "../protocol/index.ts";
import {
  BootstrapError,
  bootstrapRecords,
  metadataVersionName,
  metadataVersionOfRelease,
} from "../quorum/bootstrap-checkpoint.ts";
import { formatDirs, readStoredMeta, unformattedDirs } from "./format.ts";

export const STORAGE_USAGE = `Usage:
  tributary-storage format --cluster-id <id> --config <server.properties> [--release-version <version>]
                           [--feature name=level ...] [--override key=value ...] [--ignore-formatted]
  tributary-storage random-uuid

format       writes meta.properties (version 1, node.id, cluster.id, directory.id) and bootstrap.checkpoint (the
             feature levels a new cluster starts with) into every log dir and the metadata log dir, as
             kafka-storage format -t <id> -c <file> does; every node of a cluster gets the same cluster id
random-uuid  prints a new cluster id (22 characters, base64url)

Options:
  -t, --cluster-id <id>         The cluster id, as printed by random-uuid
  -c, --config <file>           The node's server.properties
  -r, --release-version <v>     The metadata.version to start with: ${METADATA_VERSIONS.map((v) => v.name).join(", ")}
                                (or 3.9, 4.0); the latest, ${metadataVersionName(LATEST_METADATA_VERSION)}, by default
  -f, --feature name=level      A feature level to start with; repeatable (supported: ${[...SUPPORTED_FEATURES.keys()].join(", ")})
      --override key=value      Set a configuration key, as for tributary-broker; repeatable
  -g, --ignore-formatted        Skip log dirs that are already formatted instead of failing
  -h, --help                    Show this help

Exit codes: 0 done, 1 failure (a log dir is already formatted, or a write failed), 2 invalid arguments,
cluster id or configuration.`;

/** The tributary-storage command; resolves with the process exit code. */
export async function storageMain(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: ProcessIo = processIo,
): Promise<number> {
  const usageError = (message: string) => {
    io.stderr(`tributary-storage: ${message}\n\n${STORAGE_USAGE}\n`);
    return ExitCode.Config;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        "cluster-id": { type: "string", short: "t" },
        config: { type: "string", short: "c" },
        override: { type: "string", multiple: true },
        "ignore-formatted": { type: "boolean", short: "g" },
        "release-version": { type: "string", short: "r" },
        feature: { type: "string", short: "f", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${STORAGE_USAGE}\n`);
    return ExitCode.Ok;
  }
  const [command, ...extra] = positionals;
  if (extra.length > 0) return usageError(`unexpected argument ${JSON.stringify(extra[0])}`);

  if (command === "random-uuid") {
    io.stdout(`${randomKafkaUuid()}\n`);
    return ExitCode.Ok;
  }
  if (command !== "format")
    return usageError(command === undefined ? "a command is required" : `unknown command ${JSON.stringify(command)}`);

  const clusterId = values["cluster-id"];
  if (clusterId === undefined) return usageError("format needs --cluster-id <id>");
  if (values.config === undefined) return usageError("format needs --config <server.properties>");
  const parsedId = parseKafkaUuid(clusterId);
  if ("error" in parsedId) {
    io.stderr(
      `tributary-storage: ${JSON.stringify(clusterId)} is not a valid cluster id: ${parsedId.error}; ` +
        "use the output of `tributary-storage random-uuid`\n",
    );
    return ExitCode.Config;
  }

  const bootstrap = bootstrapOf(values["release-version"], values.feature ?? []);
  if ("error" in bootstrap) {
    io.stderr(`tributary-storage: ${bootstrap.error}\n`);
    return ExitCode.Config;
  }

  let config;
  try {
    ({ config } = loadBrokerConfig({ configPath: values.config, overrides: values.override ?? [], env }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`tributary-storage: invalid configuration:\n${err.message.replace(/^/gm, "  ")}\n`);
    return ExitCode.Config;
  }
  if (config.clusterId !== null && config.clusterId !== clusterId) {
    io.stderr(
      `tributary-storage: --cluster-id ${clusterId} differs from the cluster id ${config.clusterId} ` +
        "(cluster.id in the configuration or already in a log dir's meta.properties)\n",
    );
    return ExitCode.Config;
  }

  const todo = unformattedDirs(await readStoredMeta(config.storageDirs));
  const formatted = config.storageDirs.filter((d) => !todo.includes(d));
  if (formatted.length > 0 && !values["ignore-formatted"]) {
    io.stderr(
      `tributary-storage: log dir ${formatted.join(", ")} is already formatted; ` +
        "use --ignore-formatted to skip formatted dirs and format the others\n",
    );
    return ExitCode.Failure;
  }
  if (todo.length === 0) {
    io.stdout("All of the log directories are already formatted.\n");
    return ExitCode.Ok;
  }
  await formatDirs(todo, clusterId, config.nodeId, bootstrap.records);
  const mv = metadataVersionName(bootstrap.metadataVersion);
  for (const dir of todo) {
    const kind = dir === config.metadataLogDir ? "metadata log directory" : "log directory";
    io.stdout(
      `Formatted ${kind} ${dir} with cluster.id ${clusterId}, node.id ${config.nodeId} and metadata.version ${mv}\n`,
    );
  }
  return ExitCode.Ok;
}

/** The bootstrap records from --release-version and --feature, with Kafka's rules for the two (Formatter). */
function bootstrapOf(
  release: string | undefined,
  featureArgs: readonly string[],
): { records: MetadataRecordAndVersion[]; metadataVersion: number } | { error: string } {
  const features = new Map<string, number>();
  for (const arg of featureArgs) {
    const m = /^([^=]+)=(\d+)$/.exec(arg);
    if (m?.[1] === undefined || m[2] === undefined)
      return { error: `--feature takes name=level, not ${JSON.stringify(arg)}` };
    features.set(m[1], Number(m[2]));
  }
  let metadataVersion = LATEST_METADATA_VERSION;
  const asFeature = features.get(METADATA_VERSION);
  if (asFeature !== undefined) {
    if (release !== undefined) {
      return { error: `use --release-version instead of --feature ${METADATA_VERSION}=X to avoid ambiguity` };
    }
    metadataVersion = asFeature;
  } else if (release !== undefined) {
    const level = metadataVersionOfRelease(release);
    if (level === undefined) {
      return {
        error: `unknown release version ${JSON.stringify(release)}; supported: ${METADATA_VERSIONS.map((v) => v.name).join(", ")}`,
      };
    }
    metadataVersion = level;
  }
  try {
    return { records: bootstrapRecords(metadataVersion, features), metadataVersion };
  } catch (err) {
    if (err instanceof BootstrapError) return { error: err.message };
    throw err;
  }
}
