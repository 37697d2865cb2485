import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { parseProperties, PropertiesSyntaxError, type PropertyEntry } from "./properties.ts";
import {
  CONFIG_KEYS,
  IGNORED_KAFKA_KEYS,
  isConfigKey,
  RACK_AWARE_REPLICA_SELECTOR,
  type ConfigKey,
  type ListenerAddress,
  type LogLevel,
  type ParsedValues,
  type ProcessRole,
  type QuorumVoter,
  type SecurityProtocol,
} from "./schema.ts";

export type ConfigSource = "default" | "file" | "env" | "override";

export interface ListenerConfig extends ListenerAddress {
  readonly securityProtocol: SecurityProtocol;
  /** Named in controller.listener.names: for the quorum's peers, never advertised to clients. */
  readonly isController: boolean;
}

/** The active controller's periodic elections (Kafka's QuorumController scheduling). */
export interface LeaderElectionConfig {
  /** auto.leader.rebalance.enable: move leadership back to preferred replicas every check interval. */
  readonly autoLeaderRebalanceEnable: boolean;
  /** leader.imbalance.check.interval.seconds, in milliseconds. */
  readonly leaderImbalanceCheckIntervalMs: number;
  /** leader.imbalance.per.broker.percentage: a broker's share of preferred partitions it may not lead. */
  readonly leaderImbalancePerBrokerPercentage: number;
  /** unclean.leader.election.interval.ms: how often leaderless partitions of unclean topics are retried. */
  readonly uncleanLeaderElectionIntervalMs: number;
}

export interface BrokerConfig {
  readonly nodeId: number;
  readonly processRoles: readonly ProcessRole[];
  readonly listeners: readonly ListenerConfig[];
  /** What Metadata returns to clients: advertised.listeners, or the client listeners with a wildcard host replaced. */
  readonly advertisedListeners: readonly ListenerAddress[];
  /**
   * Where the quorum's peers reach this node's controller listeners: their entries in advertised.listeners, else the
   * listeners themselves with a wildcard host replaced by the host name. Never returned to clients.
   */
  readonly advertisedControllerListeners: readonly ListenerAddress[];
  readonly listenerSecurityProtocolMap: Readonly<Record<string, SecurityProtocol>>;
  readonly controllerListenerNames: readonly string[];
  /**
   * Where this broker reaches other brokers (replica fetching): inter.broker.listener.name, else the listener named
   * by security.inter.broker.protocol; with neither key set and no advertised listener of that name (PLAINTEXT), the
   * first advertised listener.
   */
  readonly interBrokerListenerName: string;
  /** The replica.fetch.* keys and replica.socket.timeout.ms: how followers fetch from leaders. */
  readonly replicaFetch: ReplicaFetchSettings;
  /** replication.quota.window.num / .size.seconds: the windows the replication throttles measure their rate over. */
  readonly replicationQuotaWindow: { readonly samples: number; readonly windowMs: number };
  readonly controllerQuorumVoters: readonly QuorumVoter[];
  /**
   * `controller.quorum.bootstrap.servers` (KIP-853): where to find the quorum when the voters live in the metadata log
   * (dynamic voters) rather than in controller.quorum.voters. Empty when not set.
   */
  readonly controllerQuorumBootstrapServers: readonly { readonly host: string; readonly port: number }[];
  /** The controller.quorum.*.ms keys, named as the raft core's config names them. */
  readonly quorumTiming: QuorumTiming;
  /** When the metadata quorum snapshots its committed state, and how its log is cut into segments. */
  readonly metadataLog: MetadataLogConfig;
  /** The active controller fences a broker that has not sent a heartbeat for this long. */
  readonly brokerSessionTimeoutMs: number;
  /** How soon the active controller fences a broker after losing the connection its heartbeats came on (ADR 26). */
  readonly brokerConnectionLossGraceMs: number;
  /** The active controller's periodic elections. */
  readonly leaderElection: LeaderElectionConfig;
  readonly brokerHeartbeatIntervalMs: number;
  /** A leader drops a follower from the ISR that has not caught up for this long (checked every half of it). */
  readonly replicaLagTimeMaxMs: number;
  /** replica.high.watermark.checkpoint.interval.ms: how often every partition's HW is written to its checkpoint. */
  readonly replicaHighWatermarkCheckpointIntervalMs: number;
  /** broker.rack, or null when unset. */
  readonly brokerRack: string | null;
  /**
   * replica.selector.class: how a leader picks the replica a consumer should read from (KIP-392). "leader" when unset
   * (Kafka's default), "rack-aware" for RackAwareReplicaSelector.
   */
  readonly replicaSelector: "leader" | "rack-aware";
  /** Absolute paths: log.dirs, else log.dir, resolved against the working directory as Kafka does. */
  readonly logDirs: readonly string[];
  /** metadata.log.dir (absolute), else the first log dir: holds the metadata quorum's state and log. */
  readonly metadataLogDir: string;
  /** The directories a node formats and checks (each with its meta.properties): the log dirs and the metadata dir. */
  readonly storageDirs: readonly string[];
  readonly logSegmentBytes: number;
  /** log.roll.ms, else log.roll.hours. */
  readonly logRollMs: number;
  readonly logIndexIntervalBytes: number;
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly offsetsTopicReplicationFactor: number;
  readonly offsetsTopicNumPartitions: number;
  readonly autoCreateTopicsEnable: boolean;
  /** log.retention.ms, else minutes, else hours; -1 means unlimited. */
  readonly logRetentionMs: number;
  /** -1 means unlimited. */
  readonly logRetentionBytes: number;
  readonly logRetentionCheckIntervalMs: number;
  /** Number.MAX_SAFE_INTEGER stands for Kafka's Long.MAX_VALUE: never flush on count alone. */
  readonly logFlushIntervalMessages: number;
  /** Number.MAX_SAFE_INTEGER when unset: never flush on time alone. */
  readonly logFlushIntervalMs: number;
  readonly messageMaxBytes: number;
  /** Upper bound of a Fetch response's records, whatever the request's max_bytes asks for. */
  readonly fetchMaxBytes: number;
  readonly socketRequestMaxBytes: number;
  readonly socketRequestReadTimeoutMs: number;
  readonly connectionsMaxIdleMs: number;
  readonly groupInitialRebalanceDelayMs: number;
  readonly groupMinSessionTimeoutMs: number;
  readonly groupMaxSessionTimeoutMs: number;
  readonly offsetsRetentionMinutes: number;
  /** cluster.id, else the one in meta.properties of a log dir, else null (storage formats a new one). */
  readonly clusterId: string | null;
  /** -1 disabled, 0 any free port. */
  readonly metricsPort: number;
  readonly metricsHost: string;
  readonly loggerLevel: LogLevel;
  /** The effective string value and its origin for every supported key, for DescribeConfigs. */
  readonly entries: Readonly<Record<ConfigKey, ConfigEntry>>;
}

