import { describe, expect, it } from "vitest";
import { FrameReader, type FrameEvent } from "../../src/protocol/frame-reader.ts";
import { frame } from "../network/helpers.ts";

function drain(r: FrameReader): FrameEvent[] {
  const out: FrameEvent[] = [];
  for (let ev = r.next(); ev !== null; ev = r.next()) out.push(ev);
  return out;
}

describe("FrameReader", () => {
  it("returns several frames from one read as views, without copying", () => {
    const r = new FrameReader(100);
    const chunk = Buffer.concat([frame("one"), frame("two")]);
    r.push(chunk);
    const evs = drain(r);
    expect(evs.map((e) => (e.kind === "frame" ? e.frame.toString() : e.kind))).toEqual(["one", "two"]);
    const first = evs[0];
    expect(first?.kind === "frame" && first.frame.buffer).toBe(chunk.buffer);
    expect(r.pendingBytes).toBe(0);
  });

  it("reassembles a frame split at every byte, prefix included", () => {
    const r = new FrameReader(100);
    const bytes = frame("hello world");
    const got: string[] = [];
    for (const b of bytes) {
      r.push(Buffer.from([b]));
      for (const ev of drain(r)) if (ev.kind === "frame") got.push(ev.frame.toString());
    }
    expect(got).toEqual(["hello world"]);
    expect(r.pendingBytes).toBe(0);
  });

  it("reports pending bytes of an incomplete frame", () => {
    const r = new FrameReader(100);
    r.push(frame("abcdef").subarray(0, 6));
    expect(drain(r)).toEqual([]);
    expect(r.pendingBytes).toBe(6);
  });

  it("flags sizes above the limit, zero or negative as soon as the prefix is complete", () => {
    for (const size of [101, 0, -1]) {
      const r = new FrameReader(100);
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(size, 0);
      r.push(prefix);
      expect(r.next()).toEqual({ kind: "invalid-size", size });
    }
  });

  it("accepts a frame of exactly the limit", () => {
    const r = new FrameReader(5);
    r.push(frame("12345"));
    expect(drain(r).map((e) => e.kind)).toEqual(["frame"]);
  });
});
