// Size helpers for Kafka's variable-length integers. Unsigned varints (LEB128) frame compact strings, arrays and
// tagged fields; zig-zag varints and varlongs appear only inside record batches.

export function sizeOfUnsignedVarint(value: number): number {
  let v = value >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

export function zigZag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

export function unZigZag32(value: number): number {
  return (value >>> 1) ^ -(value & 1);
}

export function sizeOfVarint(value: number): number {
  return sizeOfUnsignedVarint(zigZag32(value));
}

export function zigZag64(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

export function unZigZag64(value: bigint): bigint {
  return BigInt.asIntN(64, (value >> 1n) ^ -(value & 1n));
}

export function sizeOfVarlong(value: bigint): number {
  // Values that fit in 32 signed bits are by far the most common (timestamp deltas): take the fast path.
  if (value >= -0x40000000n && value < 0x40000000n) return sizeOfVarint(Number(value));
  let v = zigZag64(value);
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}
