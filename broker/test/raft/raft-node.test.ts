import { describe, expect, it } from "vitest";
import {
  DEFAULT_RAFT_TIMING,
  RaftNode,
  SeededRng,
  type ElectionState,
  type Envelope,
  type LogEntry,
  type RaftAction,
  type RaftConfig,
  type RaftMessage,
} from "../../src/raft/index.ts";

// Scripted checks of single rules of the core; the simulation (simulation.test.ts) checks them in combination.

function config(nodeId: number, voters: number[], extra: Partial<RaftConfig> = {}): RaftConfig {
  return { nodeId, voters, ...DEFAULT_RAFT_TIMING, ...extra };
}

function data(offset: number, epoch: number): LogEntry {
  return { offset, epoch, record: { kind: "data", data: new Uint8Array([offset]) }, lastInBatch: true };
}

function node(
  c: RaftConfig,
  election: ElectionState | null = null,
  log: LogEntry[] = [],
): { n: RaftNode; start: RaftAction[] } {
  const n = new RaftNode(c, new SeededRng(c.nodeId), { election, log });
  return { n, start: n.start(0) };
}

function sends(actions: RaftAction[]): Envelope[] {
  return actions.flatMap((a) => (a.type === "send" ? [a.envelope] : []));
}

function msg(from: number, to: number, message: RaftMessage, correlationId = 1): Envelope {
  return { from, to, correlationId, message };
}

