// Captures golden frames from real Kafka clients. Starts the reference Apache Kafka (e2e/reference-kafka) with its
// advertised listener pointing at a recording proxy, runs each client driver through the proxy, and writes the chosen
// request/response pairs as JSON fixtures under broker/test/fixtures/golden/<client>/.
// Not part of `make test`: run `make golden-capture` (or `npx tsx e2e/golden-capture/capture.ts [client...]`).
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { freePort, startReferenceKafka, type ReferenceKafkaLogger } from "../src/reference-kafka.ts";
import { capApiVersions, specMaxVersions } from "./cap-versions.ts";
import { RecordingProxy } from "./proxy.ts";
import { selectFixtures } from "./select.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const fixturesDir = join(repo, "broker", "test", "fixtures", "golden");
const cache = process.env["TRIBUTARY_CACHE"] ?? join(homedir(), ".cache", "tributary");

const logger: ReferenceKafkaLogger = {
  info: (obj, msg) => console.error(`[capture] ${msg} ${JSON.stringify(obj)}`),
  warn: (obj, msg) => console.error(`[capture] WARN ${msg} ${JSON.stringify(obj)}`),
};

function run(file: string, args: readonly string[], cwd = repo, timeoutMs = 10 * 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")}: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

interface Driver {
  /** Directory name under broker/test/fixtures/golden. */
  name: string;
  /** Installs or builds what the driver needs; returns the client's name and exact version for the fixtures. */
  prepare(): Promise<string>;
  drive(bootstrap: string, topic: string, group: string): Promise<string>;
}

const tsx = join(repo, "node_modules", ".bin", "tsx");
const javaDir = join(here, "java");
const javaBuildDir = join(cache, "golden-java");

const drivers: readonly Driver[] = [
  {
    name: "kafkajs",
    prepare: () => {
      const version = (pkg: string): string =>
        (JSON.parse(readFileSync(join(repo, "node_modules", pkg, "package.json"), "utf8")) as { version: string })
          .version;
      return Promise.resolve(`kafkajs ${version("kafkajs")} + kafkajs-snappy ${version("kafkajs-snappy")}`);
    },
    drive: (bootstrap, topic, group) => run(tsx, [join(here, "kafkajs-client.ts"), bootstrap, topic, group]),
  },
  {
    name: "librdkafka",
    prepare: async () => {
      const python = (await run(join(here, "setup-venv.sh"), [])).trim();
      const code =
        "import confluent_kafka as c; from importlib.metadata import version as v; print(v('confluent-kafka'), c.libversion()[0])";
      const [py, rdkafka] = (await run(python, ["-c", code])).trim().split(" ");
      return `confluent-kafka ${py ?? "?"} (librdkafka ${rdkafka ?? "?"})`;
    },
    drive: async (bootstrap, topic, group) => {
      const python = (await run(join(here, "setup-venv.sh"), [])).trim();
      return run(python, [join(here, "confluent_client.py"), bootstrap, topic, group]);
    },
  },
  {
    name: "java",
    prepare: async () => {
      await run(
        "mvn",
        ["-B", "-q", "-Dstyle.color=never", "package", "dependency:build-classpath"].concat(
          `-Dmdep.outputFile=${join(javaBuildDir, "classpath.txt")}`,
        ),
        javaDir,
      );
      const pom = readFileSync(join(javaDir, "pom.xml"), "utf8");
      return `Java kafka-clients ${/<kafka\.clients\.version>(.*)<\//.exec(pom)?.[1] ?? "?"}`;
    },
    drive: (bootstrap, topic, group) => {
      const classpath = `${join(javaBuildDir, "classes")}:${readFileSync(join(javaBuildDir, "classpath.txt"), "utf8").trim()}`;
      return run("java", ["-cp", classpath, "dev.tributary.golden.GoldenClient", bootstrap, topic, group]);
    },
  },
];

const wanted = process.argv.slice(2);
const selected = drivers.filter((d) => wanted.length === 0 || wanted.includes(d.name));
const clients = new Map<string, string>();
for (const driver of selected) clients.set(driver.name, await driver.prepare());

const proxyPort = await freePort();
const kafkaPort = await freePort();
const dataDir = join(cache, "golden-capture", "kafka-data");
rmSync(dataDir, { recursive: true, force: true });
const kafka = await startReferenceKafka({
  logger,
  dataDir,
  port: kafkaPort,
  heap: "512M",
  config: { "advertised.listeners": `PLAINTEXT://127.0.0.1:${proxyPort}` },
});
const caps = specMaxVersions(join(repo, "broker", "spec", "kafka"));
const proxy = new RecordingProxy(kafkaPort, (exchange, frame) => {
  if (exchange.apiKey !== 18) return undefined;
  const changed = capApiVersions(frame, exchange.apiVersion, caps);
  return changed.length === 0 ? undefined : `max versions capped to broker/spec (Kafka 3.9): ${changed.join(" ")}`;
});
try {
  await proxy.listen(proxyPort);
  for (const driver of selected) {
    proxy.session = driver.name;
    logger.info({ client: clients.get(driver.name) }, "driving");
    const out = await driver.drive(`127.0.0.1:${proxyPort}`, `golden-${driver.name}`, `golden-${driver.name}-group`);
    logger.info({ output: out.trim() }, `${driver.name} done`);
  }
} finally {
  await proxy.close();
  await kafka.stop();
}

const rawDir = join(cache, "golden-capture", "raw");
mkdirSync(rawDir, { recursive: true });
for (const driver of selected) {
  const exchanges = proxy.exchanges.filter((e) => e.session === driver.name);
  writeFileSync(
    join(rawDir, `${driver.name}.jsonl`),
    exchanges
      .map((e) =>
        JSON.stringify({ ...e, request: e.request.toString("hex"), response: e.response?.toString("hex") ?? null }),
      )
      .join("\n") + "\n",
  );
  const fixtures = selectFixtures(clients.get(driver.name) ?? driver.name, exchanges);
  const dir = join(fixturesDir, driver.name);
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(dir)) if (file.endsWith(".json")) rmSync(join(dir, file));
  for (const [name, fixture] of fixtures) {
    const file = join(dir, `${name}.json`);
    const options = { ...(await resolveConfig(file)), parser: "json" };
    writeFileSync(file, await format(JSON.stringify(fixture), options));
  }
  logger.info({ exchanges: exchanges.length, fixtures: [...fixtures.keys()] }, `${driver.name} fixtures written`);
}
