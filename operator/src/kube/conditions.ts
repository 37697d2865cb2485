// apimachinery's SetStatusCondition semantics: conditions are a map keyed by type, and lastTransitionTime moves only
// when a condition's status flips, so "since when has this been Ready/not Ready" survives every reconcile that merely
// refreshes the reason or message.
import type { Condition } from "./types.ts";

export type ConditionInput = Omit<Condition, "lastTransitionTime">;

/** Returns a new list with `next` set; the input list is not modified. */
export function setCondition(conditions: readonly Condition[], next: ConditionInput, now: Date): Condition[] {
  const existing = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    existing !== undefined && existing.status === next.status ? existing.lastTransitionTime : rfc3339(now);
  const updated: Condition = { ...next, lastTransitionTime };
  return existing === undefined
    ? [...conditions, updated]
    : conditions.map((c) => (c.type === next.type ? updated : c));
}

/** The condition of `type`; generic so that the API's status types (zod output) work as well as Condition. */
export function findCondition<C extends { type: string }>(
  conditions: readonly C[] | undefined,
  type: string,
): C | undefined {
  return conditions?.find((c) => c.type === type);
}

/** metav1.Time serialises to whole seconds; writing milliseconds would make every comparison with a read-back differ. */
export function rfc3339(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}
