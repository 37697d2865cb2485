// DescribeTopicPartitions (key 75), version 0 (KIP-966): what Kafka 4.x's Admin describeTopics (and so
// `kafka-topics --describe`) asks a broker that offers it, instead of Metadata. Answered from the published image as
// Kafka's DescribeTopicPartitionsRequestHandler and KRaftMetadataCache do: the named topics, or every topic when none
// is named, in name order from the cursor's topic on (a named list must hold the cursor's topic); each partition with
// its leader (-1 when the leader is not reachable on the request's listener), leader epoch, replicas, ISR, eligible
// leader replicas, last known ELR and offline replicas. At most min(ResponsePartitionLimit, 2000) partitions are
// returned (Kafka's max.request.partition.size.limit default), at least 1; when more remain, NextCursor names the
// first one left out. A named topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION, or INVALID_TOPIC_EXCEPTION when
// its name is not a valid topic name. A bad cursor (its topic not named, a negative partition) answers every named
// topic with INVALID_REQUEST. There is no authorization yet, so authorized operations are "not requested".
import { endpointOf, isInternalTopic, offlineReplicas, topicByName } from "../metadata/image/index.ts";
import { topicNameProblem } from "../metadata/topic-rules.ts";
import {
  ApiKey,
  DescribeTopicPartitionsRequest,
  DescribeTopicPartitionsResponse,
  ErrorCode,
  ZERO_UUID,
  type DescribeTopicPartitionsResponsePartition,
  type DescribeTopicPartitionsResponseTopic,
} from "../protocol/index.ts";
import { defineHandler, OPERATIONS_NOT_REQUESTED, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/** Kafka's max.request.partition.size.limit default. */
const MAX_PARTITIONS_PER_RESPONSE = 2000;

function topicError(name: string, errorCode: number): DescribeTopicPartitionsResponseTopic {
  return {
    errorCode,
    name,
    topicId: ZERO_UUID,
    isInternal: isInternalTopic(name),
    partitions: [],
    topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  };
}

export function describeTopicPartitionsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DescribeTopicPartitions,
    minVersion: 0,
    maxVersion: 0,
    request: DescribeTopicPartitionsRequest,
    response: DescribeTopicPartitionsResponse,
    handle(request, context) {
      const image = services.metadata.image;
      const listener = context.listenerName;
      const all = request.topics.length === 0;
      const cursor = request.cursor;
      const from = cursor?.topicName ?? "";
      const names = new Set<string>();
      for (const name of all ? [...image.topicIdsByName.keys()] : request.topics.map((t) => t.name)) {
        if (name >= from) names.add(name);
      }
      const response: DescribeTopicPartitionsResponse = {
        ...DescribeTopicPartitionsResponse.create(),
        throttleTimeMs: 0,
        topics: [],
        nextCursor: null,
      };
      if (cursor !== null && ((!all && !names.has(cursor.topicName)) || cursor.partitionIndex < 0)) {
        response.topics = request.topics.map((t) => topicError(t.name, ErrorCode.INVALID_REQUEST));
        return Promise.resolve(response);
      }
      let remaining = Math.max(Math.min(MAX_PARTITIONS_PER_RESPONSE, request.responsePartitionLimit), 1);
      // Code-unit order, as Java's String.compareTo sorts names.
      for (const name of [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (remaining === 0) {
          response.nextCursor = { topicName: name, partitionIndex: 0 };
          break;
        }
        const topic = topicByName(image, name);
        if (topic === undefined) {
          if (!all) {
            const invalid = topicNameProblem(name) !== undefined;
            response.topics.push(
              topicError(name, invalid ? ErrorCode.INVALID_TOPIC_EXCEPTION : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
            );
          }
          continue;
        }
        const start = name === cursor?.topicName ? cursor.partitionIndex : 0;
        const end = Math.min(topic.partitions.size, start + remaining);
        const partitions: DescribeTopicPartitionsResponsePartition[] = [];
        for (let index = start; index < end; index++) {
          const p = topic.partitions.get(index);
          if (p === undefined) continue;
          const leader = p.leader >= 0 ? image.brokers.get(p.leader) : undefined;
          partitions.push({
            errorCode: ErrorCode.NONE,
            partitionIndex: index,
            leaderId: endpointOf(leader, listener) !== undefined ? p.leader : -1,
            leaderEpoch: p.leaderEpoch,
            replicaNodes: [...p.replicas],
            isrNodes: [...p.isr],
            eligibleLeaderReplicas: [...p.eligibleLeaderReplicas],
            lastKnownElr: [...p.lastKnownElr],
            offlineReplicas: offlineReplicas(image, p, listener),
          });
        }
        response.topics.push({
          errorCode: ErrorCode.NONE,
          name,
          topicId: topic.id,
          isInternal: isInternalTopic(name),
          partitions,
          topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
        });
        if (end < topic.partitions.size) {
          response.nextCursor = { topicName: name, partitionIndex: end };
          break;
        }
        remaining -= partitions.length;
      }
      return Promise.resolve(response);
    },
  });
}
