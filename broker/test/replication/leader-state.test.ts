import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { SeededRng } from "../../src/raft/index.ts";
import {
  LeaderState,
  NO_BROKER_EPOCH,
  UNKNOWN_OFFSET,
  type BrokerLookup,
  type BrokerStatus,
  type PartitionAssignment,
} from "../../src/replication/leader-state.ts";

const LAG = 10_000;

function assignment(overrides: Partial<PartitionAssignment> = {}): PartitionAssignment {
  return { replicas: [0, 1, 2], isr: [0, 1, 2], leaderEpoch: 5, partitionEpoch: 7, ...overrides };
}

function leader(
  options: { assignment?: Partial<PartitionAssignment>; hw?: bigint; start?: bigint; now?: number } = {},
): LeaderState {
  return new LeaderState({
    localId: 0,
    assignment: assignment(options.assignment),
    leaderEpochStartOffset: options.start ?? 0n,
    highWatermark: options.hw ?? 0n,
    nowMs: options.now ?? 1_000_000,
    replicaLagTimeMaxMs: LAG,
  });
}

const live = (epochs: Record<number, bigint> = {}): BrokerLookup => {
  return (id) => ({ epoch: epochs[id] ?? 100n + BigInt(id), fenced: false, inControlledShutdown: false });
};

function fetch(
  state: LeaderState,
  id: number,
  fetchOffset: bigint,
  leaderEndOffset: bigint,
  nowMs: number,
  brokerEpoch = 100n + BigInt(id),
) {
  return state.recordFetch(id, {
    fetchOffset,
    leaderEndOffset,
    nowMs,
    brokerEpoch,
    registeredEpoch: 100n + BigInt(id),
  });
}

describe("LeaderState: becoming leader", () => {
  it("counts ISR followers as caught up now and the others as never caught up, with unknown ends", () => {
    const state = leader({ assignment: { isr: [0, 1] }, now: 50_000 });
    expect(state.follower(1)).toMatchObject({ logEndOffset: UNKNOWN_OFFSET, lastCaughtUpTimeMs: 50_000 });
    expect(state.follower(2)).toMatchObject({ logEndOffset: UNKNOWN_OFFSET, lastCaughtUpTimeMs: 0 });
    expect(state.follower(0)).toBeUndefined();
  });

  it("does not move the high watermark until the ISR's followers have fetched", () => {
    const state = leader({ hw: 10n });
    expect(state.maybeAdvanceHighWatermark(20n, 1_000_000, 1, live())).toBeUndefined();
    fetch(state, 1, 20n, 20n, 1_000_001);
    expect(state.maybeAdvanceHighWatermark(20n, 1_000_001, 1, live())).toBeUndefined();
    fetch(state, 2, 15n, 20n, 1_000_002);
    expect(state.maybeAdvanceHighWatermark(20n, 1_000_002, 1, live())).toBe(15n);
    expect(state.highWatermark).toBe(15n);
  });

  it("with one replica, the high watermark is the leader's durable end", () => {
    const state = leader({ assignment: { replicas: [0], isr: [0] } });
    expect(state.maybeAdvanceHighWatermark(3n, 0, 1, live())).toBe(3n);
    expect(state.maybeAdvanceHighWatermark(3n, 0, 1, live())).toBeUndefined();
    // min.insync.replicas above the replication factor counts as the replication factor (Kafka's effectiveMinIsr).
    expect(state.maybeAdvanceHighWatermark(9n, 0, 3, live())).toBe(9n);
  });

  it("keeps the leader in its ISR even if the image lists it without", () => {
    const state = leader({ assignment: { isr: [1, 2] } });
    expect(state.committedIsr).toContain(0);
  });
});

