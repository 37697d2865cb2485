import { describe, expect, it } from "vitest";
import {
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  VoteRequest,
  VoteResponse,
  decodeRecordBatch,
  splitBatches,
  type MessageCodec,
} from "../../src/protocol/index.ts";
import {
  METADATA_TOPIC_ID,
  decodeEntries,
  encodeEntries,
  fromWireRequest,
  fromWireResponse,
  toWireRequest,
  toWireResponse,
  type WireRequest,
  type WireResponse,
} from "../../src/quorum/wire.ts";
import type { LogEntry, RaftMessage } from "../../src/raft/index.ts";

const ctx = { clusterId: "MkU3OEVBNTcwNTJENDM2Qg", destination: 2, fetchMaxWaitMs: 500 };

const REQUEST_CODECS = {
  52: VoteRequest,
  53: BeginQuorumEpochRequest,
  54: EndQuorumEpochRequest,
  1: FetchRequest,
  59: FetchSnapshotRequest,
} as unknown as Record<number, MessageCodec<object>>;
const RESPONSE_CODECS = {
  52: VoteResponse,
  53: BeginQuorumEpochResponse,
  54: EndQuorumEpochResponse,
  1: FetchResponse,
  59: FetchSnapshotResponse,
} as unknown as Record<number, MessageCodec<object>>;

/** Through the bytes of one version and back. */
function viaRequest(message: RaftMessage, version: number): RaftMessage {
  const wire = toWireRequest(message, ctx, version);
  const codec = REQUEST_CODECS[wire.apiKey];
  if (!codec) throw new Error("no codec");
  const decoded = codec.decode(codec.encode(wire.request, version), version);
  const back = fromWireRequest({ apiKey: wire.apiKey, request: decoded } as WireRequest);
  expect(back.clusterId).toBe(ctx.clusterId);
  return back.message;
}

function viaResponse(message: RaftMessage, request: RaftMessage, version: number): RaftMessage {
  const wire = toWireResponse(message);
  const codec = RESPONSE_CODECS[wire.apiKey];
  if (!codec) throw new Error("no codec");
  const decoded = codec.decode(codec.encode(wire.response, version), version);
  return fromWireResponse({ apiKey: wire.apiKey, response: decoded } as WireResponse, request);
}

const data = (offset: number, epoch: number, text: string, lastInBatch: boolean): LogEntry => ({
  offset,
  epoch,
  lastInBatch,
  record: { kind: "data", data: Buffer.from(text) },
});

