import { gunzip, gunzipSync, gzip, gzipSync, type ZlibOptions } from "node:zlib";
import { DecompressedSizeError } from "../errors.ts";
import { asDecodeError, checkLimit } from "./limit.ts";

function options(maxBytes: number): ZlibOptions {
  // zlib refuses a zero maxOutputLength; an empty output still fits in a one-byte cap.
  return { maxOutputLength: Math.max(1, maxBytes) };
}

/** zlib stops inflating at maxOutputLength and raises ERR_BUFFER_TOO_LARGE, so memory is bounded by the limit. */
function translate(error: unknown, maxBytes: number): Error {
  if (error instanceof RangeError && (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
    return new DecompressedSizeError(maxBytes, maxBytes + 1);
  return asDecodeError("gzip", error);
}

export function gzipCompress(data: Uint8Array): Buffer {
  return gzipSync(data);
}

export function gzipCompressAsync(data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(data, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

export function gzipDecompress(data: Uint8Array, maxBytes: number): Buffer {
  checkLimit(maxBytes);
  let out: Buffer;
  try {
    out = gunzipSync(data, options(maxBytes));
  } catch (error) {
    throw translate(error, maxBytes);
  }
  if (out.length > maxBytes) throw new DecompressedSizeError(maxBytes, out.length);
  return out;
}

export function gzipDecompressAsync(data: Uint8Array, maxBytes: number): Promise<Buffer> {
  checkLimit(maxBytes);
  return new Promise((resolve, reject) => {
    gunzip(data, options(maxBytes), (error, result) => {
      if (error) reject(translate(error, maxBytes));
      else if (result.length > maxBytes) reject(new DecompressedSizeError(maxBytes, result.length));
      else resolve(result);
    });
  });
}
