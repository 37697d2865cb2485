import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  CLEAN_SHUTDOWN_EPOCH_FILE,
  takePreviousBrokerEpoch,
  writeCleanShutdownEpoch,
} from "../../src/node/clean-shutdown-epoch.ts";

// KIP-966's clean-shutdown proof in Kafka's file format: written into every log dir at a clean stop, taken (read and
// deleted) at the next start; anything but one epoch in every dir means an unclean stop (-1).

const logger = pino({ level: "silent" });
const dirs: string[] = [];

async function logDirs(n: number): Promise<string[]> {
  const made = await Promise.all(Array.from({ length: n }, () => mkdtemp(join(tmpdir(), "clean-shutdown-"))));
  dirs.push(...made);
  return made;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe("the clean-shutdown broker epoch", () => {
  it("is written in Kafka's format into every log dir and taken once at the next start", async () => {
    const [a, b] = await logDirs(2);
    if (a === undefined || b === undefined) throw new Error("no dirs");
    await writeCleanShutdownEpoch([a, b], 4242n, logger);
    expect(JSON.parse(await readFile(join(a, CLEAN_SHUTDOWN_EPOCH_FILE), "utf8"))).toEqual({
      version: 0,
      brokerEpoch: 4242,
    });
    expect(await takePreviousBrokerEpoch([a, b], logger)).toBe(4242n);
    expect(existsSync(join(a, CLEAN_SHUTDOWN_EPOCH_FILE)) || existsSync(join(b, CLEAN_SHUTDOWN_EPOCH_FILE))).toBe(
      false,
    );
    // Taken: a crash after this start leaves no proof behind.
    expect(await takePreviousBrokerEpoch([a, b], logger)).toBe(-1n);
  });

  it("is -1 when a dir lacks the file, the dirs disagree, or a file is damaged; nothing is written without an epoch", async () => {
    const [a, b] = await logDirs(2);
    if (a === undefined || b === undefined) throw new Error("no dirs");
    await writeCleanShutdownEpoch([a], 7n, logger);
    expect(await takePreviousBrokerEpoch([a, b], logger)).toBe(-1n);
    await writeCleanShutdownEpoch([a], 7n, logger);
    await writeCleanShutdownEpoch([b], 8n, logger);
    expect(await takePreviousBrokerEpoch([a, b], logger)).toBe(-1n);
    await writeFile(join(a, CLEAN_SHUTDOWN_EPOCH_FILE), "{not json");
    expect(await takePreviousBrokerEpoch([a], logger)).toBe(-1n);
    await writeCleanShutdownEpoch([a], -1n, logger);
    expect(existsSync(join(a, CLEAN_SHUTDOWN_EPOCH_FILE))).toBe(false);
  });
});
