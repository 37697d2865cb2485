export * from "./batch-header.ts";
export * from "./compression/index.ts";
export { crc32c } from "./crc32c.ts";
export { DecompressedSizeError, RecordErrorCode } from "./errors.ts";
export * from "./record-batch.ts";
export * from "./split.ts";
export * from "./validate.ts";
export * from "./metadata-record.ts";
export * from "./walk.ts";
