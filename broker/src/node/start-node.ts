import type { Logger } from "pino";
import { openBrokerStorage, startBroker, type Broker } from "../broker.ts";
import type { BrokerConfig } from "../config/broker-config.ts";
import { createControllerHandlers } from "../handlers/controller/registry.ts";
import { createDispatcher, type Dispatcher } from "../handlers/dispatcher.ts";
import { startNetwork, type NetworkOptions } from "../network/server.ts";
import { ExitCode, StartupError } from "../runtime/exit-codes.ts";
import type { Lifecycle } from "../runtime/lifecycle.ts";
import type { BrokerMetrics } from "../runtime/metrics.ts";
import { restartSafety, type RestartSafety } from "../replication/restart-safety.ts";
import { SUPPORTED_FEATURES } from "../controller/index.ts";
import { legacyBootstrapRecords, readLegacyMetadata } from "../metadata/legacy-migration.ts";
import {
  AlterPartitionRequest,
  AlterPartitionResponse,
  AssignReplicasToDirsRequest,
  AssignReplicasToDirsResponse,
  uuidFromKafkaBase64,
} from "../protocol/index.ts";
import { ALTER_PARTITION_VERSION, AlterPartitionManager } from "../replication/alter-partition-manager.ts";
import { startController } from "../quorum/controller-runtime.ts";
import { BootstrapError, readBootstrapCheckpoint } from "../quorum/bootstrap-checkpoint.ts";
import { directoryIds, formatSingleVoterStorage, readStoredMeta, requireFormattedStorage } from "../storage/format.ts";
import { checkStartupLogDirs } from "../storage/startup-log-dirs.ts";
import { BrokerLifecycle } from "./broker-lifecycle.ts";
import { takePreviousBrokerEpoch, writeCleanShutdownEpoch } from "./clean-shutdown-epoch.ts";
import { DirectoryAssignments } from "../partitions/directory-assignments.ts";
import { ControllerChannel } from "./controller-channel.ts";
import { ControllerRegistration } from "./controller-registration.ts";
import { EnvelopeForwarder } from "./forwarding.ts";
import { controllerProducerIdBlocks } from "./producer-id-blocks.ts";
import { controllerTopicCreator } from "./topic-creation.ts";
import { MetadataQuorum } from "./metadata-quorum.ts";
import type { NodePlan } from "./node-plan.ts";

// One node of a cluster, in start order (ADR 22): storage checks and the cluster id, the controller listener, the
// metadata quorum, the controller (controller role), then for the broker role its services, its registration with
// the active controller, and the client listeners once the node has caught up with the committed metadata and the
// controller has unfenced it. Each piece joins the lifecycle, which stops them in reverse: a broker first asks for a
// controlled shutdown, then stops serving.

/** How long a stopping broker waits for the controller to agree to its controlled shutdown. */
const CONTROLLED_SHUTDOWN_TIMEOUT_MS = 15_000;
/** How long a broker waits for its own image to show a write the controller committed for it. */
const READ_YOUR_WRITES_TIMEOUT_MS = 5_000;
/** How long an auto-created topic (and `__consumer_offsets` per attempt) may wait for an active controller. */
const AUTO_CREATE_TIMEOUT_MS = 5_000;
/** Pause before a controller sends its registration again after a refusal or an attempt that found no controller. */
const CONTROLLER_REGISTRATION_BACKOFF_MS = 1_000;

export interface NodeOptions {
  readonly config: BrokerConfig;
  readonly plan: NodePlan;
  readonly logger: Logger;
  readonly metrics: BrokerMetrics;
  readonly lifecycle: Lifecycle;
  /** The storage dirs' meta.properties texts the config loader read (ConfigResult.metaProperties), if it did. */
  readonly metaProperties?: ReadonlyMap<string, string | null>;
}

