import {
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  BATCH_OFFSET,
  COMPRESSION_MASK,
  CONTROL_FLAG,
  MAGIC_V2,
  readBatchHeader,
  type BatchHeader,
} from "./batch-header.ts";
import { isCompressionCodec } from "./compression/index.ts";
import { RecordErrorCode } from "./errors.ts";
import { DEFAULT_MAX_DECOMPRESSED_BYTES, verifyBatchCrc } from "./record-batch.ts";
import { splitBatches } from "./split.ts";
import { walkBatchRecords, type RecordError, type TimestampBounds } from "./walk.ts";

export interface BatchRejection {
  readonly ok: false;
  /** The Kafka error code to answer with. */
  readonly errorCode: RecordErrorCode;
  readonly message: string;
  /** Records refused by a per-record rule (Produce v8+ RecordErrors); absent when the batch is refused whole. */
  readonly recordErrors?: readonly RecordError[];
}

export type BatchVerdict = { readonly ok: true; readonly header: BatchHeader } | BatchRejection;

export type ProduceRecordsVerdict =
  { readonly ok: true; readonly header: BatchHeader; readonly batch: Buffer } | BatchRejection;

export interface ValidateBatchOptions {
  /** The topic's max.message.bytes: a larger batch is MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes?: number | undefined;
  /** Default true. */
  readonly verifyCrc?: boolean | undefined;
  /**
   * Apply the rules Kafka applies only to batches from producers (LogValidator): no control batches, and an
   * idempotent batch must carry a sequence number.
   */
  readonly fromClient?: boolean | undefined;
}

function reject(errorCode: RecordErrorCode, message: string): BatchRejection {
  return { ok: false, errorCode, message };
}

/**
 * Checks one batch (a view of exactly one batch) in the order Kafka does, without decoding records, and says which
 * Kafka error to answer. Never throws on bad data.
 */
export function validateBatch(batch: Buffer, options: ValidateBatchOptions = {}): BatchVerdict {
  if (batch.length < BATCH_HEADER_SIZE)
    return reject(RecordErrorCode.CORRUPT_MESSAGE, `batch of ${batch.length} bytes is shorter than its header`);
  const size = batch.readInt32BE(BATCH_OFFSET.batchLength) + BATCH_LOG_OVERHEAD;
  if (size !== batch.length)
    return reject(RecordErrorCode.CORRUPT_MESSAGE, `batchLength gives ${size} bytes but the batch has ${batch.length}`);
  const magic = batch.readInt8(BATCH_OFFSET.magic);
  if (magic !== MAGIC_V2) {
    // Magic 0 and 1 are real but retired formats (INVALID_RECORD, as Kafka 4 answers); anything else is garbage.
    const code = magic === 0 || magic === 1 ? RecordErrorCode.INVALID_RECORD : RecordErrorCode.CORRUPT_MESSAGE;
    return reject(code, `unsupported magic ${magic}`);
  }
  if (options.maxMessageBytes !== undefined && batch.length > options.maxMessageBytes)
    return reject(
      RecordErrorCode.MESSAGE_TOO_LARGE,
      `batch of ${batch.length} bytes exceeds max.message.bytes ${options.maxMessageBytes}`,
    );
  if ((options.verifyCrc ?? true) && !verifyBatchCrc(batch))
    return reject(RecordErrorCode.CORRUPT_MESSAGE, "record batch CRC mismatch");
  const header = readBatchHeader(batch);
  const codec = header.attributes & COMPRESSION_MASK;
  if (!isCompressionCodec(codec)) return reject(RecordErrorCode.CORRUPT_MESSAGE, `unknown compression codec ${codec}`);
  if (header.lastOffsetDelta < 0)
    return reject(RecordErrorCode.INVALID_RECORD, `invalid lastOffsetDelta ${header.lastOffsetDelta}`);
  if (header.recordsCount <= 0)
    return reject(RecordErrorCode.INVALID_RECORD, `invalid record count ${header.recordsCount}`);
  if (header.lastOffsetDelta + 1 !== header.recordsCount)
    return reject(
      RecordErrorCode.INVALID_RECORD,
      `lastOffsetDelta ${header.lastOffsetDelta} does not match the record count ${header.recordsCount}`,
    );
  if (options.fromClient) {
    if ((header.attributes & CONTROL_FLAG) !== 0)
      return reject(RecordErrorCode.INVALID_RECORD, "clients may not write control batches");
    if (header.producerId >= 0n && header.baseSequence < 0)
      return reject(RecordErrorCode.INVALID_RECORD, `idempotent batch with invalid sequence ${header.baseSequence}`);
  }
  return { ok: true, header };
}

export interface ValidateProduceOptions {
  /** The topic's max.message.bytes: a larger batch is MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes?: number | undefined;
  /** The topic is compacted (cleanup.policy includes compact): every record needs a key. */
  readonly requireKeys?: boolean | undefined;
  /** Bound on a compressed batch's inflated records; default DEFAULT_MAX_DECOMPRESSED_BYTES. */
  readonly maxDecompressedBytes?: number | undefined;
  /** CreateTime topics: the window every record's timestamp must fall in, else INVALID_TIMESTAMP per record. */
  readonly timestamps?: TimestampBounds | undefined;
}

/**
 * Validates a Produce partition's `records` field as Kafka does before appending: exactly one whole v2 batch (Kafka's
 * rule since Produce v3), its header (validateBatch with the client rules), then every record in it (walkBatchRecords),
 * decompressing it if need be. On success also returns the batch view, ready for patching and appending.
 */
export async function validateProduceRecords(
  records: Buffer,
  options: ValidateProduceOptions = {},
): Promise<ProduceRecordsVerdict> {
  let split;
  try {
    split = splitBatches(records);
  } catch (error) {
    return reject(RecordErrorCode.CORRUPT_MESSAGE, error instanceof Error ? error.message : String(error));
  }
  if (split.partial) return reject(RecordErrorCode.CORRUPT_MESSAGE, "records end with an incomplete batch");
  const batch = split.batches[0];
  if (!batch || split.batches.length !== 1)
    return reject(RecordErrorCode.INVALID_RECORD, `expected one record batch, got ${split.batches.length}`);
  const verdict = validateBatch(batch, { maxMessageBytes: options.maxMessageBytes, fromClient: true });
  if (!verdict.ok) return verdict;
  const walked = await walkBatchRecords(batch, verdict.header, {
    requireKeys: options.requireKeys,
    maxDecompressedBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
    timestamps: options.timestamps,
  });
  if (!walked.ok)
    return { ok: false, errorCode: walked.errorCode, message: walked.message, recordErrors: walked.recordErrors };
  return { ...verdict, batch };
}
