// Record batch v2 (magic 2) header layout, from Kafka's DefaultRecordBatch. Every field sits at a fixed offset, so the
// broker can read and patch headers in place without decoding records.

export const BATCH_OFFSET = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordsCount: 57,
  records: 61,
} as const;

/** The only message format this broker accepts (Kafka 4 dropped magic 0 and 1). */
export const MAGIC_V2 = 2;

/** Size of the header, also the smallest possible batch. */
export const BATCH_HEADER_SIZE = 61;
/** baseOffset and batchLength come before the length-counted part of the batch. */
export const BATCH_LOG_OVERHEAD = 12;
/** The CRC covers the batch from the attributes to the end. */
export const CRC_START = BATCH_OFFSET.attributes;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_LOG_APPEND = 0x08;
export const TRANSACTIONAL_FLAG = 0x10;
export const CONTROL_FLAG = 0x20;
export const DELETE_HORIZON_FLAG = 0x40;

export enum CompressionCodec {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export interface BatchHeader {
  baseOffset: bigint;
  /** Bytes after the batchLength field; the whole batch is batchLength + 12 bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

/** Reads the fixed header at `offset`. The caller must have checked that BATCH_HEADER_SIZE bytes are there. */
export function readBatchHeader(buf: Buffer, offset = 0): BatchHeader {
  return {
    baseOffset: buf.readBigInt64BE(offset + BATCH_OFFSET.baseOffset),
    batchLength: buf.readInt32BE(offset + BATCH_OFFSET.batchLength),
    partitionLeaderEpoch: buf.readInt32BE(offset + BATCH_OFFSET.partitionLeaderEpoch),
    magic: buf.readInt8(offset + BATCH_OFFSET.magic),
    crc: buf.readUInt32BE(offset + BATCH_OFFSET.crc),
    attributes: buf.readInt16BE(offset + BATCH_OFFSET.attributes),
    lastOffsetDelta: buf.readInt32BE(offset + BATCH_OFFSET.lastOffsetDelta),
    baseTimestamp: buf.readBigInt64BE(offset + BATCH_OFFSET.baseTimestamp),
    maxTimestamp: buf.readBigInt64BE(offset + BATCH_OFFSET.maxTimestamp),
    producerId: buf.readBigInt64BE(offset + BATCH_OFFSET.producerId),
    producerEpoch: buf.readInt16BE(offset + BATCH_OFFSET.producerEpoch),
    baseSequence: buf.readInt32BE(offset + BATCH_OFFSET.baseSequence),
    recordsCount: buf.readInt32BE(offset + BATCH_OFFSET.recordsCount),
  };
}

/** Total size on disk and on the wire of the batch starting at `offset`. */
export function batchSizeAt(buf: Buffer, offset = 0): number {
  return buf.readInt32BE(offset + BATCH_OFFSET.batchLength) + BATCH_LOG_OVERHEAD;
}
