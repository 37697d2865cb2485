import { describe, expect, it } from "vitest";
import { ErrorCode, ProduceRequest, ProduceResponse, encodeRecordBatch } from "../../src/protocol/index.ts";
import { inProcessBrokerPer } from "../support/in-process-broker.ts";

// KIP-937 end to end through the Produce handler: the topic's message.timestamp.before/after.max.ms (and the
// deprecated difference key standing in for a bound left at Long.MAX_VALUE) refuse CreateTime records outside the
// window around the broker's clock with INVALID_TIMESTAMP, naming each record (Produce v8+).

const h = inProcessBrokerPer("test", "produce-timestamps");

/** Produces one batch whose records lie `offsetsMs` from now; resolves with the partition's answer. */
async function produce(topic: string, offsetsMs: readonly number[]) {
  const now = Date.now();
  const records = encodeRecordBatch({
    records: offsetsMs.map((ms, i) => ({ value: Buffer.from(`v${i}`), timestamp: BigInt(now + ms) })),
  });
  const res = await h.call(9, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  const p = res.responses[0]?.partitionResponses[0];
  if (!p) throw new Error("no partition in the Produce response");
  return { errorCode: p.errorCode, indexes: (p.recordErrors ?? []).map((e) => e.batchIndex) };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("Produce with CreateTime timestamps out of bounds", () => {
  it("refuses records over an hour ahead by default, and accepts old ones", async () => {
    await h.createTopic("defaults");
    expect(await produce("defaults", [-365 * DAY, 0, HOUR / 2])).toEqual({ errorCode: ErrorCode.NONE, indexes: [] });
    expect(await produce("defaults", [0, 2 * HOUR, 1, 3 * HOUR])).toEqual({
      errorCode: ErrorCode.INVALID_TIMESTAMP,
      indexes: [1, 3],
    });
  });

  it("applies the topic's before.max.ms, and the deprecated difference key where a bound is left at Long.MAX", async () => {
    await h.createTopic("before", 1, { "message.timestamp.before.max.ms": String(DAY) });
    expect((await produce("before", [-2 * DAY, 0])).indexes).toEqual([0]);
    await h.createTopic("difference", 1, {
      "message.timestamp.difference.max.ms": String(HOUR),
      "message.timestamp.after.max.ms": "9223372036854775807",
    });
    expect(await produce("difference", [-2 * HOUR, 0, 2 * HOUR])).toEqual({
      errorCode: ErrorCode.INVALID_TIMESTAMP,
      indexes: [0, 2],
    });
    await h.createTopic("append-time", 1, { "message.timestamp.type": "LogAppendTime" });
    expect((await produce("append-time", [5 * DAY])).errorCode).toBe(ErrorCode.NONE);
  });
});
