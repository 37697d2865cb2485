import { describe, expect, it } from "vitest";
import { replayCommand } from "./sim/replay.ts";
import { DEFAULT_SIM, runSimulation, swarmOptions, type SimOptions, type SimResult } from "./sim/simulation.ts";

// The quorum simulation over a bounded number of seeds (`make sim` runs many more). A failure names the seed and
// the command that replays it with its trace.

/** Runs `count` seeds from `from`; with `swarm` each seed also draws its own fault mix (swarmOptions). */
function runSeeds(
  shape: Omit<SimOptions, "seed">,
  from: number,
  count: number,
  swarm = false,
): { results: SimResult[]; failures: string[] } {
  const results: SimResult[] = [];
  const failures: string[] = [];
  for (let seed = from; seed < from + count; seed++) {
    const options = swarm ? swarmOptions(seed, shape) : { ...shape, seed };
    const result = runSimulation(options);
    results.push(result);
    if (result.violation !== null) {
      failures.push(
        `seed ${seed}: ${result.violation}\n  replay: ${replayCommand(options, swarm)}\n  ${result.trace.slice(-15).join("\n  ")}`,
      );
    }
  }
  return { results, failures };
}

function summary(results: SimResult[]): string {
  const steps = results.reduce((n, r) => n + r.steps, 0);
  const leaders = results.reduce((n, r) => n + r.leadersElected, 0);
  const committed = results.reduce((n, r) => n + r.committed, 0);
  const taken = results.reduce((n, r) => n + r.snapshotsTaken, 0);
  const installed = results.reduce((n, r) => n + r.snapshotsInstalled, 0);
  return (
    `${results.length} seeds × ${Math.round(steps / results.length)} steps, ${leaders} leaders elected, ` +
    `${committed} entries committed, ${taken} snapshots taken, ${installed} fetched and installed`
  );
}

describe("KRaft core under a faulty network and crash-restarts (deterministic simulation)", () => {
  it("3 voters and an observer keep every invariant and recover after healing, over 200 seeds", () => {
    const { results, failures } = runSeeds(DEFAULT_SIM, 1, 200);
    console.log(`sim 3 voters: ${summary(results)}`);
    expect(failures).toEqual([]);
    // The runs must actually exercise elections and faults, or passing means little.
    expect(results.reduce((n, r) => n + r.leadersElected, 0)).toBeGreaterThan(500);
    expect(results.reduce((n, r) => n + r.crashes, 0)).toBeGreaterThan(500);
    // Crashed nodes close their connections, and some connections to live leaders close spuriously (ADR 29).
    expect(results.reduce((n, r) => n + r.connectionLosses, 0)).toBeGreaterThan(1000);
    // Connects to crashed nodes are refused, and some to live ones too (ADR 32).
    expect(results.reduce((n, r) => n + r.connectionRefusals, 0)).toBeGreaterThan(1000);
    // Logs are trimmed to snapshots, so lagging and restarted nodes must catch up by FetchSnapshot.
    expect(results.reduce((n, r) => n + r.snapshotsTaken, 0)).toBeGreaterThan(500);
    expect(results.reduce((n, r) => n + r.snapshotsInstalled, 0)).toBeGreaterThan(100);
  });

  it("5 voters and 2 observers keep every invariant, over 80 seeds", () => {
    const { results, failures } = runSeeds({ ...DEFAULT_SIM, voters: 5, observers: 2 }, 10_001, 80);
    console.log(`sim 5 voters: ${summary(results)}`);
    expect(failures).toEqual([]);
  });

  it("keeps every invariant when each seed draws its own fault mix (swarm), over 70 seeds", () => {
    const { results, failures } = runSeeds(DEFAULT_SIM, 20_001, 70, true);
    console.log(`sim swarm: ${summary(results)}`);
    expect(failures).toEqual([]);
  });

  it("dynamic voters (KIP-853): voters added and removed, the leader too, keep every invariant, over 100 seeds", () => {
    // 3 initial voters from a bootstrap snapshot and 2 nodes that know only the bootstrap servers; the leader is asked
    // to add or remove a voter every 400 ms on average during the faults.
    const shape = { ...DEFAULT_SIM, observers: 2, meanVoterChangeIntervalMs: 400 };
    const { results, failures } = runSeeds(shape, 30_001, 70);
    const swarm = runSeeds(shape, 40_001, 30, true);
    const all = [...results, ...swarm.results];
    const changes = all.reduce((n, r) => n + r.voterChanges, 0);
    const committed = all.reduce((n, r) => n + r.voterChangesCommitted, 0);
    console.log(`sim dynamic voters: ${summary(all)}, ${changes} voter changes appended, ${committed} committed`);
    expect([...failures, ...swarm.failures]).toEqual([]);
    // The runs must really change the voter set, committed, many times.
    expect(committed).toBeGreaterThan(200);
  });

  it("replays a seed exactly", () => {
    const a = runSimulation({ ...DEFAULT_SIM, seed: 42 });
    const b = runSimulation({ ...DEFAULT_SIM, seed: 42 });
    expect(b).toEqual(a);
    expect(runSimulation({ ...DEFAULT_SIM, seed: 43 }).trace).not.toEqual(a.trace);
  });

  it("catches a driver that sends before the writes ahead of the message are fsynced", () => {
    const { failures } = runSeeds({ ...DEFAULT_SIM, sendBeforeFsync: true }, 1, 5);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(/committed entry lost/);
  });

  it("catches a deliberately broken core: votes granted without comparing logs", () => {
    const { failures } = runSeeds({ ...DEFAULT_SIM, unsafe: { grantVotesIgnoringLog: true } }, 1, 40);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(/leader completeness|state-machine safety|committed entry lost|log matching/);
    expect(failures[0]).toMatch(/replay: npx tsx broker\/test\/raft\/sim\/cli\.ts --seed \d+/);
  });
});
