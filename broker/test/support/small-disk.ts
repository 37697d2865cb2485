import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { open, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster } from "./cluster.ts";

// A real filesystem that runs out of space: a size-limited tmpfs mounted on a fresh directory. Mounting needs root
// (or CAP_SYS_ADMIN); where it is not allowed, mountSmallDisk says why, and the tests that need it skip with that.

export interface SmallDisk {
  readonly dir: string;
  /** Writes a filler file until the filesystem refuses with ENOSPC: nothing can be written after this. */
  fill(): Promise<void>;
  /** Deletes the filler, giving the space back. */
  free(): Promise<void>;
  freeBytes(): Promise<number>;
  unmount(): void;
}

export function mountSmallDisk(sizeBytes: number): SmallDisk | { unavailable: string } {
  const dir = mkdtempSync(join(tmpdir(), "tributary-small-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return { unavailable: `cannot mount a small tmpfs (needs root): ${stderr || String(err)}` };
  }
  const filler = join(dir, "filler");
  return {
    dir,
    async fill() {
      const fh = await open(filler, "a");
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      try {
        for (;;) {
          // Shrinking chunks pack the last pages too; a write of one byte that fails means the disk is full.
          for (let size = chunk.length; size >= 1; size >>= 1) {
            try {
              await fh.write(chunk, 0, size);
              break;
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
              if (size === 1) return;
            }
          }
        }
      } finally {
        await fh.close();
      }
    },
    async free() {
      await rm(filler, { force: true });
    },
    async freeBytes() {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    },
    unmount() {
      execFileSync("umount", [dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A small disk for each node of a cluster as its log dir (`logs` in the node's directory; the metadata log elsewhere):
 * pass `prepare` to the cluster's options. `unmount` after the processes are gone, before the directories go (a
 * mount point cannot be deleted).
 */
export class SmallDiskLogDirs {
  readonly disks = new Map<number, SmallDisk>();
  /** The bind mounts of the disks on the nodes' log dirs, unmounted before the disks. */
  private readonly binds: string[] = [];

  constructor(private readonly sizeBytes: number) {}

  readonly prepare = (node: { id: number; dir: string }): void => {
    const d = mountSmallDisk(this.sizeBytes);
    if ("unavailable" in d) throw new Error(d.unavailable);
    this.disks.set(node.id, d);
    // log.dirs is a directory on the tmpfs, beside the filler file, so the broker sees no stray file in it.
    mkdirSync(join(d.dir, "logs"));
    mkdirSync(join(node.dir, "logs"), { recursive: true });
    execFileSync("mount", ["--bind", join(d.dir, "logs"), join(node.dir, "logs")]);
    this.binds.push(join(node.dir, "logs"));
  };

  unmount(): void {
    for (const bind of this.binds.splice(0)) execFileSync("umount", [bind], { stdio: "pipe" });
    for (const disk of this.disks.values()) disk.unmount();
    this.disks.clear();
  }

  /**
   * A test's afterAll: the processes go first (kill -9), then the mounts, then the cluster's directories (a mount
   * point cannot be deleted).
   */
  async teardown(cluster: Cluster | undefined): Promise<void> {
    for (const node of cluster?.nodes ?? []) if (cluster?.isRunning(node.id)) await cluster.kill(node.id, "SIGKILL");
    this.unmount();
    await cluster?.destroy();
  }
}

/** Why small disks cannot be mounted here (tests that need them skip), or undefined when they can. */
export function smallDisksUnavailable(): string | undefined {
  const probe = mountSmallDisk(1024 * 1024);
  if ("unavailable" in probe) return probe.unavailable;
  probe.unmount();
  return undefined;
}
