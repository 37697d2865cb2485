import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { compressSync as lz4CompressBlock } from "lz4-napi";
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../../../src/protocol/primitives/index.ts";
import {
  CompressionCodec,
  DecompressedSizeError,
  RecordErrorCode,
  compress,
  compressAsync,
  decompress,
  decompressAsync,
  isXerialFramed,
  lz4Compress,
  snappyCompress,
  snappyCompressRaw,
  snappyDecompress,
  zstdCompress,
} from "../../../../src/protocol/records/index.ts";

const CODECS = [
  ["none", CompressionCodec.None],
  ["gzip", CompressionCodec.Gzip],
  ["snappy", CompressionCodec.Snappy],
  ["lz4", CompressionCodec.Lz4],
  ["zstd", CompressionCodec.Zstd],
] as const;
const COMPRESSED = CODECS.filter(([, codec]) => codec !== CompressionCodec.None);

const MiB = 1024 * 1024;

/** Byte comparison without vitest's element-by-element deep equality, which is slow on large buffers. */
function expectBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

function sample(size: number): Buffer {
  // Half text, half noise: compressible enough to exercise matches, random enough to exercise literals.
  const text = Buffer.from("kafka record payload ".repeat(Math.ceil(size / 42)));
  return Buffer.concat([text.subarray(0, size >> 1), randomBytes(size - (size >> 1))]);
}

describe.each(CODECS)("%s", (_name, codec) => {
  it.each([0, 1, 100, 70_000, 300_000])("round-trips %i bytes, sync and async", async (size) => {
    const data = sample(size);
    const packed = compress(codec, data);
    expectBytes(decompress(codec, packed, size), data);
    expectBytes(await decompressAsync(codec, packed, size), data);
    expectBytes(await decompressAsync(codec, await compressAsync(codec, data), size), data);
  });

  it("round-trips arbitrary data", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const data = Buffer.from(bytes);
        expectBytes(decompress(codec, compress(codec, data), data.length), data);
      }),
      { numRuns: 200 },
    );
  });
});

