import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Kafka's own kafka-features and kafka-metadata-quorum, pointed at a broker listener (--bootstrap-server) of a single
// combined node: the broker answers ApiVersions with the image's finalized features and forwards UpdateFeatures and
// DescribeQuorum to the active controller in an Envelope, as Kafka's brokers do.

let broker: BrokerProcess | undefined;

beforeAll(async () => {
  requireReferenceKafka();
  broker = await startBrokerProcess();
}, 60_000);

afterAll(async () => {
  await broker?.destroy();
});

function bootstrap(): string {
  if (!broker) throw new Error("the broker did not start");
  return broker.bootstrap;
}

const features = (...args: string[]) =>
  runKafkaClass("org.apache.kafka.tools.FeatureCommand", ["--bootstrap-server", bootstrap(), ...args]);

const quorum = (...args: string[]) =>
  runKafkaClass("org.apache.kafka.tools.MetadataQuorumCommand", [
    "--bootstrap-server",
    bootstrap(),
    "describe",
    ...args,
  ]);

describe("Kafka's kafka-features through a broker", () => {
  it("describes a new cluster's finalized levels, ELR on, and changes them through forwarded UpdateFeatures", async () => {
    const described = (await features("describe")).stdout;
    // A new cluster starts at 4.0-IV1 with eligible leader replicas (KIP-966) on, as Kafka 4.1 and later do.
    expect(described).toMatch(
      /Feature: metadata\.version\s+SupportedMinVersion: 3\.9-IV0\s+SupportedMaxVersion: 4\.0-IV1\s+FinalizedVersionLevel: 4\.0-IV1\s+Epoch: \d+/,
    );
    expect(described).toMatch(
      /Feature: eligible\.leader\.replicas\.version\s+SupportedMinVersion: 0\s+SupportedMaxVersion: 1\s+FinalizedVersionLevel: 1\s/,
    );
    // 4.0-IV1 changed the metadata (partition records v2), so nothing goes below it; beyond the supported range
    // neither: the controller's refusals reach the tool.
    await expect(features("downgrade", "--metadata", "3.9")).rejects.toThrow(/1 out of 1 operation\(s\) failed/);
    await expect(features("upgrade", "--feature", "metadata.version=25")).rejects.toThrow(
      /1 out of 1 operation\(s\) failed/,
    );
    const elr = /Feature: eligible\.leader\.replicas\.version.*FinalizedVersionLevel: (\d)/;
    await features("disable", "--feature", "eligible.leader.replicas.version");
    expect(elr.exec((await features("describe")).stdout)?.[1]).toBe("0");
    await features("upgrade", "--feature", "eligible.leader.replicas.version=1");
    expect(elr.exec((await features("describe")).stdout)?.[1]).toBe("1");
  }, 120_000);
});

describe("Kafka's kafka-metadata-quorum through a broker", () => {
  it("describe --status and --replication name the leader and the voter", async () => {
    const status = (await quorum("--status")).stdout;
    expect(status).toMatch(/ClusterId:\s+\S+/);
    expect(status).toMatch(/LeaderId:\s+1\b/);
    expect(status).toMatch(/HighWatermark:\s+[1-9]/);
    expect(status).toMatch(/CurrentVoters:\s+\[\{"id": 1\b/);

    const replication = (await quorum("--replication")).stdout;
    expect(replication).toMatch(
      /NodeId\s+DirectoryId\s+LogEndOffset\s+Lag\s+LastFetchTimestamp\s+LastCaughtUpTimestamp\s+Status/,
    );
    expect(replication).toMatch(/^1\s+\S+\s+\d+\s+0\s+\d+\s+\d+\s+Leader/m);
  }, 60_000);
});
