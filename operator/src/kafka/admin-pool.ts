// The operator's connections to Kafka clusters: one admin client per KafkaCluster for its brokers (reused by every
// reconcile of the cluster and of its topics: scaling, restart gates, dynamic configs, metadata.version) and one for
// its KRaft controllers (DescribeQuorum), both closed when the cluster goes; the single-topic calls reconcilers make
// are batched across concurrent reconciles. Reusing the connections keeps connects out of most passes, and a short
// connect timeout bounds the others (docs/operator.md, "Connections").
import {
  AdminClient,
  type AdminClientOptions,
  type ClusterMetadata,
  type ConfigChange,
  type ConfigResource,
  type ConfigEntry,
  type ConfigResult,
  type FeatureLevels,
  type FeatureUpdate,
  type QuorumDescription,
  type LogDirDescription,
  type TopicLookup,
  type CreatedTopic,
  type KafkaError,
  type NewTopic,
  type OngoingReassignment,
  type PartitionRef,
  type PartitionResult,
  type Reassignment,
  type TopicDescription,
  type TopicResult,
} from "@tributary/broker/admin";
import { Batcher } from "./batcher.ts";

/** A topic as Kafka has it: description and configs, or why not (UNKNOWN_TOPIC_OR_PARTITION: it does not exist). */
export type ObservedTopic =
  | { topic: TopicDescription; configs: ConfigEntry[]; error?: undefined }
  | { topic?: undefined; configs?: undefined; error: KafkaError };

/** The admin calls the reconcilers make, one item at a time; items made together travel in one request. */
export class ClusterAdmin {
  readonly bootstrap: string;
  readonly #client: AdminClient;
  readonly #describe: Batcher<string, ObservedTopic>;
  readonly #create: Batcher<NewTopic, CreatedTopic>;
  readonly #alter: Batcher<ConfigChange, ConfigResource & { error?: KafkaError }>;
  readonly #grow: Batcher<{ name: string; count: number }, TopicResult>;
  readonly #delete: Batcher<string, TopicResult>;

  constructor(bootstrap: string, client: AdminClient, batch: { maxBatch?: number; lingerMs?: number } = {}) {
    this.bootstrap = bootstrap;
    this.#client = client;
    this.#describe = new Batcher({ ...batch, run: (names) => this.#describeBatch(names) });
    // A batch may name one topic twice (two resources naming one topic, or a retry racing a pass); Kafka refuses a
    // name given twice in one request, so each name goes once and every item asking for it gets its answer.
    this.#create = new Batcher({
      ...batch,
      run: async (topics) => byName(topics, (t) => t.name, await client.createTopics(dedupe(topics, (t) => t.name))),
    });
    this.#alter = new Batcher({
      ...batch,
      run: async (changes) => byName(changes, (c) => c.name, await client.alterConfigs(mergeChanges(changes))),
    });
    this.#grow = new Batcher({
      ...batch,
      run: async (topics) =>
        byName(topics, (t) => t.name, await client.createPartitions(dedupe(topics, (t) => t.name))),
    });
    this.#delete = new Batcher({
      ...batch,
      run: async (names) => byName(names, (n) => n, await client.deleteTopics([...new Set(names)])),
    });
  }

  describe(name: string): Promise<ObservedTopic> {
    return this.#describe.add(name);
  }

  create(topic: NewTopic): Promise<CreatedTopic> {
    return this.#create.add(topic);
  }

  alterConfigs(change: ConfigChange): Promise<ConfigResource & { error?: KafkaError }> {
    return this.#alter.add(change);
  }

  createPartitions(name: string, count: number): Promise<TopicResult> {
    return this.#grow.add({ name, count });
  }

  deleteTopic(name: string): Promise<TopicResult> {
    return this.#delete.add(name);
  }

  supports(apiKey: number): Promise<boolean> {
    return this.#client.supports(apiKey);
  }

  cluster(): Promise<ClusterMetadata> {
    return this.#client.cluster();
  }

  reassign(reassignments: Reassignment[]): Promise<PartitionResult[]> {
    return this.#client.alterPartitionReassignments(reassignments);
  }

  /** Reassignments in progress for the given partitions, or (undefined) for every partition. */
  reassignments(partitions?: PartitionRef[]): Promise<OngoingReassignment[]> {
    return this.#client.listPartitionReassignments(partitions);
  }

  /** Every topic's partitions, internal ones included (scaling moves their replicas too). */
  async allTopics(): Promise<Map<string, TopicLookup>> {
    return this.#client.describeTopics(await this.#client.listTopics({ internal: true }));
  }

  describeConfigs(resources: readonly ConfigResource[]): Promise<ConfigResult[]> {
    return this.#client.describeConfigs(resources);
  }

  alterConfigsNow(changes: readonly ConfigChange[]): Promise<(ConfigResource & { error?: KafkaError })[]> {
    return this.#client.alterConfigs(changes);
  }

  describeLogDirs(nodeId: number): Promise<LogDirDescription[]> {
    return this.#client.describeLogDirs(nodeId);
  }

  /** UnregisterBroker (forwarded to the active controller); BROKER_ID_NOT_REGISTERED rejects with a KafkaError. */
  unregisterBroker(brokerId: number): Promise<void> {
    return this.#client.unregisterBroker(brokerId);
  }

  /** Feature levels (ApiVersions) of the broker this client talks to, and those finalized for the cluster. */
  features(): Promise<FeatureLevels> {
    return this.#client.features();
  }

  updateFeatures(updates: readonly FeatureUpdate[]): Promise<void> {
    return this.#client.updateFeatures(updates);
  }

  /** DescribeQuorum; only a client of the controllers' addresses (AdminPool.controllers) gets an answer. */
  describeQuorum(): Promise<QuorumDescription> {
    return this.#client.describeQuorum();
  }

  close(): void {
    this.#client.close();
  }

  async #describeBatch(names: string[]): Promise<ObservedTopic[]> {
    const found = await this.#client.describeTopics(names);
    const existing = names.filter((n) => found.get(n)?.topic !== undefined);
    const configs = await this.#client.describeConfigs([...new Set(existing)].map((name) => ({ type: "topic", name })));
    const configsOf = new Map(configs.map((c) => [c.name, c]));
    return names.map((name): ObservedTopic => {
      const lookup = found.get(name);
      if (lookup?.topic === undefined) return { error: lookupError(lookup?.error, name) };
      const c = configsOf.get(name);
      if (c?.error !== undefined) return { error: c.error };
      return { topic: lookup.topic, configs: c?.configs ?? [] };
    });
  }
}