describe.each(COMPRESSED)("%s decompression", (_name, codec) => {
  it("refuses a bomb with DecompressedSizeError, before inflating it", async () => {
    const bomb = compress(codec, Buffer.alloc(8 * MiB));
    expect(bomb.length).toBeLessThan(MiB);
    const error = (() => {
      try {
        decompress(codec, bomb, MiB);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(DecompressedSizeError);
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecompressedSizeError).errorCode).toBe(RecordErrorCode.MESSAGE_TOO_LARGE);
    await expect(decompressAsync(codec, bomb, MiB)).rejects.toBeInstanceOf(DecompressedSizeError);
  });

  it("enforces the exact limit", () => {
    const data = sample(10_000);
    const packed = compress(codec, data);
    expectBytes(decompress(codec, packed, 10_000), data);
    expect(() => decompress(codec, packed, 9_999)).toThrow(DecompressedSizeError);
  });

  it("raises only DecodeError on random, truncated and mutated input", async () => {
    const valid = compress(codec, sample(5_000));
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.nat({ max: valid.length - 1 }).map((n) => valid.subarray(0, n)),
      fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
        const copy = Buffer.from(valid);
        copy[at] = (copy[at] ?? 0) ^ xor;
        return copy;
      }),
    );
    await fc.assert(
      fc.asyncProperty(inputs, async (input) => {
        for (const run of [() => decompress(codec, input, MiB), () => decompressAsync(codec, input, MiB)]) {
          try {
            const out = await run();
            expect(out.length).toBeLessThanOrEqual(MiB);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("snappy framing", () => {
  it("writes xerial framing like the Java client: header, then 32 KiB blocks", () => {
    const data = sample(100_000);
    const framed = snappyCompress(data);
    expect(isXerialFramed(framed)).toBe(true);
    expect(framed.subarray(0, 8)).toEqual(Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]));
    expect(framed.readInt32BE(8)).toBe(1);
    expect(framed.readInt32BE(12)).toBe(1);
    let blocks = 0;
    for (let pos = 16; pos < framed.length; blocks++) pos += 4 + framed.readInt32BE(pos);
    expect(blocks).toBe(Math.ceil(100_000 / 32_768));
  });

  it("reads raw snappy, as librdkafka and franz-go write it", () => {
    const data = sample(50_000);
    const raw = snappyCompressRaw(data);
    expect(isXerialFramed(raw)).toBe(false);
    expectBytes(snappyDecompress(raw, data.length), data);
  });

  it("reads a hand-built xerial stream of several raw blocks", () => {
    const parts = [Buffer.from("first block "), Buffer.from("second block")];
    const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    const blocks = parts.map((p) => {
      const raw = snappyCompressRaw(p);
      const length = Buffer.alloc(4);
      length.writeInt32BE(raw.length);
      return Buffer.concat([length, raw]);
    });
    expect(snappyDecompress(Buffer.concat([header, ...blocks]), 100).toString()).toBe("first block second block");
  });

  it("bounds raw snappy from its length preamble", () => {
    const raw = snappyCompressRaw(Buffer.alloc(4 * MiB));
    expect(() => snappyDecompress(raw, MiB)).toThrow(DecompressedSizeError);
  });
});

describe("frame formats", () => {
  it("lz4 writes a standard frame with independent 64 KiB blocks", () => {
    const frame = lz4Compress(Buffer.from("hello"));
    expect(frame.readUInt32LE(0)).toBe(0x184d2204);
    expect((frame[4] ?? 0) >> 6).toBe(1);
    expect((frame[4] ?? 0) & 0x20).toBe(0x20);
    expect(((frame[5] ?? 0) >> 4) & 7).toBe(4);
  });

  it("lz4 refuses a block that inflates past the frame's declared block maximum", () => {
    // The frame walker's memory bound relies on the decoder enforcing the block maximum; this proves it does.
    const block = lz4CompressBlock(Buffer.alloc(256 * 1024)).subarray(4);
    const size = Buffer.alloc(4);
    size.writeUInt32LE(block.length);
    // FLG 0x60 (version 1, independent blocks), BD 0x40 (64 KiB blocks), header checksum 0x82.
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
    const frame = Buffer.concat([header, size, block, Buffer.alloc(4)]);
    expect(() => decompress(CompressionCodec.Lz4, frame, 10 * MiB)).toThrow(DecodeError);
  });

  /** A zstd frame without a declared content size, as Java's streaming compressor writes, made of RLE blocks. */
  function zstdRleFrame(blocks: number, blockSize: number, byte: number): Buffer {
    // Frame header descriptor 0x00: no content size, not single-segment, no checksum; window descriptor 0x58: 2 MiB.
    const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58])];
    for (let i = 0; i < blocks; i++) {
      const header = Buffer.alloc(3);
      header.writeUIntLE((blockSize << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0), 0, 3);
      parts.push(header, Buffer.from([byte]));
    }
    return Buffer.concat(parts);
  }

  it("zstd reads a frame without a declared content size", () => {
    expect(decompress(CompressionCodec.Zstd, zstdRleFrame(3, 10, 0x61), 30).toString()).toBe("a".repeat(30));
  });

  it("zstd bounds a frame without a declared content size from its block headers", async () => {
    const bomb = zstdRleFrame(100, 128 * 1024, 0);
    expect(bomb.length).toBeLessThan(500);
    expect(() => decompress(CompressionCodec.Zstd, bomb, MiB)).toThrow(DecompressedSizeError);
    await expect(decompressAsync(CompressionCodec.Zstd, bomb, MiB)).rejects.toBeInstanceOf(DecompressedSizeError);
    expect(decompress(CompressionCodec.Zstd, bomb, 100 * 128 * 1024).length).toBe(100 * 128 * 1024);
  });

  it("zstd refuses a window larger than the limit allows", () => {
    const frame = zstdRleFrame(1, 10, 0);
    frame[5] = 0xf8; // window log 41
    expect(() => decompress(CompressionCodec.Zstd, frame, MiB)).toThrow(/window/);
  });

  it("zstd writes a standard frame", () => {
    expect(zstdCompress(Buffer.from("hello")).readUInt32LE(0)).toBe(0xfd2fb528);
  });

  it("gzip reads concatenated members, as zlib writers may produce", () => {
    const data = Buffer.concat([gzipSync(Buffer.from("ab")), gzipSync(Buffer.from("cd"))]);
    expect(decompress(CompressionCodec.Gzip, data, 10).toString()).toBe("abcd");
  });

  it("rejects an unknown codec and a bad limit", () => {
    expect(() => decompress(7 as CompressionCodec, Buffer.alloc(1), 10)).toThrow(DecodeError);
    expect(() => decompress(CompressionCodec.Gzip, Buffer.alloc(1), -1)).toThrow(RangeError);
  });
});
