import { describe, expect, it } from "vitest";
import { electedAmong, quietSimulation, step } from "./sim/script.ts";
import type { Simulation } from "./sim/simulation.ts";

// Raft's "Figure 8" scenario, scripted on the simulation: an entry of an older epoch reaches a majority under a new
// leader before any entry of that leader's own epoch does. Committing it then (what the own-epoch rule forbids) lets
// a later leader with a conflicting entry of a newer epoch erase it. The correct core must come through with every
// invariant intact; the core with the rule switched off must be caught by the invariant checks.

const VOTERS = [1, 2, 3];

function scenario(skipOwnEpochCommitRule: boolean): { sim: Simulation; xCommittedEarly: boolean } {
  const sim = quietSimulation(8, {
    // One entry per fetch answer, so a follower can hold the old entry without the new leader's record after it.
    maxFetchEntries: 1,
    ...(skipOwnEpochCommitRule ? { unsafe: { skipOwnEpochCommitRule: true } } : {}),
  });
  sim.start();

  // A leader L1 commits a few entries on every voter.
  const l1 = electedAmong(sim, VOTERS, "first leader");
  for (const m of ["a1", "a2", "a3"]) sim.proposeTo(l1, m);
  const end = sim.status(l1)?.logEndOffset ?? 0;
  step(sim, "entries committed everywhere", () => VOTERS.every((id) => sim.status(id)?.highWatermark === end));

  // L1, cut off, takes an entry X at offset `end` that no one else gets.
  const others = VOTERS.filter((id) => id !== l1);
  sim.setGroups([[l1], others]);
  expect(sim.proposeTo(l1, "X")).toBe(true);

  // The others elect L2, whose leader-change record (a newer epoch, also at offset `end`) stays on L2 alone.
  const l2 = electedAmong(sim, others, "second leader");
  const s3 = others.find((id) => id !== l2) ?? 0;
  sim.setGroups([[l1], [l2], [s3]]);

  // L1 and S3 elect L1 again (its log is longer in the same last epoch). S3 fetches X, one entry per answer, and
  // reports the offset after it: X is on a majority, the leader-change record of L1's new epoch is not yet.
  sim.setGroups([[l1, s3], [l2]]);
  step(sim, "L1 leads again", () => sim.status(l1)?.role === "leader");
  step(sim, "S3 holds X", () => sim.status(l1)?.replicas.get(s3)?.endOffset === end + 1);
  const xCommittedEarly = sim.isCommitted("X");
  sim.crashNode(l1);

  // L2 (newer last epoch) wins S3's vote and makes S3 drop X.
  sim.setGroups([[l2, s3]]);
  step(sim, "L2 leads again", () => sim.status(l2)?.role === "leader" && sim.status(s3)?.leaderId === l2, 20_000);
  step(sim, "S3 follows L2's log", () => (sim.status(s3)?.highWatermark ?? 0) > end, 10_000);
  return { sim, xCommittedEarly };
}

describe("the own-epoch commit rule (Raft's Figure 8), scripted on the simulation", () => {
  it("the correct core never commits X early, and comes through with every invariant intact", () => {
    const { sim, xCommittedEarly } = scenario(false);
    expect(xCommittedEarly).toBe(false);
    expect(sim.violation).toBeNull();
    expect(sim.isCommitted("X")).toBe(false);
  });

  it("a core that skips the rule commits X early, and the invariant checks catch its loss", () => {
    let caught: string | null = null;
    try {
      const { sim, xCommittedEarly } = scenario(true);
      expect(xCommittedEarly).toBe(true);
      caught = sim.violation;
    } catch (error) {
      // The scenario stops at the first broken invariant; its message says which.
      caught = error instanceof Error ? error.message : String(error);
    }
    expect(caught).toMatch(/leader completeness|committed entry lost|state-machine safety|below its high watermark/);
  });
});