export interface StartedNode {
  readonly clusterId: string;
  /** The broker's services and dispatcher on a node with the broker role (in-process tests drive it directly). */
  readonly broker?: Broker;
  /** Whether this broker may stop now and whether it has caught up (GET /v1/restart-safety); brokers only. */
  readonly restartSafety?: () => RestartSafety;
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
  // meta.properties are read once (by the config loader, or here) and passed down. A dir whose storage fails (I/O
  // error, not a directory) is offline from the start (KIP-858) unless the node cannot run without it.
  const failed = new Map<string, unknown>();
  const startupDirs = { logDirs: config.logDirs, metadataLogDir: config.metadataLogDir, broker: plan.broker };
  const found = await readStoredMeta(config.storageDirs, options.metaProperties, failed);
  checkStartupLogDirs(startupDirs, failed);
  requireFormattedStorage(config, found);
  const metadataDir = config.metadataLogDir;
  const dataDir = config.logDirs[0];
  if (dataDir === undefined) throw new Error("log.dirs is empty");
  // A data dir from before the quorum kept its metadata in a file of the first log dir.
  const legacy = failed.has(dataDir) ? null : await readLegacyMetadata(dataDir);
  const { clusterId, stored } = await formatSingleVoterStorage(config, found, legacy?.clusterId ?? null);
  const bootstrap = plan.controller ? await readBootstrap(metadataDir) : null;

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
  const metadataDirId = stored.get(metadataDir)?.directoryId;
  const controllerAddress =
    controllerListener === null || boundPort === undefined
      ? undefined
      : advertisedControllerAddress(config, controllerListener.name, boundPort);
  const quorum = MetadataQuorum.create({
    config,
    plan,
    voters,
    clusterId,
    metadataDir,
    logger,
    ...(controllerAddress !== undefined ? { controllerAddress } : {}),
    ...(metadataDirId !== undefined ? { directoryId: uuidFromKafkaBase64(metadataDirId) } : {}),
  });
  // A broker's storage follows the images from the first one on: subscribed before the quorum runs. Once its logs
  // have closed cleanly, the registration's epoch goes into the online log dirs (KIP-966's clean-shutdown proof).
  let registeredEpoch = () => -1n;
  // The directory.id of each log dir that has a readable one, by path.
  const logDirIds = new Map(
    plan.broker
      ? [
          ...(await directoryIds(
            config.logDirs.filter((d) => !failed.has(d)),
            stored,
            failed,
          )),
        ].map(([dir, id]) => [dir, uuidFromKafkaBase64(id)])
      : [],
  );
  checkStartupLogDirs(startupDirs, failed);
  // Which log dir holds each replica, for the controller (KIP-858): sent once the broker has registered.
  const directoryAssignments = new DirectoryAssignments({
    brokerId: plan.nodeId,
    directoryIds: logDirIds,
    retryBackoffMs: config.quorumTiming.retryBackoffMs,
    logger: logger.child({ component: "directory-assignments" }),
  });
  const storage = plan.broker
    ? await lifecycle.start(
        "broker storage",
        () =>
          openBrokerStorage({
            config,
            source: quorum,
            logger,
            throttleMetrics: metrics.replicationThrottle,
            directoryAssignments,
            failedLogDirs: failed,
          }),
        async (s) => {
          const offline = new Set(s.partitions.offlineLogDirs());
          await s.close();
          const online = config.logDirs.filter((dir) => !offline.has(dir));
          await writeCleanShutdownEpoch(online, registeredEpoch(), logger);
        },
      )
    : undefined;
  // A dir whose logs failed to load is offline like one whose meta.properties failed; the same dirs are vital.
  if (storage !== undefined) checkStartupLogDirs(startupDirs, storage.logs.failedAtStart);
  // Offline from the start: left out of the registration (Kafka registers the dirs it loaded), so the controller
  // elects none of this broker's replicas in them, and named in every heartbeat's offline dirs.
  const startedOffline = new Set(storage?.logs.offlineLogDirs() ?? []);
  quorum.onFailure((err) => {
    logger.fatal({ err }, "The metadata quorum failed; stopping the node");
    void lifecycle.stop("the metadata quorum failed", ExitCode.Failure);
  });
  await lifecycle.start(
    "metadata quorum",
    () => quorum.start(),
    () => quorum.close(),
  );
  let handlers = createControllerHandlers(quorum.controllerPort());
  if (plan.controller) {
    // What the first active controller starts an empty metadata log with: the format step's bootstrap.checkpoint
    // (without one, formatted before it existed, the latest metadata.version), then the records of a single-node data
    // dir from before the quorum.
    const bootstrapRecords = [
      ...(bootstrap ?? []),
      ...(legacy !== null && voters.length === 1 ? legacyBootstrapRecords(legacy, plan.nodeId) : []),
    ];
    const controller = await lifecycle.start(
      "controller",
      () =>
        Promise.resolve(
          startController({
            driver: quorum.driver,
            loader: quorum.loader,
            quorum: quorum.controllerPort(),
            config,
            logger,
            bootstrapRecords,
          }),
        ),
      (c) => Promise.resolve(c.close()),
    );
    handlers = controller.handlers;
  }
  controllerDispatcher = createDispatcher({ handlers, logger: logger.child({ listener: controllerListener?.name }) });
  const openChannel = (name: string) =>
    lifecycle.start(
      name,
      () =>
        Promise.resolve(
          new ControllerChannel({
            nodeId: plan.nodeId,
            activeController: () => quorum.leaderId(),
            // With dynamic voters (KIP-853) the controllers are the voter set in effect, at its VotersRecord's
            // addresses.
            voters: plan.bootstrapServers.length > 0 ? () => quorum.voterIds() : voters.map((v) => v.id),
            address: (id) =>
              plan.bootstrapServers.length > 0 ? quorum.transport.address(id) : voters.find((v) => v.id === id),
            connectTimeoutMs: config.quorumTiming.requestTimeoutMs,
            logger: logger.child({ component: "controller-channel" }),
          }),
        ),
      (c) => Promise.resolve(c.close()),
    );
  if (plan.controller && controllerListener !== null && controllerAddress !== undefined) {
    const listener = {
      name: controllerListener.name,
      ...controllerAddress,
      securityProtocol: config.listenerSecurityProtocolMap[controllerListener.name] ?? "PLAINTEXT",
    };
    const registrationChannel = await openChannel("controller registration channel");
    await lifecycle.start(
      "controller registration",
      () => {
        const registration = new ControllerRegistration({
          nodeId: plan.nodeId,
          channel: registrationChannel,
          listener,
          features: [...SUPPORTED_FEATURES].map(([name, range]) => ({
            name,
            minSupportedVersion: range.min,
            maxSupportedVersion: range.max,
          })),
          requestTimeoutMs: config.quorumTiming.requestTimeoutMs,
          retryBackoffMs: CONTROLLER_REGISTRATION_BACKOFF_MS,
          logger: logger.child({ component: "controller-registration" }),
        });
        registration.start();
        return Promise.resolve(registration);
      },
      (r) => r.stop(),
    );
  }
  if (storage === undefined) return { clusterId };

