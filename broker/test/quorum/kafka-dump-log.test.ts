import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConfigRecord,
  FeatureLevelRecord,
  PartitionRecord,
  RegisterBrokerRecord,
  TopicRecord,
  encodeMetadataRecord,
  type MessageCodec,
} from "../../src/protocol/index.ts";
import { METADATA_LOG_DIR, MetadataLog } from "../../src/quorum/metadata-log.ts";
import type { LogEntry } from "../../src/raft/index.ts";
import { dumpMetadataFile, requireReferenceKafka } from "../support/reference-kafka.ts";

// Apache Kafka's own kafka-dump-log (DumpLogSegments --cluster-metadata-decoder) must read the metadata log we write:
// control batches, metadata record frames and the records themselves. Runs with the reference Kafka's jars
// (`make reference-kafka`, which `make test` runs); fails, saying so, where they are not installed.

const TOPIC_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

function framed<T>(codec: MessageCodec<T>, fields: Partial<T>): Buffer {
  return encodeMetadataRecord(codec, { ...codec.create(), ...fields }, codec.maxVersion);
}

describe("Kafka's kafka-dump-log reads our metadata log", () => {
  beforeAll(requireReferenceKafka);
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "metadata-dump-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("decodes the leader change and every metadata record", async () => {
    const records = [
      framed(FeatureLevelRecord, { name: "metadata.version", featureLevel: 21 }),
      framed(RegisterBrokerRecord, { brokerId: 1, brokerEpoch: 2n, rack: "a", fenced: false }),
      framed(TopicRecord, { name: "foo", topicId: TOPIC_ID }),
      framed(PartitionRecord, {
        partitionId: 0,
        topicId: TOPIC_ID,
        replicas: [1],
        isr: [1],
        leader: 1,
        partitionEpoch: 0,
      }),
      framed(ConfigRecord, { resourceType: 2, resourceName: "foo", name: "retention.ms", value: "1000" }),
    ];
    const entries: LogEntry[] = [
      { offset: 0, epoch: 1, lastInBatch: true, record: { kind: "leaderChange", leaderId: 1, voters: [1, 2, 3] } },
      ...records.map((data, i) => ({
        offset: 1 + i,
        epoch: 1,
        lastInBatch: i === records.length - 1,
        record: { kind: "data" as const, data },
      })),
    ];
    const log = await MetadataLog.open({ metadataDir: dir, logger: pino({ level: "silent" }) });
    await log.append(entries);
    await log.flush();
    await log.close();

    const stdout = await dumpMetadataFile(join(dir, METADATA_LOG_DIR, "00000000000000000000.log"));
    expect(stdout).toContain(
      'LeaderChange: {"version":0,"leaderId":1,"voters":[{"voterId":1},{"voterId":2},{"voterId":3}]',
    );
    for (const type of [
      "FEATURE_LEVEL_RECORD",
      "REGISTER_BROKER_RECORD",
      "TOPIC_RECORD",
      "PARTITION_RECORD",
      "CONFIG_RECORD",
    ]) {
      expect(stdout).toContain(`"type":"${type}"`);
    }
    expect(stdout).toContain('"data":{"name":"foo","topicId":"Dx4tPEtaaXiHlqW0w9Lh8A"}');
    expect(stdout).toContain('"rack":"a"');
    expect(stdout.match(/isvalid: true/g)).toHaveLength(2);
    expect(stdout).not.toMatch(/error|exception/i);
  });
});
