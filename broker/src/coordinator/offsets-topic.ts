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
 * The one way `__consumer_offsets` gets created: makes sure the topic exists, creating it from `spec` when it does not,
 * and answers its partition count. An existing topic keeps the count it has whatever `spec` says, as in Kafka, because
 * a group's partition is its id's hash modulo that count: changing it would strand every group. The broker implements
 * it (startBroker) with a CreateTopics to the active controller (ADR 22).
 */
export type EnsureOffsetsTopic = (spec: OffsetsTopicSpec) => Promise<number>;

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