  const channel = await openChannel("controller channel");
  const previousBrokerEpoch = await takePreviousBrokerEpoch(
    config.logDirs.filter((d) => !startedOffline.has(d)),
    logger,
  );
  const registration = new BrokerLifecycle({
    previousBrokerEpoch,
    nodeId: plan.nodeId,
    clusterId,
    channel,
    listeners: config.advertisedListeners.map((a) => ({
      ...a,
      securityProtocol: config.listenerSecurityProtocolMap[a.name] ?? "PLAINTEXT",
    })),
    rack: config.brokerRack,
    logDirs: config.logDirs.filter((d) => !startedOffline.has(d)).flatMap((d) => logDirIds.get(d) ?? []),
    offlineLogDirs: () => storage.partitions.offlineLogDirs().flatMap((d) => logDirIds.get(d) ?? []),
    features: [...SUPPORTED_FEATURES].map(([name, range]) => ({
      name,
      minSupportedVersion: range.min,
      maxSupportedVersion: range.max,
    })),
    // Kafka's broker halts once every log dir has failed. This one first has itself fenced (its leaderships move at
    // once, not at the session timeout), then stops with a failure exit code: its log dirs come back only with a new
    // process, and a process that stayed up fenced would look alive to a supervisor (a TCP liveness probe) and never
    // be restarted. `make chaos` found one such node out of the cluster for minutes after a full disk had been freed.
    onFencedOffline: () => {
      logger.fatal("Every log dir is offline and the controller has fenced this broker; stopping the node");
      void lifecycle.stop("every log dir is offline", ExitCode.Failure);
    },
    appliedOffset: () => quorum.appliedOffset(),
    heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
    requestTimeoutMs: config.quorumTiming.requestTimeoutMs,
    retryBackoffMs: config.quorumTiming.retryBackoffMs,
    logger: logger.child({ component: "broker-lifecycle" }),
  });
  registeredEpoch = () => registration.brokerEpoch;
  storage.partitions.onLogDirOffline(() => registration.logDirFailed());
  let namedLeader = quorum.leaderId();
  quorum.driver.onRoleChange((_role, _epoch, leaderId) => {
    if (leaderId === null || leaderId === namedLeader) return;
    namedLeader = leaderId;
    registration.controllerChanged();
  });

