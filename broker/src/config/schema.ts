import { z } from "zod";

/**
 * One zod schema per supported server.properties key. Every schema takes the raw string (from the file, the
 * environment or --override) and yields the typed value; its issue message says what was expected, so the loader can
 * name the key, the value and the expectation in one line.
 */

export const INT32_MAX = 2147483647;
const INT16_MAX = 32767;

export const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];
/** Kafka's SecurityProtocol ids, as BrokerRegistration and RegisterBrokerRecord carry them. */
export const SECURITY_PROTOCOL_ID: Readonly<Record<SecurityProtocol, number>> = {
  PLAINTEXT: 0,
  SSL: 1,
  SASL_PLAINTEXT: 2,
  SASL_SSL: 3,
};

export const PROCESS_ROLES = ["broker", "controller"] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/**
 * replica.selector.class values Tributary implements, by Kafka's class names (KIP-392). Unset is Kafka's default: every
 * consumer reads from the leader.
 */
export const RACK_AWARE_REPLICA_SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector";
export const REPLICA_SELECTORS = [RACK_AWARE_REPLICA_SELECTOR] as const;
export type ReplicaSelectorClass = (typeof REPLICA_SELECTORS)[number];

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface HostPort {
  /** Empty means every interface (Kafka's `PLAINTEXT://:9092`). */
  readonly host: string;
  readonly port: number;
}

export interface ListenerAddress extends HostPort {
  readonly name: string;
}

export interface QuorumVoter extends HostPort {
  readonly id: number;
}

function fail(ctx: z.RefinementCtx, expected: string): never {
  ctx.addIssue({ code: "custom", message: expected });
  return z.NEVER;
}

function int(min: number, max: number) {
  const expected = max === INT32_MAX ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
  return z.string().transform((raw, ctx) => {
    const s = raw.trim();
    if (!/^[-+]?\d+$/.test(s)) return fail(ctx, expected);
    const n = Number(s);
    if (n < min || n > max) return fail(ctx, expected);
    return n;
  });
}

/**
 * A Java long. Kafka uses Long.MAX_VALUE for "never"; anything beyond 2^53 is clamped to Number.MAX_SAFE_INTEGER,
 * which is still "never" for millisecond and message-count thresholds.
 */
function long(min: number) {
  const expected = `an integer ≥ ${min}`;
  return z.string().transform((raw, ctx) => {
    const s = raw.trim();
    if (!/^[-+]?\d+$/.test(s)) return fail(ctx, expected);
    const n = BigInt(s);
    if (n < BigInt(min) || n > 9223372036854775807n) return fail(ctx, `${expected} that fits in a Java long`);
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
  });
}

function bool() {
  return z.string().transform((raw, ctx) => {
    const s = raw.trim().toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
    return fail(ctx, "true or false");
  });
}

function nonEmpty(expected = "a non-empty string") {
  return z.string().transform((raw, ctx) => {
    const s = raw.trim();
    return s === "" ? fail(ctx, expected) : s;
  });
}