/** The answer for each item, found by name in answers given once per name. */
function byName<T, R extends { name: string }>(items: T[], nameOf: (item: T) => string, answers: R[]): R[] {
  const map = new Map(answers.map((a) => [a.name, a]));
  return items.map((item) => {
    const answer = map.get(nameOf(item));
    if (answer === undefined) throw new Error(`no answer for ${nameOf(item)} in a batched admin call`);
    return answer;
  });
}

function lookupError(error: KafkaError | undefined, name: string): KafkaError {
  if (error !== undefined) return error;
  throw new Error(`topic ${name} missing from a describe answer`);
}

/** One entry per key (a batch may hold the same topic twice when two resources name it); the first wins. */
function dedupe<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((i) => {
    const k = key(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Kafka refuses a resource named twice in one IncrementalAlterConfigs; the ops of one topic are merged. */
function mergeChanges(changes: ConfigChange[]): ConfigChange[] {
  const byName = new Map<string, ConfigChange>();
  for (const c of changes) {
    const key = `${c.type}/${c.name}`;
    const prior = byName.get(key);
    if (prior === undefined) byName.set(key, { ...c, ops: [...c.ops] });
    else prior.ops.push(...c.ops.filter((op) => !prior.ops.some((p) => p.name === op.name)));
  }
  return [...byName.values()];
}

export interface AdminPoolOptions {
  clientId: string;
  /** @default 30 000 */
  requestTimeoutMs?: number;
  /**
   * How long a TCP connect may take before the client tries its next address (the bootstrap Service first, then the
   * brokers Metadata named). Through a Service whose pod was just replaced a connect can hang without an answer
   * (kube-proxy still sending it to the old pod); in-cluster connects take milliseconds otherwise, so a short limit
   * turns that wait into at most this much. @default 1 000
   */
  connectTimeoutMs?: number;
  /**
   * Request deadline of the controllers' clients: DescribeQuorum asks one controller after another until the leader
   * answers, so a hung one must not hold the pass for the full request timeout. @default 5 000
   */
  quorumTimeoutMs?: number;
  batch?: { maxBatch?: number; lingerMs?: number };
  /** Builds clients; tests may substitute. */
  factory?: (options: AdminClientOptions) => AdminClient;
}

/**
 * Admin clients by cluster key (namespace/name): one for the cluster's brokers and one for its controllers, each
 * replaced when its addresses change and closed by drop() when the cluster is gone.
 */
export class AdminPool {
  readonly #options: AdminPoolOptions;
  readonly #clusters = new Map<string, ClusterAdmin>();
  readonly #controllers = new Map<string, ClusterAdmin>();

  constructor(options: AdminPoolOptions) {
    this.#options = options;
  }

  /** The client of the cluster's brokers (bootstrap: "host:port[,host:port...]"). */
  for(clusterKey: string, bootstrap: string): ClusterAdmin {
    return this.#get(this.#clusters, clusterKey, bootstrap, this.#options.requestTimeoutMs ?? 30_000);
  }

  /** The client of the cluster's KRaft controller listeners (DescribeQuorum). */
  controllers(clusterKey: string, addresses: readonly string[]): ClusterAdmin {
    return this.#get(this.#controllers, clusterKey, addresses.join(","), this.#options.quorumTimeoutMs ?? 5_000);
  }

  /** Closes the cluster's connections (the cluster was deleted). */
  drop(clusterKey: string): void {
    for (const map of [this.#clusters, this.#controllers]) {
      map.get(clusterKey)?.close();
      map.delete(clusterKey);
    }
  }

  close(): void {
    for (const map of [this.#clusters, this.#controllers]) {
      for (const admin of map.values()) admin.close();
      map.clear();
    }
  }

  #get(map: Map<string, ClusterAdmin>, clusterKey: string, bootstrap: string, requestTimeoutMs: number): ClusterAdmin {
    const existing = map.get(clusterKey);
    if (existing !== undefined && existing.bootstrap === bootstrap) return existing;
    existing?.close();
    const options: AdminClientOptions = {
      bootstrap,
      clientId: this.#options.clientId,
      requestTimeoutMs,
      connectTimeoutMs: this.#options.connectTimeoutMs ?? 1_000,
      retries: 1,
    };
    const client = (this.#options.factory ?? ((o) => new AdminClient(o)))(options);
    const admin = new ClusterAdmin(bootstrap, client, this.#options.batch);
    map.set(clusterKey, admin);
    return admin;
  }
}
