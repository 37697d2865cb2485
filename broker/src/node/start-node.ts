import type { Logger } from "pino";
import { startBroker } from "../broker.ts";
import type { BrokerConfig } from "../config/broker-config.ts";
import { createControllerHandlers } from "../handlers/controller/registry.ts";
import { createDispatcher, type Dispatcher } from "../handlers/dispatcher.ts";
import { startNetwork, type NetworkOptions } from "../network/server.ts";
import type { Lifecycle } from "../runtime/lifecycle.ts";
import type { BrokerMetrics } from "../runtime/metrics.ts";
import { readLegacyMetadata } from "../metadata/legacy-migration.ts";
import { formatSingleVoterStorage, requireFormattedStorage } from "../storage/format.ts";
import { MetadataQuorum } from "./metadata-quorum.ts";
import type { NodePlan } from "./node-plan.ts";

// One node of a cluster, in start order (ADR 22): storage checks, the broker's services, the controller listener, the
// metadata quorum, then — for a broker — the client listeners once the node has caught up with the committed
// metadata. Each piece joins the lifecycle, which stops them in reverse.

export interface NodeOptions {
  readonly config: BrokerConfig;
  readonly plan: NodePlan;
  readonly logger: Logger;
  readonly metrics: BrokerMetrics;
  readonly lifecycle: Lifecycle;
}

export interface StartedNode {
  readonly clusterId: string;
}

/** Resolves once the node serves, or with null when it was stopped while waiting for its quorum. */
export async function startNode(options: NodeOptions): Promise<StartedNode | null> {
  const { config, plan, logger, metrics, lifecycle } = options;
  const network: Omit<NetworkOptions, "listeners" | "dispatcher"> = {
    logger,
    metrics: metrics.network,
    maxRequestBytes: config.socketRequestMaxBytes,
    idleTimeoutMs: config.connectionsMaxIdleMs,
    requestReadTimeoutMs: config.socketRequestReadTimeoutMs,
  };
  await requireFormattedStorage(config);
  const metadataDir = config.logDirs[0];
  if (metadataDir === undefined) throw new Error("log.dirs is empty");
  const legacy = await readLegacyMetadata(metadataDir);
  const clusterId = await formatSingleVoterStorage(config, legacy?.clusterId ?? null);
  const broker = plan.broker
    ? await lifecycle.start(
        "broker",
        () => startBroker({ config, clusterId, logger, metrics }),
        (b) => b.close(),
      )
    : undefined;

  // Bound before the quorum starts, so a quorum of this node alone knows its own address; requests that arrive before
  // the quorum is up fail and are retried by their senders.
  let controllerDispatcher: Dispatcher | null = null;
  const controllerListener = plan.controllerListener;
  const controllerServer =
    controllerListener === null
      ? null
      : await lifecycle.start(
          "controller listener",
          () =>
            startNetwork({
              ...network,
              listeners: [controllerListener],
              dispatcher: {
                dispatch: (frame, connection) =>
                  controllerDispatcher === null
                    ? Promise.reject(new Error("the metadata quorum is starting"))
                    : controllerDispatcher.dispatch(frame, connection),
              },
            }),
          (server) => server.close(),
        );
  const boundPort = controllerServer?.listeners[0]?.port;
  const voters =
    plan.selfQuorum && boundPort !== undefined ? plan.voters.map((v) => ({ ...v, port: boundPort })) : plan.voters;

  logger.info(
    { clusterId, voters: voters.map((v) => v.id), voter: plan.voter, metadataDir },
    "Joining the metadata quorum",
  );
  const quorum = await lifecycle.start(
    "metadata quorum",
    () => MetadataQuorum.start({ config, plan, voters, clusterId, metadataDir, logger }),
    (q) => q.close(),
  );
  controllerDispatcher = createDispatcher({
    handlers: createControllerHandlers(quorum.controllerPort()),
    logger: logger.child({ listener: controllerListener?.name }),
  });

  if (broker !== undefined) {
    // Clients are served only once this node has caught up with the committed metadata (ADR 22).
    const caughtUp = await Promise.race([quorum.firstImage.then(() => true), lifecycle.done.then(() => false)]);
    if (!caughtUp) return null;
    await lifecycle.start(
      "network",
      () =>
        startNetwork({
          ...network,
          listeners: config.listeners.filter((l) => !l.isController),
          dispatcher: broker.dispatcher,
        }),
      (server) => server.close(),
    );
  }
  return { clusterId };
}
