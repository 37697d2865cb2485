import { Reader, Writer, sizeOfVarint, sizeOfVarlong } from "../primitives/index.ts";
import {
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  BATCH_OFFSET,
  COMPRESSION_MASK,
  CONTROL_FLAG,
  CRC_START,
  CompressionCodec,
  DELETE_HORIZON_FLAG,
  MAGIC_V2,
  TIMESTAMP_TYPE_LOG_APPEND,
  TRANSACTIONAL_FLAG,
  readBatchHeader,
  type BatchHeader,
} from "./batch-header.ts";
import { compress, compressAsync, decompress, decompressAsync, isCompressionCodec } from "./compression/index.ts";
import { crc32c } from "./crc32c.ts";
import { DecodeError, EncodeError } from "./errors.ts";

export type TimestampType = "create" | "log-append";

export interface RecordHeaderInput {
  readonly key: string;
  readonly value: Uint8Array | null;
}

export interface RecordInput {
  readonly key?: Uint8Array | null | undefined;
  readonly value?: Uint8Array | null | undefined;
  readonly headers?: readonly RecordHeaderInput[] | undefined;
  /** Absolute timestamp (ms); used when timestampDelta is not given. */
  readonly timestamp?: bigint | undefined;
  /** Relative to the batch's baseTimestamp; wins over `timestamp`. */
  readonly timestampDelta?: bigint | undefined;
  /** Defaults to the record's index in the batch. */
  readonly offsetDelta?: number | undefined;
  /** Unused by Kafka so far; defaults to 0. */
  readonly attributes?: number | undefined;
}

export interface BatchInput {
  readonly records: readonly RecordInput[];
  readonly baseOffset?: bigint | undefined;
  readonly partitionLeaderEpoch?: number | undefined;
  /** Defaults to the first record's `timestamp`, else 0. */
  readonly baseTimestamp?: bigint | undefined;
  /** Defaults to the largest record timestamp (Kafka's rule). */
  readonly maxTimestamp?: bigint | undefined;
  readonly producerId?: bigint | undefined;
  readonly producerEpoch?: number | undefined;
  readonly baseSequence?: number | undefined;
  readonly transactional?: boolean | undefined;
  readonly control?: boolean | undefined;
  readonly timestampType?: TimestampType | undefined;
  readonly compression?: CompressionCodec | undefined;
}

export interface RecordHeader {
  readonly key: string;
  /** A view into the batch (or the decompressed records) — copy it to keep it beyond the buffer's life. */
  readonly value: Buffer | null;
}

export interface KafkaRecord {
  readonly attributes: number;
  readonly timestampDelta: bigint;
  /** baseTimestamp + timestampDelta, or the batch's maxTimestamp under LogAppendTime (as clients read it). */
  readonly timestamp: bigint;
  readonly offsetDelta: number;
  readonly offset: bigint;
  /** Views into the batch when it is uncompressed (no copy), into the decompressed buffer otherwise. */
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

export interface RecordBatch {
  readonly header: BatchHeader;
  readonly compression: CompressionCodec;
  readonly timestampType: TimestampType;
  readonly transactional: boolean;
  readonly control: boolean;
  readonly hasDeleteHorizon: boolean;
  readonly records: readonly KafkaRecord[];
}

export interface DecodeBatchOptions {
  /** Check the CRC first (default true); a log that was verified on append may skip it. */
  readonly verifyCrc?: boolean | undefined;
  /** Bound on the decompressed records section; see DEFAULT_MAX_DECOMPRESSED_BYTES. */
  readonly maxDecompressedBytes?: number | undefined;
}

/** Used when the caller gives no bound: generous for real batches, small enough that a bomb cannot exhaust memory. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** Smallest encoded record: length, attributes, timestampDelta, offsetDelta, key, value and header count, 1 byte each. */
const MIN_RECORD_SIZE = 7;

// ---------------------------------------------------------------------------------------------------------------------
// Encoding

function bytesSize(value: Uint8Array | null | undefined): number {
  return value == null ? 1 : sizeOfVarint(value.length) + value.length;
}

function recordBodySize(record: RecordInput, timestampDelta: bigint, offsetDelta: number, keys: Buffer[]): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  size += bytesSize(record.key) + bytesSize(record.value);
  const headers = record.headers ?? [];
  size += sizeOfVarint(headers.length);
  for (const header of headers) {
    const key = Buffer.from(header.key, "utf8");
    keys.push(key);
    size += sizeOfVarint(key.length) + key.length + bytesSize(header.value);
  }
  return size;
}

