// Voter-set changes (PURE). The KRaft voters are static (controller.quorum.voters, rendered from the replica counts):
// changing them means rolling pods one at a time, so old and new voter sets run side by side, and two majorities that
// share no node can each elect a leader (a single old voter alone, two new ones together). Until dynamic voters
// (KIP-853) exist, a spec that would change the voter set of an existing cluster is refused and nothing is applied.
import type { KubeObject } from "../../kube/index.ts";
import { MAX_COMBINED_VOTERS, type PoolSummary } from "./desired.ts";

export interface VoterChange {
  /** The spec field that moves the voter count. */
  field: "spec.replicas" | "spec.controller.replicas";
  from: number;
  to: number;
}

/** The voter change the desired pools would make to the applied StatefulSets (looked up by name), if any. */
export function voterChange(
  pools: readonly PoolSummary[],
  existing: (name: string) => KubeObject | undefined,
): VoterChange | undefined {
  const pool = pools.find((p) => p.controllers > 0);
  if (pool === undefined) return undefined;
  const replicas = (existing(pool.name) as (KubeObject & { spec?: { replicas?: number } }) | undefined)?.spec?.replicas;
  if (replicas === undefined) return undefined;
  const from = pool.role === "controller" ? replicas : Math.min(replicas, MAX_COMBINED_VOTERS);
  if (from === pool.controllers) return undefined;
  return {
    field: pool.role === "controller" ? "spec.controller.replicas" : "spec.replicas",
    from,
    to: pool.controllers,
  };
}

export function voterChangeMessage(change: VoterChange): string {
  const keep =
    change.field === "spec.replicas" && change.from === MAX_COMBINED_VOTERS
      ? ` (any count from ${MAX_COMBINED_VOTERS} up keeps ${MAX_COMBINED_VOTERS} voters)`
      : "";
  return (
    `${change.field} would change the KRaft voters from ${change.from} to ${change.to}; the voters are static ` +
    `(controller.quorum.voters) and cannot be changed safely yet (dynamic voters, KIP-853, do not exist). Nothing ` +
    `was applied. Set ${change.field} back${keep}, or create a new cluster.`
  );
}
