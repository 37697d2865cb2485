import { appendFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isStorageFailure, LogManager, segmentFileName, StorageError } from "../../src/log/index.ts";
import { CLEAN_SHUTDOWN_FILE } from "../../src/log/partition-log.ts";
import { ExitCode, StartupError } from "../../src/runtime/exit-codes.ts";
import { readStoredMeta } from "../../src/storage/format.ts";
import { MetaPropertiesError, writeMetaProperties } from "../../src/storage/meta-properties.ts";
import { checkStartupLogDirs } from "../../src/storage/startup-log-dirs.ts";
import { mountSmallDisk, smallDisksUnavailable } from "../support/small-disk.ts";
import { makeBatch, silentLogger, tempDir } from "./batches.ts";

// A log dir that fails at start-up (KIP-858): which errors count as the dir's storage failing, which failed dirs stop
// the node, and how the log manager opens with a failed dir offline and the others served.

let dir: string;
let cleanup: () => Promise<void>;
const managers: LogManager[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  await cleanup();
});

async function open(extra: Partial<Parameters<typeof LogManager.open>[0]> = {}): Promise<LogManager> {
  const manager = await LogManager.open({
    logDirs: [join(dir, "a"), join(dir, "b")],
    logger: silentLogger,
    retentionCheckIntervalMs: 0,
    ...extra,
  });
  managers.push(manager);
  return manager;
}

/** Two partitions in each of dirs a and b, with records, closed cleanly. */
async function seed(): Promise<void> {
  const manager = await LogManager.open({
    logDirs: [join(dir, "a"), join(dir, "b")],
    logger: silentLogger,
    retentionCheckIntervalMs: 0,
  });
  for (let p = 0; p < 4; p++) {
    const log = await manager.getOrCreate("t", p);
    await log.append(makeBatch({ records: 3 }), { leaderEpoch: 0 });
  }
  await manager.close();
  expect((await readdir(join(dir, "a"))).sort()).toEqual(["t-0", "t-2"]);
}

const errno = (code: string, syscall = "open") =>
  Object.assign(new Error(`${code}: failed, ${syscall} '/x'`), { code, syscall, errno: -5, path: "/x" });

describe("isStorageFailure", () => {
  it("counts failed system calls and failed writes, not process limits, corrupt data or bugs", () => {
    expect(isStorageFailure(errno("EIO", "read"))).toBe(true);
    expect(isStorageFailure(errno("ENOTDIR"))).toBe(true);
    expect(isStorageFailure(errno("EISDIR"))).toBe(true);
    expect(isStorageFailure(errno("EROFS"))).toBe(true);
    expect(isStorageFailure(new StorageError("/d", "appending", errno("ENOSPC", "write")))).toBe(true);
    expect(isStorageFailure(new Error("wrapped", { cause: errno("EIO", "fsync") }))).toBe(true);
    expect(isStorageFailure(errno("EMFILE"))).toBe(false);
    expect(isStorageFailure(new StorageError("/d", "appending", errno("ENFILE", "open")))).toBe(false);
    expect(isStorageFailure(new MetaPropertiesError("/d/meta.properties: version 0 is not supported"))).toBe(false);
    expect(isStorageFailure(new Error("partition t-0 exists in more than one log dir"))).toBe(false);
    expect(isStorageFailure("EIO")).toBe(false);
  });
});

