/**
 * The only error a decoder may raise. Anything malformed, truncated or implausible in a frame becomes one of these,
 * so callers can answer with a clean error or close the connection instead of crashing.
 */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
  constructor(
    message: string,
    /** Byte offset in the input at which decoding failed. */
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

/** Raised when a value cannot be represented on the wire (for example a string longer than 32767 bytes). */
export class EncodeError extends Error {
  override readonly name = "EncodeError";
}
