// Comparing API objects by their JSON meaning: key order does not matter (the API server's order and ours differ),
// undefined members count as absent.
import type { KubeObject } from "./types.ts";

/** Deep equality on the JSON form, independent of key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * True when `next` differs from `previous` only in status and the bookkeeping every write changes (resourceVersion,
 * managedFields): the change a status write makes, which gives a reconciler of that object nothing new to do.
 */
export function onlyStatusChanged(previous: KubeObject, next: KubeObject): boolean {
  return jsonEqual(withoutStatus(previous), withoutStatus(next));
}

function withoutStatus(obj: KubeObject): KubeObject {
  const { status: _status, ...rest } = obj;
  const {
    resourceVersion: _rv,
    managedFields: _mf,
    ...metadata
  } = obj.metadata as KubeObject["metadata"] & {
    managedFields?: unknown;
  };
  return { ...rest, metadata };
}
