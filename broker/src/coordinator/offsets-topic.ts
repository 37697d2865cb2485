import type { Logger } from "pino";
import { ErrorCode } from "./errors.ts";

/** The topic the group coordinator keeps offsets and group metadata in. */
export const OFFSETS_TOPIC = "__consumer_offsets";

/** How `__consumer_offsets` is made when it does not exist yet, from the broker's offsets.topic.* settings. */
export interface OffsetsTopicSpec {
  /** offsets.topic.num.partitions */
  readonly numPartitions: number;
  /** offsets.topic.replication.factor */
  readonly replicationFactor: number;
  /** Topic configs: compacted, as Kafka makes it. */
  readonly configs: ReadonlyMap<string, string>;
}

/**
 * The one way `__consumer_offsets` gets created, lazily as in Kafka: FindCoordinator for a group calls it while the
 * topic does not exist and answers COORDINATOR_NOT_AVAILABLE, which clients retry. It starts creating the topic unless
 * it exists or a creation is already under way (concurrent requests make one CreateTopics), and does not wait: the
 * topic appears in a later metadata image. Created this late, the controller places its partitions on the brokers
 * registered by then rather than on the first one up. The broker implements it (startBroker) with a CreateTopics to
 * the active controller (ADR 22).
 */
export type EnsureOffsetsTopic = () => void;

export function offsetsTopicSpec(config: {
  readonly offsetsTopicNumPartitions: number;
  readonly offsetsTopicReplicationFactor: number;
}): OffsetsTopicSpec {
  return {
    numPartitions: config.offsetsTopicNumPartitions,
    replicationFactor: config.offsetsTopicReplicationFactor,
    configs: new Map([["cleanup.policy", "compact"]]),
  };
}

export interface OffsetsTopicCreatorOptions {
  readonly spec: OffsetsTopicSpec;
  /** Whether the current metadata image has the topic. */
  readonly exists: () => boolean;
  /** One CreateTopics for the topic; errors come back as codes (TOPIC_ALREADY_EXISTS counts as done). */
  readonly create: (spec: OffsetsTopicSpec) => Promise<{ errorCode: number; errorMessage: string | null }>;
  readonly logger: Logger;
}

/**
 * The `EnsureOffsetsTopic` port over one CreateTopics: at most one in flight, none while the topic exists. A failed
 * attempt (say, no broker unfenced yet) is only logged; the next FindCoordinator tries again, as clients retry.
 */
export function offsetsTopicCreator(options: OffsetsTopicCreatorOptions): EnsureOffsetsTopic {
  let creating = false;
  return () => {
    if (creating || options.exists()) return;
    creating = true;
    void options
      .create(options.spec)
      .then(
        ({ errorCode, errorMessage }) => {
          if (errorCode !== ErrorCode.NONE && errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
            options.logger.info({ errorCode, reason: errorMessage }, `Cannot create ${OFFSETS_TOPIC} yet`);
          }
        },
        (err: unknown) => options.logger.warn({ err }, `Cannot create ${OFFSETS_TOPIC} yet`),
      )
      .finally(() => {
        creating = false;
      });
  };
}
