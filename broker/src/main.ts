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
import { createControllerHandlers } from "./handlers/controller/registry.ts";
import { createDispatcher } from "./handlers/dispatcher.ts";
import { MetadataQuorum } from "./node/metadata-quorum.ts";
import { planNode } from "./node/node-plan.ts";
import { formatControllerStorage, requireFormattedStorage } from "./storage/format.ts";

/**
 * Composition root: arguments → config → logger → metrics → broker services → metadata quorum → controller listener
 * → client listeners (once the node has its first metadata image). Resolves with the process exit code once the node
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
  // Signals stop the node from here on, also while it waits for its quorum or its first metadata image.
  const removeSignalHandlers = lifecycle.handleSignals();
  const plan = planNode(config);
  const network = {
    logger,
    metrics: metrics.network,
    maxRequestBytes: config.socketRequestMaxBytes,
    idleTimeoutMs: config.connectionsMaxIdleMs,
    requestReadTimeoutMs: config.socketRequestReadTimeoutMs,
  };
  let clusterId: string;
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
    let broker: Broker | undefined;
    if (plan.broker) {
      broker = await lifecycle.start(
        "broker",
        () => startBroker({ config, logger, metrics }),
        (b) => b.close(),
      );
      clusterId = broker.services.clusterId;
    } else {
      clusterId = await formatControllerStorage(config);
    }
    const metadataDir = config.logDirs[0];
    if (metadataDir === undefined) throw new Error("log.dirs is empty");
    logger.info(
      { clusterId, voters: plan.voters.map((v) => v.id), voter: plan.voter, metadataDir },
      "Joining the metadata quorum",
    );
    const quorum = await lifecycle.start(
      "metadata quorum",
      () => MetadataQuorum.start({ config, plan, clusterId, metadataDir, logger }),
      (q) => q.close(),
    );
    const controllerListener = plan.controllerListener;
    if (controllerListener !== null) {
      const handlers = createControllerHandlers(quorum.controllerPort());
      await lifecycle.start(
        "controller listener",
        () =>
          startNetwork({
            ...network,
            listeners: [controllerListener],
            dispatcher: createDispatcher({ handlers, logger: logger.child({ listener: controllerListener.name }) }),
          }),
        (server) => server.close(),
      );
    }
    if (broker !== undefined) {
      const dispatcher: RequestDispatcher = broker.dispatcher;
      // Clients are served only once this node has caught up with the committed metadata (ADR 22).
      const caughtUp = await Promise.race([quorum.firstImage.then(() => true), lifecycle.done.then(() => false)]);
      if (!caughtUp) return finish(removeSignalHandlers, lifecycle);
      await lifecycle.start(
        "network",
        () => startNetwork({ ...network, listeners: config.listeners.filter((l) => !l.isController), dispatcher }),
        (server) => server.close(),
      );
    }
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