describe("LeaderState: follower fetches", () => {
  it("marks a follower caught up when it fetches the leader's end", () => {
    const state = leader({ now: 0 });
    fetch(state, 1, 10n, 10n, 5_000);
    expect(state.follower(1)).toMatchObject({ logEndOffset: 10n, lastCaughtUpTimeMs: 5_000, lastFetchTimeMs: 5_000 });
  });

  it("marks a follower caught up at its previous fetch when it now has what the leader had then", () => {
    const state = leader({ now: 0 });
    fetch(state, 1, 5n, 10n, 1_000); // behind: not caught up
    expect(state.follower(1)?.lastCaughtUpTimeMs).toBe(0);
    fetch(state, 1, 10n, 20n, 2_000); // has what the leader had at the previous fetch (10)
    expect(state.follower(1)?.lastCaughtUpTimeMs).toBe(1_000);
    fetch(state, 1, 15n, 30n, 3_000); // below the leader's end at the previous fetch (20): unchanged
    expect(state.follower(1)?.lastCaughtUpTimeMs).toBe(1_000);
  });

  it("refuses fetches from brokers that are not assigned replicas", () => {
    expect(fetch(leader(), 7, 0n, 0n, 0)).toEqual({ ok: false, reason: "not-a-replica" });
  });

  it("refuses fetches carrying a broker epoch older than the registered one, but takes -1", () => {
    const state = leader();
    const stale = state.recordFetch(1, {
      fetchOffset: 3n,
      leaderEndOffset: 3n,
      nowMs: 0,
      brokerEpoch: 40n,
      registeredEpoch: 41n,
    });
    expect(stale).toEqual({ ok: false, reason: "stale-broker-epoch" });
    expect(state.follower(1)?.logEndOffset).toBe(UNKNOWN_OFFSET);
    const none = state.recordFetch(1, {
      fetchOffset: 3n,
      leaderEndOffset: 3n,
      nowMs: 0,
      brokerEpoch: NO_BROKER_EPOCH,
      registeredEpoch: 41n,
    });
    expect(none).toEqual({ ok: true, endChanged: true });
  });
});

describe("LeaderState: high watermark", () => {
  it("is the minimum end over the leader's durable end and the ISR", () => {
    const state = leader();
    fetch(state, 1, 8n, 10n, 1_000_000);
    fetch(state, 2, 9n, 10n, 1_000_000);
    expect(state.maybeAdvanceHighWatermark(10n, 1_000_000, 1, live())).toBe(8n);
    fetch(state, 1, 10n, 10n, 1_000_001);
    expect(state.maybeAdvanceHighWatermark(7n, 1_000_001, 1, live())).toBeUndefined(); // never decreases
    expect(state.maybeAdvanceHighWatermark(10n, 1_000_001, 1, live())).toBe(9n);
  });

  it("does not wait for a follower outside the ISR unless it is caught up and eligible", () => {
    const state = leader({ assignment: { isr: [0, 1] } });
    fetch(state, 1, 10n, 10n, 1_000_000);
    fetch(state, 2, 4n, 10n, 1_000_000); // behind, never caught up
    expect(state.maybeAdvanceHighWatermark(10n, 1_000_000, 1, live())).toBe(10n);

    const joining = leader({ assignment: { isr: [0, 1] } });
    fetch(joining, 1, 10n, 10n, 1_000_000);
    fetch(joining, 2, 10n, 10n, 1_000_000); // caught up: about to join
    expect(joining.maybeAdvanceHighWatermark(12n, 1_000_000, 1, live())).toBe(10n);
    // A fenced broker cannot join, so the HW does not wait for it.
    const fenced: BrokerLookup = (id) => ({ epoch: 100n + BigInt(id), fenced: id === 2, inControlledShutdown: false });
    fetch(joining, 1, 12n, 12n, 1_000_001);
    expect(joining.maybeAdvanceHighWatermark(12n, 1_000_001, 1, fenced)).toBe(12n);
  });

  it("is frozen while the committed ISR is smaller than min.insync.replicas (KAFKA-15583)", () => {
    const state = leader({ assignment: { isr: [0] } });
    expect(state.maybeAdvanceHighWatermark(5n, 1_000_000, 2, live())).toBeUndefined();
    expect(state.isUnderMinIsr(2)).toBe(true);
    expect(state.maybeAdvanceHighWatermark(5n, 1_000_000, 1, live())).toBe(5n);
  });

  it("waits for a pending expansion's new member (maximal ISR)", () => {
    const state = leader({ assignment: { isr: [0, 1] } });
    fetch(state, 1, 10n, 10n, 1_000_000);
    fetch(state, 2, 10n, 10n, 1_000_000);
    expect(state.maybeAdvanceHighWatermark(10n, 1_000_000, 1, live())).toBe(10n);
    expect(state.proposeExpansion(2, live(), 1n)).toBeDefined();
    expect(state.maximalIsr()).toEqual([0, 1, 2]);
    expect(state.minimalIsr()).toEqual([0, 1]);
    fetch(state, 1, 20n, 20n, 1_000_000 + 3 * LAG);
    // Follower 2 is no longer caught up, but it is in the maximal ISR: the HW waits for it.
    expect(state.maybeAdvanceHighWatermark(20n, 1_000_000 + 3 * LAG, 1, live())).toBeUndefined();
  });
});

