import { parseValue, valueId, type HistoryEvent } from "./history.ts";

// The chaos checker: pure, over a recorded history (history.ts). It proves, or refutes, what Kafka promises an
// idempotent acks=all producer and a committing consumer group (the anomalies of Jepsen's Kafka workload):
//   lost          an acknowledged record is not in the final log;
//   moved         an acknowledged record is in the log, but not at the partition/offset its ack named;
//   duplicate     one (producer, seq) appears more than once in the log (idempotence broken);
//   reordered     within a partition, a producer's records appear out of its send order;
//   commit-regress a group's committed offset for a partition went backwards (per member, and as an observer saw it);
//   commit-beyond a committed offset past the end of the partition's log;
//   read-mismatch a consumer read a value that the log does not hold at that offset (it read something the log lost);
//   read-skip / read-backward  within one assignment a consumer's reads of a partition did not go offset by offset,
//                 so what it saw was not a prefix of the log from where it started.
// The final log dump must be complete: a dump that does not reach its own end offset, or a missing partition, is an
// anomaly too ("dump-incomplete"), so a broken dump cannot make losses invisible; and the end the dump's fetches
// reached must be the end ListOffsets reported ("end-mismatch": two answers for where the log ends).

export type AnomalyKind =
  | "lost"
  | "moved"
  | "duplicate"
  | "reordered"
  | "commit-regress"
  | "commit-beyond"
  | "read-mismatch"
  | "read-skip"
  | "read-backward"
  | "dump-incomplete"
  | "end-mismatch";

export const ANOMALY_KINDS: readonly AnomalyKind[] = [
  "lost",
  "moved",
  "duplicate",
  "reordered",
  "commit-regress",
  "commit-beyond",
  "read-mismatch",
  "read-skip",
  "read-backward",
  "dump-incomplete",
  "end-mismatch",
];

export interface Anomaly {
  kind: AnomalyKind;
  detail: string;
  /** The log positions involved (partition, offset), for reading their batches from the nodes' logs (explain.ts). */
  at?: { p: number; o: number }[];
  /** Filled in by explain.ts: the batches holding those positions on each node, with producer id, epoch, sequence. */
  batches?: string[];
  /**
   * Filled in by explain.ts for a duplicate whose copies it found: "same-epoch" when both copies went in under one
   * producer id and epoch (the broker accepted a resend idempotence should have refused), "new-epoch" when the second
   * copy came under a new epoch or producer id (the client renumbered a record it had already written).
   */
  duplicateCause?: "same-epoch" | "new-epoch";
}

export interface CheckResult {
  ok: boolean;
  /** Acknowledged sends. */
  acked: number;
  /** Acknowledged sends found in the log where their ack said. */
  verified: number;
  /** Sends that failed for good (not acknowledged; allowed to be in the log or not). */
  nacked: number;
  /** Records in the final log, over all partitions. */
  logRecords: number;
  /** Records read by consumers (with re-reads after rebalances). */
  reads: number;
  /** Per group, the share of the log's records its members read (as the log holds them) at least once. */
  groupCoverage: Record<string, number>;
  commits: number;
  /**
   * Per producer, the longest time between two consecutive acks (by ack time): how long writes stalled as the
   * clients saw it, faults and recovery included.
   */
  longestAckGapMs: Record<string, number>;
  /** Count per kind (every occurrence), and the first few of each in `anomalies`. */
  counts: Record<AnomalyKind, number>;
  anomalies: Anomaly[];
}

/** How many anomalies of each kind are kept with their detail (the count has them all). */
const EXAMPLES_PER_KIND = 20;

