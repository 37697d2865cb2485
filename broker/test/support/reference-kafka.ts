import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// The reference Apache Kafka's jars (e2e/reference-kafka) for tests that check our output with Kafka's own tools.
// `make test` installs them (`make reference-kafka`); a test that needs them fails, saying so, where they are missing,
// rather than skipping: a skipped proof would let CI stay green without it.

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const scripts = join(repo, "e2e/reference-kafka");

/** Throws the install script's own "run make reference-kafka" message when the jars are not installed. */
export function requireReferenceKafka(): void {
  try {
    execFileSync(join(scripts, "install.sh"), ["--check"], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const said = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(said !== undefined && said !== "" ? said : "reference Kafka missing: run make reference-kafka", {
      cause: err,
    });
  }
}

/** Runs one of Kafka's main classes from the jars; resolves with its output, rejects on a non-zero exit. */
export function runKafkaClass(mainClass: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(join(scripts, "kafka.sh"), ["run-class", mainClass, ...args], {
    timeout: 60_000,
  });
}

/** Kafka's kafka-dump-log (DumpLogSegments --cluster-metadata-decoder) of one metadata file; resolves with its output. */
export async function dumpMetadataFile(file: string): Promise<string> {
  const { stdout } = await runKafkaClass("org.apache.kafka.tools.DumpLogSegments", [
    "--cluster-metadata-decoder",
    "--files",
    file,
  ]);
  return stdout;
}
