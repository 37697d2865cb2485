import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as protocol from "../../src/protocol/index.ts";
import type { MessageCodec } from "../../src/protocol/index.ts";
import { brokerMessageModels, kraftMessageModels, structArb } from "./message-values.ts";
import type { MessageModel } from "../../codegen/model.ts";

const codecs = protocol as unknown as Record<string, MessageCodec<Record<string, unknown>> | undefined>;

// Decoding fills the fields a version lacks with defaults; compare only what the version carries.
function expectCarriedFieldsEqual(decoded: unknown, original: unknown): void {
  if (Array.isArray(original)) {
    expect(Array.isArray(decoded)).toBe(true);
    const d = decoded as unknown[];
    expect(d.length).toBe(original.length);
    original.forEach((item, i) => expectCarriedFieldsEqual(d[i], item));
    return;
  }
  if (original !== null && typeof original === "object" && !Buffer.isBuffer(original)) {
    for (const [key, value] of Object.entries(original)) {
      expectCarriedFieldsEqual((decoded as Record<string, unknown>)[key], value);
    }
    return;
  }
  if (Buffer.isBuffer(original)) {
    expect(Buffer.isBuffer(decoded) && original.equals(decoded)).toBe(true);
    return;
  }
  expect(decoded).toStrictEqual(original);
}

function roundTripsAtEveryVersion(model: MessageModel): void {
  const name = model.spec.name;
  it(`${name} ${model.validVersions.lo}-${model.validVersions.hi}`, () => {
    const codec = codecs[name];
    expect(codec, `codec for ${name}`).toBeDefined();
    if (!codec) return;
    for (let v = model.validVersions.lo; v <= model.validVersions.hi; v++) {
      // A default message must also encode (every required field has a usable default).
      const empty = codec.encode(codec.create(), v);
      expect(codec.encode(codec.decode(empty, v), v).equals(empty)).toBe(true);
      fc.assert(
        fc.property(structArb(model.root, v), (message) => {
          const bytes = codec.encode(message, v);
          expect(bytes.length).toBe(codec.size(message, v));
          const decoded = codec.decode(bytes, v);
          expectCarriedFieldsEqual(decoded, message);
          expect(codec.encode(decoded, v).equals(bytes)).toBe(true);
        }),
        { numRuns: 25 },
      );
    }
  });
}

describe("every broker message round-trips at every version", () => {
  const models = brokerMessageModels();

  it("covers the broker's APIs", () => {
    expect(models.length).toBeGreaterThanOrEqual(140);
  });

  for (const model of models) roundTripsAtEveryVersion(model);
});

describe("every KRaft message, metadata record and control record round-trips at every version", () => {
  const models = kraftMessageModels();

  it("covers the quorum RPCs, the 25 metadata records and the raft data records", () => {
    const names = new Set(models.map((m) => m.spec.name));
    for (const name of ["VoteRequest", "BeginQuorumEpochResponse", "EndQuorumEpochRequest", "FetchSnapshotResponse"])
      expect(names).toContain(name);
    for (const name of ["TopicRecord", "PartitionChangeRecord", "RegisterBrokerRecord", "ProducerIdsRecord"])
      expect(names).toContain(name);
    for (const name of ["LeaderChangeMessage", "VotersRecord", "SnapshotHeaderRecord", "QuorumStateData"])
      expect(names).toContain(name);
    expect(models.filter((m) => m.spec.type === "metadata").length).toBe(25);
  });

  it("keys the metadata records by their type id", () => {
    expect(protocol.METADATA_RECORD_CODECS[protocol.MetadataRecordType.TopicRecord]).toBe(protocol.TopicRecord);
    expect(protocol.TopicRecord.apiKey).toBe(2);
    expect(protocol.CONTROLLER_API_CODECS[protocol.ApiKey.Vote].request).toBe(protocol.VoteRequest);
    expect(Object.keys(protocol.API_CODECS)).not.toContain(String(protocol.ApiKey.Vote));
  });

  for (const model of models) roundTripsAtEveryVersion(model);
});
