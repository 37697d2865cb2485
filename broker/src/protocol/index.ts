// The Kafka protocol library: generated message codecs, framing, primitives and record batches. It does no I/O.
export * from "./generated/index.ts";
export * from "./frame.ts";
export * from "./errors.ts";
export * from "./primitives/index.ts";
export type { MessageCodec } from "./codec-runtime.ts";
export * from "./records/index.ts";
