import { DecodeError, DecompressedSizeError } from "../errors.ts";

/** Rejects a limit that is not a usable byte count, so a typo cannot silently disable the bound. */
export function checkLimit(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`invalid decompression limit ${maxBytes}`);
}

export function ensureWithinLimit(size: number, maxBytes: number): void {
  if (size > maxBytes) throw new DecompressedSizeError(maxBytes, size);
}

/**
 * Native decoders report corrupt input with library-specific errors; callers of this library only ever see
 * DecodeError.
 */
export function asDecodeError(codec: string, error: unknown): DecodeError {
  if (error instanceof DecodeError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new DecodeError(`invalid ${codec} data: ${detail}`, 0);
}
