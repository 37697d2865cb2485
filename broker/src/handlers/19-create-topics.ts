// CreateTopics (key 19), versions 2-7: forwarded to the active controller (handlers/forwarding.ts), which validates,
// places replicas and answers once the topics are committed; the answer carries what Kafka's does (v5+ partitions,
// replication factor and configs, v7 the topic id).
import { ApiKey, CreateTopicsRequest, CreateTopicsResponse, ZERO_UUID } from "../protocol/index.ts";
import { forwardingHandler } from "./forwarding.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/** The keys that occur more than once: Kafka fails every entry of a name given twice rather than picking one. */
export function repeatedKeys<T>(items: readonly T[], key: (item: T) => string): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) repeated.add(k);
    seen.add(k);
  }
  return repeated;
}

export function createTopicsHandler(services: BrokerServices): AnyHandler {
  return forwardingHandler(services, {
    apiKey: ApiKey.CreateTopics,
    minVersion: 2,
    maxVersion: 7,
    request: CreateTopicsRequest,
    response: CreateTopicsResponse,
    failAll: (request, _context, errorCode, errorMessage) => ({
      ...CreateTopicsResponse.create(),
      topics: [...new Set(request.topics.map((t) => t.name))].map((name) => ({
        name,
        topicId: ZERO_UUID,
        errorCode,
        errorMessage,
        numPartitions: -1,
        replicationFactor: -1,
        configs: [],
      })),
    }),
  });
}
