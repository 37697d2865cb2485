import { DEFAULT_SIM, type SimOptions } from "./simulation.ts";

/** The command that reruns exactly this simulation and prints its trace. */
export function replayCommand(options: SimOptions, swarm = false): string {
  const extra = [
    options.voters !== DEFAULT_SIM.voters ? ` --voters ${options.voters}` : "",
    options.observers !== DEFAULT_SIM.observers ? ` --observers ${options.observers}` : "",
    swarm ? " --swarm" : "",
    (options.meanVoterChangeIntervalMs ?? 0) > 0 ? ` --voter-changes ${options.meanVoterChangeIntervalMs}` : "",
  ].join("");
  return `npx tsx broker/test/raft/sim/cli.ts --seed ${options.seed}${extra}`;
}
