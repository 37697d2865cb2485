import { describe, expect, it } from "vitest";
import { StorageError, type PartitionLog } from "../../src/log/index.ts";
import { ErrorCode, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse } from "../../src/protocol/index.ts";
import { makeBatch } from "../log/batches.ts";
import { inProcessBrokerPer } from "../support/in-process-broker.ts";

// A consumer Fetch whose read fails after the handler checked the offset: retention (here DeleteRecords, which moves
// the log start the same way) runs between the check and the read, or the disk fails. Kafka answers that partition
// alone (OFFSET_OUT_OF_RANGE, KAFKA_STORAGE_ERROR, UNKNOWN_SERVER_ERROR) and the rest of the response normally; a
// dispatch that throws would make the network layer close the client's connection instead.

const h = inProcessBrokerPer("test", "fetch-read-errors");
const call = h.call;

async function setUp(): Promise<{ p0: PartitionLog; p1: PartitionLog }> {
  await h.createTopic("t", 2);
  for (const index of [0, 1]) {
    const res = await call(9, ProduceRequest, ProduceResponse, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: "t", partitionData: [{ index, records: makeBatch({ records: 3 }) }] }],
    });
    expect(res.responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.NONE);
  }
  const p0 = h.broker.services.partitions.log("t", 0);
  const p1 = h.broker.services.partitions.log("t", 1);
  if (!p0 || !p1) throw new Error("no logs for t");
  return { p0, p1 };
}

async function fetchBoth() {
  const res = await call(12, FetchRequest, FetchResponse, {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1024 * 1024,
    topics: [
      {
        topic: "t",
        partitions: [0, 1].map((partition) => ({
          partition,
          fetchOffset: 0n,
          partitionMaxBytes: 1024 * 1024,
          logStartOffset: -1n,
        })),
      },
    ],
  });
  const [p0, p1] = res.responses[0]?.partitions ?? [];
  if (!p0 || !p1) throw new Error("a partition is missing from the Fetch response");
  return { p0, p1 };
}

/** Makes the log's next read run `before` first, then read as it would have. */
function beforeNextRead(log: PartitionLog, before: () => Promise<void>): void {
  const read = log.read.bind(log);
  log.read = async (...args) => {
    log.read = read;
    await before();
    return read(...args);
  };
}

describe("a Fetch whose read fails after the offset check", () => {
  it("answers OFFSET_OUT_OF_RANGE when the log start moved past the fetch offset, and the other partition normally", async () => {
    const { p0 } = await setUp();
    beforeNextRead(p0, async () => void (await p0.deleteRecordsBefore(2n)));
    const { p0: first, p1: second } = await fetchBoth();
    expect(first.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(first.logStartOffset).toBe(2n);
    expect(first.records?.length ?? 0).toBe(0);
    expect(second.errorCode).toBe(ErrorCode.NONE);
    expect(second.records?.length ?? 0).toBeGreaterThan(0);
    // A later fetch at the same offset meets the handler's own range check: the same answer.
    expect((await fetchBoth()).p0.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it("answers KAFKA_STORAGE_ERROR for a read the disk fails, UNKNOWN_SERVER_ERROR for anything else", async () => {
    const { p0, p1 } = await setUp();
    const eio = Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
    beforeNextRead(p0, () => Promise.reject(new StorageError("t-0", "reading", eio)));
    beforeNextRead(p1, () => Promise.reject(new Error("a bug")));
    const { p0: first, p1: second } = await fetchBoth();
    expect(first.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(second.errorCode).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    const again = await fetchBoth();
    expect([again.p0.errorCode, again.p1.errorCode]).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  });
});
