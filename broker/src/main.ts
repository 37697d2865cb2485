import { Registry } from "prom-client";
import { parseCliArgs, USAGE } from "./config/args.ts";
import { ConfigError, loadBrokerConfig, type BrokerConfig } from "./config/broker-config.ts";
import type { RequestDispatcher } from "./network/types.ts";
import { startNetwork } from "./network/server.ts";
import { ExitCode, StartupError } from "./runtime/exit-codes.ts";
import { Lifecycle } from "./runtime/lifecycle.ts";
import { createLogger } from "./runtime/logger.ts";
import { createMetrics, startMetricsServer } from "./runtime/metrics.ts";
import { processIo, type ProcessIo } from "./runtime/process-io.ts";
import { startBroker, type Broker } from "./broker.ts";
import { requireFormattedStorage } from "./storage/format.ts";

/**
 * Composition root: arguments → config → logger → metrics → broker services → listeners. Resolves with the process exit code once the
 * broker has stopped (after SIGTERM/SIGINT), or at once when it cannot start.
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
  try {
    ({ config, warnings } = loadBrokerConfig({ configPath: args.configPath, overrides: args.overrides, env }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`tributary-broker: invalid configuration:\n${err.message.replace(/^/gm, "  ")}\n`);
    return ExitCode.Config;
  }

  const logger = createLogger({ level: config.loggerLevel, env, base: { nodeId: config.nodeId } });
  for (const w of warnings) logger.warn({ key: w.key, origin: w.origin }, w.message);

  const metrics = createMetrics(new Registry());
  const lifecycle = new Lifecycle({ logger });
  let broker: Broker | undefined;
  try {
    await requireFormattedStorage(config);
    if (config.metricsPort >= 0) {
      await lifecycle.start(
        "metrics",
        () =>
          startMetricsServer({
            registry: metrics.registry,
            host: config.metricsHost,
            port: config.metricsPort,
            logger,
          }),
        (server) => server.close(),
      );
    }
    broker = await lifecycle.start(
      "broker",
      () => startBroker({ config, logger, metrics }),
      (b) => b.close(),
    );
    const dispatcher: RequestDispatcher = broker.dispatcher;
    // Controller listeners carry KRaft's quorum protocol, which a single combined node does not need yet.
    const clientListeners = config.listeners.filter((l) => !l.isController);
    await lifecycle.start(
      "network",
      () =>
        startNetwork({
          listeners: clientListeners,
          dispatcher,
          logger,
          metrics: metrics.network,
          maxRequestBytes: config.socketRequestMaxBytes,
          idleTimeoutMs: config.connectionsMaxIdleMs,
          requestReadTimeoutMs: config.socketRequestReadTimeoutMs,
        }),
      (network) => network.close(),
    );
  } catch (err) {
    const code = err instanceof StartupError ? err.exitCode : ExitCode.Failure;
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err }, "Failed to start");
    io.stderr(`tributary-broker: ${message}\n`);
    await lifecycle.stop("failed to start", code);
    return code;
  }

  logger.info(
    { clusterId: broker?.services.clusterId, advertisedListeners: config.advertisedListeners, logDirs: config.logDirs },
    "Broker started",
  );
  const removeSignalHandlers = lifecycle.handleSignals();
  const code = await lifecycle.done;
  removeSignalHandlers();
  return code;
}
