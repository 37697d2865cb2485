import { describe, expect, it } from "vitest";
import {
  LATEST_METADATA_VERSION,
  METADATA_VERSION,
  NotActiveError,
  QuorumController,
} from "../../src/controller/index.ts";
import { EMPTY_IMAGE, topicByName } from "../../src/metadata/image/index.ts";
import { ConfigOperation } from "../../src/metadata/config-changes.ts";
import type { RegisterBrokerRecord } from "../../src/protocol/index.ts";
import {
  ControllerRegistrationRequest,
  ErrorCode,
  MetadataRecordType,
  PartitionRecord,
  TopicRecord,
  type BrokerRegistrationChangeRecord,
  type MetadataRecordAndVersion,
  type PartitionChangeRecord,
} from "../../src/protocol/index.ts";
import { record } from "../../src/controller/records.ts";
import {
  BASE_CONFIG,
  dirOf,
  harness,
  heartbeat,
  liveBrokers,
  logger,
  ofType,
  partitionsOf,
  registration,
  seededBytes,
  topic,
} from "../support/controller-harness.ts";

// The pure controller (support/controller-harness.ts has its fake clock, seeded randomness and log model).

describe("bootstrap", () => {
  it("writes metadata.version and the caller's records on an empty log, and nothing on a log with metadata", () => {
    const h = harness();
    expect(h.log[1]).toMatchObject({
      type: MetadataRecordType.FeatureLevelRecord,
      record: { name: METADATA_VERSION, featureLevel: LATEST_METADATA_VERSION },
    });
    const migrated = [record(TopicRecord, { name: "legacy", topicId: "11111111-1111-4111-8111-111111111111" }, 0)];
    const c = new QuorumController({
      config: { ...BASE_CONFIG, bootstrapMetadataVersion: 21 },
      clock: () => 0,
      randomBytes: seededBytes(1),
      logger,
    });
    const first = c.activate(EMPTY_IMAGE, 1, 1, migrated);
    expect(first.records.map((r) => r.type)).toEqual([
      MetadataRecordType.FeatureLevelRecord,
      MetadataRecordType.TopicRecord,
    ]);
    expect(first.baseOffset).toBe(1);
    expect(c.view?.features.get(METADATA_VERSION)).toBe(21);
    expect(c.view && topicByName(c.view, "legacy")).toBeDefined();
    c.deactivate();
    expect(c.activate(h.committed(), h.log.length, 2).records).toEqual([]);
  });

  it("stays inactive when the bootstrap records contradict each other", () => {
    const c = new QuorumController({ config: BASE_CONFIG, clock: () => 0, randomBytes: seededBytes(2), logger });
    const orphan = record(
      PartitionRecord,
      { topicId: "33333333-3333-4333-8333-333333333333", partitionId: 0, replicas: [1], isr: [1], leader: 1 },
      0,
    );
    expect(() => c.activate(EMPTY_IMAGE, 1, 1, [orphan])).toThrow(/unknown topic id/);
    expect(c.isActive).toBe(false);
  });

  it("refuses commands while not active", () => {
    const h = harness();
    h.controller.deactivate();
    expect(() => h.controller.registerBroker(registration(1))).toThrow(NotActiveError);
  });
});

