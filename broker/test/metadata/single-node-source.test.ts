import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveBrokerConfig } from "../../src/config/broker-config.ts";
import {
  ConfigResourceType,
  configKey,
  topicByName,
  type LocalChanges,
  type MetadataImage,
} from "../../src/metadata/image/index.ts";
import { SingleNodeMetadataSource } from "../../src/metadata/single-node-source.ts";
import { TopicRegistry } from "../../src/metadata/topic-registry.ts";

// The interim source turns the registry into images as the controller's records would: this node registered with
// its advertised endpoints, sole replica, leader and ISR of every partition at leader epoch 0, configs as
// ConfigRecords; and each sync publishes the difference as one image.

const logger = pino({ level: "silent" });
let dir: string;
let registry: TopicRegistry;
let source: SingleNodeMetadataSource;
let published: { image: MetadataImage; local: LocalChanges }[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "single-node-source-"));
  registry = await TopicRegistry.open({ dir, clusterId: null, logger });
  const { config } = resolveBrokerConfig({
    overrides: [
      "node.id=7",
      "process.roles=broker,controller",
      `log.dirs=${dir}`,
      "listeners=PLAINTEXT://0.0.0.0:9092,INTERNAL://127.0.0.1:9093",
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
      "advertised.listeners=PLAINTEXT://kafka.example:9092,INTERNAL://127.0.0.1:9093",
      "broker.rack=rack-7",
    ],
    cwd: dir,
  });
  source = new SingleNodeMetadataSource(registry, config);
  published = [];
  source.subscribe((image, changes) => {
    published.push({ image, local: changes.localChanges(7) });
  });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("SingleNodeMetadataSource", () => {
  it("registers this node with its advertised endpoints and rack in the first image", async () => {
    await source.sync();
    const self = source.image().brokers.get(7);
    expect(self?.fenced).toBe(false);
    expect(self?.rack).toBe("rack-7");
    expect(self?.endpoints).toEqual([
      { listener: "PLAINTEXT", host: "kafka.example", port: 9092, securityProtocol: 0 },
      { listener: "INTERNAL", host: "127.0.0.1", port: 9093, securityProtocol: 0 },
    ]);
  });

  it("publishes topics, partitions, configs and deletions as the registry changes", async () => {
    const a = await registry.create({ name: "a", partitions: 2, configs: { "retention.ms": "5" }, internal: false });
    await source.sync();
    const t = topicByName(source.image(), "a");
    expect(t?.id).toBe(a.id);
    expect([...(t?.partitions.values() ?? [])].map((p) => [p.replicas, p.isr, p.leader, p.leaderEpoch])).toEqual([
      [[7], [7], 7, 0],
      [[7], [7], 7, 0],
    ]);
    expect(published.at(-1)?.local.leaders.map((l) => l.partition)).toEqual([0, 1]);
    expect(source.image().configs.get(configKey(ConfigResourceType.TOPIC, "a"))?.get("retention.ms")).toBe("5");

    await registry.update("a", { partitions: 3, configs: {} });
    await registry.setBrokerConfigs({ "log.retention.ms": "9" });
    await source.sync();
    expect(topicByName(source.image(), "a")?.partitions.size).toBe(3);
    expect(published.at(-1)?.local.leaders.map((l) => l.partition)).toEqual([2]);
    expect(source.image().configs.has(configKey(ConfigResourceType.TOPIC, "a"))).toBe(false);
    expect(source.image().configs.get(configKey(ConfigResourceType.BROKER, ""))?.get("log.retention.ms")).toBe("9");

    // Deleted and created again under the same name between two syncs: one image, old replicas deleted, new ones led.
    await registry.delete("a");
    const again = await registry.create({ name: "a", partitions: 1, configs: {}, internal: false });
    await source.sync();
    expect(topicByName(source.image(), "a")?.id).toBe(again.id);
    const last = published.at(-1)?.local;
    expect(last?.deleted.map((d) => [d.topicId, d.partition])).toEqual([
      [a.id, 0],
      [a.id, 1],
      [a.id, 2],
    ]);
    expect(last?.leaders.map((l) => [l.topicId, l.partition])).toEqual([[again.id, 0]]);

    const before = published.length;
    await source.sync();
    expect(published).toHaveLength(before);
  });
});
