// ListOffsets (key 2), versions 1-9.
// Timestamps -2 (earliest), -1 (latest), -3 (max timestamp, v7+) and -4 (earliest local, v8+) are special; any other
// value finds the first record whose timestamp is at least it. Storage answers at batch granularity; the batch is
// decoded here to return the exact record, as Kafka does. No match answers offset -1 and timestamp -1.
// A partition named more than once is refused with INVALID_REQUEST, answered once, as Kafka does: each lookup may
// decode (and decompress) a batch, so repeats would multiply the work of one small request.
// Only the partition's leader answers (from the metadata image): others get NOT_LEADER_OR_FOLLOWER, and a
// currentLeaderEpoch other than the image's FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH. Latest and earliest carry the
// leader epoch of the log's latest and first epochs, as Kafka's do. Latest is the high watermark for consumers and
// the log end offset for a replica (any replica id but -1), as a follower asks when its fetch offset is out of range.
// A consumer is answered below the high watermark only. A new leader's high watermark can lag behind the start of its
// leader epoch until its followers fetch from it; meanwhile latest, and a timestamp whose record is at or above the
// high watermark, get OFFSET_NOT_AVAILABLE (retriable), so a consumer's latest offset never goes backwards across a
// leader change (Kafka's KIP-207, Partition.fetchOffsetForTimestamp).
import type { PartitionLog } from "../log/index.ts";
import {
  ApiKey,
  ErrorCode,
  ListOffsetsRequest,
  ListOffsetsResponse,
  type ListOffsetsResponseListOffsetsPartitionResponse,
} from "../protocol/index.ts";
import { decodeRecordBatchAsync } from "../protocol/records/index.ts";
import { leaderAccess } from "../metadata/image/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;
const LATEST_TIERED = -5n;

type PartitionAnswer = Omit<ListOffsetsResponseListOffsetsPartitionResponse, "partitionIndex">;

function found(offset: bigint, timestamp: bigint, leaderEpoch: number): PartitionAnswer {
  return { errorCode: ErrorCode.NONE, offset, timestamp, leaderEpoch, oldStyleOffsets: [] };
}

const NOT_FOUND: PartitionAnswer = found(-1n, -1n, -1);

const OFFSET_NOT_AVAILABLE: PartitionAnswer = { ...NOT_FOUND, errorCode: ErrorCode.OFFSET_NOT_AVAILABLE };

/**
 * `replica`: the request is not a consumer's, and gets the log end rather than the high watermark as latest.
 * `epochStart`: where this leader's epoch starts in the log (undefined when it does not lead the partition).
 */
async function lookup(
  log: PartitionLog,
  timestamp: bigint,
  replica: boolean,
  epochStart: bigint | undefined,
): Promise<PartitionAnswer> {
  const lastFetchable = replica ? log.logEndOffset : log.highWatermark;
  const lagging = !replica && epochStart !== undefined && epochStart > log.highWatermark;
  /** A timestamp lookup's hit, if a consumer may read it. */
  const fetchable = (offset: bigint, ts: bigint, leaderEpoch: number): PartitionAnswer => {
    if (offset < lastFetchable) return found(offset, ts, leaderEpoch);
    return lagging ? OFFSET_NOT_AVAILABLE : NOT_FOUND;
  };
  switch (timestamp) {
    case LATEST:
      return lagging ? OFFSET_NOT_AVAILABLE : found(lastFetchable, -1n, log.latestEpoch() ?? -1);
    case EARLIEST:
    case EARLIEST_LOCAL:
      return found(log.logStartOffset, -1n, log.epochEntries()[0]?.epoch ?? -1);
    case LATEST_TIERED:
      return NOT_FOUND;
    case MAX_TIMESTAMP: {
      const hit = await log.maxTimestampOffset();
      if (!hit) return NOT_FOUND;
      const batch = await decodeRecordBatchAsync(hit.batch, { verifyCrc: false });
      let best = batch.records[0];
      for (const record of batch.records) if (best === undefined || record.timestamp > best.timestamp) best = record;
      return best ? fetchable(best.offset, best.timestamp, hit.leaderEpoch) : NOT_FOUND;
    }
    default: {
      if (timestamp < 0n) return { ...NOT_FOUND, errorCode: ErrorCode.INVALID_REQUEST };
      const hit = await log.offsetForTimestamp(timestamp);
      if (!hit) return lagging ? OFFSET_NOT_AVAILABLE : NOT_FOUND;
      const batch = await decodeRecordBatchAsync(hit.batch, { verifyCrc: false });
      const record = batch.records.find((r) => r.timestamp >= timestamp && r.offset >= log.logStartOffset);
      if (!record) return lagging ? OFFSET_NOT_AVAILABLE : NOT_FOUND;
      return fetchable(record.offset, record.timestamp, hit.leaderEpoch);
    }
  }
}

export function listOffsetsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.ListOffsets,
    minVersion: 1,
    maxVersion: 9,
    request: ListOffsetsRequest,
    response: ListOffsetsResponse,
    async handle(request) {
      const image = services.metadata.image;
      const mentions = new Map<string, number>();
      for (const t of request.topics) {
        for (const p of t.partitions) {
          const key = `${t.name}\u0000${p.partitionIndex}`;
          mentions.set(key, (mentions.get(key) ?? 0) + 1);
        }
      }
      const answered = new Set<string>();
      const topics = await Promise.all(
        request.topics.map(async (t) => ({
          name: t.name,
          partitions: await Promise.all(
            t.partitions
              .flatMap((p) => {
                const key = `${t.name}\u0000${p.partitionIndex}`;
                if (answered.has(key)) return [];
                answered.add(key);
                return [p];
              })
              .map(async (p): Promise<ListOffsetsResponseListOffsetsPartitionResponse> => {
                if ((mentions.get(`${t.name}\u0000${p.partitionIndex}`) ?? 0) > 1) {
                  return { ...NOT_FOUND, partitionIndex: p.partitionIndex, errorCode: ErrorCode.INVALID_REQUEST };
                }
                const access = leaderAccess(
                  image,
                  services.metadata.nodeId,
                  t.name,
                  p.partitionIndex,
                  p.currentLeaderEpoch,
                );
                if (!access.ok) return { ...NOT_FOUND, partitionIndex: p.partitionIndex, errorCode: access.errorCode };
                const log = services.partitions.log(t.name, p.partitionIndex);
                if (!log) {
                  return {
                    ...NOT_FOUND,
                    partitionIndex: p.partitionIndex,
                    errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                  };
                }
                // Kafka gives the log end to every replica id but consumers' -1 (-2 is its debugging id).
                const replica = request.replicaId !== -1;
                const epochStart = services.partitions.leaderState(t.name, p.partitionIndex)?.leaderEpochStartOffset;
                return { partitionIndex: p.partitionIndex, ...(await lookup(log, p.timestamp, replica, epochStart)) };
              }),
          ),
        })),
      );
      return {
        ...ListOffsetsResponse.create(),
        throttleTimeMs: 0,
        // A topic entry whose partitions were all answered under an earlier entry of the same name is left out.
        topics: topics.filter((t, i) => t.partitions.length > 0 || request.topics[i]?.partitions.length === 0),
      };
    },
  });
}
