import { execFileSync } from "node:child_process";

// Network namespaces for the chaos run (needs root): a hub namespace with a bridge, where the harness and the workload
// clients run, and one namespace per node, each joined to the bridge by a veth pair and given its own address. A
// network partition between two nodes is a blackhole route to each other's address in both nodes' namespaces: their
// packets to each other vanish (as on a cut link, no error comes back), while both stay reachable from the hub, so
// clients still see them. Nothing is created outside these namespaces; deleting them removes the links with them.

const SUBNET = "10.231.0";
/** Names start with this and the creating process's pid, so a later run can delete what a killed one left behind. */
const PREFIX = "tchaos";

export interface Netns {
  /** The namespace the harness and clients run in (`ip netns exec <hub> ...`). */
  readonly hub: string;
  /** The hub's own address on the bridge. */
  readonly hubAddress: string;
  nodeNamespace(nodeId: number): string;
  nodeAddress(nodeId: number): string;
}

function ip(args: readonly string[]): string {
  try {
    return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`ip ${args.join(" ")} failed: ${e.stderr?.trim() || e.message || String(err)}`, { cause: err });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The processes in a namespace (`ip netns pids`); only a chaos run starts processes in its namespaces. */
export function pidsIn(name: string): number[] {
  try {
    return ip(["netns", "pids", name])
      .split("\n")
      .filter((s) => s.trim() !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/** SIGKILLs every process in the namespaces named. */
export function killAllIn(names: readonly string[]): void {
  for (const name of names) {
    for (const pid of pidsIn(name)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}

/**
 * Deletes chaos namespaces whose creating process is gone (a run killed before its cleanup), first killing what that
 * run left running in them. Returns their names.
 */
export function deleteStaleNamespaces(): string[] {
  const deleted: string[] = [];
  for (const line of ip(["netns", "list"]).split("\n")) {
    const name = line.trim().split(/\s+/)[0] ?? "";
    const m = new RegExp(`^${PREFIX}(\\d+)[hn]`).exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    killAllIn([name]);
    ip(["netns", "delete", name]);
    deleted.push(name);
  }
  return deleted;
}

/** Describes the namespaces `createNamespaces(ids)` made in process `pid` (for the harness running inside the hub). */
export function describeNamespaces(pid: number): Netns {
  return {
    hub: `${PREFIX}${pid}h`,
    hubAddress: `${SUBNET}.1`,
    nodeNamespace: (id) => `${PREFIX}${pid}n${id}`,
    nodeAddress: (id) => `${SUBNET}.${10 + id}`,
  };
}

/** Creates the hub and one namespace per node id; on any failure deletes what it made and throws. */
export function createNamespaces(nodeIds: readonly number[]): Netns {
  const ns = describeNamespaces(process.pid);
  const made: string[] = [];
  try {
    ip(["netns", "add", ns.hub]);
    made.push(ns.hub);
    ip(["-n", ns.hub, "link", "set", "lo", "up"]);
    ip(["-n", ns.hub, "link", "add", "br0", "type", "bridge"]);
    ip(["-n", ns.hub, "addr", "add", `${ns.hubAddress}/24`, "dev", "br0"]);
    ip(["-n", ns.hub, "link", "set", "br0", "up"]);
    for (const id of nodeIds) {
      const node = ns.nodeNamespace(id);
      ip(["netns", "add", node]);
      made.push(node);
      ip(["-n", node, "link", "set", "lo", "up"]);
      ip(["-n", ns.hub, "link", "add", `v${id}`, "type", "veth", "peer", "name", "eth0", "netns", node]);
      ip(["-n", ns.hub, "link", "set", `v${id}`, "master", "br0", "up"]);
      ip(["-n", node, "addr", "add", `${ns.nodeAddress(id)}/24`, "dev", "eth0"]);
      ip(["-n", node, "link", "set", "eth0", "up"]);
    }
  } catch (err) {
    for (const name of made.reverse()) {
      try {
        ip(["netns", "delete", name]);
      } catch {
        // Best effort: the error that matters is the one being thrown.
      }
    }
    throw err;
  }
  return ns;
}

export function deleteNamespaces(ns: Netns, nodeIds: readonly number[]): void {
  const errors: string[] = [];
  for (const name of [...nodeIds.map((id) => ns.nodeNamespace(id)), ns.hub]) {
    try {
      ip(["netns", "delete", name]);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (errors.length > 0) throw new Error(`deleting the chaos namespaces: ${errors.join("; ")}`);
}

/** Cuts (or, with heal, restores) the link between two nodes in both directions. */
export function setLinkCut(ns: Netns, a: number, b: number, cut: boolean): void {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    ip(["-n", ns.nodeNamespace(from), "route", cut ? "add" : "del", "blackhole", `${ns.nodeAddress(to)}/32`]);
  }
}
