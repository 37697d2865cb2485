import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { removeIfExists, writeFileAtomic } from "../log/checkpoint.ts";

// KIP-966's clean-shutdown proof: a broker that stops cleanly (every log closed and flushed) writes its broker epoch
// into each log dir, in Kafka's file and format (CleanShutdownFileHandler: `.kafka_cleanshutdown`, JSON with version
// 0 and brokerEpoch). At start the broker reads and deletes the files and names that epoch as PreviousBrokerEpoch when
// it registers; a missing, damaged or disagreeing file means -1, so the controller takes the stop as unclean and the
// broker leaves every ELR (it may have lost unflushed records).

export const CLEAN_SHUTDOWN_EPOCH_FILE = ".kafka_cleanshutdown";

/** Reads and deletes the clean-shutdown files of `logDirs`: the epoch they all hold, else -1. */
export async function takePreviousBrokerEpoch(logDirs: readonly string[], logger: Logger): Promise<bigint> {
  let epoch: bigint | null = null;
  let agreed = logDirs.length > 0;
  for (const dir of logDirs) {
    const path = join(dir, CLEAN_SHUTDOWN_EPOCH_FILE);
    let found: bigint | null = null;
    try {
      const parsed = JSON.parse(await readFile(path, "utf8")) as { brokerEpoch?: unknown };
      if (typeof parsed.brokerEpoch === "number" && Number.isSafeInteger(parsed.brokerEpoch)) {
        found = BigInt(parsed.brokerEpoch);
      }
    } catch {
      // Missing (not stopped cleanly) or unreadable: the stop counts as unclean.
    }
    if (found === null || (epoch !== null && found !== epoch)) agreed = false;
    epoch ??= found;
    await removeIfExists(path).catch((err: unknown) =>
      logger.warn({ err, path }, "Could not delete the clean-shutdown file"),
    );
  }
  const previous = agreed && epoch !== null ? epoch : -1n;
  logger.info({ previousBrokerEpoch: String(previous) }, "Read the clean-shutdown broker epoch");
  return previous;
}

/** Writes the clean-shutdown file with `epoch` into each of `logDirs` (after their logs closed cleanly). */
export async function writeCleanShutdownEpoch(
  logDirs: readonly string[],
  epoch: bigint,
  logger: Logger,
): Promise<void> {
  if (epoch < 0n) return;
  const text = JSON.stringify({ version: 0, brokerEpoch: Number(epoch) });
  for (const dir of logDirs) {
    await writeFileAtomic(join(dir, CLEAN_SHUTDOWN_EPOCH_FILE), text).catch((err: unknown) =>
      logger.warn({ err, dir }, "Could not write the clean-shutdown file"),
    );
  }
}
