// A small promise-based Kafka admin client over the protocol library's codecs. It owns its sockets (one per broker,
// opened on first use, replaced after a failure), asks each broker for its API versions once per connection and
// speaks the highest version both sides know. Batched calls answer per item, in the order asked; an item's Kafka
// error is a KafkaError value in its result, never a thrown one.
import type { ConnectionOptions as TlsOptions } from "node:tls";
import {
  AlterPartitionReassignmentsRequest,
  AlterPartitionReassignmentsResponse,
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
  DescribeQuorumRequest,
  DescribeQuorumResponse,
  ElectLeadersRequest,
  ElectLeadersResponse,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
  ListPartitionReassignmentsRequest,
  ListPartitionReassignmentsResponse,
  MetadataRequest,
  MetadataResponse,
  UnregisterBrokerRequest,
  UnregisterBrokerResponse,
  UpdateFeaturesRequest,
  UpdateFeaturesResponse,
} from "../protocol/generated/index.ts";
import type { MessageCodec } from "../protocol/codec-runtime.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { ZERO_UUID } from "../protocol/primitives/index.ts";
import { BrokerConnection } from "./connection.ts";
import { AdminTimeoutError, BrokerConnectionError, KafkaError, UnsupportedApiError, kafkaError } from "./errors.ts";

export interface AdminClientOptions {
  /** Bootstrap brokers: "host:port" entries, as an array or comma-separated. */
  bootstrap: string | readonly string[];
  /** @default "tributary-admin" */
  clientId?: string;
  /** Deadline of one request, from sending it to its answer. @default 30 000 */
  requestTimeoutMs?: number;
  /** @default 10 000 */
  connectTimeoutMs?: number;
  /** Further attempts after a connection failure (never after a timeout: the request may have been applied). @default 2 */
  retries?: number;
  /** First wait before a retry, doubled each time. @default 100 */
  retryBackoffMs?: number;
  /** TLS client options; plaintext when unset. */
  tls?: TlsOptions;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offline: number[];
  error?: KafkaError;
}

export interface TopicDescription {
  name: string;
  /** Canonical UUID string. */
  topicId: string;
  internal: boolean;
  /** Sorted by partition index. */
  partitions: PartitionInfo[];
}

export interface ClusterMetadata {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerInfo[];
}

/** A topic's description, or why there is none (UNKNOWN_TOPIC_OR_PARTITION when it does not exist). */
export type TopicLookup = { topic: TopicDescription; error?: undefined } | { topic?: undefined; error: KafkaError };

export type ConfigResourceType = "topic" | "broker";

export interface ConfigResource {
  type: ConfigResourceType;
  /** Topic name, or broker node id ("" for the cluster-wide broker defaults). */
  name: string;
}

/** Where a config value comes from (DescribeConfigs' ConfigSource). */
export type ConfigSource =
  | "UNKNOWN"
  | "DYNAMIC_TOPIC_CONFIG"
  | "DYNAMIC_BROKER_CONFIG"
  | "DYNAMIC_DEFAULT_BROKER_CONFIG"
  | "STATIC_BROKER_CONFIG"
  | "DEFAULT_CONFIG"
  | "DYNAMIC_BROKER_LOGGER_CONFIG"
  | "CLIENT_METRICS_CONFIG"
  | "GROUP_CONFIG";

const CONFIG_SOURCES: readonly ConfigSource[] = [
  "UNKNOWN",
  "DYNAMIC_TOPIC_CONFIG",
  "DYNAMIC_BROKER_CONFIG",
  "DYNAMIC_DEFAULT_BROKER_CONFIG",
  "STATIC_BROKER_CONFIG",
  "DEFAULT_CONFIG",
  "DYNAMIC_BROKER_LOGGER_CONFIG",
  "CLIENT_METRICS_CONFIG",
  "GROUP_CONFIG",
];

export interface ConfigEntry {
  name: string;
  /** Null for sensitive values. */
  value: string | null;
  source: ConfigSource;
  isDefault: boolean;
  readOnly: boolean;
  sensitive: boolean;
}

export interface ConfigResult extends ConfigResource {
  configs: ConfigEntry[];
  error?: KafkaError;
}

export interface ConfigOp {
  name: string;
  /** set: the value; delete: back to the default; append/subtract: items of a list config. */
  op: "set" | "delete" | "append" | "subtract";
  value?: string;
}

