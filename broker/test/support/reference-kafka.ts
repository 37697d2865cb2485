import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// The reference Apache Kafka's jars (e2e/reference-kafka, `make reference-kafka`) for tests that check our output with
// Kafka's own tools; those tests skip, saying why, where the jars are not installed.

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const pom = readFileSync(join(repo, "e2e/reference-kafka/pom.xml"), "utf8");

export const referenceKafkaVersion = /<kafka\.version>(.*)<\/kafka\.version>/.exec(pom)?.[1] ?? "";

export const referenceKafkaInstalled = existsSync(
  join(process.env.TRIBUTARY_CACHE ?? join(homedir(), ".cache/tributary"), "kafka", referenceKafkaVersion, "libs"),
);

/** Appended to a suite name: empty when the jars are there, the reason and the remedy when not. */
export const referenceKafkaSkipReason = referenceKafkaInstalled
  ? ""
  : ` (skipped: Apache Kafka ${referenceKafkaVersion} jars not installed; run make reference-kafka)`;

/** Runs one of Kafka's main classes from the jars; resolves with its output, rejects on a non-zero exit. */
export function runKafkaClass(mainClass: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(join(repo, "e2e/reference-kafka/kafka.sh"), ["run-class", mainClass, ...args], {
    timeout: 60_000,
  });
}
