import { ErrorCode } from "../errors.ts";
import { DecodeError } from "../primitives/index.ts";

export { DecodeError, EncodeError } from "../primitives/index.ts";

/** The subset of Kafka's error codes that record validation and decompression can answer with. */
export const RecordErrorCode = {
  CORRUPT_MESSAGE: ErrorCode.CORRUPT_MESSAGE,
  MESSAGE_TOO_LARGE: ErrorCode.MESSAGE_TOO_LARGE,
  INVALID_TIMESTAMP: ErrorCode.INVALID_TIMESTAMP,
  UNSUPPORTED_COMPRESSION_TYPE: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
  INVALID_RECORD: ErrorCode.INVALID_RECORD,
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
