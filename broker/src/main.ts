import { Registry } from "prom-client";
import { MAX_METADATA_VERSION } from "./controller/features.ts";
import { RELEASE } from "./release.ts";
import { parseCliArgs, USAGE } from "./config/args.ts";
import { ConfigError, loadBrokerConfig, type BrokerConfig } from "./config/broker-config.ts";
import { ExitCode, StartupError } from "./runtime/exit-codes.ts";
import { Lifecycle } from "./runtime/lifecycle.ts";
import { createLogger } from "./runtime/logger.ts";
import { createMetrics, startMetricsServer } from "./runtime/metrics.ts";
import { processIo, type ProcessIo } from "./runtime/process-io.ts";
import { planNode } from "./node/node-plan.ts";
import { startNode } from "./node/start-node.ts";
import { startingRestartSafety } from "./replication/restart-safety.ts";

/**
 * Composition root: arguments → config → logger → metrics → the node (node/start-node.ts: broker services, controller
 * listener, metadata quorum, client listeners). Resolves with the process exit code once the node
 * has stopped (after SIGTERM/SIGINT), or at once when it cannot start.
 */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: ProcessIo = processIo,
): Promise<number> {
  const args = parseCliArgs(argv);
  if (args.kind === "help") {
    io.stdout(`${USAGE}\n`);
    return ExitCode.Ok;
  }
  if (args.kind === "error") {
    io.stderr(`tributary-broker: ${args.message}\n\n${USAGE}\n`);
    return ExitCode.Config;
  }

  let config: BrokerConfig;
  let warnings;
  let metaProperties;
  try {
    ({ config, warnings, metaProperties } = loadBrokerConfig({
      configPath: args.configPath,
      overrideFiles: args.overrideFiles,
      overrides: args.overrides,
      env,
    }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`tributary-broker: invalid configuration:\n${err.message.replace(/^/gm, "  ")}\n`);
    return ExitCode.Config;
  }

  const logger = createLogger({ level: config.loggerLevel, env, base: { nodeId: config.nodeId } });
  for (const w of warnings) logger.warn({ key: w.key, origin: w.origin }, w.message);

  const metrics = createMetrics(new Registry());
  const lifecycle = new Lifecycle({ logger });
  // Signals stop the node from here on, also while it waits for its quorum or its first metadata image.
  const removeSignalHandlers = lifecycle.handleSignals();
  let clusterId: string;
  const plan = planNode(config);
  // Set once the node serves; until then /v1/restart-safety answers that the broker is starting.
  let restartSafetyNow: (() => object) | undefined;
  try {
    if (config.metricsPort >= 0) {
      await lifecycle.start(
        "metrics",
        () =>
          startMetricsServer({
            registry: metrics.registry,
            host: config.metricsHost,
            port: config.metricsPort,
            logger,
            ...(plan.broker
              ? { restartSafety: () => restartSafetyNow?.() ?? startingRestartSafety(config.nodeId) }
              : {}),
          }),
        (server) => server.close(),
      );
    }
    const node = await startNode({
      config,
      plan,
      logger,
      metrics,
      lifecycle,
      ...(metaProperties !== undefined ? { metaProperties } : {}),
    });
    if (node === null) return finish(removeSignalHandlers, lifecycle);
    clusterId = node.clusterId;
    restartSafetyNow = node.restartSafety;
  } catch (err) {
    const code = err instanceof StartupError ? err.exitCode : ExitCode.Failure;
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err }, "Failed to start");
    io.stderr(`tributary-broker: ${message}\n`);
    await lifecycle.stop("failed to start", code);
    removeSignalHandlers();
    return code;
  }

  logger.info(
    {
      clusterId,
      version: RELEASE.version,
      maxMetadataVersion: MAX_METADATA_VERSION,
      processRoles: config.processRoles,
      advertisedListeners: config.advertisedListeners,
      logDirs: config.logDirs,
    },
    "Node started",
  );
  return finish(removeSignalHandlers, lifecycle);
}

async function finish(removeSignalHandlers: () => void, lifecycle: Lifecycle): Promise<number> {
  const code = await lifecycle.done;
  removeSignalHandlers();
  return code;
}
