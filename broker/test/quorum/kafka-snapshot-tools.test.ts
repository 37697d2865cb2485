import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeRecord, record } from "../../src/controller/records.ts";
import { EMPTY_IMAGE, MetadataDelta, imageRecords } from "../../src/metadata/image/index.ts";
import {
  ConfigRecord,
  FeatureLevelRecord,
  PartitionRecord,
  ProducerIdsRecord,
  RegisterBrokerRecord,
  TopicRecord,
  uuidToKafkaBase64,
} from "../../src/protocol/index.ts";
import { SnapshotStore, encodeSnapshot, snapshotFileName } from "../../src/quorum/snapshot-file.ts";
import {
  BOOTSTRAP_CHECKPOINT,
  bootstrapRecords,
  writeBootstrapCheckpoint,
} from "../../src/quorum/bootstrap-checkpoint.ts";
import { dumpMetadataFile, requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Apache Kafka's own tools must read the snapshots we write: kafka-dump-log --cluster-metadata-decoder decodes the
// checkpoint (header, records, footer), and kafka-metadata-shell --snapshot loads it into Kafka's own image. Runs with the reference Kafka's jars (`make reference-kafka`); fails, saying
// so, where they are not installed.

const TOPIC_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
/** Broker 1's log dir, which holds the partition's replica (KIP-858). */
const DIR_ID = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d";
/** How long one kafka-metadata-shell command is run again while it shows Kafka's empty image (metadataShell). */
const SHELL_DEADLINE_MS = 180_000;

/**
 * Runs kafka-metadata-shell's COMMAND on SNAPSHOT; resolves with its output once it shows the loaded image.
 *
 * Kafka's non-interactive shell runs its command once its metadata loader has applied the snapshot, but the shell's
 * own view is handed that image by a separate, later loader event: now and then (1 command in 10 to 20 on a loaded
 * machine) the command sees, for some or all of its paths, the empty image the shell starts with, and prints no
 * topic. That race is inside Kafka's process, not in our file, so a run whose output shownEmptyImage recognises is
 * run again, until a deadline; a run that shows the loaded image is held to every assertion of the test.
 */
async function metadataShell(
  snapshot: string,
  shownEmptyImage: (stdout: string) => boolean,
  command: readonly string[],
): Promise<string> {
  const deadline = Date.now() + SHELL_DEADLINE_MS;
  for (;;) {
    const { stdout, stderr } = await runKafkaClass("org.apache.kafka.shell.MetadataShell", [
      "--snapshot",
      snapshot,
      ...command,
    ]);
    // Kafka's reader logs the header and footer control records as ignored, as it does for its own snapshots.
    expect(stdout + stderr).not.toMatch(/exception|Error(?! Ignoring control record)/);
    if (!shownEmptyImage(stdout.trim())) return stdout.trim();
    if (Date.now() > deadline) {
      throw new Error(`kafka-metadata-shell ${command.join(" ")} kept showing Kafka's empty image:\n${stdout}`);
    }
  }
}

describe("Kafka's tools read our metadata snapshots", () => {
  beforeAll(requireReferenceKafka);
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapshot-tools-"));
    const delta = new MetadataDelta(EMPTY_IMAGE);
    [
      record(FeatureLevelRecord, { name: "metadata.version", featureLevel: 22 }, 0),
      record(
        RegisterBrokerRecord,
        {
          brokerId: 1,
          brokerEpoch: 7n,
          incarnationId: "00000001-0000-4000-8000-000000000000",
          endPoints: [{ name: "PLAINTEXT", host: "localhost", port: 9092, securityProtocol: 0 }],
          features: [{ name: "metadata.version", minSupportedVersion: 21, maxSupportedVersion: 22 }],
          rack: "a",
          fenced: false,
          logDirs: [DIR_ID],
        },
        3,
      ),
      record(TopicRecord, { name: "orders", topicId: TOPIC_ID }, 0),
      record(
        PartitionRecord,
        {
          topicId: TOPIC_ID,
          partitionId: 0,
          replicas: [1],
          isr: [1],
          leader: 1,
          leaderEpoch: 4,
          partitionEpoch: 6,
          directories: [DIR_ID],
        },
        1,
      ),
      record(ConfigRecord, { resourceType: 2, resourceName: "orders", name: "retention.ms", value: "1000" }, 0),
      record(ProducerIdsRecord, { brokerId: 1, brokerEpoch: 7n, nextProducerId: 1000n }, 0),
    ].forEach((r, i) => delta.replay(r, i, 2));
    const image = delta.apply().image;
    const id = { offset: 42, epoch: 2 };
    await new SnapshotStore(dir, pino({ level: "silent" })).write(
      id,
      encodeSnapshot(id, imageRecords(image).map(encodeRecord), { timestampMs: Date.now() }),
    );
    file = join(dir, snapshotFileName(id));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("kafka-dump-log decodes the header, every record and the footer", async () => {
    const stdout = await dumpMetadataFile(file);
    expect(stdout).toContain("Snapshot end offset: 42, epoch: 2");
    expect(stdout).toMatch(/SnapshotHeader \{"version":0,"lastContainedLogTimestamp":0\}/);
    expect(stdout).toMatch(/SnapshotFooter \{"version":0\}/);
    for (const type of [
      "FEATURE_LEVEL_RECORD",
      "REGISTER_BROKER_RECORD",
      "TOPIC_RECORD",
      "PARTITION_RECORD",
      "CONFIG_RECORD",
      "PRODUCER_IDS_RECORD",
    ]) {
      expect(stdout).toContain(`"type":"${type}"`);
    }
    expect(stdout).toContain('"data":{"name":"orders","topicId":"Dx4tPEtaaXiHlqW0w9Lh8A"}');
    expect(stdout).toContain('"leaderEpoch":4,"partitionEpoch":6');
    // The broker's log dirs and the replica's directory (KIP-858), which the image keeps.
    expect(stdout).toContain(`"logDirs":["${uuidToKafkaBase64(DIR_ID)}"]`);
    expect(stdout).toContain(`"directories":["${uuidToKafkaBase64(DIR_ID)}"]`);
    expect(stdout).not.toMatch(/error|exception/i);
  });

  it(
    "kafka-metadata-shell loads it into Kafka's image: topics, partitions, brokers, features, configs",
    async () => {
      const shell = (shownEmptyImage: (stdout: string) => boolean, ...command: string[]) =>
        metadataShell(file, shownEmptyImage, command);
      // One JVM per command is slow; cat takes several paths. The shell looks each path up in its view afresh, so a
      // command may see the empty image for its first paths and the loaded one for the rest; find therefore takes
      // the one path /image, which it reads from one view: the empty image has neither topic nor broker, ours both.
      const shownEmpty = (out: string) =>
        !out.split("\n").some((path) => /^\/image\/(topics\/byName|cluster\/brokers)\/./.test(path));
      const paths = (await shell(shownEmpty, "find", "/image")).split("\n");
      expect(paths).toEqual(
        expect.arrayContaining(["/image/topics/byName/orders/0", "/image/cluster/brokers/1"]) as unknown,
      );
      // The first path is the image's provenance (the empty image's offset is -1): once it shows the loaded image,
      // so do the paths after it.
      const [provenance, ...values] = (
        await shell(
          (out) => out.startsWith("offset -1,"),
          "cat",
          "/image/provenance",
          "/image/topics/byName/orders/id",
          "/image/topics/byName/orders/0",
          "/image/features/metadataVersion",
          "/image/configs/TOPIC:orders/retention.ms",
          "/image/producerIds/nextProducerId",
        )
      ).split("\n");
      expect(values[0]).toBe("Dx4tPEtaaXiHlqW0w9Lh8A");
      expect(values[1]).toMatch(
        /replicas=\[1\].*isr=\[1\].*leader=1, leaderRecoveryState=RECOVERED, leaderEpoch=4, partitionEpoch=6/,
      );
      expect(values[1]).toContain(`directories=[${uuidToKafkaBase64(DIR_ID)}]`);
      expect(values.slice(2)).toEqual(["Optional[4.0-IV0]", "1000", "1000"]);
      // Kafka reads a snapshot file as log batches: the offset is that of the file's last record, the epoch ours.
      expect(provenance).toMatch(/^offset \d+, epoch 2,/);
    },
    2 * SHELL_DEADLINE_MS,
  );

  it("kafka-dump-log decodes the format step's bootstrap.checkpoint", async () => {
    await writeBootstrapCheckpoint(dir, bootstrapRecords(21));
    const stdout = await dumpMetadataFile(join(dir, BOOTSTRAP_CHECKPOINT));
    expect(stdout).toMatch(/SnapshotHeader \{"version":0,"lastContainedLogTimestamp":0\}/);
    expect(stdout).toContain(
      '"type":"FEATURE_LEVEL_RECORD","version":0,"data":{"name":"metadata.version","featureLevel":21}',
    );
    expect(stdout).toMatch(/SnapshotFooter \{"version":0\}/);
    expect(stdout).not.toMatch(/error|exception/i);
  });
});
