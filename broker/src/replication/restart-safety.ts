// Restart safety (issue 13): may this broker stop now, and has it caught up since it started? Decided from the
// metadata image alone (pure), answered on the metrics port as GET /v1/restart-safety (docs/operations.md).

import type { MetadataImage } from "../metadata/image/metadata-image.ts";

export interface PartitionIsr {
  readonly topic: string;
  readonly partition: number;
  readonly isr: readonly number[];
  readonly minInsyncReplicas: number;
}

export interface RestartSafety {
  readonly brokerId: number;
  /** True when no partition whose ISR holds this broker would fall below min.insync.replicas without it. */
  readonly canStop: boolean;
  readonly canStopReasons: readonly string[];
  /** Partitions whose ISR stopping this broker would take below their effective min.insync.replicas. */
  readonly blockingPartitions: readonly PartitionIsr[];
  /**
   * Partitions whose replication factor is at most their min.insync.replicas: stopping any of their replicas takes
   * them below it whatever anyone waits for, so they are listed but do not block.
   */
  readonly unavoidablePartitions: readonly PartitionIsr[];
  /** True once logs are recovered, the broker is registered and unfenced, and in the ISR of all its partitions. */
  readonly caughtUp: boolean;
  readonly caughtUpReasons: readonly string[];
}

export interface RestartSafetyInput {
  readonly brokerId: number;
  readonly image: MetadataImage;
  /** The topic's min.insync.replicas (topic override, else the broker's). */
  readonly minInsyncReplicas: (topic: string) => number;
  /** The broker's own view of its registration (BrokerLifecycle state). */
  readonly lifecycle: string;
}

/** At most this many partitions are named in each reason list; the partition arrays hold them all. */
const NAMED = 20;

export function restartSafety(input: RestartSafetyInput): RestartSafety {
  const { brokerId, image } = input;
  const blocking: PartitionIsr[] = [];
  const unavoidable: PartitionIsr[] = [];
  const outOfIsr: string[] = [];
  for (const topic of image.topicsById.values()) {
    for (const [partition, p] of topic.partitions) {
      if (!p.replicas.includes(brokerId)) continue;
      if (!p.isr.includes(brokerId)) {
        outOfIsr.push(`${topic.name}-${partition}`);
        continue;
      }
      // Kafka's effective min ISR: never more than the replication factor.
      const min = Math.min(input.minInsyncReplicas(topic.name), p.replicas.length);
      if (p.isr.length - 1 >= min) continue;
      const entry = { topic: topic.name, partition, isr: [...p.isr], minInsyncReplicas: min };
      (p.replicas.length > min ? blocking : unavoidable).push(entry);
    }
  }
  const canStopReasons = blocking
    .slice(0, NAMED)
    .map(
      (b) =>
        `${b.topic}-${b.partition}: ISR [${b.isr.join(", ")}] would fall below min.insync.replicas=${b.minInsyncReplicas}`,
    );
  if (blocking.length > NAMED) canStopReasons.push(`and ${blocking.length - NAMED} more partitions`);

  const caughtUpReasons: string[] = [];
  const registration = image.brokers.get(brokerId);
  if (registration === undefined) caughtUpReasons.push("not registered with the controller");
  else if (registration.fenced || input.lifecycle !== "running")
    caughtUpReasons.push(`fenced (registration state: ${input.lifecycle})`);
  if (outOfIsr.length > 0) {
    const named = outOfIsr.slice(0, NAMED).join(", ");
    const more = outOfIsr.length > NAMED ? ` and ${outOfIsr.length - NAMED} more` : "";
    caughtUpReasons.push(`not in the ISR of ${named}${more}`);
  }
  return {
    brokerId,
    canStop: blocking.length === 0,
    canStopReasons,
    blockingPartitions: blocking,
    unavoidablePartitions: unavoidable,
    caughtUp: caughtUpReasons.length === 0,
    caughtUpReasons,
  };
}

/** The answer of a broker still starting: its logs are being recovered or it is not yet registered and serving. */
export function startingRestartSafety(brokerId: number): RestartSafety {
  const reason = "the broker is starting: log recovery, registration or its first metadata has not finished";
  return {
    brokerId,
    canStop: false,
    canStopReasons: [reason],
    blockingPartitions: [],
    unavoidablePartitions: [],
    caughtUp: false,
    caughtUpReasons: [reason],
  };
}
