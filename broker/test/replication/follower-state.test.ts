import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.ts";
import {
  decide,
  followerHighWatermark,
  isFetchable,
  logStartToAdopt,
  nextRetryAt,
  outOfRangeAction,
  partitionFetch,
  truncationOffset,
  wholeBatchesFrom,
  type FollowerLogView,
  type PartitionAnswer,
  type PartitionFetchState,
} from "../../src/replication/fetcher/follower-state.ts";
import { makeBatch, patched } from "../log/batches.ts";

// The follower's pure decisions, against Kafka's AbstractFetcherThread rules (KIP-101, KIP-279, KIP-320).

/** A follower log with the given epoch entries (epoch → start offset) and end offset, answering as the real one. */
function logView(epochs: [number, bigint][], end: bigint, start = 0n): FollowerLogView {
  return {
    logStartOffset: start,
    logEndOffset: end,
    latestEpoch: () => epochs[epochs.length - 1]?.[0],
    endOffsetForEpoch: (requested) => {
      const latest = epochs[epochs.length - 1];
      if (requested < 0 || latest === undefined) return { epoch: -1, endOffset: -1n };
      if (requested === latest[0]) return { epoch: requested, endOffset: end };
      const higher = epochs.findIndex(([e]) => e > requested);
      if (higher < 0) return { epoch: -1, endOffset: -1n };
      const floor = epochs[higher - 1];
      return { epoch: floor === undefined ? requested : floor[0], endOffset: epochs[higher]![1] };
    },
  };
}

const state = (leaderEpoch = 5, status: PartitionFetchState["status"] = { kind: "fetching" }): PartitionFetchState => ({
  topicId: "id",
  topic: "t",
  partition: 0,
  leaderEpoch,
  status,
});

const answer = (fields: Partial<PartitionAnswer> = {}): PartitionAnswer => ({
  errorCode: ErrorCode.NONE,
  highWatermark: 10n,
  logStartOffset: 0n,
  records: null,
  ...fields,
});

describe("what to fetch", () => {
  it("fetches from the log end, naming the log's latest epoch and the current leader epoch", () => {
    expect(
      partitionFetch(
        state(5),
        logView(
          [
            [1, 0n],
            [3, 4n],
          ],
          9n,
          2n,
        ),
        1024,
      ),
    ).toEqual({
      partition: 0,
      currentLeaderEpoch: 5,
      fetchOffset: 9n,
      lastFetchedEpoch: 3,
      logStartOffset: 2n,
      partitionMaxBytes: 1024,
    });
    expect(partitionFetch(state(5), logView([], 0n), 1024).lastFetchedEpoch).toBe(-1);
  });

  it("skips fenced partitions and delayed ones until their backoff is over", () => {
    expect(isFetchable(state(1, { kind: "fetching" }), 100)).toBe(true);
    expect(isFetchable(state(1, { kind: "fenced" }), 100)).toBe(false);
    expect(isFetchable(state(1, { kind: "delayed", until: 150 }), 100)).toBe(false);
    expect(isFetchable(state(1, { kind: "delayed", until: 150 }), 150)).toBe(true);
    expect(
      nextRetryAt([state(1, { kind: "delayed", until: 300 }), state(1, { kind: "delayed", until: 200 }), state(1)]),
    ).toBe(200);
    expect(nextRetryAt([state(1), state(1, { kind: "fenced" })])).toBeUndefined();
  });
});

describe("what an answer asks for", () => {
  const log = logView([[5, 0n]], 4n);
  const sent = partitionFetch(state(5), log, 1024);

  it("appends records and takes the leader's HW and log start", () => {
    const batch = patched(makeBatch({ records: 2 }), 4n, 5);
    expect(
      decide(sent, state(5), log, answer({ records: batch, highWatermark: 6n, logStartOffset: 1n }), 0, 10),
    ).toEqual({ kind: "append", records: batch, leaderHighWatermark: 6n, leaderLogStartOffset: 1n });
  });

  it("ignores an answer to a request for another leader epoch or from another offset", () => {
    expect(decide(sent, state(6), log, answer(), 0, 10)).toEqual({ kind: "ignore" });
    expect(decide(sent, undefined, log, answer(), 0, 10)).toEqual({ kind: "ignore" });
    expect(decide(sent, state(5), logView([[5, 0n]], 3n), answer(), 0, 10)).toEqual({ kind: "ignore" });
  });

  it("truncates on a diverging epoch, out-of-range asks the leader, fenced pauses, other errors back off", () => {
    const diverging = answer({ divergingEpoch: { epoch: 5, endOffset: 2n } });
    expect(decide(sent, state(5), log, diverging, 0, 10)).toEqual({ kind: "truncate", offset: 2n });
    // Kafka's defaults (-1, -1) mean no divergence.
    const none = answer({ divergingEpoch: { epoch: -1, endOffset: -1n }, records: Buffer.alloc(0) });
    expect(decide(sent, state(5), log, none, 0, 10).kind).toBe("append");
    const error = (errorCode: number) => decide(sent, state(5), log, answer({ errorCode }), 100, 10);
    expect(error(ErrorCode.OFFSET_OUT_OF_RANGE)).toEqual({ kind: "out-of-range" });
    expect(error(ErrorCode.FENCED_LEADER_EPOCH)).toEqual({ kind: "fence" });
    for (const code of [
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      ErrorCode.UNKNOWN_LEADER_EPOCH,
      ErrorCode.KAFKA_STORAGE_ERROR,
    ])
      expect(error(code)).toEqual({ kind: "delay", until: 110, errorCode: code });
  });
});

