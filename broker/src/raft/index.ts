// The sans-I/O KRaft core (ADR 22): driven by the quorum driver in production and by the simulation in tests.
export * from "./types.ts";
export { RaftLog } from "./raft-log.ts";
export { RaftNode, type RaftStatus, type ReplicaStatus, type SnapshotFormat } from "./raft-node.ts";
export { staticVoter } from "./voter-history.ts";
export { SeededRng } from "./seeded-rng.ts";
