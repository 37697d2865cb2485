// `make sim`: many seeds of the quorum simulation, or one seed replayed with its trace.
//   npx tsx broker/test/raft/sim/cli.ts [--seeds N] [--from S] [--voters V] [--observers O] [--swarm] [--voter-changes MS]
//   npx tsx broker/test/raft/sim/cli.ts --seed S [...the same options]   (replay one seed, with trace)
// --swarm draws each seed's fault mix from the seed too (swarmOptions); --voter-changes MS starts from dynamic voters
// (KIP-853) and asks the leader to add or remove a voter every MS on average.
import { DEFAULT_SIM, runSimulation, swarmOptions, type SimOptions } from "./simulation.ts";
import { replayCommand } from "./replay.ts";

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name} needs a non-negative integer`);
    process.exit(2);
  }
  return value;
}

const shape = {
  ...DEFAULT_SIM,
  voters: arg("voters") ?? DEFAULT_SIM.voters,
  observers: arg("observers") ?? 1,
  meanVoterChangeIntervalMs: arg("voter-changes") ?? 0,
};
const single = arg("seed");
const from = single ?? arg("from") ?? 1;
const count = single !== undefined ? 1 : (arg("seeds") ?? 500);
const swarm = process.argv.includes("--swarm");

let steps = 0;
let simulatedMs = 0;
let committed = 0;
let failures = 0;
let snapshotsTaken = 0;
let snapshotsInstalled = 0;
let voterChanges = 0;
let voterChangesCommitted = 0;
const started = performance.now();
for (let seed = from; seed < from + count; seed++) {
  const options: SimOptions = swarm ? swarmOptions(seed, shape) : { ...shape, seed };
  const result = runSimulation(options);
  steps += result.steps;
  simulatedMs += result.simulatedMs;
  committed += result.committed;
  snapshotsTaken += result.snapshotsTaken;
  snapshotsInstalled += result.snapshotsInstalled;
  voterChanges += result.voterChanges;
  voterChangesCommitted += result.voterChangesCommitted;
  if (single !== undefined) for (const line of result.trace) console.log(line);
  if (result.violation !== null) {
    failures++;
    console.error(`seed ${seed} FAILED after ${result.steps} steps: ${result.violation}`);
    console.error(`  replay: ${replayCommand(options, swarm)}`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `sim: ${count} seeds × ${Math.round(steps / count)} steps on average = ${steps} steps, ` +
    `${Math.round(simulatedMs / 1000)} s simulated, ${committed} entries committed, ` +
    `${snapshotsTaken} snapshots taken, ${snapshotsInstalled} fetched and installed, ` +
    (shape.meanVoterChangeIntervalMs > 0
      ? `${voterChanges} voter changes appended (${voterChangesCommitted} committed), `
      : "") +
    `${failures} failed, ${seconds.toFixed(1)} s (voters ${shape.voters}, observers ${shape.observers}` +
    `${swarm ? ", swarm" : ""}${shape.meanVoterChangeIntervalMs > 0 ? ", dynamic voters" : ""})`,
);
process.exit(failures > 0 ? 1 : 0);