describe("controller registration (KIP-919)", () => {
  const controllerRegistration = (incarnationId: string, features: { name: string; min: number; max: number }[]) => ({
    ...ControllerRegistrationRequest.create(),
    controllerId: 3,
    incarnationId,
    listeners: [{ name: "CONTROLLER", host: "10.0.0.3", port: 9093, securityProtocol: 0 }],
    features: features.map((f) => ({ name: f.name, minSupportedVersion: f.min, maxSupportedVersion: f.max })),
  });
  const supportsAll = [{ name: METADATA_VERSION, min: 1, max: 99 }];

  it("records each controller's latest incarnation and listeners in the image", () => {
    const h = harness();
    const first = "00000000-0000-0000-0000-000000000031";
    expect(h.propose(h.controller.registerController(controllerRegistration(first, supportsAll))).errorCode).toBe(
      ErrorCode.NONE,
    );
    expect(h.committed().controllers.get(3)).toEqual({
      id: 3,
      incarnationId: first,
      endpoints: [{ listener: "CONTROLLER", host: "10.0.0.3", port: 9093, securityProtocol: 0 }],
    });
    const restarted = "00000000-0000-0000-0000-000000000032";
    h.propose(h.controller.registerController(controllerRegistration(restarted, supportsAll)));
    expect(h.committed().controllers.get(3)?.incarnationId).toBe(restarted);
  });

  it("refuses a controller that cannot run at the finalized metadata.version", () => {
    const h = harness();
    const old = [{ name: METADATA_VERSION, min: 1, max: LATEST_METADATA_VERSION - 1 }];
    const result = h.controller.registerController(controllerRegistration("00000000-0000-0000-0000-000000000033", old));
    expect(result.records).toEqual([]);
    expect(result.response.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(h.committed().controllers.size).toBe(0);
  });
});

describe("broker registration and heartbeats", () => {
  it("gives the registration's offset as broker epoch, and is idempotent for the same incarnation", () => {
    const h = harness();
    const first = h.controller.registerBroker(registration(1, "a"));
    expect(first.response).toMatchObject({ errorCode: ErrorCode.NONE, brokerEpoch: 2n });
    expect(first.baseOffset).toBe(2);
    h.propose(first);
    const again = h.controller.registerBroker(registration(1, "a"));
    expect(again.records).toEqual([]);
    expect(h.propose(again).brokerEpoch).toBe(2n);
    expect(h.committed().brokers.get(1)).toMatchObject({ epoch: 2n, fenced: true, rack: "a" });
  });

  it("refuses another incarnation of a live broker id until its session expires", () => {
    const h = harness();
    const epochs = liveBrokers(h, [null]);
    const other = registration(1, null, 2);
    expect(h.propose(h.controller.registerBroker(other)).errorCode).toBe(ErrorCode.DUPLICATE_BROKER_REGISTRATION);
    h.clock.now += 9001;
    const res = h.propose(h.controller.registerBroker(other));
    expect(res.errorCode).toBe(ErrorCode.NONE);
    expect(res.brokerEpoch).toBeGreaterThan(epochs.get(1) ?? 0n);
    expect(h.committed().brokers.get(1)).toMatchObject({ incarnationId: other.incarnationId, fenced: true });
  });

  it("lets its own node's broker register again at once after the combined process restarted", () => {
    const h = harness({ colocatedBroker: true });
    liveBrokers(h, [null, null]);
    // Broker 1 shares this controller's process (node id 1): a new incarnation means the old one died with it.
    expect(h.propose(h.controller.registerBroker(registration(1, null, 2))).errorCode).toBe(ErrorCode.NONE);
    // Broker 2 runs elsewhere: its old incarnation may be alive, so the session rule still holds.
    expect(h.propose(h.controller.registerBroker(registration(2, null, 2))).errorCode).toBe(
      ErrorCode.DUPLICATE_BROKER_REGISTRATION,
    );
  });

  it("lets a new incarnation register at once after a controlled shutdown fenced the old one", () => {
    const h = harness();
    const epochs = liveBrokers(h, [null]);
    const bye = h.propose(
      h.controller.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, h.log.length, { wantShutDown: true })),
    );
    expect(bye.shouldShutDown).toBe(true);
    const res = h.propose(h.controller.registerBroker(registration(1, null, 2)));
    expect(res.errorCode).toBe(ErrorCode.NONE);
  });

  it("refuses another cluster, missing log dirs and an unsupported metadata.version", () => {
    const h = harness();
    const reg = registration(1);
    expect(h.propose(h.controller.registerBroker({ ...reg, clusterId: "other" })).errorCode).toBe(
      ErrorCode.INCONSISTENT_CLUSTER_ID,
    );
    expect(h.propose(h.controller.registerBroker({ ...reg, logDirs: [] })).errorCode).toBe(
      ErrorCode.INVALID_REGISTRATION,
    );
    const old = { ...reg, features: [{ name: METADATA_VERSION, minSupportedVersion: 1, maxSupportedVersion: 20 }] };
    expect(h.propose(h.controller.registerBroker(old)).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it("unfences a broker once it has caught up with its registration, and refuses a stale epoch", () => {
    const h = harness();
    const epoch = h.propose(h.controller.registerBroker(registration(1))).brokerEpoch;
    const behind = h.controller.heartbeat(heartbeat(1, epoch, Number(epoch) - 1));
    expect(behind.records).toEqual([]);
    expect(h.propose(behind)).toMatchObject({ isCaughtUp: false, isFenced: true, shouldShutDown: false });
    const caughtUp = h.controller.heartbeat(heartbeat(1, epoch, Number(epoch)));
    expect(caughtUp.records).toHaveLength(1);
    expect(caughtUp.records[0]?.record).toMatchObject({ brokerId: 1, fenced: -1 });
    expect(h.propose(caughtUp)).toMatchObject({ isCaughtUp: true, isFenced: false });
    expect(h.committed().brokers.get(1)?.fenced).toBe(false);
    expect(h.propose(h.controller.heartbeat(heartbeat(1, epoch + 1n, 100))).errorCode).toBe(
      ErrorCode.STALE_BROKER_EPOCH,
    );
  });

  it("fences a broker after broker.session.timeout.ms without heartbeats and re-elects it when it returns", () => {
    const h = harness();
    const epochs = liveBrokers(h, [null, null]);
    h.propose(h.controller.createTopics([topic("t", 4, 1)]));
    const led = () => partitionsOf(h.committed(), "t").filter((p) => p.leader === 2).length;
    expect(led()).toBe(2);
    h.clock.now += 5000;
    h.propose(h.controller.heartbeat(heartbeat(1, epochs.get(1) ?? 0n, h.log.length)));
    expect(h.controller.fenceStaleBroker()).toBeNull();
    h.clock.now += 4001;
    expect(h.controller.nextSessionExpiry()).toBeLessThanOrEqual(h.clock.now);
    const fenced = h.controller.fenceStaleBroker();
    expect(fenced?.response).toBe(2);
    if (fenced) h.propose(fenced);
    expect(h.controller.fenceStaleBroker()).toBeNull();
    const image = h.committed();
    expect(image.brokers.get(2)?.fenced).toBe(true);
    expect(image.brokers.get(1)?.fenced).toBe(false);
    expect(partitionsOf(image, "t").filter((p) => p.leader === -1)).toHaveLength(2);
    // Back: caught up, it is unfenced and leads its partitions again (they have no other ISR member).
    const beat = h.controller.heartbeat(heartbeat(2, epochs.get(2) ?? 0n, h.log.length));
    h.propose(beat);
    expect(led()).toBe(2);
    expect(partitionsOf(h.committed(), "t").every((p) => p.leaderEpoch <= 2)).toBe(true);
  });

  it("moves leadership away in a controlled shutdown and lets the broker go once it leads nothing", () => {
    const h = harness();
    const epochs = liveBrokers(h, [null, null, null]);
    h.controller.deactivate();
    // A partition whose ISR holds two brokers, as replication (issue 12) will make them, and one led alone.
    const topicId = "22222222-2222-4222-8222-222222222222";
    const part = (partitionId: number, replicas: number[], isr: number[]) =>
      record(
        PartitionRecord,
        { topicId, partitionId, replicas, isr, leader: replicas[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0 },
        0,
      );
    h.log.push(record(TopicRecord, { name: "shared", topicId }, 0), part(0, [1, 2], [1, 2]), part(1, [1], [1]));
    h.propose(h.controller.activate(h.committed(), h.log.length, 2));
    const e1 = epochs.get(1) ?? 0n;
    const first = h.controller.heartbeat(heartbeat(1, e1, h.log.length, { wantShutDown: true }));
    const types = first.records.map((r) => r.type);
    expect(types[0]).toBe(MetadataRecordType.BrokerRegistrationChangeRecord);
    expect((first.records[0]?.record as BrokerRegistrationChangeRecord).inControlledShutdown).toBe(1);
    const changes = ofType(first.records, MetadataRecordType.PartitionChangeRecord).map(
      (r) => r.record as PartitionChangeRecord,
    );
    expect(changes).toEqual([
      expect.objectContaining({ partitionId: 0, leader: 2, isr: [2] }),
      expect.objectContaining({ partitionId: 1, leader: -1 }),
    ]);
    expect(h.propose(first)).toMatchObject({ shouldShutDown: false, isFenced: false });
    const [p0, p1] = partitionsOf(h.committed(), "shared");
    expect(p0).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 1 });
    expect(p1).toMatchObject({ leader: -1, isr: [1] });
    expect(h.committed().brokers.get(1)?.inControlledShutdown).toBe(true);
    // Not before the other brokers have seen the change.
    expect(
      h.propose(h.controller.heartbeat(heartbeat(1, e1, h.log.length, { wantShutDown: true }))).shouldShutDown,
    ).toBe(false);
    for (const id of [2, 3]) h.propose(h.controller.heartbeat(heartbeat(id, epochs.get(id) ?? 0n, h.log.length)));
    const last = h.controller.heartbeat(heartbeat(1, e1, h.log.length, { wantShutDown: true }));
    expect(h.propose(last)).toMatchObject({ shouldShutDown: true, isFenced: true });
    expect(h.committed().brokers.get(1)?.fenced).toBe(true);
  });
});

describe("topics", () => {
  it("places replicas rack-aware with leaders spread, ISR every replica", () => {
    const h = harness();
    liveBrokers(h, ["a", "a", "b", "b", "c", "c"]);
    const [res] = h.propose(h.controller.createTopics([topic("spread", 12, 3)]));
    expect(res).toMatchObject({ errorCode: ErrorCode.NONE, numPartitions: 12, replicationFactor: 3 });
    const rackOf = (id: number) => ["a", "a", "b", "b", "c", "c"][id - 1];
    const parts = partitionsOf(h.committed(), "spread");
    const leaders = new Map<number, number>();
    for (const p of parts) {
      expect(new Set(p.replicas).size).toBe(3);
      expect(new Set(p.replicas.map(rackOf)).size).toBe(3);
      expect(p.leader).toBe(p.replicas[0]);
      expect(p.isr).toEqual(p.replicas);
      leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
    }
    expect([...leaders.values()]).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it("puts every usable assigned replica in a new partition's ISR, the first of them leading", () => {
    const h = harness();
    const epochs = liveBrokers(h, [null, null, null]);
    // Broker 3 shuts down (it leads nothing, so it is fenced at once).
    h.propose(h.controller.heartbeat(heartbeat(3, epochs.get(3) ?? 0n, h.log.length, { wantShutDown: true })));
    const assignments = new Map([[0, [3, 1, 2]]]);
    h.propose(h.controller.createTopics([topic("isr", -1, -1, { assignments })]));
    expect(partitionsOf(h.committed(), "isr")[0]).toMatchObject({ replicas: [3, 1, 2], isr: [1, 2], leader: 1 });
    h.propose(h.controller.createPartitions([{ name: "isr", count: 2, assignments: [[2, 3, 1]] }], false));
    expect(partitionsOf(h.committed(), "isr")[1]).toMatchObject({ replicas: [2, 3, 1], isr: [2, 1], leader: 2 });
  });

  it("places on unfenced brokers only and refuses a replication factor above them", () => {
    const h = harness();
    liveBrokers(h, [null, null]);
    h.propose(h.controller.registerBroker(registration(3)));
    const results = h.propose(h.controller.createTopics([topic("rf3", 1, 3), topic("rf2", 8, 2)]));
    expect(results[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
      errorMessage: "Replication factor: 3 larger than available brokers: 2.",
    });
    expect(results[1]?.errorCode).toBe(ErrorCode.NONE);
    for (const p of partitionsOf(h.committed(), "rf2")) expect(p.replicas).not.toContain(3);
    expect(topicByName(h.committed(), "rf3")).toBeUndefined();
  });

  it("validates like the single-node broker: names, existing topics, configs, explicit assignments, validateOnly", () => {
    const h = harness();
    liveBrokers(h, [null, null]);
    h.propose(h.controller.createTopics([topic("a.b", 1, 1)]));
    const results = h.propose(
      h.controller.createTopics([
        topic("bad name", 1, 1),
        topic("a.b", 1, 1),
        topic("a_b", 1, 1),
        topic("cfg", 1, 1, { configs: new Map([["retention.ms", "soon"]]) }),
        topic("manual", -1, -1, {
          assignments: new Map([
            [0, [2, 1]],
            [1, [1, 2]],
          ]),
        }),
        topic("ghost", -1, -1, { assignments: new Map([[0, [9]]]) }),
        topic("dry", 3, 2, { validateOnly: true }),
      ]),
    );
    expect(results.map((r) => r.errorCode)).toEqual([
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.TOPIC_ALREADY_EXISTS,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.INVALID_CONFIG,
      ErrorCode.NONE,
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      ErrorCode.NONE,
    ]);
    const image = h.committed();
    expect(partitionsOf(image, "manual").map((p) => [p.replicas, p.leader])).toEqual([
      [[2, 1], 2],
      [[1, 2], 1],
    ]);
    expect(topicByName(image, "dry")).toBeUndefined();
    expect(results[6]).toMatchObject({ numPartitions: 3, replicationFactor: 2 });
  });

  it("creates __consumer_offsets with offsets.topic.num.partitions and min(3, brokers) unless the factor is set", () => {
    const loose = harness({ offsetsTopicNumPartitions: 5 });
    liveBrokers(loose, [null, null]);
    const offsets = {
      name: "__consumer_offsets",
      numPartitions: -1,
      replicationFactor: -1,
      configs: new Map(),
      validateOnly: false,
    };
    expect(loose.propose(loose.controller.createTopics([offsets]))[0]).toMatchObject({
      numPartitions: 5,
      replicationFactor: 2,
    });
    expect(loose.committed().configs.get("2/__consumer_offsets")?.get("cleanup.policy")).toBe("compact");
    const strict = harness({ offsetsTopicReplicationFactor: 3 });
    liveBrokers(strict, [null, null]);
    expect(strict.propose(strict.controller.createTopics([offsets]))[0]?.errorCode).toBe(
      ErrorCode.INVALID_REPLICATION_FACTOR,
    );
  });

  it("deletes topics by name and id, and adds partitions", () => {
    const h = harness();
    liveBrokers(h, [null, null]);
    const [x, y] = h.propose(h.controller.createTopics([topic("x", 1, 1), topic("y", 2, 2)]));
    const deleted = h.propose(
      h.controller.deleteTopics([
        { name: "x" },
        { topicId: y?.topicId ?? "" },
        { name: "nope" },
        { topicId: x?.topicId ?? "" },
      ]),
    );
    expect(deleted.map((d) => d.errorCode)).toEqual([
      ErrorCode.NONE,
      ErrorCode.NONE,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.UNKNOWN_TOPIC_ID,
    ]);
    expect(h.committed().topicsById.size).toBe(0);
    h.propose(h.controller.createTopics([topic("grow", 1, 2)]));
    const grown = h.propose(
      h.controller.createPartitions(
        [
          { name: "grow", count: 4, assignments: null },
          { name: "grow2", count: 4, assignments: null },
        ],
        false,
      ),
    );
    expect(grown.map((g) => g.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const parts = partitionsOf(h.committed(), "grow");
    expect(parts).toHaveLength(4);
    for (const p of parts) expect(p.replicas).toHaveLength(2);
    const shrink = h.propose(h.controller.createPartitions([{ name: "grow", count: 2, assignments: null }], false));
    expect(shrink[0]?.errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
  });
});

describe("configs, producer ids and features", () => {
  it("alters topic and broker configs as ConfigRecords", () => {
    const h = harness();
    liveBrokers(h, [null]);
    h.propose(h.controller.createTopics([topic("c", 1, 1, { configs: new Map([["retention.ms", "1000"]]) })]));
    const results = h.propose(
      h.controller.alterConfigs(
        [
          {
            resourceType: 2,
            resourceName: "c",
            changes: [
              { name: "retention.ms", operation: ConfigOperation.DELETE, value: null },
              { name: "segment.ms", operation: ConfigOperation.SET, value: "60000" },
            ],
          },
          { resourceType: 4, resourceName: "", changes: [{ name: "log.retention.ms", operation: 0, value: "5000" }] },
          { resourceType: 2, resourceName: "c", changes: [{ name: "segment.ms", operation: 0, value: "x" }] },
          { resourceType: 2, resourceName: "missing", changes: [] },
        ],
        "incremental",
        false,
      ),
    );
    expect(results.map((r) => r.errorCode)).toEqual([
      ErrorCode.NONE,
      ErrorCode.NONE,
      ErrorCode.INVALID_CONFIG,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ]);
    const image = h.committed();
    expect([...(image.configs.get("2/c") ?? [])]).toEqual([["segment.ms", "60000"]]);
    expect(image.configs.get("4/")?.get("log.retention.ms")).toBe("5000");
  });

  it("hands out unique blocks of 1000 producer ids to brokers of the current epoch", () => {
    const h = harness();
    const epochs = liveBrokers(h, [null, null]);
    const starts: bigint[] = [];
    for (let i = 0; i < 6; i++) {
      const id = (i % 2) + 1;
      const res = h.propose(h.controller.allocateProducerIds({ brokerId: id, brokerEpoch: epochs.get(id) ?? 0n }));
      expect(res).toMatchObject({ errorCode: ErrorCode.NONE, producerIdLen: 1000 });
      starts.push(res.producerIdStart);
    }
    expect(starts).toEqual([0n, 1000n, 2000n, 3000n, 4000n, 5000n]);
    expect(h.committed().nextProducerId).toBe(6000n);
    const stale = h.propose(h.controller.allocateProducerIds({ brokerId: 1, brokerEpoch: 999n }));
    expect(stale.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
  });

  it("updates metadata.version by Kafka's upgrade and safe-downgrade rules", () => {
    const h = harness({ bootstrapMetadataVersion: 21 });
    const update = (level: number, upgradeType: number, validateOnly = false) =>
      h.propose(
        h.controller.updateFeatures(
          {
            timeoutMs: 1000,
            validateOnly,
            featureUpdates: [{ feature: METADATA_VERSION, maxVersionLevel: level, upgradeType }],
          },
          1,
        ),
      );
    expect(update(22, 1, true).errorCode).toBe(ErrorCode.NONE);
    expect(h.committed().features.get(METADATA_VERSION)).toBe(21);
    expect(update(22, 1).errorCode).toBe(ErrorCode.NONE);
    expect(h.committed().features.get(METADATA_VERSION)).toBe(22);
    expect(update(21, 1).errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    expect(update(24, 1).errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    expect(update(21, 2).errorCode).toBe(ErrorCode.NONE);
    expect(h.committed().features.get(METADATA_VERSION)).toBe(21);
    const unknown = h.propose(
      h.controller.updateFeatures(
        { timeoutMs: 1000, featureUpdates: [{ feature: "nope.version", maxVersionLevel: 1, upgradeType: 1 }] },
        1,
      ),
    );
    expect(unknown.errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
  });

  it("refuses a metadata.version that a registered broker does not support", () => {
    const h = harness({ bootstrapMetadataVersion: 21 });
    const older = {
      ...registration(1),
      features: [{ name: METADATA_VERSION, minSupportedVersion: 21, maxSupportedVersion: 21 }],
    };
    expect(h.propose(h.controller.registerBroker(older)).errorCode).toBe(ErrorCode.NONE);
    const res = h.propose(
      h.controller.updateFeatures(
        { timeoutMs: 1000, featureUpdates: [{ feature: METADATA_VERSION, maxVersionLevel: 22, upgradeType: 1 }] },
        1,
      ),
    );
    expect(res).toMatchObject({
      errorCode: ErrorCode.INVALID_UPDATE_VERSION,
      errorMessage: expect.stringContaining(
        "Broker 1 does not support the given version. It supports 21 to 21.",
      ) as unknown,
    });
    expect(h.committed().features.get(METADATA_VERSION)).toBe(21);
  });
});

describe("leadership", () => {
  it("drops uncommitted proposals when leadership is lost and decides again from the committed image", () => {
    const h = harness();
    liveBrokers(h, [null]);
    const committedLength = h.log.length;
    const lost = h.controller.createTopics([topic("lost", 1, 1)]);
    expect(lost.records.length).toBeGreaterThan(0);
    // Proposed, never committed: the next controller's log ends where the committed part does.
    expect(h.controller.view && topicByName(h.controller.view, "lost")).toBeDefined();
    h.controller.deactivate();
    expect(h.controller.view).toBeNull();
    h.propose(h.controller.activate(h.committed(), committedLength, 2));
    expect(h.controller.view && topicByName(h.controller.view, "lost")).toBeUndefined();
    const [again] = h.propose(h.controller.createTopics([topic("lost", 1, 1)]));
    expect(again?.errorCode).toBe(ErrorCode.NONE);
    expect(topicByName(h.committed(), "lost")).toBeDefined();
  });

  it("starts every registered broker's session afresh on activation", () => {
    const h = harness();
    liveBrokers(h, [null]);
    h.clock.now += 60_000;
    h.controller.deactivate();
    h.propose(h.controller.activate(h.committed(), h.log.length, 2));
    expect(h.controller.fenceStaleBroker()).toBeNull();
    h.clock.now += 9001;
    expect(h.controller.fenceStaleBroker()?.response).toBe(1);
  });
});

// A registration record with a rack round-trips through the image (guards the fields the controller fills).
it("RegisterBrokerRecord carries what the image needs", () => {
  const h = harness();
  h.propose(h.controller.registerBroker(registration(4, "r1")));
  const reg = ofType(
    h.log.filter((r): r is MetadataRecordAndVersion => r !== null),
    MetadataRecordType.RegisterBrokerRecord,
  )[0];
  expect(reg?.version).toBe(3);
  expect(reg?.record as RegisterBrokerRecord).toMatchObject({
    brokerId: 4,
    rack: "r1",
    fenced: true,
    logDirs: [dirOf(4)],
  });
});
