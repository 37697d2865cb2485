// Rewrites ApiVersions responses in place so that each API's max version is at most the highest valid version in the
// vendored message specs (broker/spec/kafka, Kafka 3.9), the ranges Tributary advertises. Real clients then pick the
// versions they would pick against Tributary, and every captured frame is one our codecs must decode. Only int16
// max-version fields change, so the frame length stays the same.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** apiKey -> highest valid request version, from `<Name>Request.json` files (whole-line // comments stripped). */
export function specMaxVersions(specDir: string): Map<number, number> {
  const caps = new Map<number, number>();
  for (const file of readdirSync(specDir)) {
    if (!file.endsWith("Request.json")) continue;
    const text = readFileSync(join(specDir, file), "utf8")
      .split("\n")
      .filter((line) => !line.trimStart().startsWith("//"))
      .join("\n");
    const spec = JSON.parse(text) as { apiKey?: number; validVersions?: string };
    const max = /(\d+)$/.exec(spec.validVersions ?? "")?.[1];
    if (spec.apiKey !== undefined && max !== undefined) caps.set(spec.apiKey, Number(max));
  }
  return caps;
}

function readUvarint(frame: Buffer, offset: number): [value: number, next: number] {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = frame[offset++];
    if (byte === undefined) throw new Error("truncated varint");
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, offset];
  }
}

/**
 * Caps the ApiKeys entries of an ApiVersions response frame (header v0: correlation id, then error code and the
 * array). Returns the keys whose max changed, with the original max.
 */
export function capApiVersions(frame: Buffer, apiVersion: number, caps: ReadonlyMap<number, number>): string[] {
  const changed: string[] = [];
  const flexible = apiVersion >= 3;
  let offset = 6; // correlation id + error code
  let count: number;
  if (flexible) {
    [count, offset] = readUvarint(frame, offset);
    count -= 1;
  } else {
    count = frame.readInt32BE(offset);
    offset += 4;
  }
  for (let i = 0; i < count; i++) {
    const key = frame.readInt16BE(offset);
    const min = frame.readInt16BE(offset + 2);
    const max = frame.readInt16BE(offset + 4);
    const cap = caps.get(key);
    if (cap !== undefined && max > cap && cap >= min) {
      frame.writeInt16BE(cap, offset + 4);
      changed.push(`${key}:${max}->${cap}`);
    }
    offset += 6;
    if (flexible) {
      let tags: number;
      [tags, offset] = readUvarint(frame, offset);
      for (let t = 0; t < tags; t++) {
        let size: number;
        [, offset] = readUvarint(frame, offset);
        [size, offset] = readUvarint(frame, offset);
        offset += size;
      }
    }
  }
  return changed;
}