export interface ConfigChange extends ConfigResource {
  ops: ConfigOp[];
}

export interface NewTopic {
  name: string;
  /** Unset: the broker's num.partitions. */
  partitions?: number;
  /** Unset: the broker's default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface CreatedTopic {
  name: string;
  error?: KafkaError;
  /** Canonical UUID string, when the broker reports it (CreateTopics v7+). */
  topicId?: string;
  partitions?: number;
  replicationFactor?: number;
}

export interface TopicResult {
  name: string;
  error?: KafkaError;
}

export interface PartitionRef {
  topic: string;
  partition: number;
}

export interface PartitionResult extends PartitionRef {
  error?: KafkaError;
}

export interface Reassignment extends PartitionRef {
  /** The target replicas, or null to cancel a reassignment in progress. */
  replicas: number[] | null;
}

export interface OngoingReassignment extends PartitionRef {
  replicas: number[];
  adding: number[];
  removing: number[];
}

export interface LogDirDescription {
  logDir: string;
  error?: KafkaError;
  /** Size of each partition stored there. */
  partitions: { topic: string; partition: number; sizeBytes: bigint }[];
  /** The file system's size and free space (DescribeLogDirs v4+); -1 when the broker cannot tell. */
  totalBytes: bigint;
  usableBytes: bigint;
}

export interface QuorumReplica {
  replicaId: number;
  logEndOffset: bigint;
  lastFetchTimestamp: bigint;
  lastCaughtUpTimestamp: bigint;
}

export interface QuorumDescription {
  leaderId: number;
  leaderEpoch: number;
  highWatermark: bigint;
  voters: QuorumReplica[];
  observers: QuorumReplica[];
}

/** Feature levels as one broker reports them in ApiVersions (v3+). */
export interface FeatureLevels {
  /** Feature name -> the [min, max] levels this broker's software supports. */
  supported: Map<string, [number, number]>;
  /** Feature name -> the level finalized for the cluster (metadata.version, say). */
  finalized: Map<string, number>;
}

export interface FeatureUpdate {
  feature: string;
  maxVersionLevel: number;
  /** @default "upgrade" */
  upgradeType?: "upgrade" | "safe-downgrade" | "unsafe-downgrade";
}

const UPGRADE_TYPE: Record<NonNullable<FeatureUpdate["upgradeType"]>, number> = {
  upgrade: 1,
  "safe-downgrade": 2,
  "unsafe-downgrade": 3,
};

const RESOURCE_TYPE: Record<ConfigResourceType, number> = { topic: 2, broker: 4 };
const OP_CODE: Record<ConfigOp["op"], number> = { set: 0, delete: 1, append: 2, subtract: 3 };

interface Session {
  conn: BrokerConnection;
  /** apiKey -> [min, max] as the broker advertised them. */
  versions: Map<number, [number, number]>;
}

type Target = { kind: "any" } | { kind: "node"; nodeId: number } | { kind: "address"; address: string };
const ANY: Target = { kind: "any" };

export class AdminClient {
  readonly #bootstrap: string[];
  readonly #clientId: string;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #retries: number;
  readonly #retryBackoffMs: number;
  readonly #tls: TlsOptions | undefined;
  /** Open (or opening) sessions by "host:port". */
  readonly #sessions = new Map<string, Promise<Session>>();
  /** Node id -> "host:port", from the last Metadata answer. */
  readonly #nodes = new Map<number, string>();
  /** The address "any" requests go to; moves on when it fails. */
  #preferred: string | undefined;
  #closed = false;

