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

/**
 * errno codes that name a limit of this process or machine rather than a fault of the dir being read (too many open
 * files): a dir is not taken offline for them.
 */
const PROCESS_LIMIT_CODES = new Set(["EMFILE", "ENFILE"]);

/**
 * Whether `err` means the log dir's storage failed (Kafka's IOException): a system call on it failed (unreadable or
 * missing directory, a path that is a file where a directory belongs, an I/O error, a full or read-only disk), or a
 * write failed (StorageError). Corrupt data is not one: recovery truncates a torn tail, and anything else it cannot
 * read is a different error, which still stops the start.
 */
export function isStorageFailure(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    const { code, syscall } = e as NodeJS.ErrnoException;
    if (typeof code === "string" && PROCESS_LIMIT_CODES.has(code)) return false;
    if (e instanceof StorageError) return true;
    if (typeof code === "string" && typeof syscall === "string") return true;
  }
  return false;
}
