// OffsetDelete (key 47), version 0.
// Deletes committed offsets of a group: all requested ones for an Empty group; for a Stable consumer group only those
// of topics no member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC per partition otherwise); NON_EMPTY_GROUP while the
// group rebalances; GROUP_ID_NOT_FOUND for an unknown group. Answered once the tombstones are in the offsets log.
import { ApiKey, ErrorCode, OffsetDeleteRequest, OffsetDeleteResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function offsetDeleteHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.OffsetDelete,
    minVersion: 0,
    maxVersion: 0,
    request: OffsetDeleteRequest,
    response: OffsetDeleteResponse,
    async handle(request) {
      const wanted = request.topics.flatMap((t) =>
        t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex })),
      );
      const outcome = await services.groups.deleteOffsets(request.groupId, wanted);
      if (outcome.errorCode !== ErrorCode.NONE) {
        return { errorCode: outcome.errorCode, throttleTimeMs: 0, topics: [] };
      }
      const topics = request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode:
            outcome.partitions.find((r) => r.topic === t.name && r.partition === p.partitionIndex)?.errorCode ??
            ErrorCode.NONE,
        })),
      }));
      return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics };
    },
  });
}
