import { describe, expect, it } from "vitest";
import {
  changesFromEmpty,
  EMPTY_IMAGE,
  type MetadataChanges,
  type MetadataImage,
} from "../../src/metadata/image/index.ts";
import { PublishingChain } from "../../src/metadata/metadata-source.ts";
import { PartitionRecord, RegisterBrokerRecord, TopicRecord } from "../../src/protocol/index.ts";
import { rec, replay } from "../support/metadata-records.ts";

// PublishingChain hands images to its publishers one at a time and in order, and a publisher that joins late gets the
// current image as if it were the first.

const A = "00000000-0000-0000-0000-0000000000c1";
const B = "00000000-0000-0000-0000-0000000000c2";

const apply = replay;
const r = rec;

const partition = (topicId: string, partitionId: number, replicas: number[]) =>
  r(PartitionRecord, { topicId, partitionId, replicas, isr: replicas, leader: replicas[0] ?? -1, leaderEpoch: 3 });

const first = apply(EMPTY_IMAGE, [
  r(RegisterBrokerRecord, { brokerId: 1, brokerEpoch: 1n, fenced: false }),
  r(TopicRecord, { name: "a", topicId: A }),
  partition(A, 0, [1, 2]),
  partition(A, 1, [2, 1]),
  partition(A, 2, [2, 3]),
]);
const second = apply(first.image, [r(TopicRecord, { name: "b", topicId: B }), partition(B, 0, [3, 1])]);

describe("changesFromEmpty", () => {
  it("is what a delta from the empty image reports", () => {
    const replayed = apply(EMPTY_IMAGE, [
      r(TopicRecord, { name: "a", topicId: A }),
      partition(A, 0, [1, 2]),
      partition(A, 1, [2, 1]),
      partition(A, 2, [2, 3]),
      r(TopicRecord, { name: "b", topicId: B }),
      partition(B, 0, [3, 1]),
    ]);
    const full = changesFromEmpty(second.image);
    expect(full.topicsCreated).toEqual(replayed.changes.topicsCreated);
    for (const node of [1, 2, 3, 4]) expect(full.localChanges(node)).toEqual(replayed.changes.localChanges(node));
    expect(full.localChanges(1).leaders.map((l) => [l.topicName, l.partition])).toEqual([["a", 0]]);
  });
});

describe("PublishingChain", () => {
  it("publishes in order, one image at a time, and hands a late publisher the current image first", async () => {
    const chain = new PublishingChain();
    const seen: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    chain.subscribe(async (image) => {
      seen.push(`slow:${image.topicsById.size}`);
      if (image === first.image) await held;
    });
    const one = chain.publish(first.image, first.changes);
    const two = chain.publish(second.image, second.changes);
    const late: { image: MetadataImage; changes: MetadataChanges }[] = [];
    const joined = chain.subscribeFromStart((image, changes) => {
      late.push({ image, changes });
    });
    // The second image waits for the first to be handled.
    await Promise.resolve();
    expect(seen).toEqual(["slow:1"]);
    release();
    await Promise.all([one, two, joined]);
    expect(seen).toEqual(["slow:1", "slow:2"]);
    // The late publisher joined after both: it got the second image whole, as if it were the first.
    expect(late.map((l) => l.image)).toEqual([second.image]);
    expect(late[0]?.changes.localChanges(1).leaders.map((l) => l.topicName)).toEqual(["a"]);
    expect(late[0]?.changes.localChanges(1).followers.map((l) => [l.topicName, l.partition])).toEqual([
      ["a", 1],
      ["b", 0],
    ]);
    const third = apply(second.image, [partition(B, 1, [1])]);
    await chain.publish(third.image, third.changes);
    expect(late.map((l) => l.image)).toEqual([second.image, third.image]);
  });

  it("hands nothing to a publisher joining before the first image", async () => {
    const chain = new PublishingChain();
    const images: MetadataImage[] = [];
    await chain.subscribeFromStart((image) => {
      images.push(image);
    });
    expect(images).toEqual([]);
    await chain.publish(first.image, first.changes);
    expect(images).toEqual([first.image]);
  });
});
