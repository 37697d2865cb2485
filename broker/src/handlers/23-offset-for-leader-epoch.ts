// OffsetForLeaderEpoch (key 23), versions 2-4.
// For each partition, the largest epoch at or below the requested one and the offset where it ends, from the log's
// leader epoch cache; an epoch the log never saw (or an empty log) answers epoch -1 and offset -1. Only the partition's
// leader in the metadata image answers: a currentLeaderEpoch above the image's is UNKNOWN_LEADER_EPOCH, below it
// FENCED_LEADER_EPOCH, -1 skips the check. v3+ carries a replica id, which only followers set; followers do not fetch
// until partition replication exists (issue 12), so it is ignored.
import {
  ApiKey,
  ErrorCode,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  type OffsetForLeaderEpochResponseEpochEndOffset,
} from "../protocol/index.ts";
import { leaderAccess } from "../metadata/image/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

type Result = OffsetForLeaderEpochResponseEpochEndOffset;

export function offsetForLeaderEpochHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.OffsetForLeaderEpoch,
    minVersion: 2,
    maxVersion: 4,
    request: OffsetForLeaderEpochRequest,
    response: OffsetForLeaderEpochResponse,
    handle(request) {
      const topics = request.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p): Result => {
          const fail = (errorCode: number): Result => ({
            errorCode,
            partition: p.partition,
            leaderEpoch: -1,
            endOffset: -1n,
          });
          const image = services.metadata.image;
          const access = leaderAccess(image, services.metadata.nodeId, t.topic, p.partition, p.currentLeaderEpoch);
          if (!access.ok) return fail(access.errorCode);
          const log = services.partitions.log(t.topic, p.partition);
          if (!log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          const found = log.endOffsetForEpoch(p.leaderEpoch);
          return {
            errorCode: ErrorCode.NONE,
            partition: p.partition,
            leaderEpoch: found.epoch,
            endOffset: found.endOffset,
          };
        }),
      }));
      return Promise.resolve({ ...OffsetForLeaderEpochResponse.create(), throttleTimeMs: 0, topics });
    },
  });
}
