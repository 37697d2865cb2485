// Restart gates (PURE): may the pod the planner chose (roll.ts) be deleted now? Three sources, asked by the roll step
// (operator/src/kafka/roll-probe.ts) and judged here:
//   - each broker's own answer, GET /v1/restart-safety (docs/restart-safety.md): the candidate must answer canStop,
//     every other broker caughtUp (so the broker restarted before is back in all its ISRs), and a candidate that is
//     still starting (log recovery, registration) is never restarted;
//   - the Admin API (Metadata): the same min.insync.replicas rule recomputed from the ISRs, as a cross-check that does
//     not trust the broker alone, and no partition may be missing a replica from its ISR;
//   - DescribeQuorum, for a KRaft voter: without it, a caught-up majority of voters must remain.
// A pod that is not Ready serves nothing, so restarting it costs no availability: only the "still starting" rule
// applies to it (a broken cluster stays fixable by a new spec). What cannot be verified blocks: never restart blind.

/** A broker's answer on /v1/restart-safety, the fields the gate reads. */
export interface RestartSafetyAnswer {
  brokerId: number;
  canStop: boolean;
  canStopReasons: string[];
  blockingPartitions: unknown[];
  caughtUp: boolean;
  caughtUpReasons: string[];
}

/** What one broker answered, or why it did not. */
export type BrokerAnswer =
  | { nodeId: number; pod: string; answer: RestartSafetyAnswer; error?: undefined }
  | { nodeId: number; pod: string; answer?: undefined; error: string };

export interface PartitionFact {
  topic: string;
  partition: number;
  replicas: number[];
  isr: number[];
  /** The topic's min.insync.replicas (its own, else the broker default). */
  minIsr: number;
}

export interface QuorumFact {
  leaderId: number;
  voters: { replicaId: number; lastCaughtUpTimestamp: number }[];
}

export interface RollFacts {
  /** Every broker's restart-safety answer; undefined when the brokers serve no metrics port (spec.metrics off). */
  brokers?: BrokerAnswer[];
  /** The cluster's partitions from the Admin API, or why they could not be read. */
  partitions: PartitionFact[] | { error: string };
  /** DescribeQuorum, asked only when the candidate is a voter. */
  quorum?: QuorumFact | { error: string };
}

export interface Candidate {
  pod: string;
  nodeId: number;
  /** Serves clients (broker or combined node). */
  broker: boolean;
  /** Votes in the KRaft quorum. */
  controller: boolean;
  ready: boolean;
}

export type BlockReason =
  "BrokerStarting" | "WaitingForIsr" | "BrokerNotCaughtUp" | "QuorumNotCaughtUp" | "SafetyUnknown";

export interface Blocker {
  reason: BlockReason;
  message: string;
}

/** How far behind the leader a voter may be and still count as caught up: controller.quorum.fetch.timeout.ms. */
export const QUORUM_CAUGHT_UP_MS = 2_000;
/** At most this many partitions are named in one message. */
const NAMED = 5;

/** The reasons the candidate may not be restarted now; empty means go. */
export function restartBlockers(candidate: Candidate, facts: RollFacts): Blocker[] {
  const blockers: Blocker[] = [];
  const own = facts.brokers?.find((b) => b.nodeId === candidate.nodeId);
  if (candidate.broker && own?.answer !== undefined && isStarting(own.answer)) {
    blockers.push({
      reason: "BrokerStarting",
      message: `${candidate.pod} is still starting (${own.answer.caughtUpReasons.join("; ") || "log recovery or registration"}); it is not restarted before it has finished`,
    });
  }
  if (!candidate.ready) return blockers;
  if (candidate.broker) blockers.push(...brokerBlockers(candidate, facts, own));
  if (candidate.controller) blockers.push(...quorumBlockers(candidate, facts.quorum));
  return blockers;
}

/** A started broker that may not stop always names the partitions that block it; a starting one names none. */
function isStarting(a: RestartSafetyAnswer): boolean {
  return !a.canStop && !a.caughtUp && a.blockingPartitions.length === 0;
}

