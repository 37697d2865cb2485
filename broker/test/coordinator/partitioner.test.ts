import { describe, expect, it } from "vitest";
import { javaStringHashCode, offsetsPartitionFor } from "../../src/coordinator/index.ts";

// Expected values printed by Java 17 (String.hashCode, then Kafka's Utils.abs(h) % 50), so a group lands on the same
// __consumer_offsets partition as on an Apache Kafka broker.
const JAVA: [groupId: string, hashCode: number, partitionOf50: number][] = [
  ["", 0, 0],
  ["a", 97, 47],
  ["my-group", -1906497762, 12],
  ["console-consumer-12345", 158455506, 6],
  // Integer.MIN_VALUE: Utils.abs answers 0 where Math.abs would stay negative.
  ["polygenelubricants", -2147483648, 0],
  ["groupé", -1237460406, 6],
  // A surrogate pair: Java hashes the two UTF-16 code units.
  ["\u{1F600}-emoji", -1200436388, 38],
  ["kafkajs-group", 1344744993, 43],
  ["test-group-0", 2060176935, 35],
  ["Aa", 2112, 12],
  ["BB", 2112, 12],
];

describe("the __consumer_offsets partition of a group", () => {
  it.each(JAVA)("hashes %j as Java does", (groupId, hashCode, partition) => {
    expect(javaStringHashCode(groupId)).toBe(hashCode);
    expect(offsetsPartitionFor(groupId, 50)).toBe(partition);
    expect(offsetsPartitionFor(groupId, 1)).toBe(0);
  });

  it("refuses a partition count below one", () => {
    expect(() => offsetsPartitionFor("g", 0)).toThrow(/at least one partition/);
  });
});
