/**
 * Java's `String.hashCode`: s[0]·31^(n-1) + … + s[n-1] over the string's UTF-16 code units, in 32-bit two's
 * complement. JavaScript strings are UTF-16 too, so the code units are the same ones Java sees.
 */
export function javaStringHashCode(s: string): number {
  let hash = 0;
  for (let i = 0; i < s.length; i++) hash = (Math.imul(hash, 31) + s.charCodeAt(i)) | 0;
  return hash;
}

/**
 * The `__consumer_offsets` partition that holds a group, as Kafka picks it (GroupCoordinatorService.partitionFor):
 * `Utils.abs(groupId.hashCode()) % partitionCount`, where Utils.abs maps Integer.MIN_VALUE to 0. Every Kafka broker
 * and client-side tool agrees on it, so it must not change.
 */
export function offsetsPartitionFor(groupId: string, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new Error(`__consumer_offsets must have at least one partition, not ${partitionCount}`);
  }
  const hash = javaStringHashCode(groupId);
  const abs = hash === -2147483648 ? 0 : Math.abs(hash);
  return abs % partitionCount;
}
