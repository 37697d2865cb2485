// The Kafka protocol library: generated message codecs (requests and responses, KRaft metadata records, raft control
// records and quorum state), framing, primitives and record batches. It does no I/O.
export * from "./generated/index.ts";
export * from "./generated/metadata/index.ts";
export * from "./generated/raft/index.ts";
export * from "./frame.ts";
export * from "./errors.ts";
export * from "./primitives/index.ts";
export type { MessageCodec } from "./codec-runtime.ts";
export * from "./records/index.ts";
