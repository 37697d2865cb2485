/**
 * A reader for the Java `.properties` format that Kafka's server.properties uses, so files written for Apache Kafka
 * parse here exactly as they would there (separators, comments, continuations and escapes).
 */

export interface PropertyEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line where the entry starts, for error messages. */
  readonly line: number;
}

export class PropertiesSyntaxError extends Error {
  constructor(
    /** The problem without its position. */
    readonly reason: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = "PropertiesSyntaxError";
  }
}

interface LogicalLine {
  readonly text: string;
  readonly line: number;
}

const WHITESPACE = new Set([" ", "\t", "\f"]);

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === "\\"; i--) n++;
  return n % 2 === 1;
}

function stripLeadingWhitespace(s: string): string {
  let i = 0;
  while (i < s.length && WHITESPACE.has(s[i] ?? "")) i++;
  return s.slice(i);
}

/** Joins continuation lines and drops blanks and comments. A comment line never continues, as in Java. */
function logicalLines(text: string): LogicalLine[] {
  const natural = text.split(/\r\n|\r|\n/);
  const out: LogicalLine[] = [];
  for (let i = 0; i < natural.length; i++) {
    const first = stripLeadingWhitespace(natural[i] ?? "");
    if (first === "" || first.startsWith("#") || first.startsWith("!")) continue;
    const startLine = i + 1;
    let acc = first;
    while (endsWithOddBackslashes(acc)) {
      acc = acc.slice(0, -1);
      i++;
      if (i >= natural.length) break;
      acc += stripLeadingWhitespace(natural[i] ?? "");
    }
    out.push({ text: acc, line: startLine });
  }
  return out;
}

function unescape(raw: string, line: number): string {
  if (!raw.includes("\\")) return raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] ?? "";
    if (c !== "\\") {
      out += c;
      continue;
    }
    i++;
    const e = raw[i];
    if (e === undefined) break;
    switch (e) {
      case "t":
        out += "\t";
        break;
      case "n":
        out += "\n";
        break;
      case "r":
        out += "\r";
        break;
      case "f":
        out += "\f";
        break;
      case "u": {
        const hex = raw.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex))
          throw new PropertiesSyntaxError(`malformed \\uXXXX escape "\\u${hex}"`, line);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        // Java drops the backslash before any other character, which is how "\=" and "\:" put separators in keys.
        out += e;
    }
  }
  return out;
}

function splitKeyValue(text: string): { rawKey: string; rawValue: string } {
  let i = 0;
  let escaped = false;
  for (; i < text.length; i++) {
    const c = text[i] ?? "";
    if (escaped) {
      escaped = false;
      continue;
    }
    if (c === "\\") escaped = true;
    else if (c === "=" || c === ":" || WHITESPACE.has(c)) break;
  }
  const rawKey = text.slice(0, i);
  let j = i;
  while (j < text.length && WHITESPACE.has(text[j] ?? "")) j++;
  if (text[j] === "=" || text[j] === ":") j++;
  while (j < text.length && WHITESPACE.has(text[j] ?? "")) j++;
  return { rawKey, rawValue: text.slice(j) };
}

/** Every entry in file order; a key given twice appears twice (the caller decides, and Java keeps the last). */
export function parseProperties(text: string): PropertyEntry[] {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  return logicalLines(body).map(({ text: logical, line }) => {
    const { rawKey, rawValue } = splitKeyValue(logical);
    return { key: unescape(rawKey, line), value: unescape(rawValue, line), line };
  });
}