function writeBytes(w: Writer, value: Uint8Array | null | undefined): void {
  if (value == null) {
    w.varint(-1);
    return;
  }
  w.varint(value.length);
  w.raw(value);
}

interface RecordsPlan {
  readonly size: number;
  readonly bodySizes: Int32Array;
  readonly timestampDeltas: bigint[];
  readonly offsetDeltas: Int32Array;
  /** Header keys as UTF-8, encoded once in the size pass and written in the write pass, in record order. */
  readonly headerKeys: Buffer[];
  readonly baseTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly lastOffsetDelta: number;
}

function planRecords(input: BatchInput): RecordsPlan {
  const records = input.records;
  if (records.length === 0) throw new EncodeError("a record batch needs at least one record");
  const baseTimestamp = input.baseTimestamp ?? records[0]?.timestamp ?? 0n;
  const bodySizes = new Int32Array(records.length);
  const offsetDeltas = new Int32Array(records.length);
  const timestampDeltas: bigint[] = new Array<bigint>(records.length);
  const keys: Buffer[] = [];
  let size = 0;
  let maxDelta: bigint | null = null;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as RecordInput;
    const timestampDelta = record.timestampDelta ?? (record.timestamp ?? baseTimestamp) - baseTimestamp;
    const offsetDelta = record.offsetDelta ?? i;
    const body = recordBodySize(record, timestampDelta, offsetDelta, keys);
    bodySizes[i] = body;
    offsetDeltas[i] = offsetDelta;
    timestampDeltas[i] = timestampDelta;
    if (maxDelta === null || timestampDelta > maxDelta) maxDelta = timestampDelta;
    size += sizeOfVarint(body) + body;
  }
  return {
    size,
    bodySizes,
    timestampDeltas,
    offsetDeltas,
    headerKeys: keys,
    baseTimestamp,
    maxTimestamp: input.maxTimestamp ?? baseTimestamp + (maxDelta ?? 0n),
    lastOffsetDelta: offsetDeltas[records.length - 1] ?? 0,
  };
}

function writeRecords(w: Writer, records: readonly RecordInput[], plan: RecordsPlan): void {
  let keyIndex = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as RecordInput;
    w.varint(plan.bodySizes[i] ?? 0);
    w.int8(record.attributes ?? 0);
    w.varlong(plan.timestampDeltas[i] ?? 0n);
    w.varint(plan.offsetDeltas[i] ?? 0);
    writeBytes(w, record.key);
    writeBytes(w, record.value);
    const headers = record.headers ?? [];
    w.varint(headers.length);
    for (const header of headers) {
      writeBytes(w, plan.headerKeys[keyIndex++]);
      writeBytes(w, header.value);
    }
  }
}

function attributesOf(input: BatchInput): number {
  let attributes = input.compression ?? CompressionCodec.None;
  if (input.timestampType === "log-append") attributes |= TIMESTAMP_TYPE_LOG_APPEND;
  if (input.transactional) attributes |= TRANSACTIONAL_FLAG;
  if (input.control) attributes |= CONTROL_FLAG;
  return attributes;
}

function writeHeader(buf: Buffer, input: BatchInput, plan: RecordsPlan): void {
  const w = new Writer(buf);
  w.int64(input.baseOffset ?? 0n);
  w.int32(buf.length - BATCH_LOG_OVERHEAD);
  w.int32(input.partitionLeaderEpoch ?? -1);
  w.int8(MAGIC_V2);
  w.uint32(0);
  w.int16(attributesOf(input));
  w.int32(plan.lastOffsetDelta);
  w.int64(plan.baseTimestamp);
  w.int64(plan.maxTimestamp);
  w.int64(input.producerId ?? -1n);
  w.int16(input.producerEpoch ?? -1);
  w.int32(input.baseSequence ?? -1);
  w.int32(input.records.length);
  writeBatchCrc(buf);
}

function encodeUncompressed(input: BatchInput, plan: RecordsPlan): Buffer {
  const buf = Buffer.allocUnsafe(BATCH_HEADER_SIZE + plan.size);
  writeRecords(new Writer(buf, BATCH_HEADER_SIZE), input.records, plan);
  writeHeader(buf, input, plan);
  return buf;
}

function recordsSection(input: BatchInput, plan: RecordsPlan): Buffer {
  const section = Buffer.allocUnsafe(plan.size);
  writeRecords(new Writer(section), input.records, plan);
  return section;
}

