import { ErrorCode } from "../protocol/errors.ts";

// Idempotent-producer bookkeeping for one partition, following Kafka's ProducerStateManager: per producer id, the
// current epoch and the last five batches' sequence ranges, so a retried batch is answered with its original offset
// instead of being written twice.

const MAX_CACHED_BATCHES = 5;
const INT32_MAX = 0x7fffffff;

export interface CachedBatch {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  /** The LogAppendTime the batch got, or -1 for CreateTime. */
  readonly logAppendTime: bigint;
}

interface ProducerEntry {
  epoch: number;
  batches: CachedBatch[];
}

export type SequenceVerdict =
  | { readonly kind: "append" }
  | { readonly kind: "duplicate"; readonly batch: CachedBatch }
  | {
      readonly kind: "error";
      readonly errorCode: number;
      readonly message: string;
      /** OUT_OF_ORDER_SEQUENCE_NUMBER within the current epoch: the sequence the table expected instead. */
      readonly expectedSequence?: number;
    };

function nextSequence(sequence: number): number {
  return sequence === INT32_MAX ? 0 : sequence + 1;
}

function lastSequenceOf(firstSequence: number, recordCount: number): number {
  const last = firstSequence + recordCount - 1;
  return last > INT32_MAX ? last - INT32_MAX - 1 : last;
}

export class ProducerStateTable {
  private readonly producers = new Map<bigint, ProducerEntry>();

  /** Decides what to do with a batch from an idempotent producer, before it is appended. */
  check(producerId: bigint, epoch: number, firstSequence: number, recordCount: number): SequenceVerdict {
    const entry = this.producers.get(producerId);
    // No state (new producer, or state expired): Kafka accepts any sequence.
    if (!entry) return { kind: "append" };
    if (epoch < entry.epoch) {
      return {
        kind: "error",
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer ${producerId} epoch ${epoch} is older than the current epoch ${entry.epoch}`,
      };
    }
    if (epoch > entry.epoch) {
      if (firstSequence !== 0) {
        return {
          kind: "error",
          errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          message: `producer ${producerId} started epoch ${epoch} at sequence ${firstSequence} instead of 0`,
        };
      }
      return { kind: "append" };
    }
    const lastSequence = lastSequenceOf(firstSequence, recordCount);
    const duplicate = entry.batches.find((b) => b.firstSequence === firstSequence && b.lastSequence === lastSequence);
    if (duplicate) return { kind: "duplicate", batch: duplicate };
    const latest = entry.batches[entry.batches.length - 1];
    if (latest && firstSequence !== nextSequence(latest.lastSequence)) {
      const expectedSequence = nextSequence(latest.lastSequence);
      return {
        kind: "error",
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${producerId} sent sequence ${firstSequence}, expected ${expectedSequence}`,
        expectedSequence,
      };
    }
    return { kind: "append" };
  }

  /** Records an appended batch (also used to rebuild the table from the log after a restart). */
  record(
    producerId: bigint,
    epoch: number,
    firstSequence: number,
    recordCount: number,
    batch: Omit<CachedBatch, "firstSequence" | "lastSequence">,
  ): void {
    let entry = this.producers.get(producerId);
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.producers.set(producerId, entry);
    } else if (epoch < entry.epoch) {
      return;
    }
    entry.batches.push({ ...batch, firstSequence, lastSequence: lastSequenceOf(firstSequence, recordCount) });
    if (entry.batches.length > MAX_CACHED_BATCHES) entry.batches.shift();
  }

  /** Forgets producers whose batches all lie before `offset` (their data was deleted or truncated). */
  truncateTo(offset: bigint): void {
    for (const [id, entry] of this.producers) {
      entry.batches = entry.batches.filter((b) => b.lastOffset < offset);
      if (entry.batches.length === 0) this.producers.delete(id);
    }
  }

  /** The producer's current epoch on this partition, undefined when it has no state here. */
  epochOf(producerId: bigint): number | undefined {
    return this.producers.get(producerId)?.epoch;
  }

  get size(): number {
    return this.producers.size;
  }
}