/** Kafka's LIST type: comma-separated, surrounding whitespace ignored, empty items dropped. */
function splitList(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function list(expected = "a comma-separated list") {
  return z
    .string()
    .transform((raw) => splitList(raw))
    .pipe(z.array(z.string(), { message: expected }));
}

function oneOf<const T extends readonly string[]>(values: T, caseInsensitive: boolean, what?: string) {
  const expected = `${what === undefined ? "" : `${what}: `}one of ${values.join(", ")}`;
  return z.string().transform((raw, ctx): T[number] => {
    const s = caseInsensitive ? raw.trim().toLowerCase() : raw.trim();
    const found = values.find((v) => (caseInsensitive ? v.toLowerCase() : v) === s);
    return found ?? fail(ctx, expected);
  });
}

function cleanupPolicy() {
  const expected = "delete, compact, or both separated by a comma";
  return z.string().transform((raw, ctx) => {
    const parts = splitList(raw);
    if (parts.length === 0 || parts.some((p) => p !== "delete" && p !== "compact")) return fail(ctx, expected);
    return parts.join(",");
  });
}

const LISTENER_NAME = /^[A-Za-z0-9_]+$/;

/** Parses `host:port`, `:port` or `[ipv6]:port`. */
function parseHostPort(s: string): HostPort | null {
  const m = /^(?:\[([0-9A-Fa-f:.%a-zA-Z]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? m[2] ?? "", port };
}

function parseListener(item: string): ListenerAddress | null {
  const m = /^([^:/]+):\/\/(.*)$/.exec(item);
  if (!m) return null;
  const name = (m[1] ?? "").toUpperCase();
  const hp = parseHostPort(m[2] ?? "");
  if (!LISTENER_NAME.test(name) || !hp) return null;
  return { name, ...hp };
}

function listeners() {
  const expected = "a comma-separated list of NAME://host:port (host may be empty for every interface)";
  return z.string().transform((raw, ctx) => {
    const out: ListenerAddress[] = [];
    for (const item of splitList(raw)) {
      const l = parseListener(item);
      if (!l) return fail(ctx, `${expected}; "${item}" is not`);
      if (out.some((o) => o.name === l.name)) return fail(ctx, `${expected} with unique names; ${l.name} repeats`);
      out.push(l);
    }
    return out;
  });
}

function listenerName() {
  return z.string().transform((raw, ctx) => {
    const s = raw.trim().toUpperCase();
    return LISTENER_NAME.test(s) ? s : fail(ctx, "a listener name (letters, digits and _)");
  });
}

function securityProtocolMap() {
  const expected = `a comma-separated list of NAME:PROTOCOL with PROTOCOL one of ${SECURITY_PROTOCOLS.join(", ")}`;
  return z.string().transform((raw, ctx) => {
    const out = new Map<string, SecurityProtocol>();
    for (const item of splitList(raw)) {
      const [name = "", protocol = "", ...rest] = item.split(":").map((s) => s.trim());
      const p = SECURITY_PROTOCOLS.find((sp) => sp === protocol.toUpperCase());
      if (rest.length > 0 || !LISTENER_NAME.test(name) || !p) return fail(ctx, `${expected}; "${item}" is not`);
      out.set(name.toUpperCase(), p);
    }
    return out;
  });
}

function quorumVoters() {
  const expected = "a comma-separated list of id@host:port";
  return z.string().transform((raw, ctx) => {
    const out: QuorumVoter[] = [];
    for (const item of splitList(raw)) {
      const m = /^(\d+)@(.+)$/.exec(item);
      const hp = m ? parseHostPort(m[2] ?? "") : null;
      if (!m || !hp || hp.host === "") return fail(ctx, `${expected}; "${item}" is not`);
      out.push({ id: Number(m[1]), ...hp });
    }
    return out;
  });
}

function hostPorts(expected: string) {
  return z.string().transform((raw, ctx) => {
    const out: HostPort[] = [];
    for (const item of splitList(raw)) {
      const hp = parseHostPort(item);
      if (!hp || hp.host === "") return fail(ctx, `${expected}; "${item}" is not`);
      out.push(hp);
    }
    return out;
  });
}

function roles() {
  const expected = "a comma-separated list of broker and/or controller";
  return z.string().transform((raw, ctx) => {
    const out: ProcessRole[] = [];
    for (const item of splitList(raw)) {
      const role = PROCESS_ROLES.find((r) => r === item.toLowerCase());
      if (!role || out.includes(role)) return fail(ctx, expected);
      out.push(role);
    }
    return out.length === 0 ? fail(ctx, expected) : out;
  });
}

function clusterId() {
  return z.string().transform((raw, ctx) => {
    const s = raw.trim();
    return /^[A-Za-z0-9_-]{1,64}$/.test(s) ? s : fail(ctx, "1 to 64 characters from A-Z, a-z, 0-9, _ and -");
  });
}

function metricsPort() {
  return z.string().transform((raw, ctx) => {
    const s = raw.trim();
    const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
    return n === -1 || (n >= 0 && n <= 65535) ? n : fail(ctx, "-1 (disabled), 0 (any free port) or a port up to 65535");
  });
}

interface KeyDefinition<S extends z.ZodType> {
  readonly schema: S;
  /** Kafka's default as its string form; undefined when the key has no default (null in Kafka). */
  readonly default: string | undefined;
}

function key<S extends z.ZodType>(schema: S, dflt?: string): KeyDefinition<S> {
  return { schema, default: dflt };
}

/** Every key Tributary reads, with Apache Kafka's default where Kafka has one. */
export const CONFIG_KEYS = {
  "node.id": key(int(0, INT32_MAX)),
  "process.roles": key(roles(), "broker,controller"),
  listeners: key(listeners(), "PLAINTEXT://:9092"),
  "advertised.listeners": key(listeners()),
  "listener.security.protocol.map": key(
    securityProtocolMap(),
    "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
  ),
  "controller.listener.names": key(list()),
  "inter.broker.listener.name": key(listenerName()),
  "security.inter.broker.protocol": key(oneOf(SECURITY_PROTOCOLS, true)),
  "controller.quorum.voters": key(quorumVoters(), ""),
  "controller.quorum.bootstrap.servers": key(hostPorts("a comma-separated list of host:port"), ""),
  "controller.quorum.election.timeout.ms": key(int(1, INT32_MAX), "1000"),
  "controller.quorum.fetch.timeout.ms": key(int(1, INT32_MAX), "2000"),
  "controller.quorum.election.backoff.max.ms": key(int(1, INT32_MAX), "1000"),
  "controller.quorum.request.timeout.ms": key(int(1, INT32_MAX), "2000"),
  "controller.quorum.retry.backoff.ms": key(int(0, INT32_MAX), "20"),
  "metadata.log.max.record.bytes.between.snapshots": key(long(1), "20971520"),
  "metadata.log.max.snapshot.interval.ms": key(long(0), "3600000"),
  "metadata.log.segment.bytes": key(int(14, INT32_MAX), "1073741824"),
  "metadata.log.segment.ms": key(long(1), "604800000"),
  "metadata.log.dir": key(nonEmpty("a directory")),
  "metadata.max.retention.bytes": key(long(-1), "104857600"),
  "metadata.max.retention.ms": key(long(-1), "604800000"),
  "broker.session.timeout.ms": key(int(1, INT32_MAX), "9000"),
  "broker.heartbeat.interval.ms": key(int(1, INT32_MAX), "2000"),
  "broker.connection.loss.grace.ms": key(int(1, INT32_MAX)),
  "replica.lag.time.max.ms": key(long(1), "30000"),
  "replica.high.watermark.checkpoint.interval.ms": key(long(1), "5000"),
  "broker.rack": key(nonEmpty("a rack name")),
  "replica.selector.class": key(
    oneOf(REPLICA_SELECTORS, false, "a replica selector Tributary implements (unset: consumers read from the leader)"),
  ),
  "replica.fetch.max.bytes": key(int(0, INT32_MAX), "1048576"),
  "replica.fetch.response.max.bytes": key(int(0, INT32_MAX), "10485760"),
  "replica.fetch.min.bytes": key(int(1, INT32_MAX), "1"),
  "replica.fetch.wait.max.ms": key(int(0, INT32_MAX), "500"),
  "replica.fetch.backoff.ms": key(int(0, INT32_MAX), "1000"),
  "replica.socket.timeout.ms": key(int(1, INT32_MAX), "30000"),
  "replication.quota.window.num": key(int(1, INT32_MAX), "11"),
  "replication.quota.window.size.seconds": key(int(1, INT32_MAX), "1"),
  "log.dirs": key(list()),
  "log.dir": key(nonEmpty(), "/tmp/kafka-logs"),
  "log.segment.bytes": key(int(14, INT32_MAX), "1073741824"),
  "log.roll.ms": key(long(1)),
  "log.roll.hours": key(int(1, INT32_MAX), "168"),
  "log.index.interval.bytes": key(int(0, INT32_MAX), "4096"),
  "num.partitions": key(int(1, INT32_MAX), "1"),
  "default.replication.factor": key(int(1, INT16_MAX), "1"),
  "offsets.topic.replication.factor": key(int(1, INT16_MAX), "3"),
  "offsets.topic.num.partitions": key(int(1, INT32_MAX), "50"),
  "auto.create.topics.enable": key(bool(), "true"),
  "log.retention.ms": key(long(-1)),
  "log.retention.minutes": key(int(-1, INT32_MAX)),
  "log.retention.hours": key(int(-1, INT32_MAX), "168"),
  "log.retention.bytes": key(long(-1), "-1"),
  "log.retention.check.interval.ms": key(long(1), "300000"),
  "log.flush.interval.messages": key(long(1), "9223372036854775807"),
  "log.flush.interval.ms": key(long(0)),
  "message.max.bytes": key(int(0, INT32_MAX), "1048588"),
  "fetch.max.bytes": key(int(1024, INT32_MAX), "57671680"),
  // Broker-wide defaults of topic configs (DescribeConfigs shows them as synonyms of the topic keys).
  "log.cleanup.policy": key(cleanupPolicy(), "delete"),
  "min.insync.replicas": key(int(1, INT32_MAX), "1"),
  "unclean.leader.election.enable": key(bool(), "false"),
  "unclean.leader.election.interval.ms": key(long(1), "300000"),
  "auto.leader.rebalance.enable": key(bool(), "true"),
  "leader.imbalance.check.interval.seconds": key(long(1), "300"),
  "leader.imbalance.per.broker.percentage": key(int(0, 100), "10"),
  "log.message.timestamp.type": key(oneOf(["CreateTime", "LogAppendTime"] as const, false), "CreateTime"),
  "log.message.timestamp.before.max.ms": key(long(0), "9223372036854775807"),
  "log.message.timestamp.after.max.ms": key(long(0), "3600000"),
  // Deprecated by KIP-937: the bound for either direction whose own key stays at Long.MAX_VALUE.
  "log.message.timestamp.difference.max.ms": key(long(0), "9223372036854775807"),
  "socket.request.max.bytes": key(int(1, INT32_MAX), "104857600"),
  "connections.max.idle.ms": key(long(-1), "600000"),
  "group.initial.rebalance.delay.ms": key(int(0, INT32_MAX), "3000"),
  "group.min.session.timeout.ms": key(int(0, INT32_MAX), "6000"),
  "group.max.session.timeout.ms": key(int(0, INT32_MAX), "1800000"),
  "offsets.retention.minutes": key(int(1, INT32_MAX), "10080"),
  // Tributary's own keys (Kafka has no equivalent):
  "cluster.id": key(clusterId()),
  "socket.request.read.timeout.ms": key(int(1, INT32_MAX), "30000"),
  "metrics.port": key(metricsPort(), "-1"),
  "metrics.host": key(nonEmpty("a host name or address"), "0.0.0.0"),
  "logger.level": key(oneOf(LOG_LEVELS, true), "info"),
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export type ParsedValues = {
  [K in ConfigKey]: z.output<(typeof CONFIG_KEYS)[K]["schema"]> | undefined;
};

export function isConfigKey(k: string): k is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, k);
}

/**
 * Keys from Apache Kafka's sample server.properties that have no effect here (threads, socket buffers, replication of
 * internal topics Tributary does not have). They are reported as ignored rather than as unknown, so a Kafka file is
 * not a wall of warnings.
 */
export const IGNORED_KAFKA_KEYS: ReadonlySet<string> = new Set([
  "num.network.threads",
  "num.io.threads",
  "socket.send.buffer.bytes",
  "socket.receive.buffer.bytes",
  "num.recovery.threads.per.data.dir",
  "transaction.state.log.replication.factor",
  "transaction.state.log.min.isr",
  "share.coordinator.state.topic.replication.factor",
  "share.coordinator.state.topic.min.isr",
  "num.replica.fetchers",
  "queued.max.requests",
]);
