import { DecodeError } from "../primitives/index.ts";

export { DecodeError, EncodeError } from "../primitives/index.ts";

/**
 * The Kafka error codes a broker answers for bad record data. Kept local to the records library so it does not depend
 * on the generated protocol code; the values are Kafka's and must not change.
 */
export const RecordErrorCode = {
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
} as const;
export type RecordErrorCode = (typeof RecordErrorCode)[keyof typeof RecordErrorCode];

/**
 * Decompressed data would exceed the caller's limit. It is a DecodeError so that "a decoder only raises DecodeError"
 * still holds, but it carries MESSAGE_TOO_LARGE: that is the code on which producers split a batch and retry, which is
 * the right outcome for a batch that is merely too big once inflated.
 */
export class DecompressedSizeError extends DecodeError {
  readonly errorCode = RecordErrorCode.MESSAGE_TOO_LARGE;
  constructor(
    readonly limit: number,
    readonly atLeast: number,
  ) {
    super(`decompressed data of at least ${atLeast} bytes exceeds the limit of ${limit} bytes`, 0);
  }
}
