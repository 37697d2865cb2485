// The roll step's questions to the cluster before a restart (answers judged by roll-gates.ts): only what the
// candidate calls for. The probe does the network calls (operator/src/kafka/roll-probe.ts) over the cluster's pooled
// clients.
import type { RollProbe } from "../../kafka/roll-probe.ts";
import type { Candidate, RollFacts } from "./roll-gates.ts";

export interface FactsInput {
  candidate: Candidate;
  /** Every broker-role pod: name, node id, host:port of its metrics endpoint. Undefined: no metrics port. */
  brokers: { pod: string; nodeId: number; address: string }[] | undefined;
  /** The brokers' client. */
  admin: Parameters<RollProbe["partitions"]>[0];
  /** The controllers' client. */
  controllers: Parameters<RollProbe["quorum"]>[0];
}

export async function gatherFacts(probe: RollProbe, input: FactsInput): Promise<RollFacts> {
  const { candidate } = input;
  const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
  const [brokers, partitions, quorum] = await Promise.all([
    input.brokers === undefined ? undefined : probe.restartSafety(input.brokers),
    candidate.broker && candidate.ready
      ? probe.partitions(input.admin).catch((err: unknown) => ({ error: message(err) }))
      : [],
    candidate.controller && candidate.ready
      ? probe.quorum(input.controllers).catch((err: unknown) => ({ error: message(err) }))
      : undefined,
  ]);
  return {
    ...(brokers === undefined ? {} : { brokers }),
    partitions,
    ...(quorum === undefined ? {} : { quorum }),
  };
}
