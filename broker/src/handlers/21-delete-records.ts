// DeleteRecords (key 21), versions 0-2.
// Moves each partition's log start offset up to the given offset; offset -1 means the high watermark. An offset
// beyond the high watermark, or negative other than -1, is OFFSET_OUT_OF_RANGE. The answer carries the new low
// watermark (the log start offset), which never moves backwards. Internal topics refuse, as in Kafka, because their
// readers rely on every record being there. Only the partition's leader (from the metadata image) deletes records;
// other brokers answer NOT_LEADER_OR_FOLLOWER.
import { OffsetOutOfRangeError } from "../log/index.ts";
import { isInternalTopic, leaderAccess, topicByName } from "../metadata/image/index.ts";
import {
  ApiKey,
  DeleteRecordsRequest,
  DeleteRecordsResponse,
  ErrorCode,
  type DeleteRecordsResponseDeleteRecordsPartitionResult,
} from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

type Result = DeleteRecordsResponseDeleteRecordsPartitionResult;

async function deleteOne(services: BrokerServices, topic: string, partitionIndex: number, offset: bigint) {
  const fail = (errorCode: number): Result => ({ partitionIndex, lowWatermark: -1n, errorCode });
  const access = leaderAccess(services.metadata.image, services.metadata.nodeId, topic, partitionIndex);
  if (!access.ok) return fail(access.errorCode);
  const log = services.partitions.log(topic, partitionIndex);
  if (!log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (isInternalTopic(topic)) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION);
  const target = offset === -1n ? log.highWatermark : offset;
  if (target < 0n || target > log.highWatermark) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
  try {
    const lowWatermark = await log.deleteRecordsBefore(target);
    return { partitionIndex, lowWatermark, errorCode: ErrorCode.NONE };
  } catch (err) {
    if (err instanceof OffsetOutOfRangeError) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
    // A topic deleted meanwhile closes the log; anything else is a storage failure.
    if (!topicByName(services.metadata.image, topic)) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    services.logger.error({ err, topic, partition: partitionIndex }, "DeleteRecords failed");
    return fail(ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

export function deleteRecordsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DeleteRecords,
    minVersion: 0,
    maxVersion: 2,
    request: DeleteRecordsRequest,
    response: DeleteRecordsResponse,
    async handle(request) {
      const topics = await Promise.all(
        request.topics.map(async (t) => ({
          name: t.name,
          partitions: await Promise.all(
            t.partitions.map((p) => deleteOne(services, t.name, p.partitionIndex, p.offset)),
          ),
        })),
      );
      return { ...DeleteRecordsResponse.create(), throttleTimeMs: 0, topics };
    },
  });
}