  constructor(options: AdminClientOptions) {
    const list = typeof options.bootstrap === "string" ? options.bootstrap.split(",") : [...options.bootstrap];
    this.#bootstrap = list.map((s) => s.trim()).filter((s) => s !== "");
    if (this.#bootstrap.length === 0) throw new Error("AdminClient needs at least one bootstrap address (host:port)");
    for (const address of this.#bootstrap) splitAddress(address);
    this.#clientId = options.clientId ?? "tributary-admin";
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#retries = options.retries ?? 2;
    this.#retryBackoffMs = options.retryBackoffMs ?? 100;
    this.#tls = options.tls;
  }

  /** Closes every connection; later calls fail. */
  close(): void {
    this.#closed = true;
    for (const session of this.#sessions.values()) {
      session.then(
        (s) => s.conn.close(),
        () => undefined,
      );
    }
    this.#sessions.clear();
  }

  /** Whether the broker answering "any" requests serves `apiKey` in a version this client speaks. */
  async supports(apiKey: number): Promise<boolean> {
    const codecs = CODECS[apiKey];
    if (codecs === undefined) return false;
    const session = await this.#withRetries(() => this.#session(ANY));
    return pickVersion(session, apiKey, codecs.request) !== undefined;
  }

  /** Brokers, controller and cluster id. */
  async cluster(): Promise<ClusterMetadata> {
    const res = await this.#metadata([]);
    return {
      clusterId: res.clusterId ?? null,
      controllerId: res.controllerId ?? -1,
      brokers: res.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack ?? null })),
    };
  }

  /** Names of every topic; internal ones (__consumer_offsets) only when asked. */
  async listTopics(options: { internal?: boolean } = {}): Promise<string[]> {
    const res = await this.#metadata(null);
    return res.topics
      .filter((t) => t.errorCode === ErrorCode.NONE && t.name !== null && (options.internal || !t.isInternal))
      .map((t) => t.name as string)
      .sort();
  }

  /** Partitions and replicas of each named topic, in the order asked. */
  async describeTopics(names: readonly string[]): Promise<Map<string, TopicLookup>> {
    const out = new Map<string, TopicLookup>();
    if (names.length === 0) return out;
    const unique = [...new Set(names)];
    const res = await this.#metadata(unique);
    const byName = new Map(res.topics.map((t) => [t.name, t]));
    for (const name of unique) {
      const t = byName.get(name);
      if (t === undefined) {
        out.set(name, { error: new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "not in the answer", name) });
        continue;
      }
      const error = kafkaError(t.errorCode, null, `topic ${name}`);
      if (error !== undefined) {
        out.set(name, { error });
        continue;
      }
      const partitions = t.partitions
        .map((p) => {
          const info: PartitionInfo = {
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch ?? -1,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offline: p.offlineReplicas ?? [],
          };
          const perr = kafkaError(p.errorCode, null, `${name}-${p.partitionIndex}`);
          return perr === undefined ? info : { ...info, error: perr };
        })
        .sort((a, b) => a.partition - b.partition);
      out.set(name, { topic: { name, topicId: t.topicId ?? ZERO_UUID, internal: t.isInternal ?? false, partitions } });
    }
    return out;
  }

  /**
   * Configs of topics and brokers, in the order asked. A broker resource named by node id is asked of that broker
   * (only it knows its own static config).
   */
  async describeConfigs(resources: readonly ConfigResource[]): Promise<ConfigResult[]> {
    const groups = await this.#byTarget(resources);
    const answers = new Map<string, ConfigResult>();
    await Promise.all(
      [...groups].map(async ([target, items]) => {
        const res = await this.#call(target, DescribeConfigsRequest, DescribeConfigsResponse, () => ({
          ...DescribeConfigsRequest.create(),
          resources: items.map((r) => ({
            resourceType: RESOURCE_TYPE[r.type],
            resourceName: r.name,
            configurationKeys: null,
          })),
          includeSynonyms: false,
          includeDocumentation: false,
        }));
        for (const r of res.results) {
          const type = r.resourceType === RESOURCE_TYPE.broker ? "broker" : "topic";
          const result: ConfigResult = {
            type,
            name: r.resourceName,
            configs: r.configs.map((c) => ({
              name: c.name,
              value: c.value,
              source: CONFIG_SOURCES[c.configSource ?? 0] ?? "UNKNOWN",
              // v0 has isDefault, v1+ the source instead.
              isDefault: (c.configSource ?? -1) >= 0 ? c.configSource === 5 : (c.isDefault ?? false),
              readOnly: c.readOnly,
              sensitive: c.isSensitive,
            })),
          };
          const error = kafkaError(r.errorCode, r.errorMessage, `${type} ${r.resourceName}`);
          answers.set(`${type}/${r.resourceName}`, error === undefined ? result : { ...result, error });
        }
      }),
    );
    return resources.map(
      (r) =>
        answers.get(`${r.type}/${r.name}`) ?? {
          ...r,
          configs: [],
          error: new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, "not in the answer", `${r.type} ${r.name}`),
        },
    );
  }

  /** IncrementalAlterConfigs: only the named keys change. One result per change, in the order given. */
  async alterConfigs(
    changes: readonly ConfigChange[],
    options: { validateOnly?: boolean } = {},
  ): Promise<(ConfigResource & { error?: KafkaError })[]> {
    for (const c of changes) {
      for (const op of c.ops) {
        if ((op.op === "delete") !== (op.value === undefined)) {
          throw new Error(
            `config ${op.name} of ${c.type} ${c.name}: ${op.op} ${op.op === "delete" ? "takes no" : "needs a"} value`,
          );
        }
      }
    }
    const groups = await this.#byTarget(changes);
    const errors = new Map<string, KafkaError | undefined>();
    await Promise.all(
      [...groups].map(async ([target, items]) => {
        const res = await this.#call(target, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, () => ({
          resources: items.map((c) => ({
            resourceType: RESOURCE_TYPE[c.type],
            resourceName: c.name,
            configs: c.ops.map((op) => ({
              name: op.name,
              configOperation: OP_CODE[op.op],
              value: op.value ?? null,
            })),
          })),
          validateOnly: options.validateOnly ?? false,
        }));
        for (const r of res.responses) {
          const type = r.resourceType === RESOURCE_TYPE.broker ? "broker" : "topic";
          errors.set(`${type}/${r.resourceName}`, kafkaError(r.errorCode, r.errorMessage, `${type} ${r.resourceName}`));
        }
      }),
    );
    return changes.map((c) => {
      const key = `${c.type}/${c.name}`;
      const error = errors.has(key)
        ? errors.get(key)
        : new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, "not in the answer", `${c.type} ${c.name}`);
      return error === undefined ? { type: c.type, name: c.name } : { type: c.type, name: c.name, error };
    });
  }

  async createTopics(topics: readonly NewTopic[], options: { validateOnly?: boolean } = {}): Promise<CreatedTopic[]> {
    if (topics.length === 0) return [];
    const res = await this.#call(ANY, CreateTopicsRequest, CreateTopicsResponse, () => ({
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.partitions ?? -1,
        replicationFactor: t.replicationFactor ?? -1,
        assignments: [],
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: this.#brokerTimeoutMs(),
      validateOnly: options.validateOnly ?? false,
    }));
    const byName = new Map(res.topics.map((t) => [t.name, t]));
    return topics.map((t) => {
      const r = byName.get(t.name);
      if (r === undefined) return { name: t.name, error: missing(`topic ${t.name}`) };
      const error = kafkaError(r.errorCode, r.errorMessage, `creating topic ${t.name}`);
      const created: CreatedTopic = { name: t.name };
      if (error !== undefined) created.error = error;
      if (r.topicId !== undefined && r.topicId !== ZERO_UUID) created.topicId = r.topicId;
      if (r.numPartitions !== undefined && r.numPartitions >= 0) created.partitions = r.numPartitions;
      if (r.replicationFactor !== undefined && r.replicationFactor >= 0)
        created.replicationFactor = r.replicationFactor;
      return created;
    });
  }

  /** Grows each topic to `count` partitions (Kafka cannot shrink them: INVALID_PARTITIONS). */
  async createPartitions(
    topics: readonly { name: string; count: number }[],
    options: { validateOnly?: boolean } = {},
  ): Promise<TopicResult[]> {
    if (topics.length === 0) return [];
    const res = await this.#call(ANY, CreatePartitionsRequest, CreatePartitionsResponse, () => ({
      topics: topics.map((t) => ({ name: t.name, count: t.count, assignments: null })),
      timeoutMs: this.#brokerTimeoutMs(),
      validateOnly: options.validateOnly ?? false,
    }));
    return perTopic(
      topics.map((t) => t.name),
      res.results.map((r) => [r.name, r.errorCode, r.errorMessage]),
      "adding partitions to",
    );
  }

  async deleteTopics(names: readonly string[]): Promise<TopicResult[]> {
    if (names.length === 0) return [];
    const res = await this.#call(ANY, DeleteTopicsRequest, DeleteTopicsResponse, () => ({
      // v6+ names topics in `topics`, earlier versions in `topicNames`; the codec writes the one its version has.
      topics: names.map((name) => ({ name, topicId: ZERO_UUID })),
      topicNames: [...names],
      timeoutMs: this.#brokerTimeoutMs(),
    }));
    return perTopic(
      names,
      res.responses.map((r) => [r.name ?? "", r.errorCode, r.errorMessage ?? null]),
      "deleting topic",
    );
  }

  /** Moves partitions to new replica lists (or cancels with null). Throws UnsupportedApiError where unsupported. */
  async alterPartitionReassignments(reassignments: readonly Reassignment[]): Promise<PartitionResult[]> {
    if (reassignments.length === 0) return [];
    const byTopic = groupByTopic(reassignments);
    const res = await this.#call(ANY, AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, () => ({
      timeoutMs: this.#brokerTimeoutMs(),
      topics: [...byTopic].map(([name, parts]) => ({
        name,
        partitions: parts.map((p) => ({ partitionIndex: p.partition, replicas: p.replicas })),
      })),
    }));
    const top = kafkaError(res.errorCode, res.errorMessage, "AlterPartitionReassignments");
    if (top !== undefined) throw top;
    const errors = new Map<string, KafkaError | undefined>();
    for (const t of res.responses) {
      for (const p of t.partitions) {
        errors.set(
          `${t.name}/${p.partitionIndex}`,
          kafkaError(p.errorCode, p.errorMessage, `${t.name}-${p.partitionIndex}`),
        );
      }
    }
    return reassignments.map((r) => withError(r.topic, r.partition, errors));
  }

  /** Reassignments in progress, for the given partitions or (undefined) all. */
  async listPartitionReassignments(partitions?: readonly PartitionRef[]): Promise<OngoingReassignment[]> {
    const res = await this.#call(ANY, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, () => ({
      timeoutMs: this.#brokerTimeoutMs(),
      topics:
        partitions === undefined
          ? null
          : [...groupByTopic(partitions)].map(([name, parts]) => ({
              name,
              partitionIndexes: parts.map((p) => p.partition),
            })),
    }));
    const top = kafkaError(res.errorCode, res.errorMessage, "ListPartitionReassignments");
    if (top !== undefined) throw top;
    return res.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        replicas: p.replicas,
        adding: p.addingReplicas,
        removing: p.removingReplicas,
      })),
    );
  }

  /** The log dirs of one broker (DescribeLogDirs goes to the broker that holds them) with every partition's size. */
  async describeLogDirs(nodeId: number): Promise<LogDirDescription[]> {
    if (!this.#nodes.has(nodeId)) await this.#metadata([]);
    const res = await this.#call({ kind: "node", nodeId }, DescribeLogDirsRequest, DescribeLogDirsResponse, () => ({
      ...DescribeLogDirsRequest.create(),
      topics: null,
    }));
    const top = kafkaError(res.errorCode ?? ErrorCode.NONE, null, `DescribeLogDirs on broker ${nodeId}`);
    if (top !== undefined) throw top;
    return res.results.map((r) => {
      const error = kafkaError(r.errorCode, null, `log dir ${r.logDir} of broker ${nodeId}`);
      return {
        logDir: r.logDir,
        ...(error === undefined ? {} : { error }),
        partitions: r.topics.flatMap((t) =>
          t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, sizeBytes: p.partitionSize })),
        ),
        totalBytes: r.totalBytes ?? -1n,
        usableBytes: r.usableBytes ?? -1n,
      };
    });
  }

  /** Elects the preferred (or, unclean, any live) replica as leader; null partitions means every partition. */
  async electLeaders(options: {
    type?: "preferred" | "unclean";
    partitions: readonly PartitionRef[] | null;
  }): Promise<PartitionResult[]> {
    const type = options.type ?? "preferred";
    const res = await this.#call(ANY, ElectLeadersRequest, ElectLeadersResponse, (version) => {
      if (version === 0 && type !== "preferred") {
        throw new UnsupportedApiError(ApiKey.ElectLeaders, "ElectLeaders", "broker", "unclean election needs v1+");
      }
      return {
        electionType: type === "preferred" ? 0 : 1,
        topicPartitions:
          options.partitions === null
            ? null
            : [...groupByTopic(options.partitions)].map(([topic, parts]) => ({
                topic,
                partitions: parts.map((p) => p.partition),
              })),
        timeoutMs: this.#brokerTimeoutMs(),
      };
    });
    const top = kafkaError(res.errorCode ?? ErrorCode.NONE, null, "ElectLeaders");
    if (top !== undefined) throw top;
    const out: PartitionResult[] = [];
    for (const t of res.replicaElectionResults) {
      for (const p of t.partitionResult) {
        const error = kafkaError(p.errorCode, p.errorMessage, `${t.topic}-${p.partitionId}`);
        out.push(
          error === undefined
            ? { topic: t.topic, partition: p.partitionId }
            : { topic: t.topic, partition: p.partitionId, error },
        );
      }
    }
    return out;
  }

  /**
   * The KRaft metadata quorum: leader, epoch, voters and observers with their replication progress. Only the quorum's
   * leader answers it (a controller listener elsewhere says NOT_LEADER_OR_FOLLOWER, as Kafka's does), so with the
   * controllers as bootstrap addresses each is asked in turn until the leader answers.
   */
  async describeQuorum(): Promise<QuorumDescription> {
    const addresses = [...new Set([...(this.#preferred === undefined ? [] : [this.#preferred]), ...this.#bootstrap])];
    let last: unknown;
    for (const address of addresses) {
      try {
        const quorum = await this.#describeQuorumAt({ kind: "address", address });
        this.#preferred = address;
        return quorum;
      } catch (err) {
        const notLeader = err instanceof KafkaError && err.code === ErrorCode.NOT_LEADER_OR_FOLLOWER;
        if (!notLeader && !(err instanceof BrokerConnectionError) && !(err instanceof AdminTimeoutError)) throw err;
        last = err;
      }
    }
    throw last;
  }

  async #describeQuorumAt(target: Target): Promise<QuorumDescription> {
    const res = await this.#call(target, DescribeQuorumRequest, DescribeQuorumResponse, () => ({
      ...DescribeQuorumRequest.create(),
      topics: [{ topicName: "__cluster_metadata", partitions: [{ partitionIndex: 0 }] }],
    }));
    const top = kafkaError(res.errorCode, res.errorMessage ?? null, "DescribeQuorum");
    if (top !== undefined) throw top;
    const p = res.topics[0]?.partitions[0];
    if (p === undefined)
      throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, "no partition in the answer", "DescribeQuorum");
    const perr = kafkaError(p.errorCode, p.errorMessage ?? null, "DescribeQuorum");
    if (perr !== undefined) throw perr;
    const replica = (r: (typeof p.currentVoters)[number]): QuorumReplica => ({
      replicaId: r.replicaId,
      logEndOffset: r.logEndOffset,
      lastFetchTimestamp: r.lastFetchTimestamp ?? -1n,
      lastCaughtUpTimestamp: r.lastCaughtUpTimestamp ?? -1n,
    });
    return {
      leaderId: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      highWatermark: p.highWatermark,
      voters: p.currentVoters.map(replica),
      observers: p.observers.map(replica),
    };
  }

  /** The feature levels one broker (the bootstrap address given, else any) supports, and those finalized. */
  async features(address?: string): Promise<FeatureLevels> {
    const target: Target = address === undefined ? ANY : { kind: "address", address };
    const res = await this.#call(target, ApiVersionsRequest, ApiVersionsResponse, () => ({
      ...ApiVersionsRequest.create(),
      clientSoftwareName: "tributary-admin",
      clientSoftwareVersion: "0",
    }));
    const top = kafkaError(res.errorCode, null, "ApiVersions");
    if (top !== undefined) throw top;
    return {
      supported: new Map(
        (res.supportedFeatures ?? []).map((f) => [f.name ?? "", [f.minVersion ?? 0, f.maxVersion ?? 0]] as const),
      ),
      finalized: new Map((res.finalizedFeatures ?? []).map((f) => [f.name ?? "", f.maxVersionLevel ?? 0] as const)),
    };
  }

  /** UpdateFeatures (forwarded to the active controller): all updates apply together or none does. */
  async updateFeatures(updates: readonly FeatureUpdate[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const res = await this.#call(ANY, UpdateFeaturesRequest, UpdateFeaturesResponse, (version) => ({
      ...UpdateFeaturesRequest.create(),
      timeoutMs: this.#brokerTimeoutMs(),
      featureUpdates: updates.map((u) => ({
        feature: u.feature,
        maxVersionLevel: u.maxVersionLevel,
        ...(version === 0
          ? { allowDowngrade: (u.upgradeType ?? "upgrade") !== "upgrade" }
          : { upgradeType: UPGRADE_TYPE[u.upgradeType ?? "upgrade"] }),
      })),
      validateOnly: options.validateOnly ?? false,
    }));
    const top = kafkaError(res.errorCode, res.errorMessage, "UpdateFeatures");
    if (top !== undefined) throw top;
    for (const r of res.results ?? []) {
      const err = kafkaError(r.errorCode, r.errorMessage, `UpdateFeatures ${r.feature}`);
      if (err !== undefined) throw err;
    }
  }

  /**
   * UnregisterBroker (KIP-631, forwarded to the active controller): removes broker `brokerId`'s registration, as
   * `kafka-cluster unregister --id` does. Throws KafkaError BROKER_ID_NOT_REGISTERED for an id the controller does
   * not know (also when an earlier call already removed it and its answer was lost).
   */
  async unregisterBroker(brokerId: number): Promise<void> {
    const res = await this.#call(ANY, UnregisterBrokerRequest, UnregisterBrokerResponse, () => ({
      ...UnregisterBrokerRequest.create(),
      brokerId,
    }));
    const err = kafkaError(res.errorCode, res.errorMessage, `UnregisterBroker ${brokerId}`);
    if (err !== undefined) throw err;
  }

  /** The timeout handed to the broker for its own work: a little under ours, so its answer beats our deadline. */
  #brokerTimeoutMs(): number {
    return Math.max(1_000, this.#requestTimeoutMs - 2_000);
  }

  async #metadata(topics: string[] | null) {
    const res = await this.#call(ANY, MetadataRequest, MetadataResponse, () => ({
      ...MetadataRequest.create(),
      topics: topics === null ? null : topics.map((name) => ({ name, topicId: ZERO_UUID })),
      // Describing a topic must never create it.
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    }));
    this.#nodes.clear();
    for (const b of res.brokers) this.#nodes.set(b.nodeId, `${b.host}:${b.port}`);
    return res;
  }

  /** Groups resources by the broker that must answer them: a broker's own config goes to that broker. */
  async #byTarget<T extends ConfigResource>(items: readonly T[]): Promise<Map<Target, T[]>> {
    const groups = new Map<Target, T[]>();
    const byNode = new Map<number, Target>();
    for (const item of items) {
      let target = ANY;
      if (item.type === "broker" && item.name !== "") {
        const nodeId = Number(item.name);
        if (!Number.isInteger(nodeId) || nodeId < 0)
          throw new Error(`broker config resource ${JSON.stringify(item.name)} is not a node id`);
        if (!this.#nodes.has(nodeId)) await this.#metadata([]);
        target = byNode.get(nodeId) ?? { kind: "node", nodeId };
        byNode.set(nodeId, target);
      }
      const list = groups.get(target) ?? [];
      list.push(item);
      groups.set(target, list);
    }
    return groups;
  }

  /** One request to `target` at the best common version; reconnects and retries after connection failures. */
  async #call<Req, Res>(
    target: Target,
    request: MessageCodec<Req>,
    response: MessageCodec<Res>,
    build: (version: number) => Req,
  ): Promise<Res> {
    return this.#withRetries(async () => {
      const session = await this.#session(target);
      const version = pickVersion(session, request.apiKey, request);
      if (version === undefined) {
        const advertised = session.versions.get(request.apiKey);
        throw new UnsupportedApiError(
          request.apiKey,
          request.name.replace(/Request$/, ""),
          session.conn.address,
          advertised === undefined
            ? "the broker does not advertise it in ApiVersions"
            : `the broker speaks v${advertised[0]}-${advertised[1]}, this client v${request.minVersion}-${request.maxVersion}`,
        );
      }
      return session.conn.send(request, response, version, build(version), this.#requestTimeoutMs);
    });
  }

  async #withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    let backoff = this.#retryBackoffMs;
    for (let tries = 0; ; tries++) {
      if (this.#closed) throw new BrokerConnectionError("the admin client is closed");
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof BrokerConnectionError) || tries >= this.#retries) throw err;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2_000);
      }
    }
  }

  /** A live session to the target: the preferred bootstrap/known broker for "any", or a node's own address. */
  async #session(target: Target): Promise<Session> {
    if (target.kind === "address") return this.#open(target.address);
    if (target.kind === "node") {
      const address = this.#nodes.get(target.nodeId);
      if (address === undefined) throw new Error(`broker ${target.nodeId} is not in the cluster's metadata`);
      return this.#open(address);
    }
    const candidates = [
      ...(this.#preferred === undefined ? [] : [this.#preferred]),
      ...this.#bootstrap,
      ...this.#nodes.values(),
    ];
    const failures: string[] = [];
    for (const address of new Set(candidates)) {
      try {
        const session = await this.#open(address);
        this.#preferred = address;
        return session;
      } catch (err) {
        if (!(err instanceof BrokerConnectionError) && !(err instanceof AdminTimeoutError)) throw err;
        failures.push(err.message);
      }
    }
    this.#preferred = undefined;
    throw new BrokerConnectionError(`no broker reachable: ${failures.join("; ")}`);
  }

  #open(address: string): Promise<Session> {
    const existing = this.#sessions.get(address);
    if (existing !== undefined) {
      return existing.then((s) => {
        if (!s.conn.closed) return s;
        if (this.#sessions.get(address) === existing) this.#sessions.delete(address);
        return this.#open(address);
      });
    }
    const [host, port] = splitAddress(address);
    const opening = (async (): Promise<Session> => {
      const conn = await BrokerConnection.open({
        host,
        port,
        clientId: this.#clientId,
        connectTimeoutMs: this.#connectTimeoutMs,
        tls: this.#tls,
      });
      try {
        // v0 is answered by every broker; v3+ would also be, but v0 keeps the first exchange minimal.
        const res = await conn.send(
          ApiVersionsRequest,
          ApiVersionsResponse,
          0,
          ApiVersionsRequest.create(),
          this.#requestTimeoutMs,
        );
        const top = kafkaError(res.errorCode, null, `ApiVersions from ${address}`);
        if (top !== undefined) throw top;
        return { conn, versions: new Map(res.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]])) };
      } catch (err) {
        conn.close();
        throw err;
      }
    })();
    this.#sessions.set(address, opening);
    opening.catch(() => {
      if (this.#sessions.get(address) === opening) this.#sessions.delete(address);
    });
    return opening;
  }
}

