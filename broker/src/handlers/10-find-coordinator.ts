// FindCoordinator (key 10), versions 0-6.
// A group key (key type 0) is answered with the broker that leads the group's __consumer_offsets partition (Kafka's
// rule: the Java hash of the group id modulo the partition count), at its address on the listener the request arrived
// on, like Metadata; COORDINATOR_NOT_AVAILABLE (retriable) when that partition has no live leader, or while
// __consumer_offsets does not exist yet: as in Kafka, the first such request starts creating the topic. Who leads it comes
// from services.offsetsPartitionLeader. v0 has no key type and always means a group. v4+ batches keys in
// coordinatorKeys and answers each in coordinators, each key on its own; v0-3 answer one key in top-level fields.
// Transactions are not supported yet, so key type 1 must make a transactional producer fail at once rather than wait
// for a coordinator that will never exist: COORDINATOR_NOT_AVAILABLE is retriable, and Java's producer retried it
// for minutes (Kafka Streams with exactly_once_v2 hung without a word). CLUSTER_AUTHORIZATION_FAILED is fatal in all
// three clients we verify, and each shows the message with it: librdkafka turns it (and only it and
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED) into a fatal error that quotes the message; Java's producer fails
// initTransactions() with "... due to unexpected error: <message>" (TRANSACTIONAL_ID_AUTHORIZATION_FAILED would drop
// the message there); franz-go fails the produce. Share groups (key type 2, v6) and unknown key types get
// INVALID_REQUEST, as Kafka answers a key type it does not serve.
import {
  ApiKey,
  ErrorCode,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  type FindCoordinatorResponseCoordinator,
} from "../protocol/index.ts";
import { defineHandler, type AnyHandler, type RequestContext } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

const GROUP = 0;
const TRANSACTION = 1;
const SHARE = 2;

/** What a transactional producer's user reads: why it failed, and what works instead. */
const TRANSACTIONS_UNSUPPORTED =
  "Transactions are not supported by this broker (Tributary): there is no transaction coordinator. " +
  "Use an idempotent producer without transactional.id (Kafka Streams: processing.guarantee=at_least_once).";

interface Answer {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

function coordinatorFor(services: BrokerServices, context: RequestContext, keyType: number, key: string): Answer {
  // Kafka's Node.noNode(): what clients expect next to an error.
  const none = { nodeId: -1, host: "", port: -1 };
  if (keyType === GROUP) {
    const partition = services.groups.partitionFor(key);
    if (partition === null) {
      // Kafka creates __consumer_offsets on the first FindCoordinator that needs it and answers this meanwhile.
      services.ensureOffsetsTopic();
      return { ...none, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null };
    }
    const leader = services.offsetsPartitionLeader(partition, context.listenerName);
    if (leader === null) return { ...none, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null };
    const { nodeId, host, port } = leader;
    return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId, host, port };
  }
  if (keyType === TRANSACTION) {
    return {
      ...none,
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      errorMessage: TRANSACTIONS_UNSUPPORTED,
    };
  }
  return {
    ...none,
    errorCode: ErrorCode.INVALID_REQUEST,
    errorMessage:
      keyType === SHARE ? "Share groups are not supported by this broker." : `Unknown coordinator key type ${keyType}.`,
  };
}

export function findCoordinatorHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.FindCoordinator,
    minVersion: 0,
    maxVersion: 6,
    request: FindCoordinatorRequest,
    response: FindCoordinatorResponse,
    handle(request, context) {
      const keyType = context.apiVersion >= 1 ? (request.keyType ?? GROUP) : GROUP;
      const keys = context.apiVersion >= 4 ? (request.coordinatorKeys ?? []) : [request.key ?? ""];
      if (keyType === TRANSACTION) {
        context.logger.info({ transactionalIds: keys, clientId: context.clientId }, "Refused a transactional producer");
      }
      if (context.apiVersion >= 4) {
        const coordinators: FindCoordinatorResponseCoordinator[] = keys.map((key) => ({
          key,
          ...coordinatorFor(services, context, keyType, key),
        }));
        return Promise.resolve({ ...FindCoordinatorResponse.create(), coordinators });
      }
      const answer = coordinatorFor(services, context, keyType, request.key ?? "");
      return Promise.resolve({ ...FindCoordinatorResponse.create(), ...answer });
    },
  });
}
