import { describe, expect, it } from "vitest";
import { applyConfigChanges, ConfigOperation, type ChangeRules } from "../../src/metadata/config-changes.ts";

const { SET, DELETE, APPEND, SUBTRACT } = ConfigOperation;

function rules(mode: ChangeRules["mode"]): ChangeRules {
  return {
    mode,
    isList: (name) => name === "cleanup.policy",
    effectiveValue: (name) => ({ "cleanup.policy": "delete", "retention.ms": "604800000" })[name],
    problem: (name, value) => (/^-?\d+$/.test(value) || name === "cleanup.policy" ? undefined : `${name} bad`),
  };
}

describe("applyConfigChanges", () => {
  it("replace mode keeps only the keys given, dropping null values", () => {
    expect(
      applyConfigChanges(
        { "retention.ms": "1", "retention.bytes": "2" },
        [
          { name: "segment.bytes", operation: SET, value: "1024" },
          { name: "retention.ms", operation: SET, value: null },
        ],
        rules("replace"),
      ),
    ).toEqual({ ok: true, configs: { "segment.bytes": "1024" } });
  });

  it("incremental mode changes single keys and leaves the rest", () => {
    expect(
      applyConfigChanges(
        { "retention.ms": "1", "retention.bytes": "2" },
        [
          { name: "retention.ms", operation: DELETE, value: null },
          { name: "segment.bytes", operation: SET, value: "1024" },
          { name: "cleanup.policy", operation: APPEND, value: "compact,delete" },
        ],
        rules("incremental"),
      ),
    ).toEqual({
      ok: true,
      configs: { "retention.bytes": "2", "segment.bytes": "1024", "cleanup.policy": "delete,compact" },
    });
  });

  it("SUBTRACT removes items from the override, or from the effective value when there is none", () => {
    const subtract = (current: Record<string, string>, value: string) =>
      applyConfigChanges(current, [{ name: "cleanup.policy", operation: SUBTRACT, value }], rules("incremental"));
    expect(subtract({ "cleanup.policy": "compact, delete" }, "delete")).toEqual({
      ok: true,
      configs: { "cleanup.policy": "compact" },
    });
    expect(subtract({}, "compact")).toEqual({ ok: true, configs: { "cleanup.policy": "delete" } });
  });

  it.each([
    [[{ name: "retention.ms", operation: APPEND, value: "1" }], 40, /append is not allowed/],
    [[{ name: "retention.ms", operation: SUBTRACT, value: "1" }], 40, /subtract is not allowed/],
    [[{ name: "retention.ms", operation: SET, value: null }], 42, /Null value/],
    [[{ name: "cleanup.policy", operation: APPEND, value: null }], 42, /Null value/],
    [[{ name: "retention.ms", operation: 7, value: "1" }], 42, /Unknown config operation 7/],
    [[{ name: "retention.ms", operation: SET, value: "soon" }], 40, /retention\.ms bad/],
    [
      [
        { name: "a", operation: SET, value: "1" },
        { name: "a", operation: DELETE, value: null },
      ],
      42,
      /duplicate config keys: a/,
    ],
  ])("refuses %j with error %i", (changes, errorCode, message) => {
    const outcome = applyConfigChanges({}, changes, rules("incremental"));
    expect(outcome).toMatchObject({ ok: false, errorCode });
    expect(outcome.ok ? "" : outcome.errorMessage).toMatch(message);
  });

  it("validates only the keys it changed", () => {
    expect(
      applyConfigChanges({ legacy: "not-a-number" }, [{ name: "x", operation: SET, value: "1" }], rules("incremental")),
    ).toEqual({ ok: true, configs: { legacy: "not-a-number", x: "1" } });
  });
});