describe("LeaderState: shrinking the ISR", () => {
  it("drops followers that lag for longer than replica.lag.time.max.ms", () => {
    const t0 = 1_000_000;
    const state = leader({ now: t0 });
    fetch(state, 1, 10n, 10n, t0);
    fetch(state, 2, 10n, 10n, t0);
    expect(state.proposeShrink(10n, t0 + 5 * LAG, 1n)).toBeUndefined(); // ends equal: in sync however long ago
    expect(state.proposeShrink(11n, t0 + LAG, 1n)).toBeUndefined(); // behind, but not for long enough
    fetch(state, 1, 11n, 11n, t0 + LAG);
    const proposal = state.proposeShrink(11n, t0 + LAG + 1, 55n);
    expect(proposal).toEqual({
      kind: "shrink",
      leaderEpoch: 5,
      partitionEpoch: 7,
      newIsr: [
        { brokerId: 0, brokerEpoch: 55n },
        { brokerId: 1, brokerEpoch: 101n },
      ],
    });
    expect(state.minimalIsr()).toEqual([0, 1]);
    expect(state.maximalIsr()).toEqual([0, 1, 2]);
    // One change at a time.
    expect(state.proposeShrink(12n, t0 + 10 * LAG, 55n)).toBeUndefined();
  });

  it("drops an ISR member that never fetched after the leader took over", () => {
    const state = leader({ now: 0 });
    fetch(state, 1, 0n, 0n, LAG);
    expect(state.outOfSyncReplicas(0n, LAG)).toEqual([]); // caught up when the leader took over, LAG ago
    expect(state.outOfSyncReplicas(0n, LAG + 1)).toEqual([2]); // its end is unknown, so it differs from the leader's
    expect(state.outOfSyncReplicas(0n, 10 * LAG)).toEqual([2]); // follower 1's end equals the leader's: in sync
  });
});

describe("LeaderState: expanding the ISR", () => {
  const base = () => {
    const state = leader({ assignment: { isr: [0, 1] }, hw: 10n, start: 8n });
    fetch(state, 1, 10n, 10n, 1_000_000);
    return state;
  };

  it("adds a follower whose end reached the HW and the leader epoch's start", () => {
    const state = base();
    fetch(state, 2, 9n, 10n, 1_000_000);
    expect(state.proposeExpansion(2, live(), 1n)).toBeUndefined(); // below the HW
    fetch(state, 2, 10n, 10n, 1_000_001);
    expect(state.proposeExpansion(2, live(), 1n)).toEqual({
      kind: "expand",
      leaderEpoch: 5,
      partitionEpoch: 7,
      newIsr: [
        { brokerId: 0, brokerEpoch: 1n },
        { brokerId: 1, brokerEpoch: 101n },
        { brokerId: 2, brokerEpoch: 102n },
      ],
    });
  });

  it("waits for the start of the leader's epoch even above the HW", () => {
    const state = leader({ assignment: { isr: [0, 1] }, hw: 2n, start: 8n });
    fetch(state, 2, 5n, 10n, 1_000_000);
    expect(state.proposeExpansion(2, live(), 1n)).toBeUndefined();
  });

  it("refuses fenced, shutting-down, unregistered brokers and fetches from another broker epoch (KIP-903)", () => {
    const cases: [string, BrokerLookup][] = [
      ["fenced", () => ({ epoch: 102n, fenced: true, inControlledShutdown: false })],
      ["shutting down", () => ({ epoch: 102n, fenced: false, inControlledShutdown: true })],
      ["unregistered", () => undefined],
      ["re-registered", () => ({ epoch: 103n, fenced: false, inControlledShutdown: false })],
    ];
    for (const [name, brokers] of cases) {
      const state = base();
      fetch(state, 2, 10n, 10n, 1_000_000);
      expect(state.proposeExpansion(2, brokers, 1n), name).toBeUndefined();
    }
    const state = base();
    state.recordFetch(2, {
      fetchOffset: 10n,
      leaderEndOffset: 10n,
      nowMs: 1_000_000,
      brokerEpoch: NO_BROKER_EPOCH,
      registeredEpoch: 102n,
    });
    expect(state.proposeExpansion(2, live(), 1n)?.newIsr[2]).toEqual({ brokerId: 2, brokerEpoch: -1n });
  });

  it("does not propose for members, non-replicas, or while a change is pending", () => {
    const state = base();
    fetch(state, 2, 10n, 10n, 1_000_000);
    expect(state.proposeExpansion(1, live(), 1n)).toBeUndefined();
    expect(state.proposeExpansion(9, live(), 1n)).toBeUndefined();
    expect(state.proposeExpansion(2, live(), 1n)).toBeDefined();
    expect(state.proposeExpansion(2, live(), 1n)).toBeUndefined();
  });
});