describe("quorum messages on the wire", () => {
  it("Vote carries pre-vote from v2 on, and everything else at every version", () => {
    const vote: RaftMessage = {
      type: "VoteRequest",
      epoch: 7,
      candidateId: 3,
      lastEpoch: 6,
      lastOffset: 120,
      preVote: true,
    };
    expect(viaRequest(vote, 2)).toEqual(vote);
    const real = { ...vote, preVote: false };
    expect(viaRequest(real, 1)).toEqual(real);
    expect(viaRequest(real, 0)).toEqual(real);
    // Below v2 a pre-vote would arrive as a real vote.
    expect(() => toWireRequest(vote, ctx, 1)).toThrow(/pre-vote needs Vote v2/);
    const answer: RaftMessage = {
      type: "VoteResponse",
      epoch: 6,
      leaderId: null,
      granted: true,
      preVote: true,
      error: "NONE",
    };
    for (const v of [0, 1, 2]) expect(viaResponse(answer, vote, v)).toEqual(answer);
  });

  it("BeginQuorumEpoch and EndQuorumEpoch round-trip at every version", () => {
    const begin: RaftMessage = { type: "BeginQuorumEpochRequest", epoch: 4, leaderId: 1 };
    const end: RaftMessage = { type: "EndQuorumEpochRequest", epoch: 4, leaderId: 1, preferredSuccessors: [3, 2] };
    const fenced: RaftMessage = { type: "EndQuorumEpochResponse", epoch: 5, leaderId: 2, error: "FENCED_LEADER_EPOCH" };
    for (const v of [0, 1]) {
      expect(viaRequest(begin, v)).toEqual(begin);
      expect(viaRequest(end, v)).toEqual(end);
      expect(viaResponse(fenced, end, v)).toEqual(fenced);
      const ok: RaftMessage = { type: "BeginQuorumEpochResponse", epoch: 4, leaderId: 1, error: "NONE" };
      expect(viaResponse(ok, begin, v)).toEqual(ok);
    }
  });

  it("Fetch addresses the metadata topic by id and carries diverging epochs and entries", () => {
    const fetch: RaftMessage = { type: "FetchRequest", epoch: 4, replicaId: 2, fetchOffset: 10, lastFetchedEpoch: 3 };
    for (const v of [13, 15, 17]) expect(viaRequest(fetch, v)).toEqual(fetch);
    expect(toWireRequest(fetch, ctx, 17).request).toMatchObject({ topics: [{ topicId: METADATA_TOPIC_ID }] });

    const entries: LogEntry[] = [
      data(10, 4, "a", false),
      data(11, 4, "b", true),
      { offset: 12, epoch: 5, lastInBatch: true, record: { kind: "leaderChange", leaderId: 1, voters: [1, 2, 3] } },
      data(13, 5, "c", true),
    ];
    const answer: RaftMessage = {
      type: "FetchResponse",
      epoch: 5,
      leaderId: 1,
      error: "NONE",
      highWatermark: 12,
      entries,
      divergingEpoch: null,
      snapshotId: null,
    };
    const back = viaResponse(answer, fetch, 17);
    expect(back).toEqual({ ...answer, entries: expect.any(Array) as unknown });
    if (back.type !== "FetchResponse") throw new Error("not a fetch answer");
    expect(back.entries.map((e) => [e.offset, e.epoch, e.lastInBatch, e.record.kind])).toEqual(
      entries.map((e) => [e.offset, e.epoch, e.lastInBatch, e.record.kind]),
    );
    expect(back.entries[2]?.record).toEqual({ kind: "leaderChange", leaderId: 1, voters: [1, 2, 3] });

    const diverging: RaftMessage = { ...answer, entries: [], divergingEpoch: { epoch: 3, offset: 8 } };
    expect(viaResponse(diverging, fetch, 17)).toEqual(diverging);
    const snapshot: RaftMessage = { ...answer, entries: [], snapshotId: { epoch: 4, offset: 11 } };
    expect(viaResponse(snapshot, fetch, 17)).toEqual(snapshot);
  });

  it("FetchSnapshot round-trips at v0 and v1: snapshot id, position, size and the chunk", () => {
    const request: RaftMessage = {
      type: "FetchSnapshotRequest",
      epoch: 7,
      replicaId: 3,
      snapshotId: { offset: 1234, epoch: 6 },
      position: 4096,
      maxBytes: 8192,
    };
    const answer: RaftMessage = {
      type: "FetchSnapshotResponse",
      epoch: 7,
      leaderId: 1,
      error: "NONE",
      snapshotId: { offset: 1234, epoch: 6 },
      size: 9000,
      position: 4096,
      data: Buffer.from("chunk"),
    };
    for (const version of [0, 1]) {
      expect(viaRequest(request, version)).toEqual(request);
      expect(viaResponse(answer, request, version)).toEqual(answer);
      const missing = { ...answer, error: "SNAPSHOT_NOT_FOUND" as const, size: 0, data: Buffer.alloc(0) };
      expect(viaResponse(missing, request, version)).toEqual(missing);
    }
  });

  it("writes one record batch per core batch, the leader change as a control batch at its epoch", () => {
    const bytes = encodeEntries([
      data(0, 1, "x", false),
      data(1, 1, "y", true),
      { offset: 2, epoch: 2, lastInBatch: true, record: { kind: "leaderChange", leaderId: 3, voters: [1, 2, 3] } },
    ]);
    const batches = splitBatches(bytes).batches.map((b) => decodeRecordBatch(b));
    expect(
      batches.map((b) => [b.header.baseOffset, b.header.partitionLeaderEpoch, b.control, b.records.length]),
    ).toEqual([
      [0n, 1, false, 2],
      [2n, 2, true, 1],
    ]);
    expect(batches[1]?.records[0]?.key?.toString("hex")).toBe("00000002");
    expect(decodeEntries(bytes).map((e) => e.offset)).toEqual([0, 1, 2]);
  });

  it("carries KIP-853's KRaftVersionRecord and VotersRecord as control records, with directory ids and endpoints", () => {
    const voters = [
      {
        id: 1,
        directoryId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        endpoints: [{ name: "CONTROLLER", host: "127.0.0.1", port: 9093 }],
        kraftVersion: { min: 0, max: 1 },
      },
      { id: 2, directoryId: null, endpoints: [], kraftVersion: { min: 0, max: 1 } },
    ];
    const entries: LogEntry[] = [
      { offset: 0, epoch: 1, lastInBatch: false, record: { kind: "leaderChange", leaderId: 1, voters: [1, 2] } },
      { offset: 1, epoch: 1, lastInBatch: false, record: { kind: "kraftVersion", version: 1 } },
      { offset: 2, epoch: 1, lastInBatch: true, record: { kind: "voters", voters } },
    ];
    const bytes = encodeEntries(entries);
    const [batch] = splitBatches(bytes).batches.map((b) => decodeRecordBatch(b));
    expect(batch?.control).toBe(true);
    // Kafka's ControlRecordType: 5 KRAFT_VERSION, 6 KRAFT_VOTERS.
    expect(batch?.records.map((r) => r.key?.toString("hex"))).toEqual(["00000002", "00000005", "00000006"]);
    expect(decodeEntries(bytes)).toEqual(entries);
  });

  it("refuses requests for other topics or partitions", () => {
    const wire = toWireRequest({ type: "BeginQuorumEpochRequest", epoch: 1, leaderId: 1 }, ctx, 1);
    if (wire.apiKey !== 53) throw new Error("unexpected api");
    const other = {
      ...wire.request,
      topics: [{ topicName: "other", partitions: wire.request.topics[0]?.partitions ?? [] }],
    };
    expect(() => fromWireRequest({ apiKey: 53, request: other })).toThrow(/__cluster_metadata-0 alone/);
  });
});
