// The host processes of one pod on tier local (every kubelet node runs on this machine, cgroupfs driver): found by the
// pod's uid in their cgroup path. The gate suite pauses a broker with SIGSTOP — its process keeps its sockets, so the
// kubelet's TCP probes still succeed and the pod stays Ready, while it neither fetches nor heartbeats — which is what a
// wedged broker looks like to its peers.
import { readFileSync, readdirSync } from "node:fs";

/** Pids whose cgroup is the pod's (`pod<uid>` in the cgroupfs path), except the sandbox's pause process. */
export function podPids(uid: string): number[] {
  const marker = `pod${uid}`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cgroup`, "utf8").includes(marker)) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.trim() === "" || cmdline.includes("/pause")) continue;
      found.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return found;
}

/** Sends `signal` to every process of the pod; throws when it has none (a wrong uid, or not tier local). */
export function signalPod(uid: string, signal: "SIGSTOP" | "SIGCONT"): number[] {
  const pids = podPids(uid);
  if (pids.length === 0) throw new Error(`no host process of pod ${uid} (tier local only)`);
  for (const pid of pids) process.kill(pid, signal);
  return pids;
}
