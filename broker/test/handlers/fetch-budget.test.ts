import { beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse } from "../../src/protocol/index.ts";
import { makeBatch } from "../log/batches.ts";
import { inProcessBrokerPer } from "../support/in-process-broker.ts";

// How a Fetch shares its byte limits among partitions, which the handler reads at once: the answer must be the one
// reading them in order gives. Partition 0 is empty; partitions 1 and 2 hold two batches of BATCH bytes each. A
// partition's records are cut at its limit (a partial batch at the end, as Kafka allows), the first non-empty partition
// gets its first batch whole even above the limits (KIP-74), and later ones get nothing rather than part of a batch.

const BATCH = makeBatch({ records: 5, valueSize: 1000 }).length;
const h = inProcessBrokerPer("file", "fetch-budget");
const call = h.call;

beforeAll(async () => {
  await h.createTopic("t", 3);
  for (const seed of [1, 2]) {
    const res = await call(9, ProduceRequest, ProduceResponse, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: "t",
          partitionData: [1, 2].map((index) => ({ index, records: makeBatch({ records: 5, valueSize: 1000, seed }) })),
        },
      ],
    });
    for (const p of res.responses[0]?.partitionResponses ?? []) expect(p.errorCode).toBe(ErrorCode.NONE);
  }
});

/** Record bytes per partition of a Fetch of all three from offset 0. */
async function fetchSizes(maxBytes: number, partitionMaxBytes: number): Promise<number[]> {
  const res = await call(12, FetchRequest, FetchResponse, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes,
    topics: [
      {
        topic: "t",
        partitions: [0, 1, 2].map((partition) => ({
          partition,
          fetchOffset: 0n,
          partitionMaxBytes,
          logStartOffset: -1n,
        })),
      },
    ],
  });
  const partitions = res.responses[0]?.partitions ?? [];
  for (const p of partitions) expect(p.errorCode).toBe(ErrorCode.NONE);
  return partitions.map((p) => p.records?.length ?? 0);
}

describe("Fetch byte limits", () => {
  it("cuts each partition at its limit, a partial batch at the end", async () => {
    expect(await fetchSizes(1 << 20, BATCH + 10)).toEqual([0, BATCH + 10, BATCH + 10]);
  });

  it("gives the first non-empty partition its first batch whole above the partition limit, and the next nothing", async () => {
    expect(await fetchSizes(1 << 20, 1000)).toEqual([0, BATCH, 0]);
  });

  it("gives the first non-empty partition its first batch whole above the response limit", async () => {
    expect(await fetchSizes(1000, 1 << 20)).toEqual([0, BATCH, 0]);
  });

  it("gives a later partition what the earlier ones left of the response limit", async () => {
    // Partition 1 takes both its batches; partition 2 gets the rest of the limit, one batch and 50 bytes.
    expect(await fetchSizes(3 * BATCH + 50, 1 << 20)).toEqual([0, 2 * BATCH, BATCH + 50]);
    // What is left is less than a batch: nothing, not part of one.
    expect(await fetchSizes(2 * BATCH + 100, 1 << 20)).toEqual([0, 2 * BATCH, 0]);
  });
});
