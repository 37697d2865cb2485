// Metadata (key 3), versions 0-12.
// Brokers are answered with the advertised address of the listener the request arrived on, so clients reconnect
// through the same network path. Topic ids appear from v10; leader epochs from v7 (this node's are always 0).
// Unknown topics are created when the request (v4+) and auto.create.topics.enable allow it; creation is synchronous,
// so the topic comes back ready instead of LEADER_NOT_AVAILABLE. v10+ requests may name topics by id.
// A topic named more than once is answered once, as Kafka's broker does (it reads the request as a set), so that a
// request naming one large topic many times cannot ask for a response many times its size.
import {
  ApiKey,
  ErrorCode,
  MetadataRequest,
  MetadataResponse,
  ZERO_UUID,
  type MetadataResponseTopic,
} from "../protocol/index.ts";
import type { TopicMetadata } from "../metadata/topic-registry.ts";
import { defineHandler, OPERATIONS_NOT_REQUESTED, type AnyHandler, type RequestContext } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function describeTopic(services: BrokerServices, topic: TopicMetadata): MetadataResponseTopic {
  const nodeId = services.config.nodeId;
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: topic.internal,
    partitions: Array.from({ length: topic.partitions }, (_, partitionIndex) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  };
}

export function advertisedBroker(services: BrokerServices, context: Pick<RequestContext, "listenerName">) {
  const listeners = services.config.advertisedListeners;
  const listener = listeners.find((l) => l.name === context.listenerName) ?? listeners[0];
  return {
    nodeId: services.config.nodeId,
    host: listener?.host ?? "127.0.0.1",
    port: listener?.port ?? 9092,
    rack: null,
  };
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
      const topics: MetadataResponseTopic[] = [];
      if (all) {
        for (const topic of services.topics.list()) topics.push(describeTopic(services, topic));
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
            const topic = services.topics.getById(wanted.topicId ?? ZERO_UUID);
            // Topic names in responses are nullable only from v12; v10-11 answer an unknown id with "".
            const unknownName = context.apiVersion >= 12 ? null : "";
            topics.push(
              topic
                ? describeTopic(services, topic)
                : unknownTopic(unknownName, wanted.topicId ?? ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_ID),
            );
            continue;
          }
          const name = wanted.name ?? "";
          const existing = services.topics.get(name);
          if (existing) {
            topics.push(describeTopic(services, existing));
          } else if (autoCreate) {
            const created = await services.admin.createTopic({
              name,
              numPartitions: -1,
              replicationFactor: -1,
              configs: new Map(),
              validateOnly: false,
            });
            if (created.topic) topics.push(describeTopic(services, created.topic));
            else if (created.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) {
              const raced = services.topics.get(name);
              topics.push(
                raced ? describeTopic(services, raced) : unknownTopic(name, ZERO_UUID, ErrorCode.LEADER_NOT_AVAILABLE),
              );
            } else topics.push(unknownTopic(name, ZERO_UUID, created.errorCode));
          } else {
            topics.push(unknownTopic(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          }
        }
      }
      return {
        ...MetadataResponse.create(),
        throttleTimeMs: 0,
        brokers: [advertisedBroker(services, context)],
        clusterId: services.clusterId,
        controllerId: services.config.nodeId,
        topics,
        clusterAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
      };
    },
  });
}
