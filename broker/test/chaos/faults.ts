// The seeded fault schedule of a chaos run (pure: no I/O, no clock). The same seed gives the same sequence of fault
// kinds, shapes, durations and target choices; which node a choice lands on can still depend on the cluster (the
// leader of the chosen partition, the active controller), which the run records beside each fault.

export type FaultKind = "kill-leader" | "kill-controller" | "pause" | "partition" | "disk-full" | "roll";

export const FAULT_KINDS: readonly FaultKind[] = [
  "kill-leader",
  "kill-controller",
  "pause",
  "partition",
  "disk-full",
  "roll",
];

/** How network partitions cut the cluster. */
export type PartitionShape = "isolate" | "split" | "bridge";

export interface PlannedFault {
  kind: FaultKind;
  /** A random 32-bit choice; the run picks its target as `pick % candidates.length` over a sorted candidate list. */
  pick: number;
  /** A second independent choice (the other side of a bridge cut, the sides of a split). */
  pick2: number;
  /** How long the fault lasts before it is healed (a killed node stays down this long before its restart). */
  holdMs: number;
  shape: PartitionShape;
}

/** Relative weights of each kind; rolls restart every node in turn, so they are rarer. */
export const DEFAULT_WEIGHTS: Readonly<Record<FaultKind, number>> = {
  "kill-leader": 4,
  "kill-controller": 2,
  pause: 4,
  partition: 5,
  "disk-full": 2,
  roll: 1,
};

/** [min, max] hold per kind, in ms. */
const HOLD: Readonly<Record<FaultKind, readonly [number, number]>> = {
  "kill-leader": [0, 3_000],
  "kill-controller": [0, 3_000],
  // Some pauses outlast Kafka's 9 s broker session timeout, so the controller fences the paused broker.
  pause: [500, 12_000],
  partition: [1_000, 15_000],
  "disk-full": [2_000, 8_000],
  roll: [0, 0],
};

/** mulberry32: a small, fast, seedable 32-bit generator; good enough to spread choices, not for cryptography. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * An endless schedule for `seed`: first every kind with a weight once, in a seeded order (so even a short run injects
 * each), then kinds drawn by weight.
 */
export function* schedule(
  seed: number,
  weights: Readonly<Record<FaultKind, number>> = DEFAULT_WEIGHTS,
): Generator<PlannedFault, never> {
  const next = rng(seed);
  const kinds = FAULT_KINDS.filter((k) => weights[k] > 0);
  if (kinds.length === 0) throw new Error("chaos: every fault kind has weight 0");
  const total = kinds.reduce((s, k) => s + weights[k], 0);
  const first = [...kinds];
  for (let i = first.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [first[i], first[j]] = [first[j] as FaultKind, first[i] as FaultKind];
  }
  const draw = (): FaultKind => {
    let r = (next() / 2 ** 32) * total;
    for (const k of kinds) if ((r -= weights[k]) < 0) return k;
    return kinds[kinds.length - 1] ?? "pause";
  };
  for (;;) {
    const kind = first.shift() ?? draw();
    const [lo, hi] = HOLD[kind];
    const holdMs = lo + Math.floor((next() / 2 ** 32) * (hi - lo + 1));
    const shapes: PartitionShape[] = ["isolate", "isolate", "split", "bridge"];
    const shape = shapes[next() % shapes.length] as PartitionShape;
    yield { kind, pick: next(), pick2: next(), holdMs, shape };
  }
}

/** Parses "kill-leader=4,pause=0,..." over the defaults; unknown kinds or bad numbers are errors. */
export function parseWeights(spec: string): Record<FaultKind, number> {
  const out: Record<FaultKind, number> = { ...DEFAULT_WEIGHTS };
  if (spec.trim() === "") return out;
  for (const part of spec.split(",")) {
    const [k, v] = part.split("=");
    if (k === undefined || !(FAULT_KINDS as readonly string[]).includes(k.trim())) {
      throw new Error(`chaos: unknown fault kind ${JSON.stringify(k)} (kinds: ${FAULT_KINDS.join(", ")})`);
    }
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`chaos: weight of ${k} must be a number >= 0, not ${v}`);
    out[k.trim() as FaultKind] = n;
  }
  return out;
}

/**
 * The links to cut for a network partition among `nodes` (sorted ids), as pairs: isolate cuts one node from all
 * others; split divides the nodes in two non-empty sides by pick2's bits; bridge cuts a single link, so the two
 * nodes still reach each other through the rest (a partial partition).
 */
export function partitionLinks(nodes: readonly number[], f: PlannedFault): [number, number][] {
  if (nodes.length < 2) return [];
  const a = nodes[f.pick % nodes.length] as number;
  if (f.shape === "bridge") {
    const others = nodes.filter((n) => n !== a);
    return [[a, others[f.pick2 % others.length] as number]];
  }
  let side = new Set<number>([a]);
  if (f.shape === "split") {
    side = new Set(nodes.filter((n, i) => n === a || ((f.pick2 >>> i) & 1) === 1));
    if (side.size === nodes.length) side = new Set([a]);
  }
  const links: [number, number][] = [];
  for (const x of side) for (const y of nodes) if (!side.has(y)) links.push([x, y]);
  return links;
}
