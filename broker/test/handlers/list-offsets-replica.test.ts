import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ErrorCode,
  ListOffsetsRequest,
  ListOffsetsResponse,
  PartitionRecord,
  ProduceRequest,
  ProduceResponse,
  TopicRecord,
} from "../../src/protocol/index.ts";
import { makeBatch } from "../log/batches.ts";
import { ImageHarness, rec, registeredBroker } from "../support/image-harness.ts";

// ListOffsets' latest offset is the high watermark for consumers and the log end for replicas (Kafka answers a
// replica id other than -1 so): a follower whose fetch offset is out of range asks the leader where its log ends.

const T = "00000000-0000-0000-0000-0000000000d1";

let h: ImageHarness;

beforeEach(async () => {
  h = await ImageHarness.start(1);
  await h.publish([
    ...[1, 2].map((id) => registeredBroker(id, BigInt(id))),
    rec(TopicRecord, { name: "t", topicId: T }),
    rec(PartitionRecord, { topicId: T, partitionId: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 3 }),
  ]);
});

afterEach(async () => {
  await h.close();
});

describe("ListOffsets latest", () => {
  it("is the HW for a consumer and the log end for a replica", async () => {
    const produced = await h.call(9, ProduceRequest, ProduceResponse, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 5000,
      topicData: [{ name: "t", partitionData: [{ index: 0, records: makeBatch({ records: 3 }) }] }],
    });
    expect(produced.responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.NONE);
    const latest = async (replicaId: number) =>
      (
        await h.call(9, ListOffsetsRequest, ListOffsetsResponse, {
          replicaId,
          topics: [{ name: "t", partitions: [{ partitionIndex: 0, currentLeaderEpoch: 3, timestamp: -1n }] }],
        })
      ).topics[0]?.partitions[0]?.offset;
    // Broker 2, in the ISR, has fetched nothing yet: the HW has not moved.
    expect(await latest(-1)).toBe(0n);
    expect(await latest(2)).toBe(3n);
    expect(await latest(-2)).toBe(3n);
  });
});
