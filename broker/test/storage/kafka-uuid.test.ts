import { describe, expect, it } from "vitest";
import { parseKafkaUuid, randomDirectoryId, randomKafkaUuid } from "../../src/storage/kafka-uuid.ts";

/** A byte source that hands out the given 16-byte blocks in order. */
function scripted(...blocks: number[][]): (n: number) => Uint8Array {
  let i = 0;
  return (n) => {
    const block = blocks[i++];
    if (block === undefined || block.length !== n) throw new Error("script exhausted");
    return Uint8Array.from(block);
  };
}

describe("randomKafkaUuid", () => {
  it("prints 22 base64url characters that parse back to a version 4, variant 2 id", () => {
    for (let i = 0; i < 200; i++) {
      const id = randomKafkaUuid();
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(id.startsWith("-")).toBe(false);
      const parsed = parseKafkaUuid(id);
      if ("error" in parsed) throw new Error(parsed.error);
      expect((parsed.bytes[6] ?? 0) >> 4).toBe(4);
      expect((parsed.bytes[8] ?? 0) >> 6).toBe(2);
    }
  });

  it("matches Kafka's text for known bytes", () => {
    // Bytes 00 11 22 ... ff with the version and variant bits already set; base64url without padding.
    const bytes = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x46, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
    expect(randomKafkaUuid(scripted(bytes))).toBe("ABEiM0RVRneImaq7zN3u_w");
  });

  it("draws again when the text would start with a dash", () => {
    // 0xf8 as the first byte encodes to "-" first; the second draw is kept.
    const dash = [0xf8, ...new Array<number>(15).fill(0x11)];
    const ok = [0x10, ...new Array<number>(15).fill(0x11)];
    const id = randomKafkaUuid(scripted(dash, ok));
    expect(id.startsWith("-")).toBe(false);
    expect(id.startsWith("E")).toBe(true);
  });
});

describe("randomDirectoryId", () => {
  it("is a Kafka id", () => {
    expect("error" in parseKafkaUuid(randomDirectoryId())).toBe(false);
  });
});

describe("parseKafkaUuid", () => {
  it.each([
    ["", "0 characters"],
    ["0123456789abcdef0123456789abcdef", "32 characters"],
    ["3f0a9c2e-5b1d-4e7f-8a6b-2c9d0e1f3a4b", "36 characters"],
    ["ABEiM0RVRneImaq7zN3u_w==", "characters outside base64url"],
    ["ABEiM0RVRneImaq7zN3u/w", "characters outside base64url"],
  ])("rejects %j (%s)", (text, reason) => {
    const r = parseKafkaUuid(text);
    expect("error" in r && r.error).toContain(reason);
  });

  it("accepts the example id of Kafka's quickstart, whose 4 spare bits are not zero", () => {
    expect("bytes" in parseKafkaUuid("MkU3OEVBNTcwNTJENDM2Qk")).toBe(true);
  });
});
