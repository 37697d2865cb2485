import { afterEach, beforeEach } from "vitest";
import { PartitionLog, type LogConfig, type PartitionLogOptions } from "../../src/log/index.ts";
import { silentLogger, tempDir } from "./batches.ts";

// Kept apart from batches.ts, which crash-child.ts (a plain Node process, no test runner) imports too.

/**
 * A fresh directory for each test of the file, and the partition logs a test opens in it: those still open are
 * closed after the test, before the directory is deleted.
 */
export function partitionLogFixture(): {
  /** The current test's directory. */
  dir: () => string;
  openLog: (
    config?: Partial<LogConfig>,
    options?: Omit<Partial<PartitionLogOptions>, "dir" | "config">,
  ) => Promise<PartitionLog>;
} {
  let dir: string | undefined;
  let cleanup: () => Promise<void> = () => Promise.resolve();
  const open: PartitionLog[] = [];
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(async () => {
    for (const log of open.splice(0)) if (!log.isClosed) await log.close();
    await cleanup();
  });
  const current = (): string => {
    if (dir === undefined) throw new Error("no test is running");
    return dir;
  };
  return {
    dir: current,
    openLog: async (config = {}, options = {}) => {
      const log = await PartitionLog.open({ logger: silentLogger, ...options, dir: current(), config });
      open.push(log);
      return log;
    },
  };
}
