// Kafka's own command-line tools (kafka-topics, kafka-configs) from the reference Apache Kafka jars, run against a
// broker, for tests of what users do to a cluster with Kafka's CLI. The runner is e2e/src/reference-kafka.ts, in
// another workspace (outside this project's rootDir), so it is loaded by URL at run time like the cluster module.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO } from "./harness.ts";

interface ReferenceKafkaModule {
  requireReferenceKafka(): Promise<string>;
  runKafkaClass(mainClass: string, args: readonly string[], timeoutMs: number): Promise<{ stdout: string }>;
  KAFKA_TOOLS: { topics: string; configs: string };
}

export interface KafkaCli {
  /** kafka-topics.sh --bootstrap-server <broker> ARGS; answers stdout, rejects on a non-zero exit with stderr. */
  topics(args: readonly string[]): Promise<string>;
  /** kafka-configs.sh --bootstrap-server <broker> ARGS. */
  configs(args: readonly string[]): Promise<string>;
  /** The dynamic configs of a topic as kafka-configs --describe prints them. */
  describeTopicConfigs(topic: string): Promise<Record<string, string>>;
}

/** Each run starts a JVM (a few seconds on a busy machine); the deadline leaves room for a loaded CI host. */
const RUN_TIMEOUT_MS = 90_000;

let module: Promise<ReferenceKafkaModule> | undefined;

/**
 * Kafka's CLI against `bootstrap`. The first use fails with "run make reference-kafka" when the jars are not installed
 * (`make test` installs them): a test that says it uses Kafka's CLI never passes without it.
 */
export function kafkaCli(bootstrap: string): KafkaCli {
  const load = async (): Promise<ReferenceKafkaModule> => {
    module ??= (async () => {
      const url = pathToFileURL(join(REPO, "e2e", "src", "reference-kafka.ts")).href;
      const mod = (await import(url)) as ReferenceKafkaModule;
      await mod.requireReferenceKafka();
      return mod;
    })();
    return module;
  };
  const run = async (tool: "topics" | "configs", args: readonly string[]): Promise<string> => {
    const mod = await load();
    const { stdout } = await mod.runKafkaClass(
      mod.KAFKA_TOOLS[tool],
      ["--bootstrap-server", bootstrap, ...args],
      RUN_TIMEOUT_MS,
    );
    return stdout;
  };
  return {
    topics: (args) => run("topics", args),
    configs: (args) => run("configs", args),
    describeTopicConfigs: async (topic) => {
      const out = await run("configs", ["--entity-type", "topics", "--entity-name", topic, "--describe"]);
      // "Dynamic configs for topic T are:" then one "  key=value sensitive=... synonyms={...}" line per override.
      const entries = out
        .split("\n")
        .map((line) => /^\s+([^=\s]+)=(\S*) sensitive=/.exec(line))
        .filter((m) => m !== null)
        .map((m) => [m[1] ?? "", m[2] ?? ""]);
      return Object.fromEntries(entries) as Record<string, string>;
    },
  };
}