describe("truncation offset (getOffsetTruncationState)", () => {
  // Follower: epoch 1 from 0, epoch 3 from 10, epoch 4 from 15; log end 20.
  const log = logView(
    [
      [1, 0n],
      [3, 10n],
      [4, 15n],
    ],
    20n,
  );

  it("cuts at the lower end of the shared epoch", () => {
    expect(truncationOffset({ epoch: 3, endOffset: 12n }, log)).toBe(12n);
    expect(truncationOffset({ epoch: 3, endOffset: 18n }, log)).toBe(15n);
  });

  it("cuts at the end of its own largest epoch below one it does not know, to ask again (KIP-279)", () => {
    // The leader's epoch 2 is unknown here: cut where epoch 1 ends (10); the next fetch names epoch 1.
    expect(truncationOffset({ epoch: 2, endOffset: 12n }, log)).toBe(10n);
  });

  it("cuts at the leader's offset when either side knows no epoch at or below it", () => {
    expect(truncationOffset({ epoch: -1, endOffset: 7n }, log)).toBe(7n);
    expect(truncationOffset({ epoch: 0, endOffset: 7n }, logView([], 20n))).toBe(7n);
  });

  it("never cuts beyond its own end, and not at all without a leader offset", () => {
    expect(truncationOffset({ epoch: 4, endOffset: 30n }, log)).toBe(20n);
    expect(truncationOffset({ epoch: 3, endOffset: -1n }, log)).toBe(20n);
  });
});

describe("out of range, high watermark and log start", () => {
  it("truncates to a leader that is behind, restarts at a leader start that is ahead, else changes nothing", () => {
    expect(outOfRangeAction(50n, 40n, 0n)).toEqual({ kind: "truncate", offset: 40n });
    expect(outOfRangeAction(5n, 40n, 20n)).toEqual({ kind: "start-at", offset: 20n });
    expect(outOfRangeAction(25n, 40n, 20n)).toEqual({ kind: "none" });
  });

  it("takes the leader's HW bounded by its own end, and its log start once its HW passed it", () => {
    expect(followerHighWatermark(10n, 7n)).toBe(7n);
    expect(followerHighWatermark(5n, 7n)).toBe(5n);
    const log = logView([[1, 0n]], 20n, 2n);
    expect(logStartToAdopt(8n, log, 10n)).toBe(8n);
    expect(logStartToAdopt(12n, log, 10n)).toBeUndefined();
    expect(logStartToAdopt(1n, log, 10n)).toBeUndefined();
  });
});

describe("wholeBatchesFrom", () => {
  const a = patched(makeBatch({ records: 2, seed: 1 }), 0n, 1);
  const b = patched(makeBatch({ records: 3, seed: 2 }), 2n, 1);
  const c = patched(makeBatch({ records: 1, seed: 3 }), 5n, 1);

  it("drops a batch cut short at the end and batches wholly below the fetch offset", () => {
    const records = Buffer.concat([a, b, c.subarray(0, 30)]);
    expect(wholeBatchesFrom(records, 0n)).toEqual(Buffer.concat([a, b]));
    expect(wholeBatchesFrom(records, 2n)).toEqual(b);
    // The batch holding the fetch offset stays whole.
    expect(wholeBatchesFrom(Buffer.concat([a, b, c]), 3n)).toEqual(Buffer.concat([b, c]));
    expect(wholeBatchesFrom(null, 0n)).toEqual(Buffer.alloc(0));
  });
});