describe("LeaderState: controller answers and images", () => {
  const pendingExpansion = () => {
    const state = leader({ assignment: { isr: [0, 1] } });
    fetch(state, 2, 0n, 0n, 1_000_000);
    const proposal = state.proposeExpansion(2, live(), 1n);
    if (proposal === undefined) throw new Error("expected a proposal");
    return { state, proposal };
  };

  it("keeps a change pending after success until the image commits it", () => {
    const { state, proposal } = pendingExpansion();
    expect(state.proposalAnswered(proposal, ErrorCode.NONE)).toBe("done");
    expect(state.pending).toBeDefined();
    expect(state.committedIsr).toEqual([0, 1]);
    expect(state.applyAssignment(assignment({ isr: [0, 1, 2], partitionEpoch: 8 }))).toBe(true);
    expect(state.pending).toBeUndefined();
    expect(state.committedIsr).toEqual([0, 1, 2]);
    expect(state.partitionEpoch).toBe(8);
  });

  it("drops the change on OPERATION_NOT_ATTEMPTED and INELIGIBLE_REPLICA, waits for the image on stale epochs", () => {
    for (const code of [ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.INELIGIBLE_REPLICA]) {
      const { state, proposal } = pendingExpansion();
      expect(state.proposalAnswered(proposal, code)).toBe("done");
      expect(state.pending).toBeUndefined();
    }
    for (const code of [ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.INVALID_UPDATE_VERSION, ErrorCode.INVALID_REQUEST]) {
      const { state, proposal } = pendingExpansion();
      expect(state.proposalAnswered(proposal, code)).toBe("done");
      expect(state.pending).toBeDefined();
    }
    const { state, proposal } = pendingExpansion();
    expect(state.proposalAnswered(proposal, ErrorCode.NOT_CONTROLLER)).toBe("retry");
  });

  it("ignores images older than what it knows and images of another leader epoch", () => {
    const { state } = pendingExpansion();
    expect(state.applyAssignment(assignment({ isr: [0], partitionEpoch: 6 }))).toBe(false);
    expect(state.applyAssignment(assignment({ isr: [0], partitionEpoch: 7 }))).toBe(false);
    expect(state.applyAssignment(assignment({ isr: [0], partitionEpoch: 9, leaderEpoch: 6 }))).toBe(false);
    expect(state.committedIsr).toEqual([0, 1]);
  });

  it("follows reassigned replicas", () => {
    const state = leader();
    state.applyAssignment(assignment({ replicas: [0, 1, 3], isr: [0, 1], partitionEpoch: 8 }));
    expect(state.follower(2)).toBeUndefined();
    expect(state.follower(3)).toMatchObject({ logEndOffset: UNKNOWN_OFFSET, lastCaughtUpTimeMs: 0 });
  });
});

/**
 * A seeded random walk of one partition: the leader appends, followers fetch (sometimes slowly), brokers are fenced
 * and unfenced, time passes, the shrink check runs, and a model controller commits, rejects or overtakes the leader's
 * proposals. After every step the state's invariants must hold; at the end everything heals and the HW must reach
 * the leader's end.
 */
describe("LeaderState: randomized invariants", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 42, 1234]) {
    it(`holds them for seed ${seed}`, () => runRandomWalk(seed, 3_000));
  }
});

