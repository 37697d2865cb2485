import { crc32c as nativeCrc32c } from "@node-rs/crc32";

/**
 * CRC-32C (Castagnoli), the checksum of record batch v2. The native implementation uses the SSE 4.2 / ARMv8 CRC
 * instructions; a table-driven JavaScript CRC would be about two orders of magnitude slower, and every produced and
 * replicated batch goes through this.
 *
 * `previous` continues a checksum over data split into pieces: crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  // The binding returns an unsigned 32-bit value already; >>> 0 pins that down for the comparisons callers make.
  return nativeCrc32c(data, previous) >>> 0;
}
