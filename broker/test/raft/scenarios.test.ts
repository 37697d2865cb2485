import { describe, expect, it } from "vitest";
import { leaderAmong, quietSimulation, step } from "./sim/script.ts";

// Named failure scenarios from the replication reference, scripted on the simulation (every invariant is still
// checked after every event).

const VOTERS = [1, 2, 3];

describe("scripted scenarios", () => {
  it("an isolated leader resigns within 1.5 × fetch timeout and commits nothing written after the cut", () => {
    const sim = quietSimulation(21);
    sim.start();
    step(sim, "a leader", () => leaderAmong(sim, VOTERS) !== undefined);
    const old = leaderAmong(sim, VOTERS) ?? 0;
    const others = VOTERS.filter((id) => id !== old);
    sim.setGroups([[old], others]);
    const cutAt = sim.time;
    expect(sim.proposeTo(old, "lost")).toBe(true);

    step(sim, "the old leader resigns", () => sim.status(old)?.role !== "leader");
    // Check-quorum: 1.5 × the sim's 600 ms fetch timeout, plus one tick.
    expect(sim.time - cutAt).toBeLessThanOrEqual(900 + 20);
    step(sim, "the others elect a leader", () => leaderAmong(sim, others) !== undefined);
    const next = leaderAmong(sim, others) ?? 0;
    expect(sim.proposeTo(next, "kept")).toBe(true);
    step(sim, "the new entry commits", () => sim.isCommitted("kept"));

    sim.setGroups(null);
    step(sim, "the old leader follows the new one", () => sim.status(old)?.leaderId === next);
    step(sim, "and catches up", () => (sim.status(old)?.highWatermark ?? 0) >= (sim.status(next)?.highWatermark ?? 1));
    expect(sim.isCommitted("lost")).toBe(false);
    expect(sim.violation).toBeNull();
  });

  it("back-to-back failovers: each new leader holds everything committed before", () => {
    const sim = quietSimulation(22);
    sim.start();
    const down: number[] = [];
    for (let round = 0; round < 4; round++) {
      const up = VOTERS.filter((id) => !down.includes(id));
      step(sim, `leader in round ${round}`, () => leaderAmong(sim, up) !== undefined);
      const leader = leaderAmong(sim, up) ?? 0;
      expect(sim.proposeTo(leader, `r${round}`)).toBe(true);
      step(sim, `r${round} committed`, () => sim.isCommitted(`r${round}`));
      // Crash the leader, bring back the one crashed before: always a majority up.
      sim.crashNode(leader);
      const back = down.shift();
      if (back !== undefined) sim.restartNode(back);
      down.push(leader);
    }
    expect(sim.violation).toBeNull();
  });
});
