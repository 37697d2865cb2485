import { BATCH_LOG_OVERHEAD, BATCH_OFFSET } from "./batch-header.ts";
import { DecodeError } from "./errors.ts";

/**
 * The smallest length-counted part of any message-set entry: a magic 0 message (crc, magic, attributes, key and value
 * lengths). Anything smaller cannot be a batch of any format, so the data is corrupt rather than cut short.
 */
const MIN_ENTRY_LENGTH = 14;

export interface PartialBatch {
  /** Where the incomplete batch starts in the input. */
  readonly offset: number;
  /** Bytes present. */
  readonly length: number;
  /** Bytes the whole batch would take, or null when not even its length field is there. */
  readonly expectedLength: number | null;
}

export interface SplitBatches {
  /** Views into the input, one per whole batch, in order. */
  readonly batches: Buffer[];
  /**
   * An incomplete batch at the end: normal in a Fetch response cut at its byte limit and in a segment read that
   * raced an append, suspicious in a Produce request.
   */
  readonly partial: PartialBatch | null;
}

/**
 * Cuts a `records` field or a log segment slice into whole batches, without copying and without checking more than
 * each entry's length (validation is validateBatch's job). A length too small for any message format is corruption
 * and raises DecodeError; a last batch that runs past the end is reported as `partial`.
 */
export function splitBatches(records: Buffer): SplitBatches {
  const batches: Buffer[] = [];
  let pos = 0;
  while (pos < records.length) {
    const remaining = records.length - pos;
    if (remaining < BATCH_LOG_OVERHEAD)
      return { batches, partial: { offset: pos, length: remaining, expectedLength: null } };
    const length = records.readInt32BE(pos + BATCH_OFFSET.batchLength);
    if (length < MIN_ENTRY_LENGTH)
      throw new DecodeError(`record batch length ${length} is too small`, pos + BATCH_OFFSET.batchLength);
    const size = length + BATCH_LOG_OVERHEAD;
    if (size > remaining) return { batches, partial: { offset: pos, length: remaining, expectedLength: size } };
    batches.push(records.subarray(pos, pos + size));
    pos += size;
  }
  return { batches, partial: null };
}
