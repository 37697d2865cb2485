import {
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  BATCH_OFFSET,
  CompressionCodec,
  encodeRecordBatch,
  writeBatchCrc,
} from "../../../src/protocol/records/index.ts";

/**
 * A v2 batch whose records section is `payload` as given (already compressed with `codec`, if any), declaring `count`
 * records and `lastOffsetDelta` (default count - 1), under a real batch's header and with a correct CRC: only walking
 * the records can tell what is wrong with it.
 */
export function forgeBatch(
  payload: Buffer,
  count: number,
  options: { codec?: CompressionCodec | undefined; lastOffsetDelta?: number | undefined } = {},
): Buffer {
  const template = encodeRecordBatch({
    records: [{ value: Buffer.from("x") }],
    compression: options.codec ?? CompressionCodec.None,
  });
  const batch = Buffer.concat([template.subarray(0, BATCH_HEADER_SIZE), payload]);
  batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD, BATCH_OFFSET.batchLength);
  batch.writeInt32BE(options.lastOffsetDelta ?? count - 1, BATCH_OFFSET.lastOffsetDelta);
  batch.writeInt32BE(count, BATCH_OFFSET.recordsCount);
  writeBatchCrc(batch);
  return batch;
}
