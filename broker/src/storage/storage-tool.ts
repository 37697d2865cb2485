import { parseArgs } from "node:util";
import { ConfigError, loadBrokerConfig, type BrokerConfig } from "../config/broker-config.ts";
import { ExitCode } from "../runtime/exit-codes.ts";
import { processIo, type ProcessIo } from "../runtime/process-io.ts";
import { parseKafkaUuid, randomKafkaUuid } from "./kafka-uuid.ts";
import {
  ELR_FEATURE,
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
import {
  parseInitialControllers,
  standaloneController,
  writeBootstrapVoters,
  type InitialController,
} from "./dynamic-quorum.ts";

export const STORAGE_USAGE = `Usage:
  tributary-storage format --cluster-id <id> --config <server.properties> [--release-version <version>]
                           [--feature name=level ...] [--override key=value ...] [--ignore-formatted]
                           [--standalone | --initial-controllers <list> | --no-initial-controllers]
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
  -f, --feature name=level      A feature level to start with; repeatable (supported: ${[...SUPPORTED_FEATURES.keys()].join(", ")}).
                                A feature not named starts at the release version's default: ${ELR_FEATURE}
                                is 1 (eligible leader replicas on) from 4.0-IV1, 0 below; =0 turns it off
      --override key=value      Set a configuration key, as for tributary-broker; repeatable
  -g, --ignore-formatted        Skip log dirs that are already formatted instead of failing
  -s, --standalone              Dynamic voters (KIP-853): this controller is the only initial voter
  -I, --initial-controllers <id@host:port:directoryId,...>
                                Dynamic voters: these controllers are the initial voters (the same list on each)
  -N, --no-initial-controllers  Dynamic voters: this node joins an existing quorum (a controller is then added
                                with kafka-metadata-quorum add-controller)
  -h, --help                    Show this help

A controller configured with controller.quorum.bootstrap.servers rather than controller.quorum.voters must be
formatted with one of --standalone, --initial-controllers or --no-initial-controllers.

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
        standalone: { type: "boolean", short: "s" },
        "initial-controllers": { type: "string", short: "I" },
        "no-initial-controllers": { type: "boolean", short: "N" },
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

  const quorum = dynamicQuorum(values, config);
  if ("error" in quorum) {
    io.stderr(`tributary-storage: ${quorum.error}\n`);
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
  const metadataDir = config.metadataLogDir;
  const self = quorum.voters?.find((c) => c.id === config.nodeId);
  const ids = new Map<string, string>(
    self !== undefined && todo.includes(metadataDir) ? [[metadataDir, self.directoryId]] : [],
  );
  await formatDirs(todo, clusterId, config.nodeId, bootstrap.records, ids);
  if (quorum.voters !== null && todo.includes(metadataDir)) {
    await writeBootstrapVoters(metadataDir, quorum.voters, quorum.listenerName);
  }
  const mv = metadataVersionName(bootstrap.metadataVersion);
  for (const dir of todo) {
    const kind = dir === config.metadataLogDir ? "metadata log directory" : "log directory";
    io.stdout(
      `Formatted ${kind} ${dir} with cluster.id ${clusterId}, node.id ${config.nodeId} and metadata.version ${mv}\n`,
    );
  }
  if (quorum.voters !== null) {
    const list = quorum.voters.map((c) => `${c.id}@${c.host}:${c.port}:${c.directoryId}`).join(",");
    io.stdout(`Initial voters (kraft.version 1): ${list}\n`);
  }
  return ExitCode.Ok;
}

/**
 * The initial voters to write (KIP-853), null for none, from --standalone / --initial-controllers /
 * --no-initial-controllers and the configuration, with Kafka's rules (StorageTool and Formatter).
 */
function dynamicQuorum(
  values: { standalone?: boolean; "initial-controllers"?: string; "no-initial-controllers"?: boolean },
  config: BrokerConfig,
): { voters: InitialController[] | null; listenerName: string } | { error: string } {
  const standalone = values.standalone === true;
  const list = values["initial-controllers"];
  const none = values["no-initial-controllers"] === true;
  if ([standalone, list !== undefined, none].filter(Boolean).length > 1) {
    return { error: "use only one of --standalone, --initial-controllers and --no-initial-controllers" };
  }
  const controller = config.processRoles.includes("controller");
  const listenerName = config.controllerListenerNames[0] ?? "CONTROLLER";
  if ((standalone || list !== undefined) && config.controllerQuorumVoters.length > 0) {
    return {
      error:
        "--standalone and --initial-controllers set up dynamic voters (kraft.version 1); this configuration has static " +
        "ones (controller.quorum.voters): use controller.quorum.bootstrap.servers instead",
    };
  }
  if (standalone) {
    if (!controller) return { error: "--standalone is only for a controller (process.roles has no controller)" };
    const listener = config.listeners.find((l) => l.isController);
    if (listener === undefined) return { error: "--standalone needs a controller listener in listeners" };
    const advertised = config.advertisedControllerListeners.find((a) => a.name === listener.name);
    return {
      voters: [
        standaloneController(config.nodeId, advertised?.host ?? listener.host, advertised?.port ?? listener.port),
      ],
      listenerName,
    };
  }
  if (list !== undefined) {
    const parsed = parseInitialControllers(list);
    if ("error" in parsed) return { error: `--initial-controllers: ${parsed.error}` };
    return { voters: parsed, listenerName };
  }
  if (!none && controller && config.controllerQuorumBootstrapServers.length > 0) {
    return {
      error:
        "because controller.quorum.voters is not set on this controller (controller.quorum.bootstrap.servers is), " +
        "you must specify one of: --standalone, --initial-controllers, or --no-initial-controllers",
    };
  }
  return { voters: null, listenerName };
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
