import { createGunzip } from "node:zlib";
import { BATCH_HEADER_SIZE, COMPRESSION_MASK, CompressionCodec, type BatchHeader } from "./batch-header.ts";
import { decompressAsync } from "./compression/index.ts";
import { DecompressedSizeError, RecordErrorCode } from "./errors.ts";

// Checks every record of a v2 batch before it is stored, as Kafka's LogValidator does: a batch whose CRC is right can
// still hold records that no consumer can read. The records are walked as a byte stream — varints are decoded in
// place, keys, values and headers are skipped by their lengths — so nothing is allocated per record, and a gzip
// section is checked while it is being inflated, chunk by chunk, without ever being held whole. (The snappy, lz4 and
// zstd bindings only inflate whole blocks or frames; see walkBatchRecords.)

/** A record refused by a per-record rule; Produce v8+ answers these in RecordErrors. */
export interface RecordError {
  /** The record's position in its batch. */
  readonly batchIndex: number;
  readonly message: string;
}

export type RecordsVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly errorCode: RecordErrorCode;
      readonly message: string;
      /** Empty when the batch is refused as a whole (its structure is wrong), as Kafka does. */
      readonly recordErrors: readonly RecordError[];
    };

export interface WalkRecordsOptions {
  /** Refuse records with a null key (cleanup.policy=compact): a per-record error, as in Kafka. */
  readonly requireKeys?: boolean | undefined;
  /** The most bytes a compressed records section may inflate to; beyond it the batch is MESSAGE_TOO_LARGE. */
  readonly maxDecompressedBytes: number;
  /** Refuse records whose CreateTime lies outside these bounds: INVALID_TIMESTAMP, a per-record error as in Kafka. */
  readonly timestamps?: TimestampBounds | undefined;
}

/**
 * The CreateTime window a record's timestamp must fall in (message.timestamp.before.max.ms / .after.max.ms around the
 * broker's clock), inclusive, in ms. Records without a timestamp (-1) are not checked, as in Kafka.
 */
export interface TimestampBounds {
  readonly min: number;
  readonly max: number;
}

// The fields of a record, in wire order, plus the state of skipping a field's bytes and the end of a record.
const LENGTH = 0;
const ATTRIBUTES = 1;
const TIMESTAMP_DELTA = 2;
const OFFSET_DELTA = 3;
const KEY_LENGTH = 4;
const VALUE_LENGTH = 5;
const HEADER_COUNT = 6;
const HEADER_KEY_LENGTH = 7;
const HEADER_VALUE_LENGTH = 8;
const SKIP = 9;
const END = 10;

const FIELD_NAMES = [
  "length",
  "attributes",
  "timestampDelta",
  "offsetDelta",
  "key",
  "value",
  "header count",
  "header key",
  "header value",
] as const;

/** Attributes, timestampDelta, offsetDelta, key and value lengths and the header count take a byte each at least. */
const MIN_RECORD_BODY = 6;
/** A 32-bit varint takes at most 5 bytes, the 64-bit timestampDelta at most 10. */
const VARINT_LAST_SHIFT = 28;
const VARLONG_MAX_SHIFT = 63;

/**
 * A push parser over a batch's records section. Feed it the section in chunks of any size with push(), then ask
 * finish() for the verdict. It stops at the first structural defect (push returns false); per-record rule violations
 * are collected and do not stop it, so every offending record is named.
 */
export class RecordWalker {
  private field = LENGTH;
  /** The field that follows the bytes being skipped. */
  private afterSkip = LENGTH;
  private skipLeft = 0;
  private varint = 0;
  private shift = 0;
  private recordLength = 0;
  private bodyLeft = 0;
  private headersLeft = 0;
  private index = 0;
  private defect: string | null = null;
  private readonly recordErrors: RecordError[] = [];
  /** The zigzag-encoded timestampDelta read so far, as a double: exact up to 2^53, close enough beyond for a bound. */
  private timestampRaw = 0;
  private timestampRefused = false;

  constructor(
    /** The record count the batch header declares. */
    private readonly count: number,
    private readonly requireKeys = false,
    /** With `bounds`, the batch's firstTimestamp: each record's timestamp is it plus the record's timestampDelta. */
    private readonly timestamps?: { readonly firstTimestamp: number; readonly bounds: TimestampBounds },
  ) {}

