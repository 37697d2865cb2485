import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  envNameToKey,
  keyToEnvName,
  loadBrokerConfig,
  resolveBrokerConfig,
  type ConfigInput,
} from "../../src/config/broker-config.ts";
import { parseProperties } from "../../src/config/properties.ts";

function resolveText(text: string, extra: Omit<ConfigInput, "fileEntries"> = {}) {
  return resolveBrokerConfig({ fileEntries: parseProperties(text), cwd: "/base", ...extra });
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("resolveBrokerConfig", () => {
  it("applies Kafka's defaults", () => {
    const { config, warnings } = resolveText("node.id=3");
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      nodeId: 3,
      processRoles: ["broker", "controller"],
      logDirs: ["/tmp/kafka-logs"],
      logSegmentBytes: 1073741824,
      logRollMs: 168 * 3_600_000,
      numPartitions: 1,
      defaultReplicationFactor: 1,
      offsetsTopicReplicationFactor: 3,
      offsetsTopicNumPartitions: 50,
      autoCreateTopicsEnable: true,
      logRetentionMs: 168 * 3_600_000,
      logRetentionBytes: -1,
      logRetentionCheckIntervalMs: 300000,
      logFlushIntervalMessages: Number.MAX_SAFE_INTEGER,
      logFlushIntervalMs: Number.MAX_SAFE_INTEGER,
      messageMaxBytes: 1048588,
      socketRequestMaxBytes: 104857600,
      connectionsMaxIdleMs: 600000,
      groupInitialRebalanceDelayMs: 3000,
      groupMinSessionTimeoutMs: 6000,
      groupMaxSessionTimeoutMs: 1800000,
      offsetsRetentionMinutes: 10080,
      logIndexIntervalBytes: 4096,
      clusterId: null,
      metricsPort: -1,
      loggerLevel: "info",
    });
    expect(config.listeners).toEqual([
      { name: "PLAINTEXT", host: "", port: 9092, securityProtocol: "PLAINTEXT", isController: false },
    ]);
    expect(config.entries["num.partitions"]).toEqual({ value: "1", source: "default" });
    expect(config.entries["log.retention.ms"]).toEqual({ value: null, source: "default" });
  });

  it("returns a deeply frozen object", () => {
    const { config } = resolveText("node.id=1");
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listeners[0])).toBe(true);
    expect(Object.isFrozen(config.entries)).toBe(true);
  });

  it("prefers log.retention.ms over minutes over hours, with negative meaning unlimited", () => {
    expect(resolveText("node.id=1\nlog.retention.hours=2").config.logRetentionMs).toBe(7_200_000);
    expect(resolveText("node.id=1\nlog.retention.hours=2\nlog.retention.minutes=3").config.logRetentionMs).toBe(
      180_000,
    );
    expect(
      resolveText("node.id=1\nlog.retention.hours=2\nlog.retention.minutes=3\nlog.retention.ms=42").config
        .logRetentionMs,
    ).toBe(42);
    expect(resolveText("node.id=1\nlog.retention.ms=-1").config.logRetentionMs).toBe(-1);
    expect(resolveText("node.id=1\nlog.retention.hours=-1").config.logRetentionMs).toBe(-1);
  });

  it("prefers log.roll.ms over log.roll.hours and log.dirs over log.dir, resolving dirs against cwd", () => {
    const { config } = resolveText("node.id=1\nlog.roll.hours=1\nlog.roll.ms=500\nlog.dir=/x\nlog.dirs=a, /b ,");
    expect(config.logRollMs).toBe(500);
    expect(config.logDirs).toEqual(["/base/a", "/b"]);
  });

  it("lets environment variables override the file and --override override both", () => {
    const { config } = resolveText("node.id=1\nnum.partitions=2\nlog.segment.bytes=1000\nmessage.max.bytes=10", {
      env: {
        TRIBUTARY_NUM_PARTITIONS: "3",
        TRIBUTARY_LOG_SEGMENT_BYTES: "2000",
        KAFKA_LOG_SEGMENT_BYTES: "5000",
        KAFKA_MESSAGE_MAX_BYTES: "20",
      },
      overrides: ["num.partitions=4"],
    });
    expect(config.numPartitions).toBe(4);
    expect(config.logSegmentBytes).toBe(2000);
    expect(config.messageMaxBytes).toBe(20);
    expect(config.entries["num.partitions"]).toEqual({ value: "4", source: "override" });
    expect(config.entries["log.segment.bytes"]).toEqual({ value: "2000", source: "env" });
  });

  it("maps env names to keys and back", () => {
    expect(envNameToKey("TRIBUTARY_LOG_DIRS", "TRIBUTARY_")).toBe("log.dirs");
    expect(keyToEnvName("log.retention.check.interval.ms")).toBe("TRIBUTARY_LOG_RETENTION_CHECK_INTERVAL_MS");
  });

  it("warns about unknown keys by name and ignores Kafka-only keys and unrelated KAFKA_ and TRIBUTARY_ variables quietly", () => {
    const { warnings, config } = resolveText("node.id=1\nno.such.key=1\nnum.io.threads=8", {
      env: {
        TRIBUTARY_OTHER_THING: "x",
        TRIBUTARY_CACHE: "/tmp/cache",
        TRIBUTARY_COMPAT_NODES: "3",
        TRIBUTARY_SOCKET_SEND_BUFFER_BYTES: "102400",
        TRIBUTARY_NUM_PARTITIONS: "4",
        KAFKA_HEAP_OPTS: "-Xmx1G",
        PATH: "/bin",
      },
      overrides: ["also.unknown=2"],
    });
    const byKey = Object.fromEntries(warnings.map((w) => [w.key, w.message]));
    expect(Object.keys(byKey).sort()).toEqual([
      "also.unknown",
      "no.such.key",
      "num.io.threads",
      "socket.send.buffer.bytes",
    ]);
    expect(byKey["no.such.key"]).toMatch(/unknown configuration key no\.such\.key \(server\.properties:2\)/);
    expect(byKey["also.unknown"]).toMatch(/unknown configuration key also\.unknown \(--override\)/);
    expect(byKey["num.io.threads"]).toMatch(/no effect/);
    // A Kafka key Tributary ignores is still configuration when it comes from the environment, so it warns.
    expect(byKey["socket.send.buffer.bytes"]).toMatch(/\(env TRIBUTARY_SOCKET_SEND_BUFFER_BYTES\) has no effect/);
    expect(config.numPartitions).toBe(4);
  });

  it("names the key, the value, where it came from and what was expected", () => {
    const err = configError(() => resolveText("node.id=1\nnum.partitions=zero"));
    expect(err.message).toBe('invalid value "zero" for num.partitions (server.properties:2): expected an integer ≥ 1');
    expect(err.issues).toHaveLength(1);
  });

  it("reports every invalid value at once", () => {
    const err = configError(() =>
      resolveText("node.id=-4\nauto.create.topics.enable=yes\nlisteners=nonsense", {
        overrides: ["metrics.port=70000"],
      }),
    );
    expect(err.issues.map((i) => i.key).sort()).toEqual([
      "auto.create.topics.enable",
      "listeners",
      "metrics.port",
      "node.id",
    ]);
    expect(err.message).toMatch(/auto\.create\.topics\.enable.*expected true or false/);
  });

  it("requires node.id", () => {
    expect(configError(() => resolveText("num.partitions=1")).message).toMatch(/node\.id is required/);
  });

  it("parses listeners with the security protocol map and controller listeners", () => {
    const { config } = resolveText(
      [
        "node.id=1",
        "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://:9093,internal://[::1]:9094",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        "controller.quorum.voters=1@localhost:9093,2@10.0.0.2:9093",
      ].join("\n"),
    );
    expect(config.listeners).toEqual([
      { name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: "PLAINTEXT", isController: false },
      { name: "CONTROLLER", host: "", port: 9093, securityProtocol: "PLAINTEXT", isController: true },
      { name: "INTERNAL", host: "::1", port: 9094, securityProtocol: "PLAINTEXT", isController: false },
    ]);
    expect(config.advertisedListeners).toEqual([
      { name: "PLAINTEXT", host: "127.0.0.1", port: 9092 },
      { name: "INTERNAL", host: "::1", port: 9094 },
    ]);
    // Peers learn the quorum leader's endpoint from it (KIP-853): a wildcard bind host becomes the host name.
    expect(config.advertisedControllerListeners).toEqual([{ name: "CONTROLLER", host: hostname(), port: 9093 }]);
    expect(config.controllerQuorumVoters).toEqual([
      { id: 1, host: "localhost", port: 9093 },
      { id: 2, host: "10.0.0.2", port: 9093 },
    ]);
  });

  it("rejects listeners without a protocol, with an unsupported protocol, sharing a port, or advertised but absent", () => {
    expect(configError(() => resolveText("node.id=1\nlisteners=CLIENT://:9092")).message).toMatch(
      /listener\.security\.protocol\.map; CLIENT is not/,
    );
    expect(configError(() => resolveText("node.id=1\nlisteners=SSL://:9093")).message).toMatch(/does not support SSL/);
    expect(
      configError(() =>
        resolveText(
          "node.id=1\nlisteners=PLAINTEXT://:9092,B://:9092\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,B:PLAINTEXT",
        ),
      ).message,
    ).toMatch(/share 9092/);
    expect(configError(() => resolveText("node.id=1\nadvertised.listeners=OTHER://h:1")).message).toMatch(
      /advertised\.listeners.*OTHER does not/,
    );
  });

  describe("process.roles against the quorum and the listeners (Kafka's checks)", () => {
    const base = (roles: string, listeners: string, voters: string) =>
      [
        "node.id=2",
        `process.roles=${roles}`,
        `listeners=${listeners}`,
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        `controller.quorum.voters=${voters}`,
      ].join("\n");
    const voters = "1@h1:9093,2@h2:9093,3@h3:9093";
    const ok = (text: string) => expect(() => resolveText(text)).not.toThrow();
    const refused = (text: string, key: string, why: RegExp) => {
      const err = configError(() => resolveText(text));
      expect(err.issues.map((i) => i.key)).toContain(key);
      expect(err.message).toMatch(why);
    };

    it("accepts a combined node, a controller and a broker of a three-voter quorum", () => {
      ok(base("broker,controller", "PLAINTEXT://:9092,CONTROLLER://:9093", voters));
      ok(base("controller", "CONTROLLER://:9093", voters));
      ok(base("broker", "PLAINTEXT://:9092", "1@h1:9093,3@h3:9093"));
    });

    it("lets only a combined node leave the voters empty (a quorum of itself)", () => {
      ok("node.id=1\nprocess.roles=broker,controller");
      refused("node.id=1\nprocess.roles=broker", "controller.quorum.voters", /only a combined broker,controller/);
      refused(
        "node.id=1\nprocess.roles=controller\nlisteners=CONTROLLER://:9093\ncontroller.listener.names=CONTROLLER",
        "controller.quorum.voters",
        /only a combined/,
      );
    });

    it("requires a controller to be a voter and a broker-only node not to be one", () => {
      refused(
        base("broker,controller", "PLAINTEXT://:9092,CONTROLLER://:9093", "1@h1:9093,3@h3:9093"),
        "controller.quorum.voters",
        /include this node \(node\.id 2\) because process\.roles contains controller/,
      );
      refused(base("broker", "PLAINTEXT://:9092", voters), "controller.quorum.voters", /not to include this node/);
      refused(
        base("controller", "CONTROLLER://:9093", "1@h:1,2@h:2,1@h:3"),
        "controller.quorum.voters",
        /1 appears twice/,
      );
    });

    it("requires a controller listener on controllers, none on brokers, and only controller listeners on controllers", () => {
      refused(
        base("broker,controller", "PLAINTEXT://:9092", voters),
        "controller.listener.names",
        /name a listener in listeners because process\.roles contains controller/,
      );
      refused(
        base("broker", "PLAINTEXT://:9092,CONTROLLER://:9093", "1@h1:9093"),
        "listeners",
        /no controller listener \(CONTROLLER\) because process\.roles is broker only/,
      );
      refused(
        base("controller", "PLAINTEXT://:9092,CONTROLLER://:9093", voters),
        "listeners",
        /only controller listeners because process\.roles is controller; PLAINTEXT/,
      );
      refused(
        "node.id=2\nprocess.roles=broker\ncontroller.quorum.voters=1@h:9093",
        "controller.listener.names",
        /at least one listener name/,
      );
    });

    it("advertises a controller listener to the quorum's peers only, as Kafka does since KIP-853", () => {
      const { config } = resolveText(
        `${base("broker,controller", "PLAINTEXT://:9092,CONTROLLER://:9093", voters)}\nadvertised.listeners=PLAINTEXT://h:9092,CONTROLLER://c.example:9093`,
      );
      expect(config.advertisedListeners).toEqual([{ name: "PLAINTEXT", host: "h", port: 9092 }]);
      expect(config.advertisedControllerListeners).toEqual([{ name: "CONTROLLER", host: "c.example", port: 9093 }]);
      refused(
        `${base("broker,controller", "PLAINTEXT://:9092,CONTROLLER://:9093", voters)}\nadvertised.listeners=PLAINTEXT://h:9092,CONTROLLER://0.0.0.0:9093`,
        "advertised.listeners",
        /a host clients can connect to; CONTROLLER has "0\.0\.0\.0"/,
      );
    });

    it("reads the quorum timing", () => {
      const { config } = resolveText(
        `${base("broker,controller", "PLAINTEXT://:9092,CONTROLLER://:9093", voters)}\ncontroller.quorum.election.timeout.ms=300`,
      );
      expect(config.quorumTiming).toMatchObject({ electionTimeoutMs: 300, fetchTimeoutMs: 2000, retryBackoffMs: 20 });
    });
  });

  it("resolves the inter-broker listener as Kafka does, and reads the replica.fetch.* keys", () => {
    const two = [
      "node.id=1",
      "listeners=CLIENT://127.0.0.1:9092,REPLICATION://127.0.0.1:9094",
      "listener.security.protocol.map=CLIENT:PLAINTEXT,REPLICATION:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    ].join("\n");
    const { config } = resolveText("node.id=1");
    expect(config.interBrokerListenerName).toBe("PLAINTEXT");
    expect(config.replicaFetch).toEqual({
      maxBytes: 1048576,
      responseMaxBytes: 10485760,
      minBytes: 1,
      waitMaxMs: 500,
      backoffMs: 1000,
      socketTimeoutMs: 30000,
    });
    expect(resolveText(`${two}\ninter.broker.listener.name=replication`).config.interBrokerListenerName).toBe(
      "REPLICATION",
    );
    // Neither key set and no PLAINTEXT listener: the first advertised one (Kafka would refuse the config).
    expect(resolveText(two).config.interBrokerListenerName).toBe("CLIENT");
    expect(configError(() => resolveText(`${two}\ninter.broker.listener.name=OTHER`)).message).toMatch(
      /inter\.broker\.listener\.name.*defined in advertised\.listeners \(CLIENT,REPLICATION\); OTHER is not/,
    );
    expect(configError(() => resolveText(`${two}\nsecurity.inter.broker.protocol=PLAINTEXT`)).message).toMatch(
      /security\.inter\.broker\.protocol.*PLAINTEXT is not/,
    );
    expect(
      configError(() =>
        resolveText("node.id=1\ninter.broker.listener.name=PLAINTEXT\nsecurity.inter.broker.protocol=SSL"),
      ).message,
    ).toMatch(/only one of them/);
    expect(configError(() => resolveText("node.id=1\nreplica.fetch.wait.max.ms=40000")).message).toMatch(
      /replica\.socket\.timeout\.ms.*at least replica\.fetch\.wait\.max\.ms \(40000\)/,
    );
  });

  it("reads replica.selector.class by Kafka's class names and refuses any other (KIP-392)", () => {
    expect(resolveText("node.id=1").config.replicaSelector).toBe("leader");
    expect(
      resolveText("node.id=1\nreplica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector").config
        .replicaSelector,
    ).toBe("rack-aware");
    expect(configError(() => resolveText("node.id=1\nreplica.selector.class=com.example.MySelector")).message).toBe(
      'invalid value "com.example.MySelector" for replica.selector.class (server.properties:2): expected a replica ' +
        "selector Tributary implements (unset: consumers read from the leader): one of " +
        "org.apache.kafka.common.replica.RackAwareReplicaSelector",
    );
  });

  it("requires group.min.session.timeout.ms ≤ group.max.session.timeout.ms", () => {
    expect(
      configError(() => resolveText("node.id=1\ngroup.min.session.timeout.ms=9000\ngroup.max.session.timeout.ms=8000"))
        .message,
    ).toMatch(/group\.min\.session\.timeout\.ms.*at most group\.max\.session\.timeout\.ms \(8000\)/);
  });

  it("accepts Java-long values beyond 2^53 as 'never'", () => {
    expect(
      resolveText("node.id=1\nlog.flush.interval.messages=9223372036854775807").config.logFlushIntervalMessages,
    ).toBe(Number.MAX_SAFE_INTEGER);
    expect(
      configError(() => resolveText("node.id=1\nlog.flush.interval.messages=9223372036854775808")).issues[0]?.key,
    ).toBe("log.flush.interval.messages");
  });

  it("rejects an --override without '='", () => {
    expect(configError(() => resolveText("node.id=1", { overrides: ["num.partitions"] })).message).toMatch(/key=value/);
  });

  it("takes the cluster id from meta.properties and refuses a conflicting one", () => {
    const read = (dir: string) => (dir === "/base/d1" ? "version=1\ncluster.id=abcDEF123\nnode.id=1\n" : null);
    const ok = resolveText("node.id=1\nlog.dirs=d1,d2", { readMetaProperties: read });
    expect(ok.config.clusterId).toBe("abcDEF123");
    expect(
      configError(() => resolveText("node.id=1\nlog.dirs=d1\ncluster.id=other", { readMetaProperties: read })).message,
    ).toMatch(/cluster\.id.*meta\.properties \(abcDEF123\)/);
    expect(configError(() => resolveText("node.id=2\nlog.dirs=d1", { readMetaProperties: read })).message).toMatch(
      /node\.id.*meta\.properties \(1\)/,
    );
  });
});

