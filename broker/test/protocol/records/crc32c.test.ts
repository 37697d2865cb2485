import { describe, expect, it } from "vitest";
import { crc32c } from "../../../src/protocol/records/index.ts";

describe("crc32c", () => {
  it("matches the standard check value", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  it("matches the RFC 3720 (iSCSI) test vectors", () => {
    expect(crc32c(Buffer.alloc(32, 0x00))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
  });

  it("is 0 for no data and always unsigned", () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.from("123456789"))).toBeGreaterThan(0x7fffffff);
  });

  it("continues over data split into pieces", () => {
    const data = Buffer.from("The quick brown fox jumps over the lazy dog");
    const whole = crc32c(data);
    for (const cut of [0, 1, 10, data.length - 1, data.length])
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(whole);
  });

  it("reads only the view it is given", () => {
    const backing = Buffer.from("xx123456789yy");
    expect(crc32c(backing.subarray(2, 11))).toBe(0xe3069283);
  });
});