function assemble(input: BatchInput, plan: RecordsPlan, payload: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(BATCH_HEADER_SIZE + payload.length);
  payload.copy(buf, BATCH_HEADER_SIZE);
  writeHeader(buf, input, plan);
  return buf;
}

/**
 * Encodes one record batch v2, compressing the records section with `input.compression`. The records are written in
 * one pass into a buffer sized beforehand; uncompressed batches are written straight into the final buffer.
 */
export function encodeRecordBatch(input: BatchInput): Buffer {
  const plan = planRecords(input);
  const codec = input.compression ?? CompressionCodec.None;
  if (codec === CompressionCodec.None) return encodeUncompressed(input, plan);
  return assemble(input, plan, compress(codec, recordsSection(input, plan)));
}

/** As encodeRecordBatch, compressing off the main thread where the library allows. */
export async function encodeRecordBatchAsync(input: BatchInput): Promise<Buffer> {
  const plan = planRecords(input);
  const codec = input.compression ?? CompressionCodec.None;
  if (codec === CompressionCodec.None) return encodeUncompressed(input, plan);
  return assemble(input, plan, await compressAsync(codec, recordsSection(input, plan)));
}

// ---------------------------------------------------------------------------------------------------------------------
// CRC and in-place patching

function requireHeader(batch: Buffer): void {
  if (batch.length < BATCH_HEADER_SIZE)
    throw new DecodeError(`record batch of ${batch.length} bytes is shorter than its header`, batch.length);
}

/** The CRC-32C a batch should carry: attributes to the end, so the fields before it can be patched freely. */
export function computeBatchCrc(batch: Buffer): number {
  requireHeader(batch);
  return crc32c(batch.subarray(CRC_START));
}

export function verifyBatchCrc(batch: Buffer): boolean {
  return computeBatchCrc(batch) === batch.readUInt32BE(BATCH_OFFSET.crc);
}

export function writeBatchCrc(batch: Buffer): void {
  batch.writeUInt32BE(computeBatchCrc(batch), BATCH_OFFSET.crc);
}

/** Assigns the batch's first offset in the log. Outside the CRC, so the checksum stays valid untouched. */
export function setBaseOffset(batch: Buffer, baseOffset: bigint): void {
  requireHeader(batch);
  batch.writeBigInt64BE(baseOffset, BATCH_OFFSET.baseOffset);
}

/** Stamps the leader epoch under which the batch was appended. Outside the CRC as well. */
export function setPartitionLeaderEpoch(batch: Buffer, epoch: number): void {
  requireHeader(batch);
  batch.writeInt32BE(epoch, BATCH_OFFSET.partitionLeaderEpoch);
}

/**
 * Switches the batch to LogAppendTime at `timestamp`: sets the timestamp-type bit and maxTimestamp (which clients then
 * use for every record) and recomputes the CRC. The records themselves are not touched.
 */
export function setLogAppendTime(batch: Buffer, timestamp: bigint): void {
  requireHeader(batch);
  const attributes = batch.readInt16BE(BATCH_OFFSET.attributes);
  batch.writeInt16BE(attributes | TIMESTAMP_TYPE_LOG_APPEND, BATCH_OFFSET.attributes);
  batch.writeBigInt64BE(timestamp, BATCH_OFFSET.maxTimestamp);
  writeBatchCrc(batch);
}

/** Corrects maxTimestamp under CreateTime (when the client's value disagrees with its records) and re-seals the CRC. */
export function setMaxTimestamp(batch: Buffer, timestamp: bigint): void {
  requireHeader(batch);
  batch.writeBigInt64BE(timestamp, BATCH_OFFSET.maxTimestamp);
  writeBatchCrc(batch);
}

// ---------------------------------------------------------------------------------------------------------------------
// Decoding

function bytesField(r: Reader, source: Buffer, what: string): Buffer | null {
  const length = r.varint();
  if (length < 0) {
    if (length !== -1) r.fail(`invalid ${what} length ${length}`);
    return null;
  }
  const at = r.offset;
  r.skip(length);
  return source.subarray(at, at + length);
}

