import type { NodeId } from "../../../src/raft/index.ts";
import { DEFAULT_SIM, Simulation, type SimOptions } from "./simulation.ts";

// Support for scenarios scripted on the simulation: the script makes the faults, so the random ones are off (every
// invariant is still checked after every event).

/** A simulation without observers, loss, duplication or random faults; `extra` overrides any option. */
export function quietSimulation(seed: number, extra: Partial<Omit<SimOptions, "seed">> = {}): Simulation {
  return new Simulation({
    ...DEFAULT_SIM,
    seed,
    observers: 0,
    loss: 0,
    duplicate: 0,
    meanFaultIntervalMs: 0,
    ...extra,
  });
}

/** Runs until `done` holds, within `ms` of simulated time; otherwise throws naming `what` and any violation. */
export function step(sim: Simulation, what: string, done: () => boolean, ms = 10_000): void {
  if (!sim.runUntil(done, sim.time + ms)) throw new Error(`${what}: not reached (${sim.violation ?? "no violation"})`);
}

export const leaderAmong = (sim: Simulation, ids: readonly NodeId[]): NodeId | undefined =>
  ids.find((id) => sim.status(id)?.role === "leader");

/** Runs until one of `ids` leads (see step) and answers it. */
export function electedAmong(sim: Simulation, ids: readonly NodeId[], what = "a leader", ms?: number): NodeId {
  step(sim, what, () => leaderAmong(sim, ids) !== undefined, ms);
  const leader = leaderAmong(sim, ids);
  if (leader === undefined) throw new Error(`${what}: no leader after the step`);
  return leader;
}

/** Proposes `entry` to `node`, which must take it as leader, and runs until it commits (see step). */
export function commitVia(sim: Simulation, node: NodeId, entry: string): void {
  if (!sim.proposeTo(node, entry)) throw new Error(`node ${node} refused ${entry}: not the leader`);
  step(sim, `${entry} commits`, () => sim.isCommitted(entry));
}