  /** Consumes the next bytes of the section. Returns false once a structural defect is found; further input is moot. */
  push(chunk: Uint8Array): boolean {
    if (this.defect !== null) return false;
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      const field = this.field;
      if (field === SKIP) {
        const n = Math.min(this.skipLeft, end - pos);
        pos += n;
        this.skipLeft -= n;
        if (this.skipLeft === 0 && !this.enter(this.afterSkip)) return false;
        continue;
      }
      if (field === LENGTH) {
        if (this.index === this.count && this.shift === 0)
          return this.fail(`the batch declares ${this.count} records but holds more bytes after them`);
      } else {
        if (this.bodyLeft === 0) return this.fail(`record ${this.index}: ${FIELD_NAMES[field]} ${this.overrun()}`);
        this.bodyLeft--;
      }
      const byte = chunk[pos++] ?? 0;
      if (field === ATTRIBUTES) {
        this.field = TIMESTAMP_DELTA;
        continue;
      }
      if (field === TIMESTAMP_DELTA) {
        // The value matters only for the timestamp bounds; storing the batch needs just its well-formedness.
        if (this.timestamps !== undefined) this.timestampRaw += (byte & 0x7f) * 2 ** this.shift;
        if ((byte & 0x80) === 0) {
          this.shift = 0;
          this.field = OFFSET_DELTA;
          if (this.timestamps !== undefined) this.checkTimestamp(this.timestamps);
        } else if ((this.shift += 7) > VARLONG_MAX_SHIFT) {
          return this.fail(`record ${this.index}: timestampDelta is longer than 64 bits`);
        }
        continue;
      }
      if (this.shift === VARINT_LAST_SHIFT) {
        if (byte > 0x0f) return this.fail(`record ${this.index}: ${FIELD_NAMES[field]} is longer than 32 bits`);
      }
      this.varint |= (byte & 0x7f) << this.shift;
      if ((byte & 0x80) !== 0) {
        this.shift += 7;
        continue;
      }
      const raw = this.varint >>> 0;
      this.varint = 0;
      this.shift = 0;
      if (!this.onVarint(field, (raw >>> 1) ^ -(raw & 1))) return false;
    }
    return true;
  }

  /** The verdict once the whole section has been pushed. */
  finish(): RecordsVerdict {
    if (this.defect === null) {
      if (this.field !== LENGTH || this.shift !== 0) this.fail(`the records end inside record ${this.index}`);
      else if (this.index < this.count) this.fail(`the batch declares ${this.count} records but holds ${this.index}`);
    }
    if (this.defect !== null) return refuse(RecordErrorCode.INVALID_RECORD, this.defect);
    const errors = this.recordErrors;
    if (errors.length === 0) return { ok: true };
    const first = errors[0];
    const summary = first ? `; the first, record ${first.batchIndex}: ${first.message}` : "";
    return {
      ok: false,
      // As Kafka's LogValidator: any refused timestamp makes the whole answer INVALID_TIMESTAMP.
      errorCode: this.timestampRefused ? RecordErrorCode.INVALID_TIMESTAMP : RecordErrorCode.INVALID_RECORD,
      message: `${errors.length} of ${this.count} records refused${summary}`,
      recordErrors: errors,
    };
  }

  private checkTimestamp({ firstTimestamp, bounds }: { firstTimestamp: number; bounds: TimestampBounds }): void {
    const raw = this.timestampRaw;
    this.timestampRaw = 0;
    // Zigzag: even raw values are non-negative deltas, odd ones negative.
    const delta = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    const timestamp = firstTimestamp + delta;
    if (timestamp === -1 || (timestamp >= bounds.min && timestamp <= bounds.max)) return;
    this.timestampRefused = true;
    this.recordErrors.push({
      batchIndex: this.index,
      message: `timestamp ${timestamp} is out of range: it should be within [${bounds.min}, ${bounds.max}]`,
    });
  }

  private onVarint(field: number, value: number): boolean {
    switch (field) {
      case LENGTH:
        if (value < MIN_RECORD_BODY) return this.fail(`record ${this.index}: invalid length ${value}`);
        this.recordLength = value;
        this.bodyLeft = value;
        this.field = ATTRIBUTES;
        return true;
      case OFFSET_DELTA:
        // Stored batches keep their records' offset deltas, so they must be exactly 0..count-1 in order.
        if (value !== this.index)
          return this.fail(`record ${this.index}: offsetDelta ${value}, expected ${this.index}`);
        this.field = KEY_LENGTH;
        return true;
      case KEY_LENGTH:
        if (value === -1) {
          if (this.requireKeys)
            this.recordErrors.push({
              batchIndex: this.index,
              message: "a compacted topic needs a key on every record",
            });
          this.field = VALUE_LENGTH;
          return true;
        }
        return this.bytes(field, value, VALUE_LENGTH);
      case VALUE_LENGTH:
        return value === -1 ? this.enter(HEADER_COUNT) : this.bytes(field, value, HEADER_COUNT);
      case HEADER_COUNT:
        if (value < 0) return this.fail(`record ${this.index}: invalid header count ${value}`);
        this.headersLeft = value;
        return this.enter(value > 0 ? HEADER_KEY_LENGTH : END);
      case HEADER_KEY_LENGTH:
        return this.bytes(field, value, HEADER_VALUE_LENGTH);
      default: {
        const next = --this.headersLeft > 0 ? HEADER_KEY_LENGTH : END;
        return value === -1 ? this.enter(next) : this.bytes(field, value, next);
      }
    }
  }

  /** Skips a field of `length` bytes, which must fit in what is left of the record. */
  private bytes(field: number, length: number, next: number): boolean {
    if (length < 0) return this.fail(`record ${this.index}: invalid ${FIELD_NAMES[field]} length ${length}`);
    if (length > this.bodyLeft)
      return this.fail(`record ${this.index}: ${FIELD_NAMES[field]} of ${length} bytes ${this.overrun()}`);
    this.bodyLeft -= length;
    if (length === 0) return this.enter(next);
    this.skipLeft = length;
    this.afterSkip = next;
    this.field = SKIP;
    return true;
  }

  private enter(field: number): boolean {
    if (field !== END) {
      this.field = field;
      return true;
    }
    if (this.bodyLeft !== 0)
      return this.fail(
        `record ${this.index}: its length says ${this.recordLength} bytes but its fields take ${this.recordLength - this.bodyLeft}`,
      );
    this.index++;
    this.field = LENGTH;
    return true;
  }

  private overrun(): string {
    return `runs past the record's length of ${this.recordLength} bytes`;
  }

  private fail(message: string): false {
    this.defect = message;
    return false;
  }
}

