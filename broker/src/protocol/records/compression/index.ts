import { CompressionCodec } from "../batch-header.ts";
import { DecodeError } from "../errors.ts";
import { gzipCompress, gzipCompressAsync, gzipDecompress, gzipDecompressAsync } from "./gzip.ts";
import { lz4Compress, lz4CompressAsync, lz4Decompress, lz4DecompressAsync } from "./lz4.ts";
import { snappyCompress, snappyCompressAsync, snappyDecompress, snappyDecompressAsync } from "./snappy.ts";
import { zstdCompress, zstdCompressAsync, zstdDecompress, zstdDecompressAsync } from "./zstd.ts";
import { checkLimit, ensureWithinLimit } from "./limit.ts";

export * from "./gzip.ts";
export * from "./lz4.ts";
export * from "./snappy.ts";
export * from "./zstd.ts";

interface Codec {
  compress(data: Buffer): Buffer;
  compressAsync(data: Buffer): Promise<Buffer>;
  decompress(data: Buffer, maxBytes: number): Buffer;
  decompressAsync(data: Buffer, maxBytes: number): Promise<Buffer>;
}

const identity: Codec = {
  compress: (data) => data,
  compressAsync: (data) => Promise.resolve(data),
  decompress: (data, maxBytes) => {
    checkLimit(maxBytes);
    ensureWithinLimit(data.length, maxBytes);
    return data;
  },
  decompressAsync: (data, maxBytes) => {
    checkLimit(maxBytes);
    ensureWithinLimit(data.length, maxBytes);
    return Promise.resolve(data);
  },
};

const CODECS: Readonly<Record<CompressionCodec, Codec>> = {
  [CompressionCodec.None]: identity,
  [CompressionCodec.Gzip]: {
    compress: gzipCompress,
    compressAsync: gzipCompressAsync,
    decompress: gzipDecompress,
    decompressAsync: gzipDecompressAsync,
  },
  [CompressionCodec.Snappy]: {
    compress: snappyCompress,
    compressAsync: snappyCompressAsync,
    decompress: snappyDecompress,
    decompressAsync: snappyDecompressAsync,
  },
  [CompressionCodec.Lz4]: {
    compress: lz4Compress,
    compressAsync: lz4CompressAsync,
    decompress: lz4Decompress,
    decompressAsync: lz4DecompressAsync,
  },
  [CompressionCodec.Zstd]: {
    compress: zstdCompress,
    compressAsync: zstdCompressAsync,
    decompress: zstdDecompress,
    decompressAsync: zstdDecompressAsync,
  },
};

export function isCompressionCodec(value: number): value is CompressionCodec {
  return value in CODECS;
}

function codecOf(codec: number): Codec {
  const found = isCompressionCodec(codec) ? CODECS[codec] : undefined;
  if (!found) throw new DecodeError(`unknown compression codec ${codec}`, 0);
  return found;
}

/** Compresses with the codec a batch's attributes name; the output is what that codec's Kafka clients read. */
export function compress(codec: CompressionCodec, data: Buffer): Buffer {
  return codecOf(codec).compress(data);
}

export function compressAsync(codec: CompressionCodec, data: Buffer): Promise<Buffer> {
  return codecOf(codec).compressAsync(data);
}

/**
 * Decompresses `data`, refusing to produce more than `maxBytes`: the output size is bounded from the compressed
 * stream's own framing before a native decoder allocates. Corrupt input raises DecodeError; too much output raises
 * DecompressedSizeError (a DecodeError).
 */
export function decompress(codec: CompressionCodec, data: Buffer, maxBytes: number): Buffer {
  return codecOf(codec).decompress(data, maxBytes);
}

export function decompressAsync(codec: CompressionCodec, data: Buffer, maxBytes: number): Promise<Buffer> {
  try {
    return codecOf(codec).decompressAsync(data, maxBytes);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
