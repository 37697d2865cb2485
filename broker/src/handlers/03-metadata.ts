// Metadata (key 3), versions 0-12.
// Answered from the published metadata image, as Kafka's KRaft brokers do: the brokers are the registered, unfenced
// ones, each with its endpoint of the listener the request arrived on (a broker without that listener is left out),
// so clients reconnect through the same network path. Each partition carries its leader, leader epoch (v7+), replicas,
// ISR and offline replicas (fenced, unregistered or without that listener); a partition without a leader, or whose
// leader is not registered, is LEADER_NOT_AVAILABLE with leader -1. Topic ids appear from v10. The controller id is a
// live broker (clients cannot reach KRaft controllers; admin requests sent to any broker are forwarded).
// Unknown topics are created when the request (v4+) and auto.create.topics.enable allow it; creation completes before
// the answer, so the topic comes back ready instead of LEADER_NOT_AVAILABLE. v10+ requests may name topics by id.
// A topic named more than once is answered once, as Kafka's broker does (it reads the request as a set), so that a
// request naming one large topic many times cannot ask for a response many times its size.
import {
  endpointOf,
  isInternalTopic,
  liveBrokers,
  offlineReplicas,
  reportedControllerId,
  topicByName,
  type MetadataImage,
  type TopicImage,
} from "../metadata/image/index.ts";
import {
  ApiKey,
  ErrorCode,
  MetadataRequest,
  MetadataResponse,
  ZERO_UUID,
  type MetadataResponseBroker,
  type MetadataResponseTopic,
} from "../protocol/index.ts";
import { defineHandler, OPERATIONS_NOT_REQUESTED, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function describeTopic(image: MetadataImage, topic: TopicImage, listener: string): MetadataResponseTopic {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: isInternalTopic(topic.name),
    partitions: [...topic.partitions]
      .sort(([a], [b]) => a - b)
      .map(([partitionIndex, p]) => {
        const leader = p.leader >= 0 ? image.brokers.get(p.leader) : undefined;
        const reachable = endpointOf(leader, listener) !== undefined;
        return {
          errorCode: reachable ? ErrorCode.NONE : ErrorCode.LEADER_NOT_AVAILABLE,
          partitionIndex,
          leaderId: reachable ? p.leader : -1,
          leaderEpoch: p.leaderEpoch,
          replicaNodes: [...p.replicas],
          isrNodes: [...p.isr],
          offlineReplicas: offlineReplicas(image, p, listener),
        };
      }),
    topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  };
}

/** The live brokers as reachable on `listener`, for Metadata and DescribeCluster. */
export function brokersOn(image: MetadataImage, listener: string): MetadataResponseBroker[] {
  return liveBrokers(image).flatMap((b) => {
    const endpoint = endpointOf(b, listener);
    return endpoint ? [{ nodeId: b.id, host: endpoint.host, port: endpoint.port, rack: b.rack }] : [];
  });
}

function unknownTopic(name: string | null, topicId: string, errorCode: number): MetadataResponseTopic {
  return {
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  };
}

export function metadataHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.Metadata,
    minVersion: 0,
    maxVersion: 12,
    request: MetadataRequest,
    response: MetadataResponse,
    async handle(request, context) {
      // v0 used an empty list to mean "all topics"; v1+ uses null.
      const all = request.topics === null || (context.apiVersion === 0 && request.topics.length === 0);
      const listener = context.listenerName;
      const describe = (topic: TopicImage) => describeTopic(services.metadata.image, topic, listener);
      const topics: MetadataResponseTopic[] = [];
      if (all) {
        for (const topic of services.metadata.image.topicsById.values()) topics.push(describe(topic));
      } else {
        const autoCreate =
          (context.apiVersion < 4 || request.allowAutoTopicCreation !== false) &&
          services.config.autoCreateTopicsEnable;
        const seen = new Set<string>();
        for (const wanted of request.topics ?? []) {
          const byId = wanted.name === null && wanted.topicId !== undefined && wanted.topicId !== ZERO_UUID;
          const key = byId ? `id:${wanted.topicId ?? ""}` : `name:${wanted.name ?? ""}`;
          if (seen.has(key)) continue;
          seen.add(key);
          if (byId) {
            const topic = services.metadata.image.topicsById.get(wanted.topicId ?? ZERO_UUID);
            // Topic names in responses are nullable only from v12; v10-11 answer an unknown id with "".
            const unknownName = context.apiVersion >= 12 ? null : "";
            topics.push(
              topic
                ? describe(topic)
                : unknownTopic(unknownName, wanted.topicId ?? ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_ID),
            );
            continue;
          }
          const name = wanted.name ?? "";
          const existing = topicByName(services.metadata.image, name);
          if (existing) {
            topics.push(describe(existing));
          } else if (autoCreate) {
            const created = await services.createTopic({
              name,
              numPartitions: -1,
              replicationFactor: -1,
              configs: new Map(),
            });
            if (created.errorCode === ErrorCode.NONE || created.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) {
              // Created here or by a racing request: answered from the image once it is published.
              const now = topicByName(services.metadata.image, name);
              topics.push(now ? describe(now) : unknownTopic(name, ZERO_UUID, ErrorCode.LEADER_NOT_AVAILABLE));
            } else topics.push(unknownTopic(name, ZERO_UUID, created.errorCode));
          } else {
            topics.push(unknownTopic(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          }
        }
      }
      return {
        ...MetadataResponse.create(),
        throttleTimeMs: 0,
        brokers: brokersOn(services.metadata.image, listener),
        clusterId: services.clusterId,
        controllerId: reportedControllerId(services.metadata.image, services.metadata.nodeId),
        topics,
        clusterAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
      };
    },
  });
}