function refuse(errorCode: RecordErrorCode, message: string): RecordsVerdict {
  return { ok: false, errorCode, message, recordErrors: [] };
}

/** Output chunk of the streaming inflater: large enough that the per-chunk round trip to the thread pool is amortised. */
const GUNZIP_CHUNK = 64 * 1024;

/** Inflates gzip chunk by chunk into the walker, and stops inflating at its first defect or past the limit. */
function walkGzip(payload: Buffer, walker: RecordWalker, maxBytes: number): Promise<RecordsVerdict> {
  return new Promise((resolve) => {
    const inflater = createGunzip({ chunkSize: GUNZIP_CHUNK });
    let inflated = 0;
    let settled = false;
    const settle = (verdict: RecordsVerdict): void => {
      if (settled) return;
      settled = true;
      inflater.destroy();
      resolve(verdict);
    };
    inflater.on("data", (chunk: Buffer) => {
      if (settled) return;
      inflated += chunk.length;
      if (inflated > maxBytes) settle(tooLarge(new DecompressedSizeError(maxBytes, inflated)));
      else if (!walker.push(chunk)) settle(walker.finish());
    });
    inflater.on("error", (error: Error) => settle(undecodable(CompressionCodec.Gzip, error)));
    inflater.on("end", () => settle(walker.finish()));
    inflater.end(payload);
  });
}

function tooLarge(error: DecompressedSizeError): RecordsVerdict {
  return refuse(RecordErrorCode.MESSAGE_TOO_LARGE, error.message);
}

/**
 * Compressed data that does not decode is INVALID_RECORD: the CRC matched, so the client sent these bytes on purpose
 * and a retry would send them again. (Kafka answers UNKNOWN_SERVER_ERROR here; CORRUPT_MESSAGE would make the Java
 * client retry until its delivery timeout.)
 */
function undecodable(codec: CompressionCodec, error: unknown): RecordsVerdict {
  if (error instanceof DecompressedSizeError) return tooLarge(error);
  const detail = error instanceof Error ? error.message : String(error);
  return refuse(
    RecordErrorCode.INVALID_RECORD,
    `the ${CompressionCodec[codec].toLowerCase()} records do not decompress: ${detail}`,
  );
}

/**
 * Walks every record of one batch whose header was already validated (validateBatch). gzip is inflated as a stream;
 * the other codecs' output is bounded from their own framing before it is allocated (see decompress), then walked,
 * two such batches at a time across the process.
 */
export async function walkBatchRecords(
  batch: Buffer,
  header: BatchHeader,
  options: WalkRecordsOptions,
): Promise<RecordsVerdict> {
  const bounds = options.timestamps;
  const walker = new RecordWalker(
    header.recordsCount,
    options.requireKeys ?? false,
    bounds && { firstTimestamp: Number(header.baseTimestamp), bounds },
  );
  const payload = batch.subarray(BATCH_HEADER_SIZE);
  const codec = (header.attributes & COMPRESSION_MASK) as CompressionCodec;
  if (codec === CompressionCodec.None) {
    walker.push(payload);
    return walker.finish();
  }
  if (codec === CompressionCodec.Gzip) return walkGzip(payload, walker, options.maxDecompressedBytes);
  await wholeDecompressions.acquire();
  try {
    let section: Buffer;
    try {
      section = await decompressAsync(codec, payload, options.maxDecompressedBytes);
    } catch (error) {
      return undecodable(codec, error);
    }
    walker.push(section);
    return walker.finish();
  } finally {
    wholeDecompressions.release();
  }
}

/** A counting semaphore: at most `size` holders at once, the others wait in arrival order. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Codecs other than gzip are inflated whole, up to the limit, before the walk. A request can carry many partitions,
 * each with a small batch that inflates to the limit (a zstd frame of RLE blocks does so from a few KiB), so without a
 * bound across batches one request could hold partitions × limit bytes at once. Two at a time keeps that to twice the
 * limit across the broker, and still uses both cores.
 */
const wholeDecompressions = new Slots(2);