export interface ReplicaFetchSettings {
  /** replica.fetch.max.bytes: per partition. */
  readonly maxBytes: number;
  /** replica.fetch.response.max.bytes: per response. */
  readonly responseMaxBytes: number;
  readonly minBytes: number;
  readonly waitMaxMs: number;
  readonly backoffMs: number;
  /** replica.socket.timeout.ms: for connecting, and how long a fetch may go unanswered. */
  readonly socketTimeoutMs: number;
}

export interface MetadataLogConfig {
  /** metadata.log.max.record.bytes.between.snapshots */
  readonly snapshotMaxBytesBetween: number;
  /** metadata.log.max.snapshot.interval.ms; 0 turns the time trigger off. */
  readonly snapshotIntervalMs: number;
  /** metadata.log.segment.bytes */
  readonly segmentBytes: number;
  /** metadata.log.segment.ms */
  readonly segmentMs: number;
  /** metadata.max.retention.bytes: log and snapshots together above this delete the oldest snapshots; -1 never. */
  readonly retentionMaxBytes: number;
  /** metadata.max.retention.ms: snapshots older than this are deleted (the newest kept); -1 never. */
  readonly retentionMs: number;
}

export interface QuorumTiming {
  readonly electionTimeoutMs: number;
  readonly fetchTimeoutMs: number;
  readonly electionBackoffMaxMs: number;
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
}

export interface ConfigEntry {
  /** null where Kafka's default is null and nothing set the key. */
  readonly value: string | null;
  readonly source: ConfigSource;
}

export interface ConfigIssue {
  readonly key: string;
  readonly value: string | null;
  /** Where the value came from: "server.properties:12", "env TRIBUTARY_NODE_ID", "--override", "default". */
  readonly origin: string;
  readonly expected: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(
      issues
        .map((i) =>
          i.value === null
            ? `${i.key}: ${i.expected} (${i.origin})`
            : `invalid value ${JSON.stringify(i.value)} for ${i.key} (${i.origin}): expected ${i.expected}`,
        )
        .join("\n"),
    );
    this.name = "ConfigError";
  }
}

