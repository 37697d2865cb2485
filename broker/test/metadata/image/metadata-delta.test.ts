import { describe, expect, it } from "vitest";
import {
  ConfigResourceType,
  EMPTY_IMAGE,
  MetadataReplayError,
  configKey,
  topicByName,
  type MetadataImage,
} from "../../../src/metadata/image/index.ts";
import {
  BrokerRegistrationChangeRecord,
  ConfigRecord,
  FeatureLevelRecord,
  FenceBrokerRecord,
  PartitionChangeRecord,
  PartitionRecord,
  ProducerIdsRecord,
  RegisterBrokerRecord,
  RemoveTopicRecord,
  TopicRecord,
  type MessageCodec,
} from "../../../src/protocol/index.ts";
import { rec, replay } from "../../support/metadata-records.ts";

const FOO = "00000000-0000-0000-0000-0000000000f0";

const r = rec;

/** A partition of foo as the controller creates it: the first replica leads, all are in sync. */
const partition = (partitionId: number, replicas: number[]): [MessageCodec<never>, object] =>
  r(PartitionRecord, {
    topicId: FOO,
    partitionId,
    replicas,
    isr: replicas,
    leader: replicas[0] ?? -1,
    leaderEpoch: 0,
    partitionEpoch: 0,
  });

function cluster(): MetadataImage {
  return replay(EMPTY_IMAGE, [
    r(FeatureLevelRecord, { name: "metadata.version", featureLevel: 21 }),
    r(RegisterBrokerRecord, { brokerId: 1, brokerEpoch: 10n, rack: "a", fenced: false }),
    r(RegisterBrokerRecord, { brokerId: 2, brokerEpoch: 11n, rack: "b", fenced: false }),
    r(TopicRecord, { name: "foo", topicId: FOO }),
    partition(0, [1, 2]),
    partition(1, [2, 1]),
    r(ConfigRecord, { resourceType: ConfigResourceType.TOPIC, resourceName: "foo", name: "retention.ms", value: "1" }),
  ]).image;
}

