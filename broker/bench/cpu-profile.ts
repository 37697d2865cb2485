// Reads a V8 .cpuprofile (node --cpu-prof) and lists the functions with the most self and inclusive time.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, join, relative } from "node:path";
import { formatTable } from "./report.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on the monotonic clock (CLOCK_MONOTONIC on Linux, as `process.hrtime`). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A stretch of the monotonic clock, in microseconds (`process.hrtime.bigint() / 1000n`). */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/** Runs `work`: its result, and the window of the monotonic clock it ran in. */
export async function inWindow<T>(work: () => Promise<T>): Promise<{ result: T; window: ProfileWindow }> {
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const result = await work();
  return { result, window: { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) } };
}

export interface HotFrame {
  /** "function file:line" with the file relative to the repository when it is ours. */
  frame: string;
  selfMs: number;
  selfPercent: number;
  /** Self time as a share of the time the broker was not idle (start-up included). */
  selfBusyPercent: number;
  totalMs: number;
  totalPercent: number;
}

const sourceMaps = new Map<string, SourceMap | null>();

/** The compiled file's source map (tsc writes <file>.js.map beside broker/dist files), or null. */
function sourceMapFor(file: string): SourceMap | null {
  let map = sourceMaps.get(file);
  if (map === undefined) {
    map = null;
    const path = `${file}.map`;
    if (existsSync(path)) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(path, "utf8")) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        map = null;
      }
    }
    sourceMaps.set(file, map);
  }
  return map;
}

/** "function file:line", mapped from broker/dist back to the TypeScript source, relative to the repository. */
function frameKey(cf: CallFrame, root: string): string {
  const name = cf.functionName === "" ? "(anonymous)" : cf.functionName;
  if (cf.url === "") return name;
  const file = cf.url.replace(/^file:\/\//, "");
  // V8 line and column numbers are 0-based, as are a source map's.
  const entry = file.endsWith(".js") ? sourceMapFor(file)?.findEntry(cf.lineNumber, cf.columnNumber) : undefined;
  if (entry && "originalSource" in entry && "originalLine" in entry) {
    const { originalSource, originalLine } = entry as { originalSource: string; originalLine: number };
    const source = originalSource.replace(/^file:\/\//, "");
    const absolute = source.startsWith("/") ? source : join(dirname(file), source);
    return `${name} ${relative(root, absolute)}:${originalLine + 1}`;
  }
  return `${name} ${file.startsWith(`${root}/`) ? relative(root, file) : file}:${cf.lineNumber + 1}`;
}

/** Top frames by self time (and by inclusive time, each frame counted once per sample). */
/** The hottest frames of a profile; with `window`, of the samples taken in it only. */
export function summarizeProfile(
  path: string,
  root: string,
  top = 25,
  window?: ProfileWindow,
): { self: HotFrame[]; inclusive: HotFrame[]; busyMs: number } {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) return;
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    all += dt;
    const node = byId.get(id);
    if (!node) return;
    const key = frameKey(node.callFrame, root);
    self.set(key, (self.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const k = frameKey(n.callFrame, root);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  });
  const busy = Math.max(all - (self.get("(idle)") ?? 0), 1e-9);
  const rows = (m: Map<string, number>): HotFrame[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, ms]) => ({
        frame,
        selfMs: Math.round(self.get(frame) ?? 0),
        selfPercent: Math.round((1000 * (self.get(frame) ?? 0)) / all) / 10,
        selfBusyPercent: Math.round((1000 * (self.get(frame) ?? 0)) / busy) / 10,
        totalMs: Math.round(total.get(frame) ?? ms),
        totalPercent: Math.round((1000 * (total.get(frame) ?? ms)) / all) / 10,
      }));
  return { self: rows(self), inclusive: rows(total), busyMs: Math.round(busy) };
}

/**
 * Prints, for every .cpuprofile in `dir` (one per node of a cluster), its `top` hottest frames by self and inclusive
 * time within `window`, titled "<what>, <busy> ms busy"; returns what it printed.
 */
export function printProfiles(
  dir: string,
  root: string,
  what: string,
  window: ProfileWindow | undefined,
  top = 30,
): { path: string; self: HotFrame[]; inclusive: HotFrame[] }[] {
  const rows = (frames: HotFrame[]): string[][] =>
    frames.map((f) => [
      f.frame,
      f.selfPercent.toFixed(1),
      // Idle time is not part of busy time.
      f.frame === "(idle)" || f.frame === "(root)" ? "-" : f.selfBusyPercent.toFixed(1),
      f.totalPercent.toFixed(1),
    ]);
  const headers = ["frame", "self %", "self % of busy", "total %"];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((file) => {
      const path = join(dir, file);
      const { self, inclusive, busyMs } = summarizeProfile(path, root, top, window);
      console.log(`\nprofile ${path}: ${what}, ${busyMs} ms busy\n\nby self time:`);
      console.log(formatTable(headers, rows(self)));
      console.log("\nby inclusive time:");
      console.log(formatTable(headers, rows(inclusive)));
      return { path, self, inclusive };
    });
}