export interface ConfigWarning {
  readonly key: string;
  readonly origin: string;
  readonly message: string;
}

export interface ConfigInput {
  /** server.properties entries in file order. */
  readonly fileEntries?: readonly PropertyEntry[];
  /** Named in messages, e.g. "config/server.properties". */
  readonly fileName?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Entries of each --override-file, in command-line order: set like --override, before the --override strings. */
  readonly overrideFiles?: readonly { readonly fileName: string; readonly entries: readonly PropertyEntry[] }[];
  /** Raw `key=value` strings from --override, in command-line order. */
  readonly overrides?: readonly string[];
  /** Base for relative log dirs. */
  readonly cwd?: string;
  /**
   * Returns a log dir's meta.properties text, null when it has none, or undefined when it could not be read (the
   * dir's storage failed: the node's start decides what that means).
   */
  readonly readMetaProperties?: (logDir: string) => string | null | undefined;
}

export interface ConfigResult {
  readonly config: BrokerConfig;
  /** Unknown keys and keys Tributary ignores; the caller logs them once a logger exists. */
  readonly warnings: readonly ConfigWarning[];
  /**
   * Each storage dir's meta.properties text as read while resolving (null: none), when a reader was given: read once
   * at start and passed down, so the node does not read the files again. A dir whose file could not be read is
   * absent.
   */
  readonly metaProperties?: ReadonlyMap<string, string | null>;
}

export const ENV_PREFIX = "TRIBUTARY_";
export const KAFKA_ENV_PREFIX = "KAFKA_";

/** TRIBUTARY_LOG_DIRS → log.dirs. */
export function envNameToKey(name: string, prefix: string): string {
  return name.slice(prefix.length).toLowerCase().replaceAll("_", ".");
}

export function keyToEnvName(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replaceAll(".", "_");
}

interface Setting {
  readonly value: string;
  readonly source: ConfigSource;
  readonly origin: string;
}

/** Applies file < KAFKA_* env < TRIBUTARY_* env < --override-file < --override; later settings of the same key win. */
function collectSettings(input: ConfigInput, warnings: ConfigWarning[], issues: ConfigIssue[]): Map<string, Setting> {
  const settings = new Map<string, Setting>();
  const fileName = input.fileName ?? "server.properties";
  for (const e of input.fileEntries ?? []) {
    settings.set(e.key, { value: e.value, source: "file", origin: `${fileName}:${e.line}` });
  }
  const env = input.env ?? {};
  const envNames = Object.keys(env).sort();
  for (const name of envNames) {
    const value = env[name];
    if (value === undefined || !name.startsWith(KAFKA_ENV_PREFIX)) continue;
    // KAFKA_* is shared with Kafka's own scripts (KAFKA_HEAP_OPTS, KAFKA_OPTS): only names of keys we know count.
    const k = envNameToKey(name, KAFKA_ENV_PREFIX);
    if (isConfigKey(k)) settings.set(k, { value, source: "env", origin: `env ${name}` });
  }
  for (const name of envNames) {
    const value = env[name];
    if (value === undefined || !name.startsWith(ENV_PREFIX)) continue;
    // TRIBUTARY_* also names tooling and operator variables (TRIBUTARY_CACHE, TRIBUTARY_COMPAT_NODES): only names of
    // keys we know, or of Kafka keys we ignore (which then warn "no effect"), are configuration.
    const k = envNameToKey(name, ENV_PREFIX);
    if (isConfigKey(k) || IGNORED_KAFKA_KEYS.has(k)) settings.set(k, { value, source: "env", origin: `env ${name}` });
  }
  for (const file of input.overrideFiles ?? []) {
    for (const e of file.entries) {
      settings.set(e.key, { value: e.value, source: "override", origin: `${file.fileName}:${e.line}` });
    }
  }
  for (const o of input.overrides ?? []) {
    const eq = o.indexOf("=");
    const k = eq > 0 ? o.slice(0, eq).trim() : "";
    if (k === "") {
      issues.push({ key: o, value: null, origin: "--override", expected: "--override takes key=value" });
      continue;
    }
    settings.set(k, { value: o.slice(eq + 1), source: "override", origin: "--override" });
  }
  for (const [k, s] of settings) {
    if (isConfigKey(k)) continue;
    settings.delete(k);
    warnings.push({
      key: k,
      origin: s.origin,
      message: IGNORED_KAFKA_KEYS.has(k)
        ? `configuration key ${k} (${s.origin}) has no effect in Tributary and is ignored`
        : `unknown configuration key ${k} (${s.origin}) is ignored`,
    });
  }
  return settings;
}

