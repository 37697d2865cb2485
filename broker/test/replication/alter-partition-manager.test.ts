import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ErrorCode, type AlterPartitionRequest, type AlterPartitionResponse } from "../../src/protocol/index.ts";
import { AlterPartitionManager, type IsrChange } from "../../src/replication/alter-partition-manager.ts";

const logger = pino({ level: "silent" });
const T1 = "00000000-0000-0000-0000-0000000000a1";
const T2 = "00000000-0000-0000-0000-0000000000a2";

function change(topicId: string, partition: number, partitionEpoch = 4): IsrChange {
  return {
    topicId,
    partition,
    proposal: {
      kind: "expand",
      leaderEpoch: 2,
      partitionEpoch,
      newIsr: [
        { brokerId: 1, brokerEpoch: 10n },
        { brokerId: 2, brokerEpoch: -1n },
      ],
    },
  };
}

/** A stub controller: requests wait until the test answers them. */
function stubController() {
  const requests: { request: AlterPartitionRequest; answer: (r: AlterPartitionResponse | Error) => void }[] = [];
  const send = (request: AlterPartitionRequest) =>
    new Promise<AlterPartitionResponse>((resolve, reject) => {
      requests.push({ request, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });
  const respond = (index: number, errorCode: number, perPartition: (topicId: string, p: number) => number) => {
    const { request, answer } = requests[index]!;
    answer({
      throttleTimeMs: 0,
      errorCode,
      topics: request.topics.map((t) => ({
        topicId: t.topicId ?? "",
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: perPartition(t.topicId ?? "", p.partitionIndex),
          leaderId: 1,
          leaderEpoch: p.leaderEpoch,
          isr: (p.newIsrWithEpochs ?? []).map((m) => m.brokerId ?? -1),
          leaderRecoveryState: 0,
          partitionEpoch: p.partitionEpoch + 1,
        })),
      })),
    });
  };
  return { requests, send, respond };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function manager(send: (r: AlterPartitionRequest) => Promise<AlterPartitionResponse>) {
  return new AlterPartitionManager({ brokerId: 1, brokerEpoch: () => 10n, send, retryBackoffMs: 1, logger });
}

describe("AlterPartitionManager", () => {
  it("sends v3 items with broker epochs, one request at a time, batching what queued meanwhile", async () => {
    const controller = stubController();
    const m = manager(controller.send);
    const answers: string[] = [];
    const record = (name: string) => (code: number) => (answers.push(`${name}:${code}`), "done" as const);
    expect(m.submit(change(T1, 0), record("t1-0"))).toBe(true);
    expect(m.submit(change(T1, 1), record("t1-1"))).toBe(true);
    expect(m.submit(change(T2, 0), record("t2-0"))).toBe(true);
    // One change per partition queued or in flight.
    expect(m.submit(change(T1, 0, 5), record("again"))).toBe(false);
    expect(m.submit(change(T1, 1, 5), record("again"))).toBe(false);
    expect(controller.requests).toHaveLength(1);
    expect(controller.requests[0]!.request).toEqual({
      brokerId: 1,
      brokerEpoch: 10n,
      topics: [
        {
          topicId: T1,
          partitions: [
            {
              partitionIndex: 0,
              leaderEpoch: 2,
              partitionEpoch: 4,
              leaderRecoveryState: 0,
              newIsrWithEpochs: [
                { brokerId: 1, brokerEpoch: 10n },
                { brokerId: 2, brokerEpoch: -1n },
              ],
            },
          ],
        },
      ],
    });
    controller.respond(0, ErrorCode.NONE, () => ErrorCode.NONE);
    await until(() => controller.requests.length === 2, "the second request");
    expect(answers).toEqual(["t1-0:0"]);
    const second = controller.requests[1]!.request.topics.map((t) => [
      t.topicId,
      t.partitions.map((p) => p.partitionIndex),
    ]);
    expect(second).toEqual([
      [T1, [1]],
      [T2, [0]],
    ]);
    controller.respond(1, ErrorCode.NONE, (t) => (t === T1 ? ErrorCode.INVALID_UPDATE_VERSION : ErrorCode.NONE));
    await until(() => answers.length === 3, "the answers");
    expect(answers).toEqual(["t1-0:0", `t1-1:${ErrorCode.INVALID_UPDATE_VERSION}`, "t2-0:0"]);
    expect(m.pending).toBe(0);
    m.close();
  });

  it("sends the whole request again after a top-level error or a failed send", async () => {
    const controller = stubController();
    const m = manager(controller.send);
    const answers: number[] = [];
    m.submit(change(T1, 0), (code) => (answers.push(code), "done"));
    controller.respond(0, ErrorCode.NOT_CONTROLLER, () => ErrorCode.NONE);
    await until(() => controller.requests.length === 2, "a retry after NOT_CONTROLLER");
    controller.requests[1]!.answer(new Error("connection refused"));
    await until(() => controller.requests.length === 3, "a retry after a failed send");
    expect(answers).toEqual([]);
    expect(controller.requests[2]!.request).toEqual(controller.requests[0]!.request);
    controller.respond(2, ErrorCode.NONE, () => ErrorCode.NONE);
    await until(() => answers.length === 1, "the answer");
    expect(answers).toEqual([ErrorCode.NONE]);
    m.close();
  });

  it("sends a partition again when its submitter asks, and answers a partition left out as UNKNOWN_SERVER_ERROR", async () => {
    const controller = stubController();
    const m = manager(controller.send);
    const answers: number[] = [];
    m.submit(change(T1, 0), (code) => (answers.push(code), answers.length === 1 ? "retry" : "done"));
    controller.requests[0]!.answer({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, topics: [] });
    await until(() => controller.requests.length === 2, "the partition sent again");
    controller.respond(1, ErrorCode.NONE, () => ErrorCode.NONE);
    await until(() => answers.length === 2, "the second answer");
    expect(answers).toEqual([ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.NONE]);
    m.close();
  });

  it("sends nothing once closed", async () => {
    const controller = stubController();
    const m = manager(controller.send);
    const answers: number[] = [];
    m.submit(change(T1, 0), (code) => (answers.push(code), "done"));
    m.close();
    expect(m.submit(change(T1, 1), () => "done")).toBe(false);
    controller.respond(0, ErrorCode.NONE, () => ErrorCode.NONE);
    await new Promise((resolve) => setImmediate(resolve));
    expect(answers).toEqual([]);
    expect(controller.requests).toHaveLength(1);
  });
});