describe("RaftNode", () => {
  it("a single voter elects itself at start, writes a leader-change record and commits it once flushed", () => {
    const { n, start: actions } = node(config(1, [1]));
    expect(n.status().role).toBe("leader");
    expect(n.status().epoch).toBe(1);
    const append = actions.find((a) => a.type === "appendLog");
    expect(append?.type === "appendLog" && append.entries[0]?.record.kind).toBe("leaderChange");
    const flush = actions.find((a) => a.type === "flushLog");
    if (flush?.type !== "flushLog") throw new Error("no flush");
    expect(n.status().highWatermark).toBe(0);
    expect(n.flushed(flush.seq, 1)).toContainEqual({ type: "commit", highWatermark: 1 });
  });

  it("a single voter keeps leading past the check-quorum deadline: it is its own majority", () => {
    const { n } = node(config(1, [1]));
    for (let t = 1_000; t <= 60_000; t += 1_000) n.tick(t);
    expect(n.status()).toMatchObject({ role: "leader", epoch: 1 });
  });

  it("persists a vote before the answer that grants it", () => {
    const { n } = node(config(2, [1, 2, 3]));
    const vote: RaftMessage = {
      type: "VoteRequest",
      epoch: 1,
      candidateId: 1,
      lastEpoch: 0,
      lastOffset: 0,
      preVote: false,
    };
    const actions = n.receive(msg(1, 2, vote), 10);
    const persist = actions.findIndex((a) => a.type === "persistElection" && a.state.votedId === 1);
    const answer = actions.findIndex(
      (a) => a.type === "send" && a.envelope.message.type === "VoteResponse" && a.envelope.message.granted,
    );
    expect(persist).toBeGreaterThanOrEqual(0);
    expect(answer).toBeGreaterThan(persist);
    // A second candidate in the same epoch is refused.
    const other: RaftMessage = { ...vote, candidateId: 3 };
    const second = sends(n.receive(msg(3, 2, other), 11))[0]?.message;
    expect(second?.type === "VoteResponse" && second.granted).toBe(false);
  });

  it("refuses a candidate whose log is behind, and grants a pre-vote without changing its own state", () => {
    const { n } = node(config(2, [1, 2, 3]), { epoch: 2, leaderId: null, votedId: null }, [data(0, 1), data(1, 2)]);
    const behind: RaftMessage = {
      type: "VoteRequest",
      epoch: 3,
      candidateId: 1,
      lastEpoch: 1,
      lastOffset: 5,
      preVote: false,
    };
    const refused = sends(n.receive(msg(1, 2, behind), 1))[0]?.message;
    expect(refused?.type === "VoteResponse" && refused.granted).toBe(false);
    expect(n.status().epoch).toBe(3);

    const preVote: RaftMessage = {
      type: "VoteRequest",
      epoch: 4,
      candidateId: 3,
      lastEpoch: 2,
      lastOffset: 2,
      preVote: true,
    };
    const actions = n.receive(msg(3, 2, preVote), 2);
    const answer = sends(actions)[0]?.message;
    expect(answer?.type === "VoteResponse" && answer.granted && answer.preVote).toBe(true);
    expect(actions.some((a) => a.type === "persistElection")).toBe(false);
    expect(n.status().epoch).toBe(3);
  });

  /** Node 1 wins epoch 2 holding entries 0-2 of epoch 1; node 2 has only 0-1. */
  function newLeaderWithOldEntries(extra: Partial<RaftConfig> = {}): RaftNode {
    const { n } = node(
      config(1, [1, 2, 3], { preVote: false, ...extra }),
      { epoch: 1, leaderId: null, votedId: null },
      [data(0, 1), data(1, 1), data(2, 1)],
    );
    const request = sends(n.tick(5_000)).find((e) => e.to === 2);
    if (!request) throw new Error("no vote request");
    const won = n.receive(
      msg(
        2,
        1,
        { type: "VoteResponse", epoch: 2, leaderId: null, granted: true, preVote: false, error: "NONE" },
        request.correlationId,
      ),
      5_001,
    );
    expect(n.status().role).toBe("leader");
    const flush = won.find((a) => a.type === "flushLog");
    if (flush?.type === "flushLog") n.flushed(flush.seq, 5_002);
    return n;
  }

  function fetch(n: RaftNode, fetchOffset: number, lastFetchedEpoch: number, at: number): RaftAction[] {
    return n.receive(
      msg(2, 1, { type: "FetchRequest", epoch: 2, replicaId: 2, fetchOffset, lastFetchedEpoch }, at),
      at,
    );
  }

  it("commits nothing until an entry of the leader's own epoch is on a majority", () => {
    const n = newLeaderWithOldEntries();
    expect(n.status().logEndOffset).toBe(4); // the leader-change record at offset 3 opens epoch 2
    fetch(n, 2, 1, 5_010);
    fetch(n, 3, 1, 5_020); // node 2 now holds every epoch-1 entry, but not the epoch-2 one
    expect(n.status().highWatermark).toBe(0);
    const actions = fetch(n, 4, 2, 5_030);
    expect(actions).toContainEqual({ type: "commit", highWatermark: 4 });
  });

  it("answers at once a fetch that has not heard the current high watermark, and parks one that has", () => {
    const n = newLeaderWithOldEntries();
    const fetchResponse = (actions: RaftAction[], to: number) =>
      sends(actions).find((e) => e.to === to && e.message.type === "FetchResponse")?.message;
    fetch(n, 3, 1, 5_010);
    // This fetch holds the whole log and advances the high watermark to 4: the answer carries it at once.
    const advancing = fetch(n, 4, 2, 5_020);
    expect(advancing).toContainEqual({ type: "commit", highWatermark: 4 });
    expect(fetchResponse(advancing, 2)).toMatchObject({ highWatermark: 4, entries: [] });
    // Node 3 holds the whole log too but has not heard of 4 yet: answered at once as well.
    const other = n.receive(
      msg(3, 1, { type: "FetchRequest", epoch: 2, replicaId: 3, fetchOffset: 4, lastFetchedEpoch: 2 }, 5_030),
      5_030,
    );
    expect(fetchResponse(other, 3)).toMatchObject({ highWatermark: 4, entries: [] });
    // Nothing new for node 2 now: its next fetch waits.
    expect(fetchResponse(fetch(n, 4, 2, 5_040), 2)).toBeUndefined();
  });

  it("the deliberately broken variant commits the older epoch's entries early (what the simulation must catch)", () => {
    const n = newLeaderWithOldEntries({ unsafe: { skipOwnEpochCommitRule: true } });
    fetch(n, 2, 1, 5_010);
    fetch(n, 3, 1, 5_020);
    expect(n.status().highWatermark).toBe(3);
  });

  it("reports each replica's fetch progress for DescribeQuorum", () => {
    const n = newLeaderWithOldEntries();
    fetch(n, 2, 1, 5_010);
    expect(n.status().replicas.get(2)).toEqual({
      directoryId: null,
      endOffset: 2,
      lastFetchTime: 5_010,
      lastCaughtUpTime: -1,
    });
    fetch(n, 4, 2, 5_020); // the whole log: caught up now
    expect(n.status().replicas.get(2)).toEqual({
      directoryId: null,
      endOffset: 4,
      lastFetchTime: 5_020,
      lastCaughtUpTime: 5_020,
    });
    n.propose([new Uint8Array([9])], 5_025);
    fetch(n, 4, 2, 5_030); // behind the new end, but holds what the log held at its previous fetch
    expect(n.status().replicas.get(2)?.lastCaughtUpTime).toBe(5_020);
    expect(n.status().replicas.get(3)).toEqual({
      directoryId: null,
      endOffset: -1,
      lastFetchTime: -1,
      lastCaughtUpTime: -1,
    });
  });

  it("tells a diverging follower where to truncate, and the follower truncates before fetching again", () => {
    const leader = newLeaderWithOldEntries();
    const answer = sends(fetch(leader, 3, 0, 5_010)).find((e) => e.message.type === "FetchResponse");
    // lastFetchedEpoch 0 at offset 3 is not in the leader's log: diverging at the end of epoch 0, offset 0.
    expect(answer?.message.type === "FetchResponse" && answer.message.divergingEpoch).toEqual({ epoch: 0, offset: 0 });

    const { n: follower, start } = node(config(2, [1, 2, 3]), { epoch: 3, leaderId: 1, votedId: null }, [
      data(0, 1),
      data(1, 2),
    ]);
    const first = sends(start).find((e) => e.message.type === "FetchRequest");
    if (!first) throw new Error("follower did not fetch");
    const actions = follower.receive(
      msg(
        1,
        2,
        {
          type: "FetchResponse",
          epoch: 3,
          leaderId: 1,
          error: "NONE",
          highWatermark: 1,
          entries: [],
          divergingEpoch: { epoch: 1, offset: 1 },
          snapshotId: null,
        },
        first.correlationId,
      ),
      2,
    );
    const truncate = actions.findIndex((a) => a.type === "truncateLog" && a.endOffset === 1);
    const next = actions.findIndex((a) => a.type === "send" && a.envelope.message.type === "FetchRequest");
    expect(truncate).toBeGreaterThanOrEqual(0);
    expect(next).toBeGreaterThan(truncate);
  });

  it("a leader that hears from no majority within 1.5 × fetch timeout resigns and names its successors", () => {
    const n = newLeaderWithOldEntries();
    fetch(n, 4, 2, 5_100);
    expect(n.tick(5_001 + 2_000).length).toBeGreaterThanOrEqual(0);
    expect(n.status().role).toBe("leader");
    const actions = n.tick(5_100 + 3_001);
    expect(n.status().role).toBe("resigned");
    const end = sends(actions).find((e) => e.message.type === "EndQuorumEpochRequest");
    expect(end?.message.type === "EndQuorumEpochRequest" && end.message.preferredSuccessors[0]).toBe(2);
  });

  it("a fetch answer the leader sent before its EndQuorumEpoch does not make the follower wait on it again", () => {
    // Node 3 follows leader 1 in epoch 2 with a fetch out; the leader resigns, and its notice overtakes the answer.
    const { n, start } = node(config(3, [1, 2, 3]), { epoch: 2, leaderId: 1, votedId: null }, [data(0, 1)]);
    const out = sends(start).find((e) => e.message.type === "FetchRequest");
    if (!out) throw new Error("follower did not fetch");
    const end: RaftMessage = { type: "EndQuorumEpochRequest", epoch: 2, leaderId: 1, preferredSuccessors: [2, 3] };
    n.receive(msg(1, 3, end, 7), 10);
    const late: RaftMessage = {
      type: "FetchResponse",
      epoch: 2,
      leaderId: 1,
      error: "NONE",
      highWatermark: 1,
      entries: [],
      divergingEpoch: null,
      snapshotId: null,
    };
    n.receive(msg(1, 3, late, out.correlationId), 11);
    // Successor 2 runs first; node 3 grants it a pre-vote, the leader being gone ...
    const preVote: RaftMessage = {
      type: "VoteRequest",
      epoch: 3,
      candidateId: 2,
      lastEpoch: 1,
      lastOffset: 1,
      preVote: true,
    };
    const answer = sends(n.receive(msg(2, 3, preVote, 8), 20))[0]?.message;
    expect(answer?.type === "VoteResponse" && answer.granted).toBe(true);
    // ... and, second in line, runs itself 50 ms after the notice, not a fetch timeout (2 s) after the answer.
    n.tick(61);
    expect(n.status().role).toBe("prospective");
  });

  it("a fetcher below the leader's trimmed log start gets the snapshot in chunks, installs it and fetches on", () => {
    // A single voter leads and commits five records, then snapshots them and trims its log.
    const { n: leader, start } = node(config(1, [1], { snapshotChunkBytes: 4 }));
    const flushOf = (actions: RaftAction[]) => actions.find((a) => a.type === "flushLog");
    let flush = flushOf(start);
    if (flush?.type === "flushLog") leader.flushed(flush.seq, 1);
    flush = flushOf(
      leader.propose(
        [1, 2, 3, 4, 5].map((b) => new Uint8Array([b])),
        2,
      ).actions,
    );
    if (flush?.type === "flushLog") leader.flushed(flush.seq, 3);
    expect(leader.status().highWatermark).toBe(6);
    const snapshot = { id: { offset: 6, epoch: 1 }, data: new Uint8Array([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]) };
    expect(leader.snapshotTaken(snapshot, 4)).toEqual([{ type: "trimLog", startOffset: 6 }]);
    expect(leader.status().logStartOffset).toBe(6);
    expect(leader.entries(0, 6)).toEqual([]);

    // An observer starting empty fetches from 0 and is routed through FetchSnapshot.
    const { n: observer, start: observerStart } = node(config(9, [1]), { epoch: 1, leaderId: 1, votedId: null });
    let pending = sends(observerStart);
    const seen: string[] = [];
    const installs: RaftAction[] = [];
    let now = 10;
    for (let round = 0; round < 20 && pending.length > 0; round++) {
      const next: Envelope[] = [];
      for (const e of pending) {
        now++;
        const m = e.message;
        seen.push(
          m.type === "FetchSnapshotRequest"
            ? `snapshot@${m.position}`
            : m.type === "FetchRequest"
              ? `fetch@${m.fetchOffset}`
              : m.type === "FetchResponse" && m.snapshotId !== null
                ? `answer: snapshot ${m.snapshotId.offset}@${m.snapshotId.epoch}`
                : m.type,
        );
        const target = e.to === 1 ? leader : observer;
        const actions = target.receive(e, now);
        installs.push(...actions.filter((a) => a.type === "installSnapshot"));
        next.push(...sends(actions));
      }
      pending = next;
    }
    // The first fetch from the snapshot's end is answered at once with the high watermark (the observer takes none
    // from the answer that sent it to the snapshot); the next one waits at the leader for something new.
    expect(seen).toEqual([
      "fetch@0",
      "answer: snapshot 6@1",
      "snapshot@0",
      "FetchSnapshotResponse",
      "snapshot@4",
      "FetchSnapshotResponse",
      "snapshot@8",
      "FetchSnapshotResponse",
      "fetch@6",
      "FetchResponse",
      "fetch@6",
    ]);
    expect(installs).toEqual([{ type: "installSnapshot", snapshot }]);
    expect(observer.status()).toMatchObject({ logStartOffset: 6, logEndOffset: 6, highWatermark: 6, lastEpoch: 1 });
    expect(observer.latestSnapshot()).toEqual(snapshot);

    // A request's MaxBytes below the leader's chunk size bounds the answer; above it, the chunk size does.
    const chunkFor = (maxBytes: number) => {
      const request: RaftMessage = {
        type: "FetchSnapshotRequest",
        epoch: 1,
        replicaId: 9,
        snapshotId: snapshot.id,
        position: 1,
        maxBytes,
      };
      const answer = sends(leader.receive(msg(9, 1, request, 77), ++now))[0]?.message;
      return answer?.type === "FetchSnapshotResponse" ? [answer.error, ...answer.data] : answer?.type;
    };
    expect(chunkFor(3)).toEqual(["NONE", 11, 12, 13]);
    expect(chunkFor(100)).toEqual(["NONE", 11, 12, 13, 14]);
  });
});