function brokerBlockers(candidate: Candidate, facts: RollFacts, own: BrokerAnswer | undefined): Blocker[] {
  const out: Blocker[] = [];
  if (facts.brokers !== undefined) {
    if (own === undefined) {
      out.push({ reason: "SafetyUnknown", message: `${candidate.pod} was not asked whether it can stop` });
    } else if (own.error !== undefined) {
      out.push({
        reason: "SafetyUnknown",
        message: `${candidate.pod} did not answer /v1/restart-safety: ${own.error}`,
      });
    } else if (!own.answer.canStop && !isStarting(own.answer)) {
      out.push({
        reason: "WaitingForIsr",
        message: `${candidate.pod} answers it cannot stop: ${own.answer.canStopReasons.join("; ")}`,
      });
    }
    for (const other of facts.brokers) {
      if (other.nodeId === candidate.nodeId) continue;
      if (other.error !== undefined) {
        out.push({
          reason: "SafetyUnknown",
          message: `${other.pod} did not answer /v1/restart-safety: ${other.error}`,
        });
      } else if (!other.answer.caughtUp) {
        out.push({
          reason: "BrokerNotCaughtUp",
          message: `${other.pod} has not caught up: ${other.answer.caughtUpReasons.join("; ")}`,
        });
      }
    }
  }
  if ("error" in facts.partitions) {
    out.push({ reason: "SafetyUnknown", message: `the partitions' ISRs could not be read: ${facts.partitions.error}` });
    return out;
  }
  const belowMin: string[] = [];
  const lagging: string[] = [];
  for (const p of facts.partitions) {
    const name = `${p.topic}-${p.partition}`;
    const missing = p.replicas.filter((r) => !p.isr.includes(r));
    if (missing.length > 0) lagging.push(`${name} (ISR [${p.isr.join(", ")}] lacks ${missing.join(", ")})`);
    if (!p.replicas.includes(candidate.nodeId)) continue;
    // Kafka's effective minimum never exceeds the replication factor; at or below it (RF 1, say) any restart takes
    // the partition under it however long one waits, so such partitions cannot block.
    const min = Math.min(p.minIsr, p.replicas.length);
    if (p.replicas.length <= min) continue;
    const after = p.isr.filter((r) => r !== candidate.nodeId).length;
    if (after < min) belowMin.push(`${name} (ISR [${p.isr.join(", ")}], min.insync.replicas=${min})`);
  }
  if (belowMin.length > 0) {
    out.push({
      reason: "WaitingForIsr",
      message: `restarting ${candidate.pod} would take ${named(belowMin)} below min.insync.replicas`,
    });
  }
  if (lagging.length > 0) {
    out.push({ reason: "WaitingForIsr", message: `replicas are out of the ISR: ${named(lagging)}` });
  }
  return out;
}

function quorumBlockers(candidate: Candidate, quorum: RollFacts["quorum"]): Blocker[] {
  if (quorum === undefined) return [{ reason: "SafetyUnknown", message: "the quorum was not described" }];
  if ("error" in quorum) return [{ reason: "SafetyUnknown", message: `DescribeQuorum failed: ${quorum.error}` }];
  if (quorum.leaderId < 0) return [{ reason: "QuorumNotCaughtUp", message: "the KRaft quorum has no leader" }];
  const voters = quorum.voters;
  if (voters.length <= 1) return [];
  const leader = voters.find((v) => v.replicaId === quorum.leaderId);
  const caughtUp = voters.filter(
    (v) =>
      v.replicaId !== candidate.nodeId &&
      (v.replicaId === quorum.leaderId ||
        (leader !== undefined &&
          v.lastCaughtUpTimestamp >= 0 &&
          leader.lastCaughtUpTimestamp - v.lastCaughtUpTimestamp < QUORUM_CAUGHT_UP_MS)),
  );
  // Two voters lose their majority whichever goes; as Strimzi does, the roll goes on once the other is caught up
  // (never restarting, the cluster could never roll at all).
  const majority = voters.length === 2 ? 1 : Math.floor(voters.length / 2) + 1;
  if (caughtUp.length >= majority) return [];
  return [
    {
      reason: "QuorumNotCaughtUp",
      message:
        `without ${candidate.pod} only ${caughtUp.length} of ${voters.length} voters are caught up ` +
        `(${caughtUp.map((v) => v.replicaId).join(", ") || "none"}); a majority needs ${majority}`,
    },
  ];
}

function named(items: string[]): string {
  const more = items.length > NAMED ? ` and ${items.length - NAMED} more` : "";
  return `${items.slice(0, NAMED).join(", ")}${more}`;
}
