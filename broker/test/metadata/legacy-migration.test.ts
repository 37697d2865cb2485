import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeRecord } from "../../src/controller/records.ts";
import {
  configKey,
  ConfigResourceType,
  EMPTY_IMAGE,
  MetadataDelta,
  topicByName,
} from "../../src/metadata/image/index.ts";
import {
  LEGACY_METADATA_FILE,
  legacyBootstrapRecords,
  readLegacyMetadata,
} from "../../src/metadata/legacy-migration.ts";
import { decodeMetadataRecord } from "../../src/protocol/index.ts";

// A single-node data dir from before the metadata quorum: its JSON file becomes bootstrap records that rebuild the
// same topics (ids, partition counts, configs), broker configs and producer-id high mark in the image.

const LEGACY_FILE = {
  version: 1,
  clusterId: "3f0a9c2e-5b1d-4e7f-8a6b-2c9d0e1f3a4b",
  topics: [
    {
      name: "orders",
      id: "6f8b4e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
      partitions: 3,
      configs: { "retention.ms": "1000" },
      internal: false,
    },
    {
      name: "__consumer_offsets",
      id: "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
      partitions: 1,
      configs: { "cleanup.policy": "compact" },
      internal: true,
    },
  ],
  brokerConfigs: { "log.retention.bytes": "1048576" },
  producerIdBlockEnd: "3000",
};

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("legacy single-node metadata", () => {
  it("reads the file and turns it into records that rebuild the same cluster state", async () => {
    dir = await mkdtemp(join(tmpdir(), "legacy-"));
    await writeFile(join(dir, LEGACY_METADATA_FILE), JSON.stringify(LEGACY_FILE));
    const legacy = await readLegacyMetadata(dir);
    if (legacy === null) throw new Error("no legacy metadata read");
    expect(legacy.clusterId).toBe(LEGACY_FILE.clusterId);

    const records = legacyBootstrapRecords(legacy, 1);
    const delta = new MetadataDelta(EMPTY_IMAGE);
    // Through the log's encoding, as the controller writes them and every node replays them.
    records.forEach((r, i) => delta.replay(decodeMetadataRecord(encodeRecord(r)), i, 1));
    const { image } = delta.apply();

    const orders = topicByName(image, "orders");
    expect(orders?.id).toBe("6f8b4e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b");
    expect([...(orders?.partitions.keys() ?? [])]).toEqual([0, 1, 2]);
    expect(orders?.partitions.get(2)).toMatchObject({ replicas: [1], isr: [1], leader: 1, leaderEpoch: 0 });
    expect(topicByName(image, "__consumer_offsets")?.partitions.size).toBe(1);
    expect(image.configs.get(configKey(ConfigResourceType.TOPIC, "orders"))?.get("retention.ms")).toBe("1000");
    expect(image.configs.get(configKey(ConfigResourceType.BROKER, "1"))?.get("log.retention.bytes")).toBe("1048576");
    expect(image.nextProducerId).toBe(3000n);
  });

  it("is absent without the file and names the file when it is damaged", async () => {
    dir = await mkdtemp(join(tmpdir(), "legacy-"));
    expect(await readLegacyMetadata(dir)).toBeNull();
    await writeFile(join(dir, LEGACY_METADATA_FILE), "{ not json");
    await expect(readLegacyMetadata(dir)).rejects.toThrow(
      /cannot migrate the single-node metadata .*__tributary_metadata\.json/,
    );
  });
});