export function check(events: readonly HistoryEvent[], partitions: number): CheckResult {
  const counts = Object.fromEntries(ANOMALY_KINDS.map((k) => [k, 0])) as Record<AnomalyKind, number>;
  const anomalies: Anomaly[] = [];
  const flag = (kind: AnomalyKind, detail: string, at?: { p: number; o: number }[]): void => {
    counts[kind]++;
    if (counts[kind] <= EXAMPLES_PER_KIND) anomalies.push(at === undefined ? { kind, detail } : { kind, detail, at });
  };

  // The final log, per partition: offset → value id.
  const log = new Map<number, Map<number, string>>();
  const ends = new Map<number, { start: number; end: number; listed: number }>();
  for (const e of events) {
    if (e.ev === "log") {
      let m = log.get(e.p);
      if (m === undefined) log.set(e.p, (m = new Map<number, string>()));
      m.set(e.o, valueId(e.v));
    } else if (e.ev === "log-end") {
      ends.set(e.p, { start: e.start, end: e.end, listed: e.listed });
    }
  }
  for (let p = 0; p < partitions; p++) {
    const end = ends.get(p);
    if (end === undefined) {
      flag("dump-incomplete", `partition ${p}: the dump never finished`);
      continue;
    }
    if (end.listed !== end.end) {
      flag(
        "end-mismatch",
        `partition ${p}: ListOffsets said the log ends at ${end.listed}, fetching reached ${end.end}`,
      );
    }
    const m = log.get(p) ?? new Map<number, string>();
    for (let o = end.start; o < end.end; o++) {
      if (!m.has(o)) {
        flag(
          "dump-incomplete",
          `partition ${p}: the dump has no record at offset ${o} (dumped ${end.start}..${end.end})`,
        );
        break;
      }
    }
  }

  // Where each value sits in the log; duplicates and order.
  const where = new Map<string, { p: number; o: number }>();
  let logRecords = 0;
  for (const [p, m] of [...log].sort((a, b) => a[0] - b[0])) {
    const lastSeq = new Map<string, { seq: number; o: number }>();
    for (const [o, v] of [...m].sort((a, b) => a[0] - b[0])) {
      logRecords++;
      const first = where.get(v);
      if (first !== undefined) {
        flag("duplicate", `${v} at ${first.p}/${first.o} and again at ${p}/${o}`, [first, { p, o }]);
      } else where.set(v, { p, o });
      const id = parseValue(v);
      if (id === undefined) continue;
      const prev = lastSeq.get(id.producer);
      if (prev !== undefined && id.seq < prev.seq) {
        flag("reordered", `partition ${p}: ${v} at offset ${o} after ${id.producer}:${prev.seq} at offset ${prev.o}`, [
          { p, o: prev.o },
          { p, o },
        ]);
      }
      if (prev === undefined || id.seq > prev.seq) lastSeq.set(id.producer, { seq: id.seq, o });
    }
  }

  // Acknowledged records: present, and where the ack said.
  let acked = 0;
  let verified = 0;
  let nacked = 0;
  for (const e of events) {
    if (e.ev === "nack") nacked++;
    if (e.ev !== "ack") continue;
    acked++;
    const v = `${e.a}:${e.seq}`;
    const at = where.get(v);
    if (at === undefined)
      flag("lost", `${v} acknowledged at ${e.p}/${e.o} (t=${e.t}) is not in the log`, [{ p: e.p, o: e.o }]);
    else if (at.p !== e.p || at.o !== e.o) {
      flag("moved", `${v} acknowledged at ${e.p}/${e.o} is at ${at.p}/${at.o}`, [at, { p: e.p, o: e.o }]);
    } else verified++;
  }

  // Commits: per member and as observed, never backwards, never past the log's end.
  const endOf = (p: number): number => ends.get(p)?.end ?? Number.POSITIVE_INFINITY;
  const lastCommit = new Map<string, { o: number; t: number }>();
  let commits = 0;
  for (const e of events) {
    if (e.ev !== "commit" && e.ev !== "committed") continue;
    if (e.ev === "commit") commits++;
    const key = `${e.ev === "commit" ? `member ${e.a}` : `observer ${e.a}`} of group ${e.g}, partition ${e.p}`;
    const prev = lastCommit.get(key);
    if (prev !== undefined && e.o < prev.o) {
      flag("commit-regress", `${key}: ${prev.o} (t=${prev.t}) then ${e.o} (t=${e.t})`);
    }
    lastCommit.set(key, { o: e.o, t: e.t });
    if (e.o > endOf(e.p)) flag("commit-beyond", `${key}: committed ${e.o}, the log ends at ${endOf(e.p)}`);
  }

  // Reads: each one what the log holds there; within an assignment, offset after offset.
  const lastRead = new Map<string, number>();
  const readByGroup = new Map<string, Set<string>>();
  let reads = 0;
  for (const e of events) {
    if (e.ev === "assign") {
      for (const p of e.ps) lastRead.delete(`${e.a}/${e.g}/${p}`);
      continue;
    }
    if (e.ev !== "read") continue;
    reads++;
    const v = valueId(e.v);
    const inLog = log.get(e.p)?.get(e.o);
    if (inLog !== v) {
      flag(
        "read-mismatch",
        `${e.a} (group ${e.g}) read ${v} at ${e.p}/${e.o}; the log has ${inLog ?? "nothing"} there`,
        [{ p: e.p, o: e.o }],
      );
    }
    let seen = readByGroup.get(e.g);
    if (seen === undefined) readByGroup.set(e.g, (seen = new Set()));
    if (inLog === v) seen.add(`${e.p}/${e.o}`);
    const key = `${e.a}/${e.g}/${e.p}`;
    const prev = lastRead.get(key);
    if (prev !== undefined && e.o > prev + 1) {
      flag("read-skip", `${e.a} (group ${e.g}) partition ${e.p}: read ${prev} then ${e.o}`);
    } else if (prev !== undefined && e.o <= prev) {
      flag("read-backward", `${e.a} (group ${e.g}) partition ${e.p}: read ${prev} then ${e.o}`);
    }
    lastRead.set(key, e.o);
  }
  const ackTimes = new Map<string, number[]>();
  for (const e of events) {
    if (e.ev !== "ack") continue;
    let ts = ackTimes.get(e.a);
    if (ts === undefined) ackTimes.set(e.a, (ts = []));
    ts.push(e.t);
  }
  const longestAckGapMs: Record<string, number> = {};
  for (const [a, ts] of ackTimes) {
    ts.sort((x, y) => x - y);
    let gap = 0;
    for (let i = 1; i < ts.length; i++) gap = Math.max(gap, (ts[i] ?? 0) - (ts[i - 1] ?? 0));
    longestAckGapMs[a] = gap;
  }
  const groupCoverage: Record<string, number> = {};
  for (const [g, seen] of readByGroup) groupCoverage[g] = logRecords === 0 ? 1 : seen.size / logRecords;

  return {
    ok: ANOMALY_KINDS.every((k) => counts[k] === 0),
    acked,
    verified,
    nacked,
    logRecords,
    reads,
    groupCoverage,
    commits,
    longestAckGapMs,
    counts,
    anomalies,
  };
}
