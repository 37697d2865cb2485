import { describe, expect, it } from "vitest";
import { check, type AnomalyKind } from "./checker.ts";
import { parseHistory, type HistoryEvent } from "./history.ts";

// The checker must be able to fail: a clean history passes, and each anomaly, planted alone, is flagged as exactly
// that kind.

/** A clean two-partition history: producer a sends 0..3 (even seqs to p0, odd to p1), a member reads and commits all. */
function clean(): HistoryEvent[] {
  return [
    { ev: "ack", a: "a", seq: 0, p: 0, o: 0, t: 1 },
    { ev: "ack", a: "a", seq: 1, p: 1, o: 0, t: 2 },
    { ev: "ack", a: "a", seq: 2, p: 0, o: 1, t: 3 },
    { ev: "ack", a: "a", seq: 3, p: 1, o: 1, t: 4 },
    { ev: "nack", a: "a", seq: 4, p: 0, err: "timed out", t: 5 },
    { ev: "assign", a: "c", g: "g", ps: [0, 1], t: 5 },
    { ev: "read", a: "c", g: "g", p: 0, o: 0, v: "a:0", t: 6 },
    { ev: "read", a: "c", g: "g", p: 0, o: 1, v: "a:2|padding", t: 7 },
    { ev: "commit", a: "c", g: "g", p: 0, o: 2, t: 8 },
    { ev: "read", a: "c", g: "g", p: 1, o: 0, v: "a:1", t: 9 },
    { ev: "commit", a: "c", g: "g", p: 1, o: 1, t: 10 },
    { ev: "committed", a: "obs", g: "g", p: 1, o: 1, t: 11 },
    // After a rebalance the member starts again at the committed offset.
    { ev: "assign", a: "c", g: "g", ps: [1], t: 12 },
    { ev: "read", a: "c", g: "g", p: 1, o: 1, v: "a:3", t: 13 },
    { ev: "commit", a: "c", g: "g", p: 1, o: 2, t: 14 },
    { ev: "committed", a: "obs", g: "g", p: 1, o: 2, t: 15 },
    { ev: "log", p: 0, o: 0, v: "a:0" },
    { ev: "log", p: 0, o: 1, v: "a:2" },
    { ev: "log-end", p: 0, start: 0, end: 2, listed: 2 },
    { ev: "log", p: 1, o: 0, v: "a:1" },
    { ev: "log", p: 1, o: 1, v: "a:3" },
    { ev: "log-end", p: 1, start: 0, end: 2, listed: 2 },
  ];
}

function only(result: ReturnType<typeof check>): AnomalyKind[] {
  return Object.entries(result.counts)
    .filter(([, n]) => n > 0)
    .map(([k]) => k as AnomalyKind);
}

