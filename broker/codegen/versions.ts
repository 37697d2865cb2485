/** An inclusive version range; `hi` is Infinity for open-ended ranges ("3+"). An empty range has lo > hi. */
export interface VersionRange {
  readonly lo: number;
  readonly hi: number;
}

export const NO_VERSIONS: VersionRange = { lo: 1, hi: 0 };

/** Parses Kafka's version strings: "none", "3", "0-4", "3+". */
export function parseVersions(text: string | undefined): VersionRange {
  if (text === undefined || text === "none") return NO_VERSIONS;
  const open = /^(\d+)\+$/.exec(text);
  if (open) return { lo: Number(open[1]), hi: Infinity };
  const span = /^(\d+)-(\d+)$/.exec(text);
  if (span) return { lo: Number(span[1]), hi: Number(span[2]) };
  if (/^\d+$/.test(text)) return { lo: Number(text), hi: Number(text) };
  throw new Error(`invalid version range "${text}"`);
}

export function isEmpty(r: VersionRange): boolean {
  return r.lo > r.hi;
}

export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
}

export function contains(outer: VersionRange, inner: VersionRange): boolean {
  return isEmpty(inner) || (outer.lo <= inner.lo && inner.hi <= outer.hi);
}

/**
 * A TypeScript condition on the local `v` that is true exactly for versions in `set`, simplified by what is already
 * known: `v` lies in `context`. Returns "true" or "false" when the answer does not depend on `v`.
 */
export function versionCondition(set: VersionRange, context: VersionRange, variable = "v"): string {
  const live = intersect(set, context);
  if (isEmpty(live)) return "false";
  if (contains(set, context)) return "true";
  const parts: string[] = [];
  if (live.lo > context.lo) parts.push(`${variable} >= ${live.lo}`);
  if (live.hi < context.hi) parts.push(`${variable} <= ${live.hi}`);
  return parts.join(" && ");
}
