// Errors of the admin client. Per-item failures (one topic of a batch) come back as KafkaError values in the results;
// whole-call failures (no broker reachable, a timeout, an API the broker does not serve) are thrown.
import { ErrorCode, errorName } from "../protocol/errors.ts";

/** Codes Kafka's own clients treat as retriable (RetriableException subclasses) that admin calls can meet. */
const RETRIABLE: ReadonlySet<number> = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_CONTROLLER,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.THROTTLING_QUOTA_EXCEEDED,
]);

/** An error code a broker answered with, for one item or a whole request. */
export class KafkaError extends Error {
  override readonly name = "KafkaError";
  /** The Kafka error name, e.g. TOPIC_ALREADY_EXISTS. */
  readonly type: string;
  readonly retriable: boolean;

  constructor(
    readonly code: number,
    brokerMessage: string | null | undefined,
    context: string,
  ) {
    const type = errorName(code);
    super(`${context}: ${type}${brokerMessage ? ` (${brokerMessage})` : ""}`);
    this.type = type;
    this.retriable = RETRIABLE.has(code);
  }
}

/** The error for a non-zero code, or undefined for NONE. */
export function kafkaError(code: number, message: string | null | undefined, context: string): KafkaError | undefined {
  return code === ErrorCode.NONE ? undefined : new KafkaError(code, message, context);
}

/**
 * The broker does not serve the API (it is missing from its ApiVersions answer), or no version both sides speak. Not
 * retriable against the same brokers: today's single-node Tributary broker, for example, has no partition
 * reassignment, leader election or quorum description.
 */
export class UnsupportedApiError extends Error {
  override readonly name = "UnsupportedApiError";
  constructor(
    readonly apiKey: number,
    readonly apiName: string,
    readonly broker: string,
    detail: string,
  ) {
    super(`broker ${broker} does not support ${apiName} (API key ${apiKey}): ${detail}`);
  }
}

/** No broker could be reached, or a connection failed before the answer arrived. */
export class BrokerConnectionError extends Error {
  override readonly name = "BrokerConnectionError";
  constructor(
    message: string,
    /** The connect was refused (ECONNREFUSED): the broker's host answered that nothing listens on that port. */
    readonly refused = false,
  ) {
    super(message);
  }
}

/** A request got no answer in time; the connection it used is closed, as Kafka's clients do. */
export class AdminTimeoutError extends Error {
  override readonly name = "AdminTimeoutError";
}
