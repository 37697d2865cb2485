import { describe, expect, it } from "vitest";
import { parseProperties, PropertiesSyntaxError } from "../../src/config/properties.ts";

function asMap(text: string): Record<string, string> {
  return Object.fromEntries(parseProperties(text).map((e) => [e.key, e.value]));
}

describe("parseProperties", () => {
  it("accepts =, : and whitespace as separators and trims around them", () => {
    expect(asMap("a=1\nb: 2\nc 3\n  d  =  4  \ne\t:\tfive")).toEqual({ a: "1", b: "2", c: "3", d: "4  ", e: "five" });
  });

  it("skips # and ! comments and blank lines, and reports the line of each entry", () => {
    const entries = parseProperties("# comment\n\n! also\n   # indented\nkey=value\n");
    expect(entries).toEqual([{ key: "key", value: "value", line: 5 }]);
  });

  it("joins continuation lines and drops the next line's leading whitespace", () => {
    expect(asMap("listeners=PLAINTEXT://a:1,\\\n    CONTROLLER://b:2\nnext=x")).toEqual({
      listeners: "PLAINTEXT://a:1,CONTROLLER://b:2",
      next: "x",
    });
  });

  it("treats an even number of trailing backslashes as an escaped backslash, not a continuation", () => {
    expect(asMap("path=C:\\\\\nother=1")).toEqual({ path: "C:\\", other: "1" });
  });

  it("does not continue a comment line", () => {
    expect(asMap("# comment \\\nkey=value")).toEqual({ key: "value" });
  });

  it("decodes escapes, including separators in keys and \\u", () => {
    expect(asMap("a\\=b\\:c=x\\ty\\u0041\\z\nsp\\ ace=1")).toEqual({ "a=b:c": "x\tyAz", "sp ace": "1" });
  });

  it("handles CRLF and CR line endings and a byte-order mark", () => {
    expect(asMap("\uFEFFa=1\r\nb=2\rc=3")).toEqual({ a: "1", b: "2", c: "3" });
  });

  it("gives a key with no value an empty value", () => {
    expect(asMap("empty\nalso=")).toEqual({ empty: "", also: "" });
  });

  it("keeps every occurrence of a repeated key in order", () => {
    expect(parseProperties("k=1\nk=2").map((e) => e.value)).toEqual(["1", "2"]);
  });

  it("rejects a malformed \\u escape with its line", () => {
    expect(() => parseProperties("ok=1\nbad=\\u12G4")).toThrow(PropertiesSyntaxError);
    expect(() => parseProperties("ok=1\nbad=\\u12G4")).toThrow(/line 2/);
  });
});
