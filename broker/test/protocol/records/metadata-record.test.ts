import { describe, expect, it } from "vitest";
import {
  ControlRecordType,
  DecodeError,
  LeaderChangeMessage,
  PartitionRecord,
  TopicRecord,
  decodeControlRecordKey,
  decodeMetadataRecord,
  encodeControlRecordKey,
  encodeMetadataRecord,
} from "../../../src/protocol/index.ts";

describe("metadata log record framing", () => {
  it("frames a TopicRecord as Kafka's MetadataRecordSerde does: frame version 1, type 2, version 0, then the record", () => {
    const topicId = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    const bytes = encodeMetadataRecord(TopicRecord, { name: "foo", topicId }, 0);
    const expected = Buffer.concat([
      Buffer.from([0x01, 0x02, 0x00]),
      Buffer.from([0x04]), // compact string: length + 1
      Buffer.from("foo"),
      Buffer.from(topicId.replaceAll("-", ""), "hex"),
      Buffer.from([0x00]), // no tagged fields
    ]);
    expect(bytes.toString("hex")).toBe(expected.toString("hex"));
    expect(decodeMetadataRecord(bytes)).toEqual({ type: 2, version: 0, record: { name: "foo", topicId } });
  });

  it("round-trips a PartitionRecord at its newest version", () => {
    const record = { ...PartitionRecord.create(), partitionId: 7, replicas: [1, 2, 3], isr: [1, 2], leader: 1 };
    const decoded = decodeMetadataRecord(encodeMetadataRecord(PartitionRecord, record, PartitionRecord.maxVersion));
    expect(decoded.type).toBe(3);
    expect(decoded.record).toMatchObject({ partitionId: 7, replicas: [1, 2, 3], isr: [1, 2], leader: 1 });
  });

  it("refuses frame version 0, unknown types, trailing bytes and non-metadata codecs with a clear error", () => {
    expect(() => decodeMetadataRecord(Buffer.from([0x00, 0x02, 0x00]))).toThrow(/frame version 0/);
    expect(() => decodeMetadataRecord(Buffer.from([0x01, 0x63, 0x00]))).toThrow(/unknown metadata record type 99/);
    const good = encodeMetadataRecord(TopicRecord, { name: "a", topicId: "00000000-0000-0000-0000-000000000001" }, 0);
    expect(() => decodeMetadataRecord(Buffer.concat([good, Buffer.from([0])]))).toThrow(DecodeError);
    expect(() => encodeMetadataRecord(LeaderChangeMessage, LeaderChangeMessage.create(), 0)).toThrow(/not a metadata/);
  });

  it("writes control record keys as int16 version 0 and int16 type", () => {
    const key = encodeControlRecordKey(ControlRecordType.LEADER_CHANGE);
    expect(key.toString("hex")).toBe("00000002");
    expect(decodeControlRecordKey(key)).toBe(2);
    expect(() => decodeControlRecordKey(Buffer.from("00010002", "hex"))).toThrow(/key version 1/);
  });
});