describe("loadBrokerConfig", () => {
  it("reads the file and meta.properties from disk", () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-config-"));
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "meta.properties"), "cluster.id=fromDisk\n");
    writeFileSync(join(dir, "server.properties"), "node.id=7\nlog.dirs=data\n");
    const { config } = loadBrokerConfig({ configPath: "server.properties", cwd: dir, env: {} });
    expect(config.nodeId).toBe(7);
    expect(config.logDirs).toEqual([join(dir, "data")]);
    expect(config.clusterId).toBe("fromDisk");
  });

  it("sets the keys of each --override-file over the file and the environment, under --override", () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-config-"));
    writeFileSync(join(dir, "server.properties"), "node.id=7\nbroker.rack=from-file\nnum.partitions=2\n");
    writeFileSync(join(dir, "rack.properties"), "# written by the init step\nbroker.rack=zone-b\nnum.partitions=5\n");
    const { config } = loadBrokerConfig({
      configPath: "server.properties",
      overrideFiles: ["rack.properties"],
      overrides: ["num.partitions=6"],
      cwd: dir,
      env: { TRIBUTARY_BROKER_RACK: "from-env" },
    });
    expect(config.brokerRack).toBe("zone-b");
    expect(config.entries["broker.rack"]).toEqual({ value: "zone-b", source: "override" });
    expect(config.numPartitions).toBe(6);
  });

  it("says which --override-file cannot be read or holds a bad value, by file and line", () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-config-"));
    writeFileSync(join(dir, "server.properties"), "node.id=7\n");
    writeFileSync(join(dir, "rack.properties"), "\nbroker.rack=\n");
    expect(() =>
      loadBrokerConfig({ configPath: "server.properties", overrideFiles: ["missing.properties"], cwd: dir }),
    ).toThrow(/--override-file: cannot read missing\.properties \(ENOENT\)/);
    expect(() =>
      loadBrokerConfig({ configPath: "server.properties", overrideFiles: ["rack.properties"], cwd: dir, env: {} }),
    ).toThrow(/broker\.rack.*rack\.properties:2/);
  });

  it("says when the file cannot be read", () => {
    expect(() => loadBrokerConfig({ configPath: "/nonexistent/server.properties" })).toThrow(
      /--config: cannot read \/nonexistent\/server\.properties \(ENOENT\)/,
    );
  });
});

describe("loadBrokerConfig syntax errors", () => {
  it("names the file and line of a malformed escape", () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-config-"));
    writeFileSync(join(dir, "server.properties"), "node.id=1\nbad=\\uZZZZ\n");
    expect(() => loadBrokerConfig({ configPath: "server.properties", cwd: dir, env: {} })).toThrow(
      /^--config: malformed \\uXXXX escape "\\uZZZZ" \(server\.properties:2\)$/,
    );
  });
});
