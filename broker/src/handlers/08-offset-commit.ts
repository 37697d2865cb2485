// OffsetCommit (key 8), versions 2-9.
// v0-1 (ZooKeeper-era storage and per-partition commit timestamps) are not offered: every client we target sends v2+.
// v2-4 carry a retention time (-1: offsets.retention.minutes); v5 drops it; v6 adds the leader epoch of each offset;
// v7 group.instance.id; v8 is flexible; v9 is v8 for classic groups (its member epoch is the generation).
// Errors are per partition. As Kafka does, partitions of topics that do not exist (or beyond a topic's partition
// count) answer UNKNOWN_TOPIC_OR_PARTITION and are not stored; the rest go to the coordinator in one commit.
import {
  ApiKey,
  ErrorCode,
  OffsetCommitRequest,
  OffsetCommitResponse,
  type OffsetCommitResponseTopic,
} from "../protocol/index.ts";
import type { OffsetCommitPartition } from "../coordinator/index.ts";
import { topicByName } from "../metadata/image/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function offsetCommitHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.OffsetCommit,
    minVersion: 2,
    maxVersion: 9,
    request: OffsetCommitRequest,
    response: OffsetCommitResponse,
    async handle(request, context) {
      const v = context.apiVersion;
      // One slot per requested partition, in request order; unknown partitions are answered here, the rest later.
      const topics: OffsetCommitResponseTopic[] = [];
      const toCommit: OffsetCommitPartition[] = [];
      const slots: { errorCode: number }[] = [];
      for (const topic of request.topics) {
        const known = topicByName(services.metadata.image, topic.name);
        const answered: OffsetCommitResponseTopic = { name: topic.name, partitions: [] };
        topics.push(answered);
        for (const p of topic.partitions) {
          const exists = known?.partitions.has(p.partitionIndex) ?? false;
          const slot = {
            partitionIndex: p.partitionIndex,
            errorCode: exists ? ErrorCode.NONE : (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION as number),
          };
          answered.partitions.push(slot);
          if (!exists) continue;
          slots.push(slot);
          toCommit.push({
            topic: topic.name,
            partition: p.partitionIndex,
            offset: p.committedOffset,
            leaderEpoch: v >= 6 ? (p.committedLeaderEpoch ?? -1) : -1,
            metadata: p.committedMetadata,
          });
        }
      }
      if (toCommit.length > 0) {
        const results = await services.groups.commitOffsets({
          groupId: request.groupId,
          generationId: request.generationIdOrMemberEpoch ?? -1,
          memberId: request.memberId ?? "",
          groupInstanceId: v >= 7 ? (request.groupInstanceId ?? null) : null,
          ...(v <= 4 && { retentionTimeMs: request.retentionTimeMs ?? -1n }),
          offsets: toCommit,
        });
        // The coordinator answers in the order it was asked.
        for (const [i, result] of results.entries()) {
          const slot = slots[i];
          if (slot !== undefined) slot.errorCode = result.errorCode;
        }
      }
      return { ...OffsetCommitResponse.create(), topics };
    },
  });
}
