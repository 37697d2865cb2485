/** The requested offset lies outside [logStartOffset, logEndOffset]; Fetch answers OFFSET_OUT_OF_RANGE. */
export class OffsetOutOfRangeError extends Error {
  override readonly name = "OffsetOutOfRangeError";
  constructor(
    readonly offset: bigint,
    readonly logStartOffset: bigint,
    readonly logEndOffset: bigint,
  ) {
    super(`offset ${offset} is outside the log range [${logStartOffset}, ${logEndOffset}]`);
  }
}

/** The log was closed or deleted; the caller raced a shutdown or a topic deletion. */
export class LogClosedError extends Error {
  override readonly name = "LogClosedError";
  constructor(readonly dir: string) {
    super(`partition log ${dir} is closed`);
  }
}

/**
 * Bytes handed to append() are not a sequence of whole v2 batches (the produce path validates first, so this is a
 * bug), or batches handed to appendAsFollower() are corrupt or do not continue the log.
 */
export class InvalidBatchError extends Error {
  override readonly name = "InvalidBatchError";
}

/**
 * Writing to the log dir failed (disk full, I/O error, read-only filesystem). The log keeps nothing of the failed
 * write and stays readable; a later write may succeed once space returns. Produce answers KAFKA_STORAGE_ERROR.
 */
export class StorageError extends Error {
  override readonly name = "StorageError";
  /** The errno code of the failure (ENOSPC, EIO, ...), when it had one. */
  readonly code: string | undefined;

  constructor(
    readonly dir: string,
    operation: string,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(`${operation} in ${dir} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.code = typeof code === "string" ? code : undefined;
  }
}