function parseAll(settings: Map<string, Setting>, issues: ConfigIssue[]) {
  const values: Partial<Record<ConfigKey, unknown>> = {};
  const entries = {} as Record<ConfigKey, ConfigEntry>;
  for (const k of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const def = CONFIG_KEYS[k];
    const s = settings.get(k);
    const raw = s?.value ?? def.default;
    entries[k] = { value: raw ?? null, source: s?.source ?? "default" };
    if (raw === undefined) continue;
    const r = def.schema.safeParse(raw);
    if (r.success) values[k] = r.data;
    else
      issues.push({
        key: k,
        value: raw,
        origin: s?.origin ?? "default",
        expected: r.error.issues[0]?.message ?? "a valid value",
      });
  }
  return { values: values as ParsedValues, entries };
}

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;

function retentionMs(v: ParsedValues): number {
  if (v["log.retention.ms"] !== undefined) return v["log.retention.ms"] < 0 ? -1 : v["log.retention.ms"];
  const minutes = v["log.retention.minutes"];
  if (minutes !== undefined) return minutes < 0 ? -1 : minutes * MS_PER_MINUTE;
  const hours = v["log.retention.hours"] ?? 168;
  return hours < 0 ? -1 : hours * MS_PER_HOUR;
}

function required<T>(v: T | undefined): T {
  if (v === undefined) throw new Error("a key with a default failed to parse without an issue");
  return v;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

function issueFor(
  key: ConfigKey,
  settings: Map<string, Setting>,
  entries: Record<ConfigKey, ConfigEntry>,
  expected: string,
) {
  return { key, value: entries[key].value, origin: settings.get(key)?.origin ?? "default", expected };
}

function metaProperties(
  logDirs: readonly string[],
  read: ((dir: string) => string | null | undefined) | undefined,
  issues: ConfigIssue[],
): { clusterId?: string; nodeId?: number } {
  const found: { clusterId?: string; nodeId?: number } = {};
  if (!read) return found;
  for (const dir of logDirs) {
    const text = read(dir);
    if (text === null || text === undefined) continue;
    const origin = join(dir, "meta.properties");
    let props: Map<string, string>;
    try {
      props = new Map(parseProperties(text).map((e) => [e.key, e.value]));
    } catch (err) {
      issues.push({ key: "meta.properties", value: null, origin, expected: `unreadable: ${String(err)}` });
      continue;
    }
    const cid = props.get("cluster.id");
    if (cid !== undefined) {
      if (found.clusterId !== undefined && found.clusterId !== cid)
        issues.push({
          key: "cluster.id",
          value: cid,
          origin,
          expected: `the same cluster.id as other log dirs (${found.clusterId})`,
        });
      found.clusterId ??= cid;
    }
    const nid = props.get("node.id");
    if (nid !== undefined && /^\d+$/.test(nid)) found.nodeId ??= Number(nid);
  }
  return found;
}

/**
 * Kafka's checks of process.roles against the quorum and the listeners (KafkaConfig.validateValues), so a node that
 * could never join its quorum, or would offer the quorum's port to clients, stops at start with the reason. One
 * relaxation for development: a combined node with no controller.quorum.voters is a quorum of itself alone.
 */
function checkRoles(
  v: ParsedValues,
  listeners: readonly ListenerConfig[],
  issue: (key: ConfigKey, expected: string) => void,
): void {
  const roles = v["process.roles"];
  const voters = v["controller.quorum.voters"];
  const bootstrap = v["controller.quorum.bootstrap.servers"] ?? [];
  const nodeId = v["node.id"];
  if (roles === undefined || voters === undefined) return;
  if (voters.length > 0 && bootstrap.length > 0) {
    issue(
      "controller.quorum.bootstrap.servers",
      "not to be set together with controller.quorum.voters: static voters, or dynamic voters found through the bootstrap servers",
    );
  }
  const broker = roles.includes("broker");
  const controller = roles.includes("controller");
  const names = (v["controller.listener.names"] ?? []).map((n) => n.toUpperCase());
  const ids = voters.map((x) => x.id);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate !== undefined) issue("controller.quorum.voters", `each node id once; ${duplicate} appears twice`);
  if (voters.length === 0 && bootstrap.length > 0) {
    if (names.length === 0) {
      issue("controller.listener.names", "at least one listener name when controller.quorum.bootstrap.servers is set");
    }
  } else if (voters.length === 0) {
    if (!controller || !broker)
      issue(
        "controller.quorum.voters",
        `the controllers as id@host:port (only a combined broker,controller node may leave it empty, forming a quorum of itself); process.roles is ${roles.join(",")}`,
      );
  } else if (names.length === 0) {
    issue("controller.listener.names", "at least one listener name when controller.quorum.voters is set");
  }
  if (nodeId !== undefined && voters.length > 0) {
    if (controller && !ids.includes(nodeId))
      issue(
        "controller.quorum.voters",
        `to include this node (node.id ${nodeId}) because process.roles contains controller`,
      );
    if (!controller && ids.includes(nodeId))
      issue(
        "controller.quorum.voters",
        `not to include this node (node.id ${nodeId}) because process.roles is broker only; make it a controller or give it another id`,
      );
  }
  const controllerListeners = listeners.filter((l) => l.isController);
  if (controller && (voters.length > 0 || bootstrap.length > 0) && controllerListeners.length === 0)
    issue(
      "controller.listener.names",
      `to name a listener in listeners because process.roles contains controller; none of ${names.join(",")} is`,
    );
  if (!controller && controllerListeners.length > 0)
    issue(
      "listeners",
      `no controller listener (${controllerListeners.map((l) => l.name).join(",")}) because process.roles is broker only: brokers reach the controllers, they do not serve the quorum`,
    );
  if (controller && !broker) {
    const other = listeners.filter((l) => !l.isController);
    if (other.length > 0)
      issue(
        "listeners",
        `only controller listeners because process.roles is controller; ${other.map((l) => l.name).join(",")} is not in controller.listener.names`,
      );
  }
}

