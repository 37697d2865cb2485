import { describe, expect, it } from "vitest";
import {
  GroupCoordinatorManager,
  InMemoryGroupStore,
  OFFSETS_TOPIC,
  applyOffsetsLeadership,
  offsetsLeadershipIn,
} from "../../src/coordinator/index.ts";
import { EMPTY_IMAGE, MetadataDelta, type MetadataImage } from "../../src/metadata/image/index.ts";
import {
  PartitionChangeRecord,
  PartitionRecord,
  RemoveTopicRecord,
  TopicRecord,
  decodeMetadataRecord,
  encodeMetadataRecord,
  type MessageCodec,
} from "../../src/protocol/index.ts";
import { silentLogger } from "./helpers.ts";

// The group coordinator driven by the local changes of real metadata deltas, as the broker's metadata publisher will
// drive it: node 1's shards follow the leadership of __consumer_offsets partitions and ignore other topics.

const OFFSETS_ID = "00000000-0000-0000-0000-0000000000c0";
const OTHER_ID = "00000000-0000-0000-0000-0000000000c1";
const NODE = 1;

type Rec = [MessageCodec<never>, object];
const r = <T>(codec: MessageCodec<T>, fields: Partial<T>): Rec => [codec as unknown as MessageCodec<never>, fields];

function replay(base: MetadataImage, records: Rec[]) {
  const delta = new MetadataDelta(base);
  records.forEach(([codec, fields], i) => {
    const c = codec as unknown as MessageCodec<object>;
    delta.replay(decodeMetadataRecord(encodeMetadataRecord(c, { ...c.create(), ...fields }, c.maxVersion)), i + 1, 1);
  });
  return delta.apply();
}

const partition = (topicId: string, partitionId: number, leader: number): Rec =>
  r(PartitionRecord, {
    topicId,
    partitionId,
    replicas: [leader],
    isr: [leader],
    leader,
    leaderEpoch: 0,
    partitionEpoch: 0,
  });

describe("applyOffsetsLeadership", () => {
  it("loads the partitions this node comes to lead and unloads those it loses", async () => {
    const manager = new GroupCoordinatorManager({
      partitionCount: 3,
      openStore: () => new InMemoryGroupStore(),
      logger: silentLogger,
    });
    const owned = () => manager.ownedPartitions().map((p) => [p.partition, p.leaderEpoch]);

    const created = replay(EMPTY_IMAGE, [
      r(TopicRecord, { name: OFFSETS_TOPIC, topicId: OFFSETS_ID }),
      partition(OFFSETS_ID, 0, NODE),
      partition(OFFSETS_ID, 1, NODE),
      partition(OFFSETS_ID, 2, 2),
      r(TopicRecord, { name: "other", topicId: OTHER_ID }),
      partition(OTHER_ID, 0, NODE),
    ]);
    const loads = applyOffsetsLeadership(created.changes.localChanges(NODE), manager);
    expect(await Promise.all(loads)).toEqual([true, true]);
    expect(owned()).toEqual([
      [0, 0],
      [1, 0],
    ]);

    // Leadership of 1 moves to node 2 and of 2 to this node: each at a new leader epoch.
    const moved = replay(created.image, [
      r(PartitionChangeRecord, { topicId: OFFSETS_ID, partitionId: 1, leader: 2, replicas: [1, 2], isr: [2] }),
      r(PartitionChangeRecord, { topicId: OFFSETS_ID, partitionId: 2, leader: NODE, replicas: [2, 1], isr: [1] }),
    ]);
    await Promise.all(applyOffsetsLeadership(moved.changes.localChanges(NODE), manager));
    expect(owned()).toEqual([
      [0, 0],
      [2, 1],
    ]);

    // A coordinator that starts after these images loads what the newest one says this node leads.
    const late = new GroupCoordinatorManager({
      partitionCount: 3,
      openStore: () => new InMemoryGroupStore(),
      logger: silentLogger,
    });
    expect(await Promise.all(applyOffsetsLeadership(offsetsLeadershipIn(moved.image, NODE), late))).toEqual([
      true,
      true,
    ]);
    expect(late.ownedPartitions().map((p) => [p.partition, p.leaderEpoch])).toEqual([
      [0, 0],
      [2, 1],
    ]);

    const removed = replay(moved.image, [r(RemoveTopicRecord, { topicId: OFFSETS_ID })]);
    expect(applyOffsetsLeadership(removed.changes.localChanges(NODE), manager)).toEqual([]);
    expect(owned()).toEqual([]);
  });
});
