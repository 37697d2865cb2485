import { beforeEach, describe, expect, it } from "vitest";
import type { DispatchConnection } from "../../src/handlers/dispatcher.ts";
import {
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  ProduceRequest,
  ProduceResponse,
  ZERO_UUID,
  type MessageCodec,
} from "../../src/protocol/index.ts";
import { makeBatch } from "../log/batches.ts";
import { dispatchCall, inProcessBrokerPer } from "../support/in-process-broker.ts";

// Produce and Fetch whose partition log closes while they are in flight, because the topic is deleted or the broker
// shuts down. The dispatcher must answer them per partition as Kafka does (UNKNOWN_TOPIC_OR_PARTITION for a deleted
// topic, NOT_LEADER_OR_FOLLOWER while shutting down): a dispatch that throws makes the network layer close the
// client's connection. In process, on real logs in a temporary directory.

const h = inProcessBrokerPer("test", "closed-log");
/** Reasons the broker gave for closing the connection after a response; none are expected. */
let closeReasons: string[];

const connection = (): DispatchConnection => ({
  id: "closed-log-1",
  listenerName: "PLAINTEXT",
  remoteAddress: "127.0.0.1",
  logger: h.logger,
  signal: new AbortController().signal,
  closeAfterResponse: (reason) => closeReasons.push(reason),
});

function call<Req, Res>(
  version: number,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  body: Partial<Req>,
): Promise<Res> {
  return dispatchCall(h.broker, connection(), version, request, response, body);
}

async function createTopic(name: string): Promise<void> {
  const res = await call(7, CreateTopicsRequest, CreateTopicsResponse, {
    topics: [{ name, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }],
    timeoutMs: 5000,
  });
  expect(res.topics[0]?.errorCode).toBe(ErrorCode.NONE);
}

async function deleteTopic(name: string): Promise<void> {
  const res = await call(6, DeleteTopicsRequest, DeleteTopicsResponse, {
    topics: [{ name, topicId: ZERO_UUID }],
    timeoutMs: 5000,
  });
  expect(res.responses[0]?.errorCode).toBe(ErrorCode.NONE);
}

async function produce(topic: string): Promise<{ errorCode: number; errorMessage: string | null }> {
  const res = await call(9, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: makeBatch({ records: 2 }) }] }],
  });
  const p = res.responses[0]?.partitionResponses[0];
  if (!p) throw new Error("no partition in the Produce response");
  return { errorCode: p.errorCode, errorMessage: p.errorMessage ?? null };
}

function fetch(topic: string, fetchOffset: bigint, maxWaitMs: number) {
  return call(12, FetchRequest, FetchResponse, {
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1024 * 1024,
    topics: [
      { topic, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: 1024 * 1024, logStartOffset: -1n }] },
    ],
  }).then((res) => res.responses[0]?.partitions[0]?.errorCode);
}

beforeEach(() => {
  closeReasons = [];
});

describe("a partition log that closes under a request", () => {
  it("answers every produce racing a topic deletion, the late ones with UNKNOWN_TOPIC_OR_PARTITION", async () => {
    // Streams of produces run while the topic is deleted, round after round, until some produce has passed the
    // topic lookup before the deletion and reached the log after it closed: the window this test is about.
    const deadline = Date.now() + 30_000;
    let hitClosedLog = 0;
    let answered = 0;
    for (let round = 0; hitClosedLog === 0; round++) {
      if (Date.now() > deadline) throw new Error(`no produce reached a closed log in ${round} rounds`);
      const topic = `doomed-${round}`;
      await createTopic(topic);
      let deleted = false;
      const stream = async () => {
        const codes: { errorCode: number; errorMessage: string | null }[] = [];
        // Each stream stops at its first answer after the deletion finished, so every stream sees the end.
        for (;;) {
          const after = deleted;
          const outcome = await produce(topic);
          codes.push(outcome);
          if (after) return codes;
          // An in-memory append can complete without I/O; yield so the deletion's file work gets its turn.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      };
      const streams = Array.from({ length: 8 }, stream);
      await deleteTopic(topic);
      deleted = true;
      for (const outcome of (await Promise.all(streams)).flat()) {
        answered++;
        expect([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]).toContain(outcome.errorCode);
        if (outcome.errorMessage === `partition ${topic}-0 was deleted`) hitClosedLog++;
      }
    }
    expect(answered).toBeGreaterThan(0);
    expect(closeReasons).toEqual([]);
  });

  it("answers a long-polling fetch on a deleted topic with UNKNOWN_TOPIC_OR_PARTITION, without waiting it out", async () => {
    await createTopic("fetched");
    expect((await produce("fetched")).errorCode).toBe(ErrorCode.NONE);
    const started = Date.now();
    // At the high watermark with min_bytes 1, so it waits for data that never comes.
    const polling = fetch("fetched", 2n, 20_000);
    await deleteTopic("fetched");
    expect(await polling).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(closeReasons).toEqual([]);
  });

  it("answers produces that reach a log closed by shutdown with NOT_LEADER_OR_FOLLOWER", async () => {
    await createTopic("closing");
    expect((await produce("closing")).errorCode).toBe(ErrorCode.NONE);
    await h.broker.close();
    const late = await produce("closing");
    expect(late.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // The controlled shutdown took the leadership away first (as in Kafka); a log closing under a request would say
    // "shutting down".
    expect(late.errorMessage).toMatch(/shutting down|does not lead closing-0/);
    expect(closeReasons).toEqual([]);
  });
});