/**
 * The inter-broker listener as Kafka resolves it (KafkaConfig.interBrokerListenerNameAndSecurityProtocol): at most
 * one of inter.broker.listener.name and security.inter.broker.protocol (whose listener is the one named after the
 * protocol, PLAINTEXT by default); on a broker it must be an advertised listener. One relaxation: with neither key
 * set and no advertised PLAINTEXT listener, the first advertised listener is used instead of refusing the config.
 */
function interBrokerListener(
  v: ParsedValues,
  advertised: readonly ListenerAddress[],
  issue: (key: ConfigKey, expected: string) => void,
): string {
  const named = v["inter.broker.listener.name"];
  const protocol = v["security.inter.broker.protocol"];
  if (named !== undefined && protocol !== undefined)
    issue("inter.broker.listener.name", "to be unset when security.inter.broker.protocol is set (only one of them)");
  const broker = v["process.roles"]?.includes("broker") ?? false;
  const names = advertised.map((a) => a.name);
  const chosen = named ?? protocol ?? "PLAINTEXT";
  // No advertised listener at all is reported under listeners already.
  if (!broker || names.length === 0 || names.includes(chosen)) return chosen;
  if (named === undefined && protocol === undefined && names[0] !== undefined) return names[0];
  issue(
    named !== undefined ? "inter.broker.listener.name" : "security.inter.broker.protocol",
    `a listener name defined in advertised.listeners (${names.join(",")}); ${chosen} is not`,
  );
  return chosen;
}

/** The default broker.connection.loss.grace.ms is the heartbeat interval plus this (then at most the session timeout). */
const CONNECTION_LOSS_GRACE_MARGIN_MS = 500;

/**
 * Turns file entries, environment and overrides into a validated, frozen BrokerConfig. Throws ConfigError listing
 * every problem found, each naming the key, the value, where it came from and what was expected.
 */