  // Clients are served only once this node has caught up with the committed metadata (ADR 22) and the controller has
  // unfenced it. The broker's services start meanwhile: `__consumer_offsets` can be placed only once a broker is
  // unfenced.
  const stopped = lifecycle.done.then(() => false);
  if (!(await Promise.race([quorum.firstImage.then(() => true), stopped]))) return null;
  await lifecycle.start(
    "broker registration",
    () => Promise.resolve(registration.start()),
    () => registration.stop(),
  );
  await lifecycle.start(
    "directory assignments",
    () => {
      directoryAssignments.start(
        (request) =>
          channel.send(
            AssignReplicasToDirsRequest,
            AssignReplicasToDirsResponse,
            0,
            request,
            config.quorumTiming.requestTimeoutMs,
          ),
        () => registration.brokerEpoch,
      );
      return Promise.resolve(directoryAssignments);
    },
    (d) => Promise.resolve(d.close()),
  );
  // Partition leaders send their ISR changes to the active controller (ADR 24).
  await lifecycle.start(
    "ISR changes",
    () => {
      const isrChanges = new AlterPartitionManager({
        brokerId: plan.nodeId,
        brokerEpoch: () => registration.brokerEpoch,
        send: (request) =>
          channel.send(
            AlterPartitionRequest,
            AlterPartitionResponse,
            ALTER_PARTITION_VERSION,
            request,
            config.quorumTiming.requestTimeoutMs,
          ),
        retryBackoffMs: config.quorumTiming.retryBackoffMs,
        logger: logger.child({ component: "alter-partition" }),
      });
      storage.partitions.startReplication({ isrChanges, brokerEpoch: () => registration.brokerEpoch });
      return Promise.resolve(isrChanges);
    },
    (isrChanges) => {
      storage.partitions.stopReplication();
      isrChanges.close();
      return Promise.resolve();
    },
  );
  const caughtUp = () => quorum.caughtUpWithCommitted(READ_YOUR_WRITES_TIMEOUT_MS);
  const broker = await lifecycle.start(
    "broker",
    () =>
      startBroker({
        config,
        clusterId,
        storage,
        source: quorum,
        forwarder: new EnvelopeForwarder({ channel, caughtUp, logger: logger.child({ component: "forwarding" }) }),
        createTopic: controllerTopicCreator({
          channel,
          timeoutMs: AUTO_CREATE_TIMEOUT_MS,
          caughtUp,
          logger: logger.child({ component: "auto-topic-creation" }),
        }),
        producerIdBlocks: controllerProducerIdBlocks(
          channel,
          plan.nodeId,
          () => registration.brokerEpoch,
          config.quorumTiming.requestTimeoutMs,
        ),
        logger,
        metrics,
      }),
    (b) => b.close(),
  );
  // Followers fetch from their leaders from now on, naming this registration's epoch (KIP-903).
  storage.fetchers.start(() => registration.brokerEpoch);
  if (!(await Promise.race([registration.running.then(() => true), stopped]))) return null;
  // Unfencing may have made this broker a partition leader again (a restart after a controlled shutdown): its group
  // shards load before clients arrive, so the first requests find them loaded rather than loading.
  await quorum.caughtUpWithCommitted(READ_YOUR_WRITES_TIMEOUT_MS);
  await broker.shardsLoaded();
  await lifecycle.start(
    "network",
    () =>
      startNetwork({
        ...network,
        listeners: config.listeners.filter((l) => !l.isController),
        dispatcher: {
          dispatch: (frame, connection) => broker.dispatcher.dispatchChunks(frame, connection),
          pipelined: (frame) => broker.dispatcher.pipelined(frame),
        },
      }),
    (server) => server.close(),
  );
  // Stops first: the controller moves this broker's leaderships away while it still serves (Kafka's order).
  await lifecycle.start(
    "controlled shutdown",
    () => Promise.resolve(registration),
    (r) => r.controlledShutdown(CONTROLLED_SHUTDOWN_TIMEOUT_MS),
  );
  const restartSafetyNow = (): RestartSafety => {
    const image = storage.view.image;
    return restartSafety({
      brokerId: config.nodeId,
      image,
      minInsyncReplicas: (topic) => Number(storage.configs.configValue(image, topic, "min.insync.replicas")),
      lifecycle: registration.state,
    });
  };
  return { clusterId, broker, restartSafety: restartSafetyNow };
}

/** The bootstrap checkpoint of the metadata dir, if any; one that cannot be used stops the start (exit 2). */
async function readBootstrap(metadataDir: string) {
  try {
    return await readBootstrapCheckpoint(metadataDir);
  } catch (err) {
    if (err instanceof BootstrapError) throw new StartupError(err.message, ExitCode.Config, { cause: err });
    throw err;
  }
}

/**
 * Where the quorum's peers reach this controller listener (BrokerConfig.advertisedControllerListeners; port 0 means the
 * port bound). A quorum of this node alone listens on loopback, which nothing else needs to reach.
 */
function advertisedControllerAddress(
  config: BrokerConfig,
  listenerName: string,
  boundPort: number,
): { host: string; port: number } {
  const advertised = config.advertisedControllerListeners.find((a) => a.name === listenerName);
  if (advertised === undefined) return { host: "127.0.0.1", port: boundPort };
  return { host: advertised.host, port: advertised.port === 0 ? boundPort : advertised.port };
}
