import type { MessageSpec } from "./load-spec.ts";

// Which of Kafka's JSON files the generator turns into codecs, shared with the tests that check every generated codec.

/** The raft control records (Kafka's ControlRecordType) and the quorum-state file, generated into generated/raft/. */
export const RAFT_DATA_SPECS = [
  "LeaderChangeMessage",
  "SnapshotHeaderRecord",
  "SnapshotFooterRecord",
  "KRaftVersionRecord",
  "VotersRecord",
  "QuorumStateData",
];

/** Whether a request is served on the broker listener, the controller listener (KRaft), or neither. */
export function servedBy(spec: MessageSpec): { broker: boolean; controller: boolean } {
  const listeners = spec.listeners ?? [];
  return { broker: listeners.includes("broker"), controller: listeners.includes("controller") };
}
