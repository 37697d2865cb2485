// OffsetFetch (key 9), versions 1-9.
// v0 (offsets kept in ZooKeeper) is not offered. A partition without a committed offset answers offset -1, metadata
// "" and no error, whether or not the topic exists, as Kafka does. v0-1 have no top-level error, so a group-level
// error (coordinator loading, say) goes on every requested partition; v2+ put it in the top-level error code and
// allow topics = null for "every committed offset of the group". v5 adds leader epochs, v6 is flexible, v7 adds
// requireStable (UNSTABLE_OFFSET_COMMIT while a commit of that partition is being written). v8+ batch several groups
// with a result and an error each; v9's member id and epoch belong to KIP-848 groups and are ignored for classic ones.
// Each group, topic and partition is answered once however often it is named (a group named twice in v8+ gets the
// union of what was asked): a committed offset carries up to 4 KB of metadata, so repeats would multiply the answer.
import {
  ApiKey,
  ErrorCode,
  OffsetFetchRequest,
  OffsetFetchResponse,
  type OffsetFetchResponsePartition,
  type OffsetFetchResponseTopic,
  type OffsetFetchResponseTopics,
} from "../protocol/index.ts";
import type { OffsetFetchPartitionResult } from "../coordinator/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

type Wanted = { topic: string; partitions: readonly number[] }[] | null;

interface GroupAnswer {
  errorCode: number;
  topics: { name: string; partitions: OffsetFetchPartitionResult[] }[];
}

function fetchGroup(services: BrokerServices, groupId: string, wanted: Wanted, requireStable: boolean): GroupAnswer {
  const result = services.groups.fetchOffsets({ groupId, topics: wanted, requireStable });
  const byTopic = new Map<string, OffsetFetchPartitionResult[]>();
  for (const p of result.partitions) {
    const list = byTopic.get(p.topic);
    if (list === undefined) byTopic.set(p.topic, [p]);
    else list.push(p);
  }
  return {
    errorCode: result.errorCode,
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
  };
}

/** Every topic and partition once, in the order of first mention; null (every committed offset) wins. */
function mergeWanted(lists: readonly Wanted[]): Wanted {
  const byTopic = new Map<string, Set<number>>();
  for (const list of lists) {
    if (list === null) return null;
    for (const { topic, partitions } of list) {
      let seen = byTopic.get(topic);
      if (seen === undefined) {
        seen = new Set();
        byTopic.set(topic, seen);
      }
      for (const partition of partitions) seen.add(partition);
    }
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }));
}

/** v0-7 and v8+ partitions have the same fields under different struct names. */
function toWire(p: OffsetFetchPartitionResult): OffsetFetchResponsePartition {
  return {
    partitionIndex: p.partition,
    committedOffset: p.offset,
    committedLeaderEpoch: p.leaderEpoch,
    metadata: p.metadata,
    errorCode: p.errorCode,
  };
}

export function offsetFetchHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.OffsetFetch,
    minVersion: 1,
    maxVersion: 9,
    request: OffsetFetchRequest,
    response: OffsetFetchResponse,
    handle(request, context) {
      const v = context.apiVersion;
      const requireStable = v >= 7 && request.requireStable === true;
      if (v >= 8) {
        const askedByGroup = new Map<string, Wanted[]>();
        for (const g of request.groups ?? []) {
          const wanted =
            g.topics === null || g.topics === undefined
              ? null
              : g.topics.map((t) => ({ topic: t.name ?? "", partitions: t.partitionIndexes ?? [] }));
          const groupId = g.groupId ?? "";
          askedByGroup.set(groupId, [...(askedByGroup.get(groupId) ?? []), wanted]);
        }
        const groups = [...askedByGroup].map(([groupId, asked]) => {
          const answer = fetchGroup(services, groupId, mergeWanted(asked), requireStable);
          const topics: OffsetFetchResponseTopics[] = answer.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map(toWire),
          }));
          return { groupId, topics, errorCode: answer.errorCode };
        });
        return Promise.resolve({ ...OffsetFetchResponse.create(), groups });
      }
      const requested =
        request.topics === null || request.topics === undefined
          ? null
          : request.topics.map((t) => ({ topic: t.name ?? "", partitions: t.partitionIndexes ?? [] }));
      const wanted = mergeWanted([v >= 2 ? requested : (requested ?? [])]);
      const answer = fetchGroup(services, request.groupId ?? "", wanted, requireStable);
      let answered = answer.topics;
      if (v < 2 && answer.errorCode !== ErrorCode.NONE) {
        answered = (wanted ?? []).map((t) => ({
          name: t.topic,
          partitions: t.partitions.map((partition) => ({
            topic: t.topic,
            partition,
            offset: -1n,
            leaderEpoch: -1,
            metadata: "",
            errorCode: answer.errorCode,
          })),
        }));
      }
      const topics: OffsetFetchResponseTopic[] = answered.map((t) => ({
        name: t.name,
        partitions: t.partitions.map(toWire),
      }));
      return Promise.resolve({ ...OffsetFetchResponse.create(), topics, errorCode: answer.errorCode });
    },
  });
}