describe("checkStartupLogDirs", () => {
  const dirs = { logDirs: ["/a", "/b"], metadataLogDir: "/a", broker: true };

  it("lets a node start without a failed dir that is neither its metadata dir nor its last", () => {
    expect(() => checkStartupLogDirs(dirs, new Map([["/b", errno("EIO")]]))).not.toThrow();
    expect(() => checkStartupLogDirs(dirs, new Map())).not.toThrow();
  });

  it("stops the node (exit 1) when its metadata log dir failed, naming the dir and the error", () => {
    const err = (() => {
      try {
        checkStartupLogDirs(dirs, new Map([["/a", errno("EIO", "read")]]));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(StartupError);
    expect((err as StartupError).exitCode).toBe(ExitCode.Failure);
    expect((err as StartupError).message).toMatch(
      /^the metadata log dir \/a \(EIO: failed, read '\/x'\) failed at start-up/,
    );
  });

  it("stops a broker whose every log dir failed, and a separate metadata dir does not save it", () => {
    const separate = { logDirs: ["/a", "/b"], metadataLogDir: "/m", broker: true };
    const both = new Map([
      ["/a", errno("EIO")],
      ["/b", errno("ENOTDIR")],
    ]);
    expect(() => checkStartupLogDirs(separate, both)).toThrow(
      /^every log dir failed at start-up: \/a \(EIO.*\/b \(ENOTDIR/,
    );
    // A controller alone serves no partitions: only its metadata dir matters.
    expect(() => checkStartupLogDirs({ ...separate, broker: false }, both)).not.toThrow();
  });
});

describe("readStoredMeta", () => {
  it("records a dir whose meta.properties cannot be read as failed, and still refuses a malformed file", async () => {
    const good = join(dir, "good");
    const file = join(dir, "file");
    const fresh = join(dir, "fresh");
    await writeMetaProperties(good, { clusterId: "c", nodeId: 1, directoryId: "d" });
    // A dir replaced by a file: reading file/meta.properties fails with ENOTDIR, also for root.
    await writeFile(file, "not a dir");
    const failed = new Map<string, unknown>();
    const stored = await readStoredMeta([good, file, fresh], undefined, failed);
    expect([...stored]).toEqual([
      [good, { clusterId: "c", nodeId: 1, directoryId: "d" }],
      [fresh, null],
    ]);
    expect([...failed.keys()]).toEqual([file]);
    expect((failed.get(file) as NodeJS.ErrnoException).code).toBe("ENOTDIR");
    // Without a map to record it in (the storage tool), the failure is thrown.
    await expect(readStoredMeta([file])).rejects.toMatchObject({ code: "ENOTDIR" });

    await writeFile(join(good, "meta.properties"), "version=0\n");
    await expect(readStoredMeta([good], undefined, new Map())).rejects.toBeInstanceOf(MetaPropertiesError);
  });
});

describe("LogManager opening with a failed log dir", () => {
  it("takes a dir replaced by a file offline and serves the other", async () => {
    await seed();
    await rm(join(dir, "b"), { recursive: true });
    await writeFile(join(dir, "b"), "a file where the dir was");
    const manager = await open();
    expect(manager.offlineLogDirs()).toEqual([join(dir, "b")]);
    expect((manager.failedAtStart.get(join(dir, "b")) as NodeJS.ErrnoException).code).toMatch(/^(EEXIST|ENOTDIR)$/);
    expect(
      manager
        .partitions()
        .map((p) => `${p.topic}-${p.partition}`)
        .sort(),
    ).toEqual(["t-0", "t-2"]);
    const log = manager.get("t", 0);
    await log?.append(makeBatch({ records: 2 }), { leaderEpoch: 0 });
    expect(log?.logEndOffset).toBe(5n);
    // New partitions go to the dir still online.
    await manager.getOrCreate("u", 0);
    expect(manager.logDirOf("u", 0)).toBe(join(dir, "a"));
  });

  it("takes a dir offline when a segment raises an I/O error while loading, with every log of that dir", async () => {
    await seed();
    // The segment file of t-1 (dir b) is a directory: opening it fails with EISDIR, as a failing disk fails a read.
    const segment = join(dir, "b", "t-1", segmentFileName(0n, ".log"));
    await rm(segment);
    await mkdir(segment);
    const manager = await open();
    expect(manager.offlineLogDirs()).toEqual([join(dir, "b")]);
    expect((manager.failedAtStart.get(join(dir, "b")) as NodeJS.ErrnoException).code).toBe("EISDIR");
    // t-3 opened fine but is in the failed dir: not served either, and known to be offline.
    expect(
      manager
        .partitions()
        .map((p) => `${p.topic}-${p.partition}`)
        .sort(),
    ).toEqual(["t-0", "t-2"]);
    for (const p of [1, 3]) {
      expect(manager.get("t", p)).toBeUndefined();
      expect(manager.isOffline("t", p)).toBe(true);
      // Not created again in the dir still online: that copy would clash with the failed dir's once it works again.
      await expect(manager.getOrCreate("t", p)).rejects.toBeInstanceOf(StorageError);
    }
    expect(manager.isOffline("t", 0)).toBe(false);
    // A replica that leaves the broker leaves the offline set: a later one is created afresh.
    await manager.deletePartition("t", 3);
    expect(manager.isOffline("t", 3)).toBe(false);
  });

  it("starts with the dirs it is told failed offline, without reading them", async () => {
    await seed();
    const manager = await open({ failedLogDirs: new Map([[join(dir, "a"), errno("EIO", "read")]]) });
    expect(manager.offlineLogDirs()).toEqual([join(dir, "a")]);
    expect(
      manager
        .partitions()
        .map((p) => `${p.topic}-${p.partition}`)
        .sort(),
    ).toEqual(["t-1", "t-3"]);
    expect(manager.isOffline("t", 0)).toBe(false);
    manager.markReplicaOffline("t", 0);
    expect(manager.isOffline("t", 0)).toBe(true);
  });

  const noDisks = smallDisksUnavailable();
  it.skipIf(noDisks !== undefined)(
    `takes a dir offline that cannot take a write at start: a full disk${noDisks ? ` (skipped: ${noDisks})` : ""}`,
    async () => {
      const disk = mountSmallDisk(1024 * 1024);
      if ("unavailable" in disk) throw new Error(disk.unavailable);
      try {
        await mkdir(join(disk.dir, "logs"));
        await disk.fill();
        const manager = await open({ logDirs: [join(dir, "a"), join(disk.dir, "logs")] });
        expect(manager.offlineLogDirs()).toEqual([join(disk.dir, "logs")]);
        expect((manager.failedAtStart.get(join(disk.dir, "logs")) as NodeJS.ErrnoException).code).toBe("ENOSPC");
        await manager.close();
        managers.length = 0;
        // With space again, the next start has it online, and no probe file was left behind.
        await disk.free();
        const again = await open({ logDirs: [join(dir, "a"), join(disk.dir, "logs")] });
        expect(again.offlineLogDirs()).toEqual([]);
        expect(await readdir(join(disk.dir, "logs"))).toEqual([]);
        await again.close();
        managers.length = 0;
      } finally {
        disk.unmount();
      }
    },
  );

  it("recovers a torn segment tail as before: corrupt data is not a failed dir", async () => {
    await seed();
    await rm(join(dir, "b", "t-1", CLEAN_SHUTDOWN_FILE), { force: true });
    await appendFile(join(dir, "b", "t-1", segmentFileName(0n, ".log")), Buffer.from([0, 0, 0, 0, 0, 0, 0, 9, 0, 0]));
    const manager = await open();
    expect(manager.offlineLogDirs()).toEqual([]);
    expect(manager.get("t", 1)?.logEndOffset).toBe(3n);
  });

  it("still refuses to open what is not a storage failure", async () => {
    await seed();
    await mkdir(join(dir, "b", "t-0"));
    await expect(open()).rejects.toThrow("partition t-0 exists in more than one log dir");
  });
});
