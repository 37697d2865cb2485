// Composition root of the operator: config → logger and metrics → API client → health server → leader election →
// manager with the KafkaCluster and KafkaTopic controllers (the latter with a pool of Kafka admin clients). SIGTERM
// stops workers after their current pass, releases the lease and exits 0; losing the lease exits 1 so the pod
// restarts as a clean standby.
import { hostname } from "node:os";
import { DEFAULTS } from "./controllers/kafka-cluster/desired.ts";
import { kafkaClusterController } from "./controllers/kafka-cluster/index.ts";
import { kafkaTopicController } from "./controllers/kafka-topic/index.ts";
import { AdminPool } from "./kafka/admin-pool.ts";
import { activeControllerLookup } from "./kafka/quorum.ts";
import { rollProbe } from "./kafka/roll-probe.ts";
import { brokerConfigClient } from "./kafka/broker-config.ts";
import { KubeClient, LeaderElector } from "./kube/index.ts";
import { Manager } from "./manager/manager.ts";
import { ConfigError, loadConfig } from "./runtime/config.ts";
import { startHealthServer } from "./runtime/http.ts";
import { createLogger } from "./runtime/logger.ts";
import { createMetrics } from "./runtime/metrics.ts";

async function main(): Promise<number> {
  const config = loadConfig(process.env, hostname());
  const logger = createLogger({ level: config.logLevel });
  const metrics = createMetrics();
  const client = KubeClient.fromKubeconfig(config.kubeconfig, (verb, resource, code) =>
    metrics.apiRequests.inc({ verb, resource, code: String(code) }),
  );
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(1);
    logger.info({ signal }, "Shutting down");
    stop.abort();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const manager = new Manager({ client, logger, metrics, namespaces: config.namespaces });
  // One pool for both controllers: every Kafka call about a cluster (its topics, scaling, restart gates, dynamic
  // configs, metadata.version) shares its admin clients.
  const admins = new AdminPool({ clientId: `tributary-operator-${config.leaderElection.identity}` });
  manager.register(
    kafkaClusterController(manager, client, logger, {
      instance: config.leaderElection.identity,
      resyncMs: config.resyncMs,
      workers: config.workers,
      defaults: {
        image: config.broker.image ?? DEFAULTS.image,
        ...(config.broker.pullPolicy === undefined ? {} : { pullPolicy: config.broker.pullPolicy }),
        ...(config.broker.rackClusterRole === undefined ? {} : { rackClusterRole: config.broker.rackClusterRole }),
      },
      activeController: activeControllerLookup,
      ...(config.clusterAdmin
        ? {
            rollProbe: rollProbe({ clientId: `tributary-operator-${config.leaderElection.identity}` }),
            brokerConfig: brokerConfigClient(),
          }
        : {}),
      admins,
      bootstrapOverrides: config.bootstrapOverrides,
    }),
  );
  manager.register(
    kafkaTopicController(manager, client, logger, {
      instance: config.leaderElection.identity,
      admins,
      bootstrapOverrides: config.bootstrapOverrides,
      labelSelector: config.topicSelector,
      deleteTimeoutMs: config.topicDeleteTimeoutMs,
      resyncMs: config.resyncMs,
      workers: config.topicWorkers,
    }),
  );
  let leading = !config.leaderElection.enabled;
  const health = await startHealthServer({
    host: config.http.host,
    port: config.http.port,
    registry: metrics.registry,
    // A standby replica is ready (it can take over); the leader once its caches have synced.
    ready: () => !stop.signal.aborted && (!leading || manager.synced),
  });
  logger.info(
    { port: health.port, namespaces: config.namespaces, identity: config.leaderElection.identity },
    "Operator started",
  );

  let exitCode = 0;
  if (config.leaderElection.enabled) {
    const elector = new LeaderElector(client, { ...config.leaderElection, logger });
    const outcome = await elector.run(stop.signal, (leadingSignal) => {
      leading = true;
      return manager.run(leadingSignal);
    });
    if (outcome === "lost") exitCode = 1;
  } else {
    await manager.run(stop.signal);
  }
  admins.close();
  await health.close();
  client.close();
  logger.info({ exitCode }, "Operator stopped");
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const text =
      err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`tributary-operator: ${text}\n`);
    process.exit(2);
  },
);
