import { afterEach, describe, expect, it } from "vitest";
import {
  decodeResponse,
  encodeRequest,
  ErrorCode,
  ListOffsetsRequest,
  ListOffsetsResponse,
  PartitionChangeRecord,
  PartitionRecord,
  ProduceRequest,
  ProduceResponse,
  TopicRecord,
} from "../../src/protocol/index.ts";
import { makeBatch } from "../log/batches.ts";
import { TestClient, waitFor } from "../network/helpers.ts";
import { ImageHarness, rec, registeredBroker, topicConfig } from "../support/image-harness.ts";

// ADR 31: on one connection, a Produce starts as soon as every append of the acks=all Produce before it is done, while
// that one waits for the ISR; the responses still leave in request order, and any other request waits until
// everything before it is answered. Broker 1 leads r-0 and r-1 (replicas 1, 2, 3, leader epoch 3); the followers'
// fetches are played by hand, so a request waits for the ISR exactly as long as the test wants. The requests go
// through a real listener and connection.

const T = "00000000-0000-0000-0000-0000000000c2";
const PRODUCE_VERSION = 11;
const LIST_OFFSETS_VERSION = 9;

let h: ImageHarness | undefined;
let client: TestClient | undefined;

afterEach(async () => {
  client?.destroy();
  client = undefined;
  await h?.close();
  h = undefined;
});

async function start(options: { isr1?: number[]; minIsr?: number } = {}): Promise<{ h: ImageHarness; c: TestClient }> {
  h = await ImageHarness.start(1);
  const partition = (partitionId: number, isr: number[]) =>
    rec(PartitionRecord, {
      topicId: T,
      partitionId,
      replicas: [1, 2, 3],
      isr,
      leader: 1,
      leaderEpoch: 3,
      partitionEpoch: 0,
    });
  await h.publish([
    ...[1, 2, 3].map((id) => registeredBroker(id, BigInt(id * 10))),
    rec(TopicRecord, { name: "r", topicId: T }),
    partition(0, [1, 2, 3]),
    partition(1, options.isr1 ?? [1, 2, 3]),
    ...(options.minIsr === undefined ? [] : [topicConfig("r", "min.insync.replicas", String(options.minIsr))]),
  ]);
  client = await TestClient.connect(await h.listen());
  return { h, c: client };
}

let correlationId = 0;

interface Batch {
  partition: number;
  records: number;
  /** An idempotent producer's batch: producer 7, epoch 0, this first sequence. */
  sequence?: number;
}

/** A Produce request's frame (without the size prefix) and its correlation id. */
function produce(batches: Batch[], acks = -1): { id: number; frame: Buffer } {
  const id = ++correlationId;
  const header = { apiKey: ProduceRequest.apiKey, apiVersion: PRODUCE_VERSION, correlationId: id, clientId: "pipe" };
  const partitionData = batches.map((b) => ({
    index: b.partition,
    records: makeBatch({
      records: b.records,
      seed: id,
      ...(b.sequence === undefined ? {} : { producer: { id: 7n, epoch: 0, sequence: b.sequence } }),
    }),
  }));
  const body = {
    ...ProduceRequest.create(),
    transactionalId: null,
    acks,
    timeoutMs: 10_000,
    topicData: [{ name: "r", partitionData }],
  };
  return { id, frame: encodeRequest(header, ProduceRequest, body) };
}

/** A Produce response: its correlation id and, per partition in request order, the error and base offset. */
function produceAnswer(frame: Buffer | undefined): { id: number; partitions: [number, number, bigint][] } {
  if (frame === undefined) throw new Error("no such response");
  const { correlationId: id, body } = decodeResponse(frame, ProduceRequest.apiKey, PRODUCE_VERSION, ProduceResponse);
  const partitions = (body.responses[0]?.partitionResponses ?? []).map((p): [number, number, bigint] => [
    p.index,
    p.errorCode,
    p.baseOffset,
  ]);
  return { id, partitions };
}

