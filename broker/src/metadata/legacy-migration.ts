import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { RECORD_VERSION } from "../controller/features.ts";
import { record } from "../controller/records.ts";
import {
  ConfigRecord,
  PartitionRecord,
  ProducerIdsRecord,
  TopicRecord,
  ZERO_UUID,
  type MetadataRecordAndVersion,
} from "../protocol/index.ts";
import { ConfigResourceType } from "./image/index.ts";

// A single-node data dir written before the metadata quorum existed keeps its cluster state in one JSON file
// (`__tributary_metadata.json`, written by the retired TopicRegistry): topics with their ids, partition counts and
// config overrides, dynamic broker configs, and where producer-id allocation resumes. Its first start with a metadata
// quorum turns that file into bootstrap records, which the controller writes after metadata.version into the empty
// metadata log (ADR 22); the partition logs on disk stay where they are and keep their data. The file is only read,
// and only while the metadata log is empty, so the migration happens once.

export const LEGACY_METADATA_FILE = "__tributary_metadata.json";

export interface LegacyTopic {
  readonly name: string;
  /** Canonical UUID string. */
  readonly id: string;
  readonly partitions: number;
  readonly configs: Readonly<Record<string, string>>;
}

export interface LegacyMetadata {
  readonly clusterId: string;
  readonly topics: readonly LegacyTopic[];
  readonly brokerConfigs: Readonly<Record<string, string>>;
  /** Producer ids below this may have been handed out. */
  readonly producerIdBlockEnd: bigint;
}

/** Reads the legacy file from a log dir; null when there is none. A damaged file is an error naming it. */
export async function readLegacyMetadata(dir: string): Promise<LegacyMetadata | null> {
  const path = join(dir, LEGACY_METADATA_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`cannot read the single-node metadata ${path}: ${String(err)}`, { cause: err });
  }
  try {
    const data = JSON.parse(text) as {
      clusterId?: unknown;
      topics?: unknown;
      brokerConfigs?: unknown;
      producerIdBlockEnd?: unknown;
    };
    if (typeof data.clusterId !== "string" || !Array.isArray(data.topics))
      throw new Error("missing clusterId or topics");
    const topics = (data.topics as unknown[]).map((t): LegacyTopic => {
      const topic = t as Partial<LegacyTopic>;
      if (typeof topic.name !== "string" || typeof topic.id !== "string" || !Number.isInteger(topic.partitions))
        throw new Error(`a topic without name, id or partition count: ${JSON.stringify(t)}`);
      return { name: topic.name, id: topic.id, partitions: topic.partitions ?? 0, configs: { ...topic.configs } };
    });
    return {
      clusterId: data.clusterId,
      topics,
      brokerConfigs: { ...(data.brokerConfigs as Record<string, string> | undefined) },
      producerIdBlockEnd: BigInt(typeof data.producerIdBlockEnd === "string" ? data.producerIdBlockEnd : "0"),
    };
  } catch (err) {
    throw new Error(`cannot migrate the single-node metadata ${path}: ${String(err)}`, { cause: err });
  }
}

/**
 * The legacy state as metadata records: each topic with its id, every partition led by this node alone at leader
 * epoch 0 (the epoch its log batches were written with), topic and broker config overrides, and the producer-id
 * high mark, so no id handed out before is handed out again.
 */
export function legacyBootstrapRecords(legacy: LegacyMetadata, nodeId: number): MetadataRecordAndVersion[] {
  const records: MetadataRecordAndVersion[] = [];
  for (const topic of [...legacy.topics].sort((a, b) => a.name.localeCompare(b.name))) {
    records.push(record(TopicRecord, { name: topic.name, topicId: topic.id }, 0));
    for (let p = 0; p < topic.partitions; p++) {
      records.push(
        record(
          PartitionRecord,
          {
            topicId: topic.id,
            partitionId: p,
            replicas: [nodeId],
            isr: [nodeId],
            removingReplicas: [],
            addingReplicas: [],
            leader: nodeId,
            leaderRecoveryState: 0,
            leaderEpoch: 0,
            partitionEpoch: 0,
            directories: [ZERO_UUID],
          },
          RECORD_VERSION.partition,
        ),
      );
    }
    for (const [name, value] of Object.entries(topic.configs).sort(([a], [b]) => a.localeCompare(b))) {
      records.push(
        record(ConfigRecord, { resourceType: ConfigResourceType.TOPIC, resourceName: topic.name, name, value }, 0),
      );
    }
  }
  for (const [name, value] of Object.entries(legacy.brokerConfigs).sort(([a], [b]) => a.localeCompare(b))) {
    records.push(
      record(ConfigRecord, { resourceType: ConfigResourceType.BROKER, resourceName: String(nodeId), name, value }, 0),
    );
  }
  if (legacy.producerIdBlockEnd > 0n) {
    records.push(
      record(ProducerIdsRecord, { brokerId: nodeId, brokerEpoch: -1n, nextProducerId: legacy.producerIdBlockEnd }, 0),
    );
  }
  return records;
}
