import { describe, expect, it } from "vitest";
import { MetadataReplayError, topicByName, type MetadataImage } from "../../src/metadata/image/index.ts";
import { MetadataLoader } from "../../src/metadata/metadata-loader.ts";
import { DecodeError, PartitionRecord, TopicRecord, encodeMetadataRecord } from "../../src/protocol/index.ts";
import type { LogEntry } from "../../src/raft/index.ts";

const ID = "00000000-0000-0000-0000-0000000000aa";

const data = (offset: number, value: Uint8Array): LogEntry => ({
  offset,
  epoch: 1,
  lastInBatch: true,
  record: { kind: "data", data: value },
});

describe("MetadataLoader", () => {
  it("publishes one image per committed batch, skipping leader-change records", () => {
    const published: MetadataImage[] = [];
    const loader = new MetadataLoader((image) => published.push(image));
    loader.onCommit([
      { offset: 0, epoch: 1, lastInBatch: true, record: { kind: "leaderChange", leaderId: 1, voters: [1] } },
      data(1, encodeMetadataRecord(TopicRecord, { name: "t", topicId: ID }, 0)),
    ]);
    loader.onCommit([data(2, encodeMetadataRecord(PartitionRecord, { ...PartitionRecord.create(), topicId: ID }, 0))]);
    expect(published).toHaveLength(2);
    expect(topicByName(published[0] ?? loader.image, "t")?.partitions.size).toBe(0);
    expect(topicByName(loader.image, "t")?.partitions.size).toBe(1);
    expect(loader.image.provenance.offset).toBe(2);
  });

  it("faults on a record it cannot decode or that contradicts the image, publishing nothing", () => {
    const published: MetadataImage[] = [];
    const loader = new MetadataLoader((image) => published.push(image));
    expect(() => loader.onCommit([data(0, Buffer.from([1, 99, 0]))])).toThrow(DecodeError);
    expect(() =>
      loader.onCommit([
        data(0, encodeMetadataRecord(PartitionRecord, { ...PartitionRecord.create(), topicId: ID }, 0)),
      ]),
    ).toThrow(MetadataReplayError);
    expect(published).toHaveLength(0);
  });
});