/** Followers 2 and 3 fetch `partition` from `offset`: their position moves the high watermark there. */
function followersAt(harness: ImageHarness, partition: number, offset: bigint): void {
  for (const replicaId of [2, 3]) {
    const outcome = harness.partitions.followerFetch("r", partition, {
      replicaId,
      brokerEpoch: BigInt(replicaId * 10),
      fetchOffset: offset,
      logStartOffset: -1n,
      lastFetchedEpoch: -1,
      hasLeaderEpoch: true,
    });
    expect(outcome.kind).toBe("read");
  }
}

const logEnd = (harness: ImageHarness, partition: number) => harness.partitions.log("r", partition)?.logEndOffset;

describe("pipelined Produce requests on one connection (ADR 31)", () => {
  it("appends the next Produce while the one before waits for the ISR, and answers them in request order", async () => {
    const { h, c } = await start();
    const first = produce([{ partition: 0, records: 3 }]);
    const second = produce([{ partition: 0, records: 2 }]);
    c.send(first.frame, second.frame);
    // The second request's batch is appended behind the first's before the first is answered.
    await waitFor(() => logEnd(h, 0) === 5n, "the second request's append");
    expect(c.responses).toEqual([]);
    followersAt(h, 0, 3n);
    await c.waitForResponses(1);
    expect(produceAnswer(c.responses[0])).toEqual({ id: first.id, partitions: [[0, ErrorCode.NONE, 0n]] });
    // The second still waits: the ISR has only the first batch.
    followersAt(h, 0, 5n);
    await c.waitForResponses(2);
    expect(produceAnswer(c.responses[1])).toEqual({ id: second.id, partitions: [[0, ErrorCode.NONE, 3n]] });
  });

  it("holds a later response that is ready until the earlier ones are written", async () => {
    const { h, c } = await start();
    const waiting = produce([{ partition: 0, records: 3 }]);
    // acks=1: answered as soon as it is appended, which is while the first still waits for the ISR.
    const quick = produce([{ partition: 1, records: 2 }], 1);
    c.send(waiting.frame, quick.frame);
    await waitFor(() => logEnd(h, 1) === 2n, "the acks=1 append");
    followersAt(h, 0, 3n);
    await c.waitForResponses(2);
    expect(c.responses.map((r) => produceAnswer(r))).toEqual([
      { id: waiting.id, partitions: [[0, ErrorCode.NONE, 0n]] },
      { id: quick.id, partitions: [[1, ErrorCode.NONE, 0n]] },
    ]);
  });

  it("starts a request that is not a Produce only once the Produces before it are answered", async () => {
    const { h, c } = await start();
    const waiting = produce([{ partition: 0, records: 3 }]);
    const id = ++correlationId;
    const header = {
      apiKey: ListOffsetsRequest.apiKey,
      apiVersion: LIST_OFFSETS_VERSION,
      correlationId: id,
      clientId: "pipe",
    };
    const latest = encodeRequest(header, ListOffsetsRequest, {
      ...ListOffsetsRequest.create(),
      replicaId: -1,
      topics: [
        { name: "r", partitions: [{ partitionIndex: 0, currentLeaderEpoch: 3, timestamp: -1n, maxNumOffsets: 1 }] },
      ],
    });
    c.send(waiting.frame, latest);
    await waitFor(() => logEnd(h, 0) === 3n, "the append");
    followersAt(h, 0, 3n);
    await c.waitForResponses(2);
    expect(produceAnswer(c.responses[0]).id).toBe(waiting.id);
    const answer = decodeResponse(
      c.responses[1]!,
      ListOffsetsRequest.apiKey,
      LIST_OFFSETS_VERSION,
      ListOffsetsResponse,
    );
    expect(answer.correlationId).toBe(id);
    // Read after the Produce was answered: the high watermark the followers moved, not the 0 it was before.
    expect(answer.body.topics[0]?.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, offset: 3n });
  });

  it("keeps an idempotent producer's batches in order and fails a pipelined batch as its refused predecessor", async () => {
    // r-1's ISR is below min.insync.replicas: its acks=all batches are refused unwritten until the ISR is back.
    const { h, c } = await start({ isr1: [1], minIsr: 2 });
    // The producer's first batch on r-1 (acks=1, which the ISR does not hold up): r-1 knows its sequence from now on.
    const known = produce([{ partition: 1, records: 1, sequence: 0 }], 1);
    c.send(known.frame);
    await c.waitForResponses(1);
    expect(produceAnswer(c.responses[0])).toEqual({ id: known.id, partitions: [[1, ErrorCode.NONE, 0n]] });
    const first = produce([
      { partition: 0, records: 3, sequence: 0 },
      { partition: 1, records: 2, sequence: 1 },
    ]);
    c.send(first.frame);
    await waitFor(() => logEnd(h, 0) === 3n, "the first request's append");
    // While the first request waits for r-0's ISR, r-1's ISR comes back and the producer's next request arrives.
    await h.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 1, isr: [1, 2, 3] })]);
    const second = produce([
      { partition: 0, records: 1, sequence: 3 },
      { partition: 1, records: 1, sequence: 3 },
    ]);
    c.send(second.frame);
    await waitFor(() => logEnd(h, 0) === 4n, "the second request's append");
    expect(c.responses.length).toBe(1);
    followersAt(h, 0, 4n);
    await c.waitForResponses(3);
    // r-1's sequence 3 is out of order only because sequence 1 was refused: it is refused the same way, so the
    // producer resends both in order (not OUT_OF_ORDER_SEQUENCE_NUMBER, see idempotent-refusal.test.ts).
    expect(c.responses.slice(1).map((r) => produceAnswer(r))).toEqual([
      {
        id: first.id,
        partitions: [
          [0, ErrorCode.NONE, 0n],
          [1, ErrorCode.NOT_ENOUGH_REPLICAS, -1n],
        ],
      },
      {
        id: second.id,
        partitions: [
          [0, ErrorCode.NONE, 3n],
          [1, ErrorCode.NOT_ENOUGH_REPLICAS, -1n],
        ],
      },
    ]);
    expect(logEnd(h, 1)).toBe(1n);
  });

  it("fails a pipelined batch written behind one whose ISR shrank below min.insync.replicas, as that one", async () => {
    const { h, c } = await start({ minIsr: 2 });
    const first = produce([{ partition: 0, records: 3, sequence: 0 }]);
    const second = produce([{ partition: 0, records: 2, sequence: 3 }]);
    c.send(first.frame, second.frame);
    await waitFor(() => logEnd(h, 0) === 5n, "both appends");
    await h.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, isr: [1] })]);
    await c.waitForResponses(2);
    expect(c.responses.map((r) => produceAnswer(r))).toEqual([
      { id: first.id, partitions: [[0, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, -1n]] },
      { id: second.id, partitions: [[0, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, -1n]] },
    ]);
    // Resent once the ISR is back, both are duplicates of what was written: the same offsets, nothing appended.
    await h.publish([rec(PartitionChangeRecord, { topicId: T, partitionId: 0, isr: [1, 2, 3] })]);
    const retry = produce([{ partition: 0, records: 3, sequence: 0 }]);
    const retry2 = produce([{ partition: 0, records: 2, sequence: 3 }]);
    c.send(retry.frame, retry2.frame);
    followersAt(h, 0, 5n);
    await c.waitForResponses(4);
    expect(c.responses.slice(2).map((r) => produceAnswer(r))).toEqual([
      { id: retry.id, partitions: [[0, ErrorCode.NONE, 0n]] },
      { id: retry2.id, partitions: [[0, ErrorCode.NONE, 3n]] },
    ]);
    expect(logEnd(h, 0)).toBe(5n);
  });
});
