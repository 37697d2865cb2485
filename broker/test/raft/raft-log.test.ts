import { describe, expect, it } from "vitest";
import { RaftLog, type LogEntry } from "../../src/raft/index.ts";

function entries(epochs: number[]): LogEntry[] {
  return epochs.map((epoch, offset) => ({
    offset,
    epoch,
    record: { kind: "data", data: new Uint8Array([offset]) },
    lastInBatch: true,
  }));
}

describe("RaftLog", () => {
  // offsets 0-1 epoch 1, 2-4 epoch 3, 5 epoch 4
  const log = () => new RaftLog(undefined, entries([1, 1, 3, 3, 3, 4]));

  it("answers the end offset of the largest epoch at or below the one asked", () => {
    const l = log();
    expect(l.endOffsetForEpoch(1)).toEqual({ epoch: 1, offset: 2 });
    expect(l.endOffsetForEpoch(2)).toEqual({ epoch: 1, offset: 2 });
    expect(l.endOffsetForEpoch(3)).toEqual({ epoch: 3, offset: 5 });
    expect(l.endOffsetForEpoch(9)).toEqual({ epoch: 4, offset: 6 });
    expect(l.endOffsetForEpoch(0)).toEqual({ epoch: 0, offset: 0 });
  });

  it("validates fetch positions as Kafka does and names the diverging epoch otherwise", () => {
    const l = log();
    expect(l.validateFetch(0, 0)).toEqual({ valid: true });
    expect(l.validateFetch(2, 1)).toEqual({ valid: true });
    expect(l.validateFetch(6, 4)).toEqual({ valid: true });
    // The fetcher has epoch 2 entries this log never had.
    expect(l.validateFetch(4, 2)).toEqual({ valid: false, diverging: { epoch: 1, offset: 2 } });
    // The fetcher is past this log's end in the last epoch.
    expect(l.validateFetch(8, 4)).toEqual({ valid: false, diverging: { epoch: 4, offset: 6 } });
  });

  it("truncates to the common part of the follower's and the leader's epochs, always making progress", () => {
    const follower = new RaftLog(undefined, entries([1, 1, 2, 2]));
    expect(follower.truncationPoint({ epoch: 1, offset: 2 })).toBe(2);
    const ahead = new RaftLog(undefined, entries([1, 1, 1, 1]));
    expect(ahead.truncationPoint({ epoch: 1, offset: 3 })).toBe(3);
    follower.truncateTo(2);
    expect(follower.endOffset).toBe(2);
    expect(follower.lastEpoch).toBe(1);
    expect(() => follower.append(entries([1, 1, 0]).slice(2))).toThrow(/epoch 0 after epoch 1/);
  });

  it("trimmed to a snapshot, answers positions below it or older than its epoch with the snapshot", () => {
    const l = log(); // epochs 1 1 3 3 3 4
    l.trimTo({ offset: 4, epoch: 3 });
    expect(l.startOffset).toBe(4);
    expect(l.read(0, 10).map((e) => e.offset)).toEqual([4, 5]);
    expect(l.epochAt(3)).toBe(3);
    expect(l.validateFetch(0, 0)).toEqual({ valid: false, snapshot: { offset: 4, epoch: 3 } });
    expect(l.validateFetch(2, 1)).toEqual({ valid: false, snapshot: { offset: 4, epoch: 3 } });
    expect(l.validateFetch(5, 2)).toEqual({ valid: false, snapshot: { offset: 4, epoch: 3 } });
    expect(l.validateFetch(4, 3)).toEqual({ valid: true });
    expect(l.validateFetch(5, 3)).toEqual({ valid: true });
    expect(l.validateFetch(6, 4)).toEqual({ valid: true });
    expect(l.validateFetch(7, 3)).toEqual({ valid: false, diverging: { epoch: 3, offset: 5 } });
    expect(() => l.trimTo({ offset: 5, epoch: 9 })).toThrow(/has epoch 3 there/);
    expect(() => l.truncateTo(3)).toThrow(/below log start/);

    l.reset({ offset: 20, epoch: 7 });
    expect([l.startOffset, l.endOffset, l.lastEpoch]).toEqual([20, 20, 7]);
    expect(l.validateFetch(20, 7)).toEqual({ valid: true });
  });
});
