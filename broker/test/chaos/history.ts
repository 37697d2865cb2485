// The recorded history of a chaos run: one JSON object per line, written by the workload clients
// (clients/rdkafka_client.py, clients/ChaosClient.java) on their stdout and by the final dump of the log. Every record a
// producer sends carries the value "<producer>:<seq>", unique across the run, so the checker can tell each one apart.

/** A producer's send was acknowledged (acks=all) at this partition and offset. */
export interface AckEvent {
  ev: "ack";
  /** The producer (actor) that sent it. */
  a: string;
  seq: number;
  p: number;
  o: number;
  t: number;
}

/** A producer's send failed for good (delivery timeout, fatal error): it may or may not be in the log. */
export interface NackEvent {
  ev: "nack";
  a: string;
  seq: number;
  p: number;
  err: string;
  t: number;
}

/** A group member was given these partitions; its reads of each start a new run there. */
export interface AssignEvent {
  ev: "assign";
  a: string;
  g: string;
  ps: number[];
  t: number;
}

/** A group member read the record at p/o, whose value was v. */
export interface ReadEvent {
  ev: "read";
  a: string;
  g: string;
  p: number;
  o: number;
  v: string;
  t: number;
}

/** A group member's offset commit for p succeeded with offset o (the next offset it will read). */
export interface CommitEvent {
  ev: "commit";
  a: string;
  g: string;
  p: number;
  o: number;
  t: number;
}

/** An observer (not a member) fetched the group's committed offset o for p (OffsetFetch). */
export interface CommittedEvent {
  ev: "committed";
  a: string;
  g: string;
  p: number;
  o: number;
  t: number;
}

/** The final dump: the record at p/o of the log, read after the faults healed. */
export interface LogEvent {
  ev: "log";
  p: number;
  o: number;
  v: string;
}

/**
 * The final dump read p from start until its fetches said it was at the end, end; `listed` is the end ListOffsets
 * (latest) gave just before. With the producers stopped the two must agree.
 */
export interface LogEndEvent {
  ev: "log-end";
  p: number;
  start: number;
  end: number;
  listed: number;
}

/** Anything else a client wants in the record (errors, rebalances); the checker counts them, nothing more. */
export interface NoteEvent {
  ev: "note";
  a: string;
  msg: string;
  t: number;
}

export type HistoryEvent =
  AckEvent | NackEvent | AssignEvent | ReadEvent | CommitEvent | CommittedEvent | LogEvent | LogEndEvent | NoteEvent;

const FIELDS: Record<HistoryEvent["ev"], Record<string, "string" | "number" | "numbers">> = {
  ack: { a: "string", seq: "number", p: "number", o: "number", t: "number" },
  nack: { a: "string", seq: "number", p: "number", err: "string", t: "number" },
  assign: { a: "string", g: "string", ps: "numbers", t: "number" },
  read: { a: "string", g: "string", p: "number", o: "number", v: "string", t: "number" },
  commit: { a: "string", g: "string", p: "number", o: "number", t: "number" },
  committed: { a: "string", g: "string", p: "number", o: "number", t: "number" },
  log: { p: "number", o: "number", v: "string" },
  "log-end": { p: "number", start: "number", end: "number", listed: "number" },
  note: { a: "string", msg: "string", t: "number" },
};

/** Parses one history line; throws a clear error naming `where` on anything malformed. */
export function parseEvent(line: string, where: string): HistoryEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new Error(`${where}: not JSON: ${line.slice(0, 200)}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error(`${where}: not an object: ${line.slice(0, 200)}`);
  }
  const obj = raw as Record<string, unknown>;
  const ev = obj["ev"];
  if (typeof ev !== "string" || !(ev in FIELDS)) {
    throw new Error(`${where}: unknown event ${JSON.stringify(ev)} in ${line.slice(0, 200)}`);
  }
  for (const [field, kind] of Object.entries(FIELDS[ev as HistoryEvent["ev"]])) {
    const v = obj[field];
    const ok =
      kind === "string"
        ? typeof v === "string"
        : kind === "number"
          ? Number.isSafeInteger(v)
          : Array.isArray(v) && v.every((x) => Number.isSafeInteger(x));
    if (!ok) throw new Error(`${where}: ${ev} needs ${field} as ${kind}: ${line.slice(0, 200)}`);
  }
  return obj as unknown as HistoryEvent;
}

/** Parses a whole JSON-lines text; blank lines are skipped. */
export function parseHistory(text: string, source: string): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? "";
    if (line !== "") out.push(parseEvent(line, `${source}:${i + 1}`));
  }
  return out;
}

/**
 * The value every produced record carries: "<producer>:<seq>", then optionally "|" and padding (to give records a
 * realistic size). Producer names hold neither ":" nor "|".
 */
export function recordValue(producer: string, seq: number, padding = ""): string {
  return padding === "" ? `${producer}:${seq}` : `${producer}:${seq}|${padding}`;
}

/** The identity part of a record value ("<producer>:<seq>"), without padding. */
export function valueId(v: string): string {
  const bar = v.indexOf("|");
  return bar < 0 ? v : v.slice(0, bar);
}

/** Splits a record value back into producer and seq; undefined for a value no producer of the run wrote. */
export function parseValue(v: string): { producer: string; seq: number } | undefined {
  const id = valueId(v);
  const colon = id.indexOf(":");
  if (colon <= 0) return undefined;
  const seq = Number(id.slice(colon + 1));
  if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
  return { producer: id.slice(0, colon), seq };
}