describe("MetadataDelta", () => {
  it("builds topics, partitions, brokers, features and configs from committed records", () => {
    const image = cluster();
    const foo = topicByName(image, "foo");
    expect(foo?.id).toBe(FOO);
    expect(foo?.partitions.get(1)).toMatchObject({ leader: 2, replicas: [2, 1], leaderEpoch: 0, partitionEpoch: 0 });
    expect([...image.brokers.keys()]).toEqual([1, 2]);
    expect(image.brokers.get(2)).toMatchObject({ rack: "b", fenced: false, epoch: 11n });
    expect(image.features.get("metadata.version")).toBe(21);
    expect(image.configs.get(configKey(ConfigResourceType.TOPIC, "foo"))?.get("retention.ms")).toBe("1");
    expect(image.provenance.offset).toBe(6);
  });

  it("bumps the partition epoch on every change and the leader epoch only when the leader is set", () => {
    const base = cluster();
    const shrink = replay(base, [r(PartitionChangeRecord, { topicId: FOO, partitionId: 0, isr: [1] })]);
    expect(topicByName(shrink.image, "foo")?.partitions.get(0)).toMatchObject({
      isr: [1],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 1,
    });
    const move = replay(shrink.image, [
      r(PartitionChangeRecord, { topicId: FOO, partitionId: 0, leader: 2, isr: [2] }),
    ]);
    expect(topicByName(move.image, "foo")?.partitions.get(0)).toMatchObject({
      leader: 2,
      leaderEpoch: 1,
      partitionEpoch: 2,
    });
    // The images before stay as they were: an image is a value.
    expect(topicByName(base, "foo")?.partitions.get(0)?.isr).toEqual([1, 2]);

    const local2 = move.changes.localChanges(2);
    expect(local2.leaders.map((p) => `${p.topicName}-${p.partition}`)).toEqual(["foo-0"]);
    expect(move.changes.localChanges(1).followers.map((p) => p.partition)).toEqual([0]);
  });

  it("removes a topic with its configs, and tells the replicas to delete their partitions", () => {
    const { image, changes } = replay(cluster(), [r(RemoveTopicRecord, { topicId: FOO })]);
    expect(topicByName(image, "foo")).toBeUndefined();
    expect(image.configs.has(configKey(ConfigResourceType.TOPIC, "foo"))).toBe(false);
    expect(changes.topicsDeleted).toEqual(["foo"]);
    expect(changes.localChanges(1).deleted.map((p) => p.partition)).toEqual([0, 1]);
  });

  it("fences and unfences brokers of the registered epoch only, and tracks producer id blocks", () => {
    const fenced = replay(cluster(), [
      r(FenceBrokerRecord, { id: 2, epoch: 11n }),
      r(ProducerIdsRecord, { brokerId: 1, brokerEpoch: 10n, nextProducerId: 1000n }),
    ]).image;
    expect(fenced.brokers.get(2)?.fenced).toBe(true);
    expect(fenced.nextProducerId).toBe(1000n);
    const back = replay(fenced, [r(BrokerRegistrationChangeRecord, { brokerId: 2, brokerEpoch: 11n, fenced: -1 })]);
    expect(back.image.brokers.get(2)?.fenced).toBe(false);
    expect(() => replay(fenced, [r(FenceBrokerRecord, { id: 2, epoch: 5n })])).toThrow(
      /epoch 5, registered with epoch 11/,
    );
  });

  it("shares what a delta did not touch with the image before, and never changes that image", () => {
    const base = cluster();
    const fenced = replay(base, [r(FenceBrokerRecord, { id: 2, epoch: 11n })]).image;
    expect(fenced.topicsById).toBe(base.topicsById);
    expect(fenced.topicIdsByName).toBe(base.topicIdsByName);
    expect(fenced.configs).toBe(base.configs);
    expect(fenced.brokers).not.toBe(base.brokers);
    // Several records of one topic in one delta, then another delta on the result: each image keeps its partitions.
    const grown = replay(base, [partition(2, [1]), partition(3, [2]), partition(4, [1])]).image;
    const changed = replay(grown, [r(PartitionChangeRecord, { topicId: FOO, partitionId: 2, isr: [] })]).image;
    expect(topicByName(base, "foo")?.partitions.size).toBe(2);
    expect(topicByName(grown, "foo")?.partitions.size).toBe(5);
    expect(topicByName(grown, "foo")?.partitions.get(2)?.partitionEpoch).toBe(0);
    expect(topicByName(changed, "foo")?.partitions.get(2)?.partitionEpoch).toBe(1);
  });

  it("finds topics by name within one delta: created, removed and created again", () => {
    const BAR = "00000000-0000-0000-0000-0000000000b0";
    const BAR2 = "00000000-0000-0000-0000-0000000000b2";
    const { image } = replay(cluster(), [
      r(TopicRecord, { name: "bar", topicId: BAR }),
      r(RemoveTopicRecord, { topicId: BAR }),
      r(TopicRecord, { name: "bar", topicId: BAR2 }),
      r(RemoveTopicRecord, { topicId: FOO }),
      r(TopicRecord, { name: "foo", topicId: BAR }),
    ]);
    expect(topicByName(image, "bar")?.id).toBe(BAR2);
    expect(topicByName(image, "foo")?.id).toBe(BAR);
    expect(() =>
      replay(cluster(), [
        r(TopicRecord, { name: "bar", topicId: BAR }),
        r(TopicRecord, { name: "bar", topicId: BAR2 }),
      ]),
    ).toThrow(/topic bar exists already/);
  });

  it("refuses records that contradict the image", () => {
    expect(() =>
      replay(cluster(), [r(TopicRecord, { name: "foo", topicId: "00000000-0000-0000-0000-0000000000f1" })]),
    ).toThrow(MetadataReplayError);
    expect(() =>
      replay(cluster(), [r(PartitionRecord, { topicId: "00000000-0000-0000-0000-00000000dead", partitionId: 0 })]),
    ).toThrow(/unknown topic id/);
    expect(() => replay(cluster(), [r(PartitionChangeRecord, { topicId: FOO, partitionId: 9 })])).toThrow(
      /unknown partition foo-9/,
    );
  });
});
