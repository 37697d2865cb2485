import { ErrorCode } from "../protocol/errors.ts";

// How AlterConfigs (replace the whole override set) and IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT on
// single keys) turn a request into the next override set. Pure, so both resource types and both APIs share it and
// validate-only requests run exactly the same checks as real ones.

/** IncrementalAlterConfigs operation codes (Kafka's AlterConfigOp.OpType). */
export const ConfigOperation = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

export interface ConfigChange {
  name: string;
  /** A ConfigOperation; ignored in replace mode. */
  operation: number;
  value: string | null;
}

export type ChangeOutcome =
  { ok: true; configs: Record<string, string> } | { ok: false; errorCode: number; errorMessage: string };

export interface ChangeRules {
  /** "replace" is AlterConfigs: keys not given return to their defaults. */
  mode: "replace" | "incremental";
  /** Whether the key holds a comma-separated list (APPEND/SUBTRACT are allowed only there). */
  isList(name: string): boolean;
  /** The effective value now, which APPEND and SUBTRACT start from when there is no override yet. */
  effectiveValue(name: string): string | undefined;
  /** Why `name=value` is not acceptable, or undefined. */
  problem(name: string, value: string): string | undefined;
}

function refuse(errorCode: number, errorMessage: string): ChangeOutcome {
  return { ok: false, errorCode, errorMessage };
}

function listItems(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function applyConfigChanges(
  current: Readonly<Record<string, string>>,
  changes: readonly ConfigChange[],
  rules: ChangeRules,
): ChangeOutcome {
  const seen = new Set<string>();
  for (const change of changes) {
    if (seen.has(change.name)) {
      return refuse(ErrorCode.INVALID_REQUEST, `Error due to duplicate config keys: ${change.name}`);
    }
    seen.add(change.name);
  }
  const next: Record<string, string> = rules.mode === "replace" ? {} : { ...current };
  const touched = new Set<string>();
  for (const change of changes) {
    const { name, value } = change;
    if (rules.mode === "replace") {
      // AlterConfigs has no delete operation: a null value just leaves the key at its default.
      if (value !== null) next[name] = value;
      touched.add(name);
      continue;
    }
    switch (change.operation) {
      case ConfigOperation.SET:
        if (value === null) return refuse(ErrorCode.INVALID_REQUEST, `Null value not supported for SET of ${name}`);
        next[name] = value;
        touched.add(name);
        break;
      case ConfigOperation.DELETE:
        delete next[name];
        break;
      case ConfigOperation.APPEND:
      case ConfigOperation.SUBTRACT: {
        const verb = change.operation === ConfigOperation.APPEND ? "append" : "subtract";
        if (!rules.isList(name)) {
          return refuse(ErrorCode.INVALID_CONFIG, `Config value ${verb} is not allowed for config key: ${name}`);
        }
        if (value === null) return refuse(ErrorCode.INVALID_REQUEST, `Null value not supported for ${verb} of ${name}`);
        const items = listItems(next[name] ?? rules.effectiveValue(name));
        const given = listItems(value);
        const result =
          change.operation === ConfigOperation.APPEND
            ? [...items, ...given.filter((g) => !items.includes(g))]
            : items.filter((item) => !given.includes(item));
        next[name] = result.join(",");
        touched.add(name);
        break;
      }
      default:
        return refuse(ErrorCode.INVALID_REQUEST, `Unknown config operation ${change.operation} for ${name}`);
    }
  }
  for (const name of touched) {
    const value = next[name];
    if (value === undefined) continue;
    const problem = rules.problem(name, value);
    if (problem) return refuse(ErrorCode.INVALID_CONFIG, problem);
  }
  return { ok: true, configs: next };
}