export function resolveBrokerConfig(input: ConfigInput): ConfigResult {
  const warnings: ConfigWarning[] = [];
  const issues: ConfigIssue[] = [];
  const settings = collectSettings(input, warnings, issues);
  const { values: v, entries } = parseAll(settings, issues);
  const issue = (key: ConfigKey, expected: string) => issues.push(issueFor(key, settings, entries, expected));

  if (v["node.id"] === undefined && entries["node.id"].value === null)
    issues.push({ key: "node.id", value: null, origin: "missing", expected: "node.id is required (an integer ≥ 0)" });

  const protocolMap = new Map(v["listener.security.protocol.map"] ?? []);
  const controllerNames = (v["controller.listener.names"] ?? []).map((n) => n.toUpperCase());
  const listeners: ListenerConfig[] = [];
  for (const l of v.listeners ?? []) {
    const isController = controllerNames.includes(l.name);
    // Kafka 4 maps an unmapped controller listener to PLAINTEXT; any other unmapped name is an error.
    const protocol = protocolMap.get(l.name) ?? (isController ? "PLAINTEXT" : undefined);
    if (protocol === undefined) {
      issue("listeners", `listener names present in listener.security.protocol.map; ${l.name} is not`);
      continue;
    }
    if (protocol !== "PLAINTEXT")
      issue("listeners", `PLAINTEXT listeners (Tributary does not support ${protocol} yet); ${l.name} is ${protocol}`);
    const clash = listeners.find((o) => o.port === l.port && o.port !== 0 && (o.host === l.host || !o.host || !l.host));
    if (clash) issue("listeners", `a different port for each listener; ${clash.name} and ${l.name} share ${l.port}`);
    listeners.push({ ...l, securityProtocol: protocol, isController });
  }
  if (v.listeners && listeners.filter((l) => !l.isController).length === 0 && v["process.roles"]?.includes("broker"))
    issue("listeners", "at least one listener that is not a controller listener");

  // Kafka's split (KafkaConfig.effectiveAdvertisedBrokerListeners / effectiveAdvertisedControllerListeners):
  // advertised.listeners may name controller listeners too (KIP-853); those reach peers of the quorum only, never
  // clients. A controller listener not advertised is advertised as it is bound.
  const local = hostname();
  const wildcard = (host: string) => host === "" || host === "0.0.0.0" || host === "::";
  const configuredAdvertised = v["advertised.listeners"];
  for (const a of configuredAdvertised ?? []) {
    if (!listeners.some((l) => l.name === a.name))
      issue("advertised.listeners", `names that appear in listeners; ${a.name} does not`);
    if (wildcard(a.host)) issue("advertised.listeners", `a host clients can connect to; ${a.name} has "${a.host}"`);
  }
  const advertised: ListenerAddress[] =
    configuredAdvertised !== undefined
      ? configuredAdvertised.filter((a) => !controllerNames.includes(a.name))
      : listeners
          .filter((l) => !l.isController)
          .map((l) => ({ name: l.name, host: wildcard(l.host) ? local : l.host, port: l.port }));
  // A wildcard bind host is advertised as this machine's host name, as Kafka does (ListenerInfo's
  // withWildcardHostnamesResolved): every peer of the quorum learns the leader's endpoint from it (KIP-853's
  // BeginQuorumEpoch and Vote), so loopback would send each node's quorum traffic to itself.
  const advertisedControllers: ListenerAddress[] = listeners
    .filter((l) => l.isController)
    .map(
      (l) =>
        configuredAdvertised?.find((a) => a.name === l.name) ?? {
          name: l.name,
          host: wildcard(l.host) ? local : l.host,
          port: l.port,
        },
    );

  checkRoles(v, listeners, issue);
  const interBrokerListenerName = interBrokerListener(v, advertised, issue);
  const fetchWait = v["replica.fetch.wait.max.ms"];
  const socketTimeout = v["replica.socket.timeout.ms"];
  if (fetchWait !== undefined && socketTimeout !== undefined && socketTimeout < fetchWait)
    issue("replica.socket.timeout.ms", `at least replica.fetch.wait.max.ms (${fetchWait})`);

  const minSession = v["group.min.session.timeout.ms"];
  const maxSession = v["group.max.session.timeout.ms"];
  if (minSession !== undefined && maxSession !== undefined && minSession > maxSession)
    issue("group.min.session.timeout.ms", `at most group.max.session.timeout.ms (${maxSession})`);

  // A live broker whose connection dropped just after a heartbeat sends its next one an interval later, on a new
  // connection; a shorter grace would fence it. Longer than the session timeout would never shorten anything.
  const grace = v["broker.connection.loss.grace.ms"];
  const heartbeat = v["broker.heartbeat.interval.ms"];
  const session = v["broker.session.timeout.ms"];
  if (grace !== undefined && heartbeat !== undefined && grace <= heartbeat)
    issue("broker.connection.loss.grace.ms", `more than broker.heartbeat.interval.ms (${heartbeat})`);
  else if (grace !== undefined && session !== undefined && grace > session)
    issue("broker.connection.loss.grace.ms", `at most broker.session.timeout.ms (${session})`);

  const cwd = input.cwd ?? process.cwd();
  const rawDirs = v["log.dirs"] ?? (v["log.dir"] !== undefined ? [v["log.dir"]] : []);
  if (v["log.dirs"]?.length === 0) issue("log.dirs", "at least one directory");
  const logDirs = rawDirs.map((d) => resolve(cwd, d));
  const metadataLogDir = resolve(cwd, v["metadata.log.dir"] ?? logDirs[0] ?? ".");
  const storageDirs = logDirs.includes(metadataLogDir) ? logDirs : [...logDirs, metadataLogDir];

  const texts = new Map<string, string | null>();
  const read = input.readMetaProperties;
  const readOnce =
    read === undefined
      ? undefined
      : (dir: string) => {
          const text = read(dir);
          if (text !== undefined) texts.set(dir, text);
          return text;
        };
  const meta = metaProperties(storageDirs, readOnce, issues);
  const configured = v["cluster.id"];
  if (configured !== undefined && meta.clusterId !== undefined && configured !== meta.clusterId)
    issue("cluster.id", `the cluster.id already stored in the log dirs' meta.properties (${meta.clusterId})`);
  const nodeId = v["node.id"];
  if (nodeId !== undefined && meta.nodeId !== undefined && nodeId !== meta.nodeId)
    issue("node.id", `the node.id already stored in the log dirs' meta.properties (${meta.nodeId})`);

  if (issues.length > 0) throw new ConfigError(issues);

  const rollMs = v["log.roll.ms"] ?? required(v["log.roll.hours"]) * MS_PER_HOUR;
  const config: BrokerConfig = {
    nodeId: required(nodeId),
    processRoles: required(v["process.roles"]),
    listeners,
    advertisedListeners: advertised,
    advertisedControllerListeners: advertisedControllers,
    listenerSecurityProtocolMap: Object.fromEntries(protocolMap),
    controllerListenerNames: controllerNames,
    controllerQuorumVoters: required(v["controller.quorum.voters"]),
    interBrokerListenerName,
    replicaFetch: {
      maxBytes: required(v["replica.fetch.max.bytes"]),
      responseMaxBytes: required(v["replica.fetch.response.max.bytes"]),
      minBytes: required(v["replica.fetch.min.bytes"]),
      waitMaxMs: required(fetchWait),
      backoffMs: required(v["replica.fetch.backoff.ms"]),
      socketTimeoutMs: required(socketTimeout),
    },
    replicationQuotaWindow: {
      samples: required(v["replication.quota.window.num"]),
      windowMs: required(v["replication.quota.window.size.seconds"]) * 1000,
    },
    controllerQuorumBootstrapServers: required(v["controller.quorum.bootstrap.servers"]),
    quorumTiming: {
      electionTimeoutMs: required(v["controller.quorum.election.timeout.ms"]),
      fetchTimeoutMs: required(v["controller.quorum.fetch.timeout.ms"]),
      electionBackoffMaxMs: required(v["controller.quorum.election.backoff.max.ms"]),
      requestTimeoutMs: required(v["controller.quorum.request.timeout.ms"]),
      retryBackoffMs: required(v["controller.quorum.retry.backoff.ms"]),
    },
    metadataLog: {
      snapshotMaxBytesBetween: required(v["metadata.log.max.record.bytes.between.snapshots"]),
      snapshotIntervalMs: required(v["metadata.log.max.snapshot.interval.ms"]),
      segmentBytes: required(v["metadata.log.segment.bytes"]),
      segmentMs: required(v["metadata.log.segment.ms"]),
      retentionMaxBytes: required(v["metadata.max.retention.bytes"]),
      retentionMs: required(v["metadata.max.retention.ms"]),
    },
    brokerHeartbeatIntervalMs: required(v["broker.heartbeat.interval.ms"]),
    replicaLagTimeMaxMs: required(v["replica.lag.time.max.ms"]),
    replicaHighWatermarkCheckpointIntervalMs: required(v["replica.high.watermark.checkpoint.interval.ms"]),
    brokerRack: v["broker.rack"] ?? null,
    replicaSelector: v["replica.selector.class"] === RACK_AWARE_REPLICA_SELECTOR ? "rack-aware" : "leader",
    logDirs,
    metadataLogDir,
    storageDirs,
    logSegmentBytes: required(v["log.segment.bytes"]),
    logRollMs: rollMs,
    logIndexIntervalBytes: required(v["log.index.interval.bytes"]),
    numPartitions: required(v["num.partitions"]),
    defaultReplicationFactor: required(v["default.replication.factor"]),
    offsetsTopicReplicationFactor: required(v["offsets.topic.replication.factor"]),
    offsetsTopicNumPartitions: required(v["offsets.topic.num.partitions"]),
    brokerSessionTimeoutMs: required(v["broker.session.timeout.ms"]),
    brokerConnectionLossGraceMs:
      v["broker.connection.loss.grace.ms"] ??
      Math.min(
        required(v["broker.heartbeat.interval.ms"]) + CONNECTION_LOSS_GRACE_MARGIN_MS,
        required(v["broker.session.timeout.ms"]),
      ),
    leaderElection: {
      autoLeaderRebalanceEnable: required(v["auto.leader.rebalance.enable"]),
      leaderImbalanceCheckIntervalMs: Math.min(
        required(v["leader.imbalance.check.interval.seconds"]) * 1000,
        Number.MAX_SAFE_INTEGER,
      ),
      leaderImbalancePerBrokerPercentage: required(v["leader.imbalance.per.broker.percentage"]),
      uncleanLeaderElectionIntervalMs: required(v["unclean.leader.election.interval.ms"]),
    },
    autoCreateTopicsEnable: required(v["auto.create.topics.enable"]),
    logRetentionMs: retentionMs(v),
    logRetentionBytes: required(v["log.retention.bytes"]),
    logRetentionCheckIntervalMs: required(v["log.retention.check.interval.ms"]),
    logFlushIntervalMessages: required(v["log.flush.interval.messages"]),
    logFlushIntervalMs: v["log.flush.interval.ms"] ?? Number.MAX_SAFE_INTEGER,
    messageMaxBytes: required(v["message.max.bytes"]),
    fetchMaxBytes: required(v["fetch.max.bytes"]),
    socketRequestMaxBytes: required(v["socket.request.max.bytes"]),
    socketRequestReadTimeoutMs: required(v["socket.request.read.timeout.ms"]),
    connectionsMaxIdleMs: required(v["connections.max.idle.ms"]),
    groupInitialRebalanceDelayMs: required(v["group.initial.rebalance.delay.ms"]),
    groupMinSessionTimeoutMs: required(minSession),
    groupMaxSessionTimeoutMs: required(maxSession),
    offsetsRetentionMinutes: required(v["offsets.retention.minutes"]),
    clusterId: configured ?? meta.clusterId ?? null,
    metricsPort: required(v["metrics.port"]),
    metricsHost: required(v["metrics.host"]),
    loggerLevel: required(v["logger.level"]),
    entries,
  };
  return { config: deepFreeze(config), warnings, ...(read !== undefined ? { metaProperties: texts } : {}) };
}

