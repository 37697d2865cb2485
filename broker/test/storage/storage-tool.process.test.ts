import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { pino } from "pino";
import {
  decodeMetadataRecord,
  MetadataRecordType,
  type FeatureLevelRecord,
  type MetadataRecordAndVersion,
  uuidFromKafkaBase64,
} from "../../src/protocol/index.ts";
import { BOOTSTRAP_CHECKPOINT, readBootstrapCheckpoint } from "../../src/quorum/bootstrap-checkpoint.ts";
import { MetadataLog } from "../../src/quorum/metadata-log.ts";
import { snapshotVoters } from "../../src/quorum/snapshot-file.ts";
import { parseMetaProperties } from "../../src/storage/meta-properties.ts";
import { freePort, startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";
import { runBin } from "../support/bin.ts";

// The real executables: tributary-storage formats, tributary-broker starts (or refuses) on what it wrote.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A node of a two-voter quorum: its own data dir with two log dirs, and every key as an override. */
async function twoVoterNode(): Promise<{ dir: string; config: string; overrides: Record<string, string> }> {
  const dir = mkdtempSync(join(tmpdir(), "tributary-format-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, "server.properties");
  writeFileSync(config, "");
  const [port, controller, other] = [await freePort(), await freePort(), await freePort()];
  const overrides = {
    "node.id": "1",
    "process.roles": "broker,controller",
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names": "CONTROLLER",
    "controller.quorum.voters": `1@127.0.0.1:${controller},2@127.0.0.1:${other}`,
    "log.dirs": `${join(dir, "logs-a")},${join(dir, "logs-b")}`,
    "metrics.port": "-1",
  };
  return { dir, config, overrides };
}

const levels = (records: readonly MetadataRecordAndVersion[]) =>
  records.map((r) => `${(r.record as FeatureLevelRecord).name}=${(r.record as FeatureLevelRecord).featureLevel}`);

const asArgs = (o: Record<string, string>) => Object.entries(o).flatMap(([k, v]) => ["--override", `${k}=${v}`]);

describe("tributary-storage", () => {
  it("random-uuid prints a 22-character Kafka id, different each time", () => {
    const a = runBin("tributary-storage", ["random-uuid"]);
    const b = runBin("tributary-storage", ["random-uuid"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}\n$/);
    expect(a.stdout).not.toBe(b.stdout);
  });

  it("refuses an invalid cluster id with exit 2 and writes nothing", async () => {
    const node = await twoVoterNode();
    const r = runBin("tributary-storage", [
      "format",
      "--cluster-id",
      "3f0a9c2e-5b1d-4e7f-8a6b-2c9d0e1f3a4b",
      "--config",
      node.config,
      ...asArgs(node.overrides),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is not a valid cluster id: it is 36 characters long, not 22");
    expect(() => readFileSync(join(node.dir, "logs-a", "meta.properties"))).toThrow();
  });

  it("formats every log dir, refuses to format again unless --ignore-formatted, and the node starts with that id", async () => {
    const node = await twoVoterNode();
    const id = runBin("tributary-storage", ["random-uuid"]).stdout.trim();
    const args = ["format", "-t", id, "-c", node.config, ...asArgs(node.overrides)];
    const first = runBin("tributary-storage", args);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const metas = ["logs-a", "logs-b"].map((d) => {
      const path = join(node.dir, d, "meta.properties");
      return parseMetaProperties(readFileSync(path, "utf8"), path);
    });
    expect(metas.map((m) => [m.clusterId, m.nodeId])).toEqual([
      [id, 1],
      [id, 1],
    ]);
    expect(metas[0]?.directoryId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(metas[0]?.directoryId).not.toBe(metas[1]?.directoryId);
    // No --release-version: the latest, with eligible leader replicas on (Kafka 4.1+'s default for a new cluster).
    expect(levels((await readBootstrapCheckpoint(join(node.dir, "logs-a"))) ?? [])).toEqual([
      "metadata.version=23",
      "eligible.leader.replicas.version=1",
    ]);

    const again = runBin("tributary-storage", args);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already formatted");
    expect(runBin("tributary-storage", [...args, "--ignore-formatted"]).code).toBe(0);

    const port = Number(/PLAINTEXT:\/\/127\.0\.0\.1:(\d+)/.exec(node.overrides.listeners ?? "")?.[1]);
    // Voter 2 never starts, so the node cannot serve clients; it gets as far as joining its quorum with that id.
    const broker: BrokerProcess = await startBrokerProcess({
      dataDir: node.dir,
      overrides: node.overrides,
      port,
      readyWhen: /Joining the metadata quorum/,
    });
    cleanups.push(() => broker.stop("SIGKILL").then(() => undefined));
    expect(broker.output()).toMatch(new RegExp(`"clusterId":"${id}".*"msg":"Joining the metadata quorum"`));
  });
});

/** The feature levels the node's metadata log holds ("name=level"), in log order. */
async function featureLevelsInLog(metadataDir: string): Promise<string[]> {
  const log = await MetadataLog.open({ metadataDir, logger: pino({ level: "silent" }) });
  const entries = await log.readAll();
  await log.close();
  return entries.flatMap((e) => {
    if (e.record.kind !== "data") return [];
    const r = decodeMetadataRecord(Buffer.from(e.record.data));
    const f = r.record as FeatureLevelRecord;
    return r.type === MetadataRecordType.FeatureLevelRecord ? [`${f.name}=${f.featureLevel}`] : [];
  });
}

describe("the format step's bootstrap.checkpoint", () => {
  it("is written into every formatted dir, metadata.log.dir included, and starts the metadata log", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-bootstrap-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, "server.properties");
    writeFileSync(config, "");
    const overrides = {
      "node.id": "1",
      "process.roles": "broker,controller",
      "log.dirs": join(dir, "logs"),
      "metadata.log.dir": join(dir, "metadata"),
    };
    const id = runBin("tributary-storage", ["random-uuid"]).stdout.trim();
    const format = (...extra: string[]) =>
      runBin("tributary-storage", ["format", "-t", id, "-c", config, ...asArgs(overrides), ...extra]);
    const bad = format("--release-version", "3.9", "--feature", "metadata.version=21");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("use --release-version instead of --feature metadata.version=X");
    expect(format("--feature", "group.version=1").stderr).toContain("unsupported feature group.version");
    expect(format("--release-version", "2.8").stderr).toContain('unknown release version "2.8"');

    const ok = format("--release-version", "3.9");
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toContain(`Formatted metadata log directory ${join(dir, "metadata")}`);
    expect(ok.stdout).toContain("metadata.version 3.9-IV0");
    for (const d of ["logs", "metadata"]) {
      expect(readFileSync(join(dir, d, "meta.properties"), "utf8")).toContain(`cluster.id=${id}`);
      expect(levels((await readBootstrapCheckpoint(join(dir, d))) ?? [])).toEqual(["metadata.version=21"]);
    }
    const broker = await startBrokerProcess({ dataDir: dir, overrides });
    cleanups.push(() => broker.destroy());
    expect(await broker.stop()).toBe(0);
    // The quorum lives in metadata.log.dir, and the first records after its leader change are the bootstrap ones.
    expect(await featureLevelsInLog(join(dir, "metadata"))).toEqual(["metadata.version=21"]);
    // A restart keeps what the cluster finalized: no second bootstrap, so no silent move to the new defaults.
    const again = await startBrokerProcess({ dataDir: dir, overrides });
    cleanups.push(() => again.destroy());
    expect(await again.stop()).toBe(0);
    expect(await featureLevelsInLog(join(dir, "metadata"))).toEqual(["metadata.version=21"]);
  });

  it("a node formatted before the file existed still starts, with the latest metadata.version alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-bootstrap-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, "server.properties");
    writeFileSync(config, "");
    const overrides = { "node.id": "1", "process.roles": "broker,controller", "log.dirs": join(dir, "logs") };
    const id = runBin("tributary-storage", ["random-uuid"]).stdout.trim();
    expect(runBin("tributary-storage", ["format", "-t", id, "-c", config, ...asArgs(overrides)]).code).toBe(0);
    rmSync(join(dir, "logs", BOOTSTRAP_CHECKPOINT));
    const broker = await startBrokerProcess({ dataDir: dir, overrides });
    cleanups.push(() => broker.destroy());
    expect(await broker.stop()).toBe(0);
    // As Kafka without the file: no other feature, so eligible leader replicas stay off.
    expect(await featureLevelsInLog(join(dir, "logs"))).toEqual(["metadata.version=23"]);
  });
});

describe("tributary-broker start-up storage checks", () => {
  it("refuses an unformatted log dir when the quorum has more than one voter (exit 2, names the format command)", async () => {
    const node = await twoVoterNode();
    const r = runBin("tributary-broker", ["--config", node.config, ...asArgs(node.overrides)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("storage is not formatted");
    expect(r.stderr).toContain("tributary-storage format");
    expect(() => readFileSync(join(node.dir, "logs-a", "meta.properties"))).toThrow();
  });

  it("refuses log dirs of different clusters (exit 2)", async () => {
    const node = await twoVoterNode();
    const [a, b] = ["logs-a", "logs-b"].map(() => runBin("tributary-storage", ["random-uuid"]).stdout.trim());
    const logA = join(node.dir, "logs-a");
    const logB = join(node.dir, "logs-b");
    const one = { ...node.overrides, "log.dirs": logA };
    const two = { ...node.overrides, "log.dirs": logB };
    expect(runBin("tributary-storage", ["format", "-t", a ?? "", "-c", node.config, ...asArgs(one)]).code).toBe(0);
    expect(runBin("tributary-storage", ["format", "-t", b ?? "", "-c", node.config, ...asArgs(two)]).code).toBe(0);
    const r = runBin("tributary-broker", ["--config", node.config, ...asArgs(node.overrides)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cluster.id");
    expect(r.stderr).toContain("the same cluster.id as other log dirs");
  });

  it("a single combined node formats itself on first start with a 22-character id and keeps it", async () => {
    const broker = await startBrokerProcess();
    cleanups.push(() => broker.destroy());
    const path = join(broker.dataDir, "logs", "meta.properties");
    const meta = parseMetaProperties(readFileSync(path, "utf8"), path);
    expect(meta.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(meta.nodeId).toBe(1);
    expect(await broker.stop()).toBe(0);
    await broker.restart();
    expect(parseMetaProperties(readFileSync(path, "utf8"), path)).toEqual(meta);
  });

  it("a data dir from before formatting keeps its 36-character cluster id and its topics", async () => {
    // A dir as an older, single-node Tributary wrote it: no meta.properties, no metadata log, a 36-character id and
    // the topics in its JSON metadata file.
    const dataDir = mkdtempSync(join(tmpdir(), "tributary-legacy-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const logs = join(dataDir, "logs");
    mkdirSync(logs);
    const old = "3f0a9c2e-5b1d-4e7f-8a6b-2c9d0e1f3a4b";
    const topicId = "6f8b4e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
    writeFileSync(
      join(logs, "__tributary_metadata.json"),
      JSON.stringify({
        version: 1,
        clusterId: old,
        topics: [{ name: "kept", id: topicId, partitions: 2, configs: { "retention.ms": "60000" }, internal: false }],
        brokerConfigs: {},
        producerIdBlockEnd: "0",
      }),
    );
    const broker = await startBrokerProcess({ dataDir });
    cleanups.push(() => broker.stop("SIGKILL").then(() => undefined));
    const path = join(logs, "meta.properties");
    expect(parseMetaProperties(readFileSync(path, "utf8"), path).clusterId).toBe(old);
    const admin = new AdminClient({ bootstrap: broker.bootstrap, retries: 0 });
    try {
      const kept = (await admin.describeTopics(["kept"])).get("kept");
      expect(kept?.topic).toMatchObject({ partitions: [expect.anything(), expect.anything()] });
      expect(kept?.topic?.topicId).toBe(topicId);
    } finally {
      admin.close();
    }
  });

  it("KIP-853: --standalone writes the bootstrap voter set; a controller with bootstrap servers must choose", async () => {
    const node = await twoVoterNode();
    const controllerPort = /CONTROLLER:\/\/127\.0\.0\.1:(\d+)/.exec(node.overrides.listeners ?? "")?.[1] ?? "";
    const dynamic = { ...node.overrides, "controller.quorum.voters": "" };
    const args = (o: Record<string, string>, ...extra: string[]) => [
      "format",
      "--cluster-id",
      "MkU3OEVBNTcwNTJENDM2Qk",
      "--config",
      node.config,
      ...asArgs(o),
      ...extra,
    ];
    const withBootstrap = { ...dynamic, "controller.quorum.bootstrap.servers": `127.0.0.1:${controllerPort}` };
    const none = runBin("tributary-storage", args(withBootstrap));
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--standalone, --initial-controllers, or --no-initial-controllers");
    // Static voters and dynamic ones do not mix.
    const mixed = runBin("tributary-storage", args(node.overrides, "--standalone"));
    expect(mixed.code).toBe(2);
    const bad = runBin("tributary-storage", args(withBootstrap, "--initial-controllers", "1@host:9093"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not id@host:port:directoryId");

    const ok = runBin("tributary-storage", args(withBootstrap, "--standalone"));
    expect(ok.code).toBe(0);
    const meta = parseMetaProperties(readFileSync(join(node.dir, "logs-a", "meta.properties"), "utf8"), "meta");
    const checkpoint = readFileSync(
      join(node.dir, "logs-a", "__cluster_metadata-0", "00000000000000000000-0000000000.checkpoint"),
    );
    expect(snapshotVoters(checkpoint)).toEqual({
      kraftVersion: 1,
      voters: [
        {
          id: 1,
          directoryId: uuidFromKafkaBase64(meta.directoryId ?? ""),
          endpoints: [{ name: "CONTROLLER", host: "127.0.0.1", port: Number(controllerPort) }],
          kraftVersion: { min: 0, max: 1 },
        },
      ],
    });
    expect(ok.stdout).toContain(`Initial voters (kraft.version 1): 1@127.0.0.1:${controllerPort}:${meta.directoryId}`);
  });
});