describe("chaos checker", () => {
  it("passes a clean history and counts what it verified", () => {
    const r = check(clean(), 2);
    expect(r.anomalies).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r).toMatchObject({ acked: 4, verified: 4, nacked: 1, logRecords: 4, reads: 4, commits: 3 });
    expect(r.groupCoverage).toEqual({ g: 1 });
    expect(r.longestAckGapMs).toEqual({ a: 1 });
  });

  it("flags an acknowledged record missing from the log as lost", () => {
    // a:3 (p1/1) never reached the log: no one read it, and the dump (complete) ends before it.
    const h = clean()
      .filter((e) => !(e.ev !== "ack" && "p" in e && e.p === 1 && "o" in e && e.o >= 1))
      .map((e) => (e.ev === "log-end" && e.p === 1 ? { ...e, end: 1, listed: 1 } : e));
    const r = check(h, 2);
    expect(only(r)).toEqual(["lost"]);
    expect(r.anomalies[0]?.detail).toContain("a:3");
    expect(r.ok).toBe(false);
  });

  it("flags a record acknowledged at one offset but found at another as moved", () => {
    const h = clean().map((e) => (e.ev === "ack" && e.seq === 2 ? { ...e, o: 5 } : e));
    expect(only(check(h, 2))).toEqual(["moved"]);
  });

  it("flags a record written twice as a duplicate", () => {
    const h = clean().map((e) => (e.ev === "log-end" && e.p === 1 ? { ...e, end: 3, listed: 3 } : e));
    h.push({ ev: "log", p: 1, o: 2, v: "a:3" });
    expect(only(check(h, 2))).toEqual(["duplicate"]);
  });

  it("flags a producer's records out of order within a partition", () => {
    const h = clean().map((e) => {
      if (e.ev === "log" && e.p === 0) return { ...e, v: e.o === 0 ? "a:2" : "a:0" };
      if (e.ev === "ack" && e.p === 0) return { ...e, o: 1 - e.o };
      if (e.ev === "read" && e.p === 0) return { ...e, v: e.o === 0 ? "a:2" : "a:0" };
      return e;
    });
    expect(only(check(h, 2))).toEqual(["reordered"]);
  });

  it("flags a member's commit that goes backwards", () => {
    const h = clean();
    h.push({ ev: "commit", a: "c", g: "g", p: 1, o: 1, t: 16 });
    expect(only(check(h, 2))).toEqual(["commit-regress"]);
  });

  it("flags an observed committed offset that goes backwards", () => {
    const h = clean();
    h.push({ ev: "committed", a: "obs", g: "g", p: 1, o: 0, t: 16 });
    expect(only(check(h, 2))).toEqual(["commit-regress"]);
  });

  it("flags a commit past the end of the log", () => {
    const h = clean();
    h.push({ ev: "commit", a: "c", g: "g", p: 1, o: 7, t: 16 });
    expect(only(check(h, 2))).toEqual(["commit-beyond"]);
  });

  it("flags a read of a value the log does not hold there", () => {
    const h = clean().map((e) => (e.ev === "read" && e.p === 1 && e.o === 0 ? { ...e, v: "a:99" } : e));
    expect(only(check(h, 2))).toEqual(["read-mismatch"]);
  });

  it("flags reads that go back, and reads that skip an offset, within one assignment", () => {
    const back = clean();
    back.splice(8, 0, { ev: "read", a: "c", g: "g", p: 0, o: 0, v: "a:0", t: 7 });
    expect(only(check(back, 2))).toEqual(["read-backward"]);
    // The unacknowledged a:4 did land (allowed); a new member reads 0 and then 2, missing 1.
    const skip = clean().map((e) => (e.ev === "log-end" && e.p === 0 ? { ...e, end: 3, listed: 3 } : e));
    skip.push({ ev: "log", p: 0, o: 2, v: "a:4" });
    skip.push({ ev: "assign", a: "d", g: "g", ps: [0], t: 20 });
    skip.push({ ev: "read", a: "d", g: "g", p: 0, o: 0, v: "a:0", t: 21 });
    skip.push({ ev: "read", a: "d", g: "g", p: 0, o: 2, v: "a:4", t: 22 });
    const r = check(skip, 2);
    expect(only(r)).toEqual(["read-skip"]);
    expect(r.anomalies[0]?.detail).toContain("read 0 then 2");
  });

  it("does not count a re-read after a new assignment as going back", () => {
    const h = clean();
    h.push({ ev: "assign", a: "c", g: "g", ps: [0], t: 20 });
    h.push({ ev: "read", a: "c", g: "g", p: 0, o: 1, v: "a:2", t: 21 });
    expect(check(h, 2).ok).toBe(true);
  });

  it("flags a dump that never finished or has holes, so a broken dump cannot hide losses", () => {
    const unfinished = clean().filter((e) => !(e.ev === "log-end" && e.p === 1));
    expect(only(check(unfinished, 2))).toEqual(["dump-incomplete"]);
    const holes = clean().filter((e) => !(e.ev === "log" && e.p === 0 && e.o === 0));
    expect(only(check(holes, 2))).toContain("dump-incomplete");
    expect(only(check(clean(), 3))).toEqual(["dump-incomplete"]);
  });

  it("flags a log whose end ListOffsets and fetching disagree on", () => {
    const h = clean().map((e) => (e.ev === "log-end" && e.p === 0 ? { ...e, listed: 1 } : e));
    const r = check(h, 2);
    expect(only(r)).toEqual(["end-mismatch"]);
    expect(r.anomalies[0]?.detail).toContain("ListOffsets said the log ends at 1, fetching reached 2");
  });

  it("parses JSON lines, and rejects malformed ones with where they were", () => {
    const text = `${clean()
      .map((e) => JSON.stringify(e))
      .join("\n")}\n\n`;
    expect(check(parseHistory(text, "h.jsonl"), 2).ok).toBe(true);
    expect(() => parseHistory('{"ev":"ack","a":"x","seq":1,"p":0,"t":1}', "h.jsonl")).toThrow(
      "h.jsonl:1: ack needs o as number",
    );
    expect(() => parseHistory("{nope", "h.jsonl")).toThrow("h.jsonl:1: not JSON");
    expect(() => parseHistory('{"ev":"explode"}', "h.jsonl")).toThrow('unknown event "explode"');
  });
});