/** The request codecs the client uses, by API key (for supports()). */
const CODECS: Record<number, { request: MessageCodec<unknown> } | undefined> = Object.fromEntries(
  [
    MetadataRequest,
    DescribeConfigsRequest,
    IncrementalAlterConfigsRequest,
    CreateTopicsRequest,
    CreatePartitionsRequest,
    DeleteTopicsRequest,
    AlterPartitionReassignmentsRequest,
    ListPartitionReassignmentsRequest,
    ElectLeadersRequest,
    DescribeQuorumRequest,
    DescribeLogDirsRequest,
    UpdateFeaturesRequest,
    UnregisterBrokerRequest,
  ].map((c) => [c.apiKey, { request: c }]),
);

function pickVersion(session: Session, apiKey: number, codec: MessageCodec<unknown>): number | undefined {
  const range = session.versions.get(apiKey);
  if (range === undefined) return undefined;
  const version = Math.min(range[1], codec.maxVersion);
  return version >= Math.max(range[0], codec.minVersion) ? version : undefined;
}

export function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`broker address ${JSON.stringify(address)} is not host:port`);
  }
  return [host, port];
}

function missing(what: string): KafkaError {
  return new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, "not in the answer", what);
}

function perTopic(names: readonly string[], answers: [string, number, string | null][], verb: string): TopicResult[] {
  const byName = new Map(answers.map(([name, code, message]) => [name, [code, message] as const]));
  return names.map((name) => {
    const a = byName.get(name);
    if (a === undefined) return { name, error: missing(`${verb} ${name}`) };
    const error = kafkaError(a[0], a[1], `${verb} ${name}`);
    return error === undefined ? { name } : { name, error };
  });
}

function groupByTopic<T extends PartitionRef>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const list = out.get(item.topic) ?? [];
    list.push(item);
    out.set(item.topic, list);
  }
  return out;
}

function withError(topic: string, partition: number, errors: Map<string, KafkaError | undefined>): PartitionResult {
  const key = `${topic}/${partition}`;
  if (!errors.has(key)) return { topic, partition, error: missing(`${topic}-${partition}`) };
  const error = errors.get(key);
  return error === undefined ? { topic, partition } : { topic, partition, error };
}
