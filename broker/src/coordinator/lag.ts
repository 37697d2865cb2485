import type { CommittedOffset } from "./types.ts";

/** The log end offset of a partition, or null when the partition does not exist (its lag is then not reported). */
export type LogEndOffsets = (topic: string, partition: number) => bigint | null;

export interface PartitionLag {
  groupId: string;
  topic: string;
  partition: number;
  committedOffset: bigint;
  logEndOffset: bigint;
  /** Never negative: a commit ahead of the log (e.g. after truncation) counts as caught up. */
  lag: bigint;
}

/** Lag of each committed offset against its partition's log end offset, for the consumer-group lag metric. */
export function computeLag(offsets: Iterable<CommittedOffset>, logEndOffset: LogEndOffsets): PartitionLag[] {
  const lags: PartitionLag[] = [];
  for (const o of offsets) {
    const end = logEndOffset(o.topic, o.partition);
    if (end === null) continue;
    const lag = end > o.offset ? end - o.offset : 0n;
    lags.push({
      groupId: o.groupId,
      topic: o.topic,
      partition: o.partition,
      committedOffset: o.offset,
      logEndOffset: end,
      lag,
    });
  }
  return lags;
}
