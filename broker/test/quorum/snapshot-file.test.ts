import { mkdtemp, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeRecord, record } from "../../src/controller/records.ts";
import { EMPTY_IMAGE, MetadataDelta, imageRecords, type MetadataImage } from "../../src/metadata/image/index.ts";
import { imageFromSnapshot } from "../../src/metadata/metadata-loader.ts";
import {
  BrokerRegistrationChangeRecord,
  ConfigRecord,
  FeatureLevelRecord,
  PartitionChangeRecord,
  PartitionRecord,
  ProducerIdsRecord,
  RegisterBrokerRecord,
  RegisterControllerRecord,
  RemoveTopicRecord,
  TopicRecord,
  type MetadataRecordAndVersion,
} from "../../src/protocol/index.ts";
import {
  SnapshotStore,
  snapshotVoters,
  decodeSnapshot,
  encodeSnapshot,
  parseSnapshotFileName,
  snapshotFileName,
} from "../../src/quorum/snapshot-file.ts";

// Snapshots (KIP-630): an image written as records in Kafka's checkpoint format reads back as the same image, and a
// torn or partial snapshot is never taken for one.

const T1 = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const T2 = "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9";
const T3 = "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f90a";

function broker(id: number, epoch: bigint, rack: string | null): MetadataRecordAndVersion {
  return record(
    RegisterBrokerRecord,
    {
      brokerId: id,
      brokerEpoch: epoch,
      incarnationId: `0000000${id}-0000-4000-8000-000000000000`,
      endPoints: [{ name: "PLAINTEXT", host: `h${id}`, port: 9090 + id, securityProtocol: 0 }],
      features: [{ name: "metadata.version", minSupportedVersion: 21, maxSupportedVersion: 22 }],
      rack,
      fenced: true,
    },
    3,
  );
}