function readRecord(r: Reader, source: Buffer, header: BatchHeader, logAppendTime: boolean): KafkaRecord {
  const length = r.varint();
  if (length < MIN_RECORD_SIZE - 1) r.fail(`invalid record length ${length}`);
  const start = r.offset;
  r.skip(length);
  const body = new Reader(source, start, start + length);
  const attributes = body.int8();
  const timestampDelta = body.varlong();
  const offsetDelta = body.varint();
  const key = bytesField(body, source, "key");
  const value = bytesField(body, source, "value");
  const headerCount = body.varint();
  if (headerCount < 0 || headerCount > body.remaining / 2)
    body.fail(`invalid header count ${headerCount} for ${body.remaining} bytes`);
  const headers: RecordHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const keyLength = body.varint();
    if (keyLength < 0) body.fail(`invalid header key length ${keyLength}`);
    const keyAt = body.offset;
    body.skip(keyLength);
    headers.push({ key: source.toString("utf8", keyAt, keyAt + keyLength), value: bytesField(body, source, "header") });
  }
  body.expectEnd("record");
  return {
    attributes,
    timestampDelta,
    timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
    offsetDelta,
    offset: header.baseOffset + BigInt(offsetDelta),
    key,
    value,
    headers,
  };
}

interface Prepared {
  readonly header: BatchHeader;
  readonly codec: CompressionCodec;
  readonly maxDecompressedBytes: number;
}

function prepare(batch: Buffer, options: DecodeBatchOptions): Prepared {
  requireHeader(batch);
  const size = batch.readInt32BE(BATCH_OFFSET.batchLength) + BATCH_LOG_OVERHEAD;
  if (size !== batch.length)
    throw new DecodeError(`batchLength says ${size} bytes but the batch has ${batch.length}`, BATCH_OFFSET.batchLength);
  const header = readBatchHeader(batch);
  if (header.magic !== MAGIC_V2) throw new DecodeError(`unsupported magic ${header.magic}`, BATCH_OFFSET.magic);
  if ((options.verifyCrc ?? true) && !verifyBatchCrc(batch))
    throw new DecodeError("record batch CRC mismatch", BATCH_OFFSET.crc);
  const codec = header.attributes & COMPRESSION_MASK;
  if (!isCompressionCodec(codec)) throw new DecodeError(`unknown compression codec ${codec}`, BATCH_OFFSET.attributes);
  if (header.recordsCount < 0)
    throw new DecodeError(`negative record count ${header.recordsCount}`, BATCH_OFFSET.recordsCount);
  return { header, codec, maxDecompressedBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES };
}

function readRecords(prepared: Prepared, section: Buffer): RecordBatch {
  const { header, codec } = prepared;
  const count = header.recordsCount;
  if (count > section.length / MIN_RECORD_SIZE)
    throw new DecodeError(`${count} records cannot fit in ${section.length} bytes`, BATCH_OFFSET.recordsCount);
  const logAppendTime = (header.attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0;
  const r = new Reader(section);
  const records: KafkaRecord[] = new Array<KafkaRecord>(count);
  for (let i = 0; i < count; i++) records[i] = readRecord(r, section, header, logAppendTime);
  r.expectEnd("the batch's records");
  return {
    header,
    compression: codec,
    timestampType: logAppendTime ? "log-append" : "create",
    transactional: (header.attributes & TRANSACTIONAL_FLAG) !== 0,
    control: (header.attributes & CONTROL_FLAG) !== 0,
    hasDeleteHorizon: (header.attributes & DELETE_HORIZON_FLAG) !== 0,
    records,
  };
}

/**
 * Decodes one whole batch (exactly batchLength + 12 bytes, e.g. a view from splitBatches). Records of an uncompressed
 * batch are views into `batch`. Raises only DecodeError (DecompressedSizeError when inflating would pass the limit).
 */
export function decodeRecordBatch(batch: Buffer, options: DecodeBatchOptions = {}): RecordBatch {
  const prepared = prepare(batch, options);
  const payload = batch.subarray(BATCH_HEADER_SIZE);
  const section =
    prepared.codec === CompressionCodec.None
      ? payload
      : decompress(prepared.codec, payload, prepared.maxDecompressedBytes);
  return readRecords(prepared, section);
}

/** As decodeRecordBatch, decompressing off the main thread where the library allows. */
export async function decodeRecordBatchAsync(batch: Buffer, options: DecodeBatchOptions = {}): Promise<RecordBatch> {
  const prepared = prepare(batch, options);
  const payload = batch.subarray(BATCH_HEADER_SIZE);
  const section =
    prepared.codec === CompressionCodec.None
      ? payload
      : await decompressAsync(prepared.codec, payload, prepared.maxDecompressedBytes);
  return readRecords(prepared, section);
}