/** A dir's meta.properties text; null when there is none, undefined when it cannot be read (left to the start). */
function readMetaFile(dir: string): string | null | undefined {
  try {
    return readFileSync(join(dir, "meta.properties"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    return undefined;
  }
}

export interface LoadOptions {
  readonly configPath: string;
  readonly overrideFiles?: readonly string[];
  readonly overrides?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

/** A properties file's entries; a missing or malformed file is a ConfigError naming `option`. */
function readPropertiesFile(path: string, option: string, cwd: string | undefined): PropertyEntry[] {
  let text: string;
  try {
    text = readFileSync(resolve(cwd ?? process.cwd(), path), "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError([
      { key: option, value: null, origin: "command line", expected: `cannot read ${path} (${reason})` },
    ]);
  }
  try {
    return parseProperties(text);
  } catch (err) {
    if (!(err instanceof PropertiesSyntaxError)) throw err;
    throw new ConfigError([{ key: option, value: null, origin: `${path}:${err.line}`, expected: err.reason }]);
  }
}

/** Reads the properties files and each log dir's meta.properties, then resolves. Throws ConfigError. */
export function loadBrokerConfig(options: LoadOptions): ConfigResult {
  const fileEntries = readPropertiesFile(options.configPath, "--config", options.cwd);
  const overrideFiles = (options.overrideFiles ?? []).map((fileName) => ({
    fileName,
    entries: readPropertiesFile(fileName, "--override-file", options.cwd),
  }));
  return resolveBrokerConfig({
    fileEntries,
    fileName: options.configPath,
    env: options.env ?? {},
    overrideFiles,
    overrides: options.overrides ?? [],
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    readMetaProperties: readMetaFile,
  });
}