function runRandomWalk(seed: number, steps: number): void {
  const rng = new SeededRng(seed);
  const replicas = [0, 1, 2, 3].slice(0, 2 + rng.nextInt(3));
  const base = BigInt(rng.nextInt(50));
  let now = 1_000_000;
  let leaderEnd = base;
  const followerEnd = new Map<number, bigint>(replicas.map((id) => [id, base]));
  const minIsr = 1 + rng.nextInt(replicas.length);
  const fenced = new Set<number>();
  const brokers: BrokerLookup = (id): BrokerStatus | undefined =>
    replicas.includes(id)
      ? { epoch: 100n + BigInt(id), fenced: fenced.has(id), inControlledShutdown: false }
      : undefined;
  let committed: PartitionAssignment = { replicas, isr: [...replicas], leaderEpoch: 3, partitionEpoch: 10 };
  const state = new LeaderState({
    localId: 0,
    assignment: committed,
    leaderEpochStartOffset: base,
    highWatermark: base,
    nowMs: now,
    replicaLagTimeMaxMs: LAG,
  });
  const inFlight: { proposal: NonNullable<ReturnType<LeaderState["proposeShrink"]>>; isr: number[] }[] = [];
  let lastHw = state.highWatermark;

  const commit = (isr: number[]) => {
    committed = { ...committed, isr, partitionEpoch: committed.partitionEpoch + 1 };
    state.applyAssignment(committed);
  };
  const check = (where: string) => {
    const hw = state.highWatermark;
    const context = `seed ${seed}, ${where}`;
    expect(hw >= lastHw, `${context}: HW went down from ${lastHw} to ${hw}`).toBe(true);
    expect(hw <= leaderEnd, `${context}: HW ${hw} beyond the leader's end ${leaderEnd}`).toBe(true);
    if (hw > lastHw) {
      for (const id of state.maximalIsr()) {
        const end = id === 0 ? leaderEnd : (state.follower(id)?.logEndOffset ?? UNKNOWN_OFFSET);
        expect(end >= hw, `${context}: HW ${hw} beyond ISR member ${id}'s end ${end}`).toBe(true);
      }
    }
    for (const isr of [state.committedIsr, state.maximalIsr(), state.minimalIsr()]) {
      expect(isr, context).toContain(0);
      for (const id of isr) expect(replicas, context).toContain(id);
      expect(new Set(isr).size, context).toBe(isr.length);
    }
    if (state.pending !== undefined) expect(state.pending.partitionEpoch, context).toBe(state.partitionEpoch);
    lastHw = hw;
  };

  const fetchBy = (id: number) => {
    const current = followerEnd.get(id) ?? base;
    const next = current + BigInt(rng.nextInt(Number(leaderEnd - current) + 1));
    followerEnd.set(id, next);
    const verdict = state.recordFetch(id, {
      fetchOffset: next,
      leaderEndOffset: leaderEnd,
      nowMs: now,
      brokerEpoch: 100n + BigInt(id),
      registeredEpoch: 100n + BigInt(id),
    });
    expect(verdict.ok).toBe(true);
    state.maybeAdvanceHighWatermark(leaderEnd, now, minIsr, brokers);
    const proposal = state.proposeExpansion(id, brokers, 1n);
    if (proposal) inFlight.push({ proposal, isr: proposal.newIsr.map((m) => m.brokerId) });
  };

  for (let step = 0; step < steps; step++) {
    const roll = rng.nextInt(100);
    if (roll < 20) {
      leaderEnd += BigInt(1 + rng.nextInt(5));
      state.maybeAdvanceHighWatermark(leaderEnd, now, minIsr, brokers);
    } else if (roll < 60) {
      const id = replicas[1 + rng.nextInt(replicas.length - 1)]!;
      // Fenced brokers do not fetch; slow ones fetch rarely.
      if (!fenced.has(id) && (id !== 1 || rng.chance(0.3))) fetchBy(id);
    } else if (roll < 70) {
      now += rng.nextInt(LAG);
    } else if (roll < 78) {
      const proposal = state.proposeShrink(leaderEnd, now, 1n);
      if (proposal) inFlight.push({ proposal, isr: proposal.newIsr.map((m) => m.brokerId) });
      state.maybeAdvanceHighWatermark(leaderEnd, now, minIsr, brokers);
    } else if (roll < 90 && inFlight.length > 0) {
      // The controller answers the oldest request: it commits it if it is based on the current partition epoch.
      const { proposal, isr } = inFlight.shift()!;
      const fresh = proposal.partitionEpoch === committed.partitionEpoch;
      const outcome = rng.nextInt(4);
      if (fresh && outcome < 2) {
        commit(isr);
        state.proposalAnswered(proposal, ErrorCode.NONE);
      } else if (fresh && outcome === 2) {
        state.proposalAnswered(proposal, ErrorCode.INELIGIBLE_REPLICA);
      } else if (!fresh) {
        state.proposalAnswered(proposal, ErrorCode.INVALID_UPDATE_VERSION);
      } else if (state.proposalAnswered(proposal, ErrorCode.NOT_CONTROLLER) === "retry") {
        inFlight.push({ proposal, isr });
      }
      state.maybeAdvanceHighWatermark(leaderEnd, now, minIsr, brokers);
    } else if (roll < 95) {
      // A broker is fenced (the controller takes it out of the ISR itself) or comes back.
      const id = replicas[1 + rng.nextInt(replicas.length - 1)]!;
      if (fenced.has(id)) fenced.delete(id);
      else {
        fenced.add(id);
        if (committed.isr.includes(id)) commit(committed.isr.filter((m) => m !== id));
      }
      state.maybeAdvanceHighWatermark(leaderEnd, now, minIsr, brokers);
    }
    check(`step ${step}`);
  }

  // Heal: every broker is back, the controller answers everything, followers catch up.
  fenced.clear();
  for (let round = 0; round < 10; round++) {
    while (inFlight.length > 0) {
      const { proposal, isr } = inFlight.shift()!;
      if (proposal.partitionEpoch === committed.partitionEpoch) commit(isr);
      state.proposalAnswered(proposal, ErrorCode.NONE);
    }
    for (const id of replicas.slice(1)) {
      followerEnd.set(id, leaderEnd);
      state.recordFetch(id, {
        fetchOffset: leaderEnd,
        leaderEndOffset: leaderEnd,
        nowMs: now,
        brokerEpoch: 100n + BigInt(id),
        registeredEpoch: 100n + BigInt(id),
      });
      const proposal = state.proposeExpansion(id, brokers, 1n);
      if (proposal) inFlight.push({ proposal, isr: proposal.newIsr.map((m) => m.brokerId) });
    }
    state.maybeAdvanceHighWatermark(leaderEnd, now, minIsr, brokers);
    check(`heal round ${round}`);
  }
  expect(state.committedIsr.length, `seed ${seed}`).toBe(replicas.length);
  expect(state.highWatermark, `seed ${seed}`).toBe(leaderEnd);
}