function partition(topicId: string, partitionId: number, replicas: number[]): MetadataRecordAndVersion {
  return record(
    PartitionRecord,
    { topicId, partitionId, replicas, isr: replicas, leader: replicas[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0 },
    1,
  );
}

function controller(controllerId: number, incarnationId: string, port: number): MetadataRecordAndVersion {
  const endPoints = [{ name: "CONTROLLER", host: "127.0.0.1", port, securityProtocol: 0 }];
  return record(RegisterControllerRecord, { controllerId, incarnationId, endPoints }, 0);
}

/** An image with something of every kind, including history (changes, a deleted topic) the snapshot flattens. */
function richImage(): MetadataImage {
  const records: MetadataRecordAndVersion[] = [
    record(FeatureLevelRecord, { name: "metadata.version", featureLevel: 22 }, 0),
    record(FeatureLevelRecord, { name: "group.version", featureLevel: 1 }, 0),
    broker(1, 10n, "rack-a"),
    broker(2, 11n, null),
    broker(3, 12n, "rack-b"),
    record(BrokerRegistrationChangeRecord, { brokerId: 1, brokerEpoch: 10n, fenced: -1 }, 0),
    record(BrokerRegistrationChangeRecord, { brokerId: 3, brokerEpoch: 12n, fenced: -1 }, 0),
    record(BrokerRegistrationChangeRecord, { brokerId: 3, brokerEpoch: 12n, inControlledShutdown: 1 }, 1),
    record(TopicRecord, { name: "orders", topicId: T1 }, 0),
    partition(T1, 0, [1, 2, 3]),
    partition(T1, 1, [2, 3, 1]),
    record(PartitionChangeRecord, { topicId: T1, partitionId: 0, leader: 2, isr: [2, 3] }, 1),
    record(PartitionChangeRecord, { topicId: T1, partitionId: 0, isr: [2] }, 1),
    record(TopicRecord, { name: "gone", topicId: T2 }, 0),
    partition(T2, 0, [1]),
    record(ConfigRecord, { resourceType: 2, resourceName: "gone", name: "retention.ms", value: "1" }, 0),
    record(RemoveTopicRecord, { topicId: T2 }, 0),
    record(TopicRecord, { name: "__consumer_offsets", topicId: T3 }, 0),
    partition(T3, 0, [3]),
    record(ConfigRecord, { resourceType: 2, resourceName: "orders", name: "retention.ms", value: "1000" }, 0),
    record(ConfigRecord, { resourceType: 2, resourceName: "orders", name: "cleanup.policy", value: "compact" }, 0),
    record(ConfigRecord, { resourceType: 4, resourceName: "1", name: "log.retention.ms", value: "5" }, 0),
    record(ConfigRecord, { resourceType: 4, resourceName: "", name: "num.io.threads", value: "4" }, 0),
    record(ProducerIdsRecord, { brokerId: 1, brokerEpoch: 10n, nextProducerId: 2000n }, 0),
    controller(4, "00000000-0000-0000-0000-000000000041", 9094),
    controller(5, "00000000-0000-0000-0000-000000000051", 9095),
    // Controller 4 started again: its new incarnation replaces the first.
    controller(4, "00000000-0000-0000-0000-000000000042", 9096),
  ];
  const delta = new MetadataDelta(EMPTY_IMAGE);
  records.forEach((r, i) => delta.replay(r, i, 3));
  return delta.apply().image;
}

function snapshotOf(image: MetadataImage): Buffer[] {
  return imageRecords(image).map(encodeRecord);
}

describe("snapshot records", () => {
  it("rebuild the image they were written from", () => {
    const image = richImage();
    const id = { offset: image.provenance.offset + 1, epoch: 3 };
    const bytes = encodeSnapshot(id, snapshotOf(image), { timestampMs: 1_700_000_000_000 });
    const back = imageFromSnapshot({ id, records: decodeSnapshot(bytes) }).image;
    expect(back).toEqual(image);
    expect(back.topicIdsByName.has("gone")).toBe(false);
    expect(back.topicsById.get(T1)?.partitions.get(0)).toMatchObject({ leader: 2, leaderEpoch: 1, partitionEpoch: 2 });
    expect(back.brokers.get(3)).toMatchObject({ fenced: false, inControlledShutdown: true, rack: "rack-b" });
    expect(back.nextProducerId).toBe(2000n);
    expect([...back.controllers.keys()].sort()).toEqual([4, 5]);
    expect(back.controllers.get(4)).toMatchObject({
      incarnationId: "00000000-0000-0000-0000-000000000042",
      endpoints: [{ listener: "CONTROLLER", host: "127.0.0.1", port: 9096, securityProtocol: 0 }],
    });
  });

  it("of an empty image are a header and a footer only", () => {
    const bytes = encodeSnapshot({ offset: 0, epoch: 0 }, [], { timestampMs: 0 });
    expect(decodeSnapshot(bytes)).toEqual([]);
  });

  it("carry KIP-853's kraft.version and voters after the header, which the core reads back", () => {
    const state = {
      kraftVersion: 1,
      voters: [
        {
          id: 1,
          directoryId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
          endpoints: [{ name: "CONTROLLER", host: "localhost", port: 9093 }],
          kraftVersion: { min: 0, max: 1 },
        },
      ],
    };
    const image = richImage();
    const id = { offset: image.provenance.offset + 1, epoch: 3 };
    const bytes = encodeSnapshot(id, snapshotOf(image), { timestampMs: 0, voters: state });
    expect(snapshotVoters(bytes)).toEqual(state);
    expect(imageFromSnapshot({ id, records: decodeSnapshot(bytes) }).image).toEqual(image);
    expect(snapshotVoters(encodeSnapshot({ offset: 7, epoch: 2 }, [], { timestampMs: 0 }))).toBeNull();
  });

  it("replace what an image held before, reporting the deletions", () => {
    const image = richImage();
    const { image: after, changes } = imageFromSnapshot(
      { id: { offset: 5, epoch: 1 }, records: [encodeRecord(record(TopicRecord, { name: "new", topicId: T2 }, 0))] },
      image,
    );
    expect([...after.topicIdsByName.keys()]).toEqual(["new"]);
    expect(after.brokers.size).toBe(0);
    expect(after.features.size).toBe(0);
    expect(after.configs.size).toBe(0);
    expect([...changes.topicsDeleted].sort()).toEqual(["__consumer_offsets", "orders"]);
    expect(
      changes
        .localChanges(2)
        .deleted.map((p) => `${p.topicName}-${p.partition}`)
        .sort(),
    ).toEqual(["orders-0", "orders-1"]);
  });

  it("spread over several batches when there are many", () => {
    const many = Array.from({ length: 2500 }, (_, i) =>
      encodeRecord(record(ConfigRecord, { resourceType: 4, resourceName: "", name: `k${i}`, value: "v" }, 0)),
    );
    const bytes = encodeSnapshot({ offset: 9, epoch: 2 }, many, { timestampMs: 0 });
    expect(decodeSnapshot(bytes)).toHaveLength(2500);
  });
});

describe("snapshot files", () => {
  const logger = pino({ level: "silent" });
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapshots-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("are named as Kafka names checkpoints", () => {
    expect(snapshotFileName({ offset: 1234, epoch: 5 })).toBe("00000000000000001234-0000000005.checkpoint");
    expect(parseSnapshotFileName("00000000000000001234-0000000005.checkpoint")).toEqual({ offset: 1234, epoch: 5 });
    expect(parseSnapshotFileName("00000000000000001234-0000000005.checkpoint.part")).toBeNull();
    expect(parseSnapshotFileName("00000000000000000000.log")).toBeNull();
  });

  it("refuse torn, corrupt and headless snapshots", () => {
    const bytes = encodeSnapshot({ offset: 3, epoch: 1 }, snapshotOf(richImage()), { timestampMs: 0 });
    // Cut anywhere: a partial batch, or whole batches without the footer.
    for (const cut of [bytes.length - 1, bytes.length - 20, Math.floor(bytes.length / 2), 70]) {
      expect(() => decodeSnapshot(bytes.subarray(0, cut))).toThrow(/partial batch|SnapshotFooterRecord/);
    }
    const corrupt = Buffer.from(bytes);
    corrupt[corrupt.length - 30] = (corrupt[corrupt.length - 30] ?? 0) ^ 0xff;
    expect(() => decodeSnapshot(corrupt)).toThrow(/CRC|crc/);
    const footerOnly = encodeSnapshot({ offset: 3, epoch: 1 }, [], { timestampMs: 0 }).subarray(70 + 4);
    expect(() => decodeSnapshot(Buffer.concat([footerOnly]))).toThrow();
  });

  it("load the newest whole snapshot, skipping a torn one and deleting partial writes", async () => {
    const store = new SnapshotStore(dir, logger);
    const image = richImage();
    const older = encodeSnapshot({ offset: 10, epoch: 1 }, snapshotOf(image), { timestampMs: 0 });
    await store.write({ offset: 10, epoch: 1 }, older);
    await store.write({ offset: 20, epoch: 2 }, encodeSnapshot({ offset: 20, epoch: 2 }, [], { timestampMs: 0 }));
    // The newest lost its tail (as a disk could lose it); a partial write was left by a crash.
    const newest = join(dir, snapshotFileName({ offset: 20, epoch: 2 }));
    await truncate(newest, 80);
    await writeFile(join(dir, "00000000000000000030-0000000002.checkpoint.part"), "half");

    const loaded = await store.latest();
    expect(loaded?.id).toEqual({ offset: 10, epoch: 1 });
    expect(imageFromSnapshot({ id: { offset: 10, epoch: 1 }, records: loaded?.records ?? [] }).image).toEqual({
      ...image,
      provenance: { offset: 9, epoch: 1 },
    });
    expect((await readdir(dir)).some((n) => n.endsWith(".part"))).toBe(false);

    await store.write({ offset: 40, epoch: 3 }, encodeSnapshot({ offset: 40, epoch: 3 }, [], { timestampMs: 0 }));
    await store.deleteBefore({ offset: 40, epoch: 3 });
    expect(await readdir(dir)).toEqual([snapshotFileName({ offset: 40, epoch: 3 })]);
  });

  it("find nothing in an empty or missing directory", async () => {
    expect(await new SnapshotStore(dir, logger).latest()).toBeNull();
    expect(await new SnapshotStore(join(dir, "missing"), logger).latest()).toBeNull();
  });
});
