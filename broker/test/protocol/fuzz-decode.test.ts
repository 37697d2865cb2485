import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as protocol from "../../src/protocol/index.ts";
import { DecodeError, type MessageCodec } from "../../src/protocol/index.ts";
import { brokerMessageModels, kraftMessageModels, structArb } from "./message-values.ts";

const codecs = protocol as unknown as Record<string, MessageCodec<unknown> | undefined>;

/** Decodes and reports whether it failed cleanly; anything but a DecodeError fails the test. */
function decodeOrDecodeError(codec: MessageCodec<unknown>, bytes: Buffer, version: number): "ok" | "rejected" {
  try {
    codec.decode(bytes, version);
    return "ok";
  } catch (error) {
    if (error instanceof DecodeError) return "rejected";
    throw new Error(`${codec.name} v${version} raised ${String(error)} on ${bytes.toString("hex").slice(0, 200)}`);
  }
}

describe("decoders only ever raise DecodeError", () => {
  // The controller listener decodes untrusted bytes too, and the metadata log is read back after crashes.
  const models = [...brokerMessageModels(), ...kraftMessageModels()];

  it("survives random, truncated and mutated frames of every message and version (>= 100k cases)", () => {
    let cases = 0;
    const rng = fc.sample(fc.integer({ min: 0, max: 0xffffffff }), { numRuns: 1, seed: 42 })[0] ?? 1;
    let state = rng;
    const next = (n: number): number => {
      // xorshift: deterministic and cheap, so a failure reproduces.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    for (const model of models) {
      const codec = codecs[model.spec.name];
      if (!codec) throw new Error(`no codec for ${model.spec.name}`);
      for (let v = model.validVersions.lo; v <= model.validVersions.hi; v++) {
        const samples = fc.sample(structArb(model.root, v), { numRuns: 3, seed: v });
        for (const sample of samples) {
          const valid = codec.encode(sample, v);
          // Every truncation of a valid frame.
          for (let cut = 0; cut < Math.min(valid.length, 64); cut++) {
            decodeOrDecodeError(codec, valid.subarray(0, cut), v);
            cases++;
          }
          // Mutations: flip bytes, including into huge lengths.
          for (let i = 0; i < 40; i++) {
            const mutated = Buffer.from(valid);
            const flips = 1 + next(3);
            for (let f = 0; f < flips && mutated.length > 0; f++) {
              mutated[next(mutated.length)] = [0xff, 0x7f, 0x80, 0x00, next(256)][next(5)] ?? 0;
            }
            decodeOrDecodeError(codec, mutated, v);
            cases++;
          }
        }
        // Pure noise.
        for (let i = 0; i < 20; i++) {
          const noise = Buffer.alloc(next(48));
          for (let b = 0; b < noise.length; b++) noise[b] = next(256);
          decodeOrDecodeError(codec, noise, v);
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThanOrEqual(100_000);
  });

  it("rejects an array length of 2^31-1 without allocating", () => {
    // MetadataRequest v1: topics array length int32, here claiming 2^31-1 elements in a 4-byte frame.
    const frame = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
    expect(() => protocol.MetadataRequest.decode(frame, 1)).toThrow(DecodeError);
    // Compact (flexible) array claiming 2^31 elements.
    const compact = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08, 0x00]);
    expect(() => protocol.MetadataRequest.decode(compact, 9)).toThrow(/cannot fit/);
  });

  it("rejects a string length beyond the frame and a varint longer than 5 bytes", () => {
    expect(() => protocol.RequestHeader.decode(Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff]), 1)).toThrow(
      DecodeError,
    );
    expect(() => protocol.ApiVersionsRequest.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 3)).toThrow(
      /varint/,
    );
  });
});
