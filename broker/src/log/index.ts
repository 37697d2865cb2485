export { BufferPool, sharedBufferPool } from "./buffer-pool.ts";
export { DEFAULT_LOG_CONFIG, resolveLogConfig, type LogConfig } from "./config.ts";
export { InvalidBatchError, isStorageFailure, LogClosedError, OffsetOutOfRangeError, StorageError } from "./errors.ts";
export { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, type EpochEndOffset, type EpochEntry } from "./leader-epoch-cache.ts";
export {
  PartitionLog,
  type AppendOptions,
  type AppendResult,
  type DeletedSegment,
  type DeletionReason,
  type PartitionLogOptions,
  type ReadOptions,
  type ReadResult,
  type RetentionOutcome,
  type TimestampLookup,
} from "./partition-log.ts";
export { segmentFileName, type SegmentInfo } from "./segment.ts";
export {
  LogManager,
  parsePartitionDirName,
  partitionDirName,
  type LogManagerOptions,
  type PartitionRef,
  type PartitionRetention,
} from "./log-manager.ts";
