import { PartitionChangeRecord, type MetadataRecordAndVersion } from "../protocol/index.ts";
import type { MetadataImage, PartitionRegistration } from "../metadata/image/index.ts";
import { RECORD_VERSION } from "./features.ts";
import { record } from "./records.ts";

// Leader and ISR changes when a broker stops or starts being usable (Kafka's ReplicationControlManager
// generateLeaderAndIsrUpdates with ELR off): a broker leaving is taken out of every ISR it is in, except that the last
// ISR member stays (an empty ISR would lose track of who has the data); a partition it led gets the first replica
// (in replica order) that is still in the ISR and usable, or no leader (-1). A broker coming back leads the partitions
// that have no leader and whose ISR holds it. A new leader is only ever taken from the ISR: no unclean election.

export const NO_LEADER = -1;
/** PartitionChangeRecord's "leader unchanged". */
const NO_LEADER_CHANGE = -2;

export interface PartitionRef {
  readonly topicId: string;
  readonly partition: number;
  readonly registration: PartitionRegistration;
}

function partitionsWhere(image: MetadataImage, test: (p: PartitionRegistration) => boolean): PartitionRef[] {
  const out: PartitionRef[] = [];
  for (const topic of image.topicsById.values()) {
    for (const [partition, registration] of topic.partitions) {
      if (test(registration)) out.push({ topicId: topic.id, partition, registration });
    }
  }
  return out;
}

function change(ref: PartitionRef, isr: readonly number[] | null, leader: number): MetadataRecordAndVersion {
  return record(
    PartitionChangeRecord,
    {
      topicId: ref.topicId,
      partitionId: ref.partition,
      ...(isr === null ? {} : { isr: [...isr] }),
      ...(leader === NO_LEADER_CHANGE ? {} : { leader }),
    },
    RECORD_VERSION.partitionChange,
  );
}

/** Takes `brokerId` out of ISRs and leaderships; `usable` says which other brokers may lead. */
export function removeBrokerFromPartitions(
  image: MetadataImage,
  brokerId: number,
  usable: (id: number) => boolean,
): MetadataRecordAndVersion[] {
  const records: MetadataRecordAndVersion[] = [];
  for (const ref of partitionsWhere(image, (p) => p.isr.includes(brokerId) || p.leader === brokerId)) {
    const { registration: p } = ref;
    const remaining = p.isr.filter((id) => id !== brokerId);
    const isr = remaining.length > 0 ? remaining : p.isr;
    let leader = NO_LEADER_CHANGE;
    if (p.leader === brokerId) {
      leader = p.replicas.find((id) => id !== brokerId && isr.includes(id) && usable(id)) ?? NO_LEADER;
    }
    const isrChanged = isr.length !== p.isr.length;
    if (isrChanged || leader !== NO_LEADER_CHANGE) records.push(change(ref, isrChanged ? isr : null, leader));
  }
  return records;
}

/** Elects `brokerId` where a partition has no leader and its ISR holds it. */
export function electLeaderlessPartitions(image: MetadataImage, brokerId: number): MetadataRecordAndVersion[] {
  return partitionsWhere(image, (p) => p.leader === NO_LEADER && p.isr.includes(brokerId)).map((ref) =>
    change(ref, null, brokerId),
  );
}

/** Whether `brokerId` leads any partition. */
export function leadsAny(image: MetadataImage, brokerId: number): boolean {
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions.values()) if (p.leader === brokerId) return true;
  }
  return false;
}
