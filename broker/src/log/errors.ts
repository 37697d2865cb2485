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

/** Bytes handed to append() are not a sequence of whole v2 batches. The produce path validates first, so this is a bug. */
export class InvalidBatchError extends Error {
  override readonly name = "InvalidBatchError";
}