describe("LeaderState: leader recovery (KIP-704)", () => {
  it("proposes the committed ISR as RECOVERED while the image has the partition RECOVERING, once", () => {
    const state = leader({ assignment: { isr: [0], leaderRecoveryState: 1 } });
    expect(state.recovering).toBe(true);
    const proposal = state.proposeRecovered(9n);
    expect(proposal).toEqual({
      kind: "recover",
      leaderEpoch: 5,
      partitionEpoch: 7,
      newIsr: [{ brokerId: 0, brokerEpoch: 9n }],
    });
    // One change at a time: nothing more while it is pending, and it counts for neither ISR bound.
    expect(state.proposeRecovered(9n)).toBeUndefined();
    expect(state.maximalIsr()).toEqual([0]);
    expect(state.minimalIsr()).toEqual([0]);
    // The image commits it: RECOVERED, nothing pending, nothing more to propose.
    expect(state.applyAssignment(assignment({ isr: [0], partitionEpoch: 8, leaderRecoveryState: 0 }))).toBe(true);
    expect(state.recovering).toBe(false);
    expect(state.pending).toBeUndefined();
    expect(state.proposeRecovered(9n)).toBeUndefined();
  });

  it("proposes nothing for a partition elected cleanly", () => {
    expect(leader().proposeRecovered(9n)).toBeUndefined();
  });

  it("proposes again when the controller did not take it", () => {
    const state = leader({ assignment: { isr: [0], leaderRecoveryState: 1 } });
    const proposal = state.proposeRecovered(9n);
    if (proposal === undefined) throw new Error("no proposal");
    expect(state.proposalAnswered(proposal, ErrorCode.OPERATION_NOT_ATTEMPTED)).toBe("done");
    expect(state.proposeRecovered(9n)?.kind).toBe("recover");
  });
});
