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
  it("describes metadata.version's finalized level and changes it through forwarded UpdateFeatures", async () => {
    const described = (await features("describe")).stdout;
    expect(described).toMatch(
      /Feature: metadata\.version\s+SupportedMinVersion: 3\.9-IV0\s+SupportedMaxVersion: 4\.0-IV1\s+FinalizedVersionLevel: 4\.0-IV0\s+Epoch: \d+/,
    );
    // ELR (KIP-966) is supported but off until the cluster is upgraded to 4.0-IV1 with it.
    expect(described).toMatch(
      /Feature: eligible\.leader\.replicas\.version\s+SupportedMinVersion: 0\s+SupportedMaxVersion: 1\s+FinalizedVersionLevel: 0\s/,
    );
    await features("downgrade", "--metadata", "3.9");
    expect((await features("describe")).stdout).toMatch(/Feature: metadata\.version.*FinalizedVersionLevel: 3\.9-IV0/);
    // Beyond the supported range: the controller's refusal reaches the tool.
    await expect(features("upgrade", "--feature", "metadata.version=25")).rejects.toThrow(
      /1 out of 1 operation\(s\) failed/,
    );
    await features("upgrade", "--feature", "metadata.version=22");
    expect((await features("describe")).stdout).toMatch(/Feature: metadata\.version.*FinalizedVersionLevel: 4\.0-IV0/);
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
