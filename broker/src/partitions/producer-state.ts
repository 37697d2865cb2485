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

/** Bounds the refused batches remembered per producer (clients pipeline at most five batches per partition). */
const MAX_REFUSED_BATCHES = 16;
/**
 * Bounds the producers remembered per partition: a replica that never leads again keeps its entries until then, and
 * short-lived producers would otherwise accumulate there. The oldest go first.
 */
const MAX_REFUSED_PRODUCERS = 1024;

/**
 * The one rule for idempotent batches refused before their sequence was checked, with an error that tells the client
 * they were not written and to retry (this broker did not lead the partition yet, the ISR was too small, the disk was
 * full). Clients pipeline up to five batches per partition; when the refusal's cause is gone by the time the next one
 * arrives, that one is out of order only because of the refusal, and Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER there.
 * librdkafka takes that answer on a batch behind the head as a reason to bump its epoch and renumber every
 * unacknowledged message on every partition, so one already written but answered NOT_LEADER_OR_FOLLOWER (its leader
 * moved while it waited for the ISR, which Kafka answers that way too) is written a second time. Refused as its
 * predecessor was, the batch is resent in order instead.
 *
 * Kept per partition beside the ProducerStateTable, not in it: it says what was not written, which the log cannot
 * rebuild. Per producer: the epoch, and each refused batch's first sequence with its error, until one of the
 * producer's batches is appended here.
 */
export class RetriableRefusals {
  private readonly byProducer = new Map<bigint, { readonly epoch: number; readonly errors: Map<number, number> }>();

  /** A batch of the producer was refused unwritten with `errorCode`. */
  refused(producerId: bigint, epoch: number, firstSequence: number, errorCode: number): void {
    let refused = this.byProducer.get(producerId);
    if (refused?.epoch !== epoch) {
      refused = { epoch, errors: new Map() };
      // Re-inserted, so the producers are kept in the order they were last refused.
      this.byProducer.delete(producerId);
      this.byProducer.set(producerId, refused);
      const oldestProducer = this.byProducer.keys().next();
      if (this.byProducer.size > MAX_REFUSED_PRODUCERS && oldestProducer.done !== true) {
        this.byProducer.delete(oldestProducer.value);
      }
    }
    refused.errors.delete(firstSequence);
    refused.errors.set(firstSequence, errorCode);
    const oldest = refused.errors.keys().next();
    if (refused.errors.size > MAX_REFUSED_BATCHES && oldest.done !== true) refused.errors.delete(oldest.value);
  }

  /** A batch of the producer was appended: its earlier refusals explain nothing any more. */
  appended(producerId: bigint): void {
    this.byProducer.delete(producerId);
  }

  /**
   * The error to refuse a batch with whose sequence check failed (`verdict`) because exactly the batch it expected
   * instead was refused unwritten in the same epoch; undefined for any other failure.
   */
  explain(producerId: bigint, epoch: number, verdict: SequenceVerdict): number | undefined {
    if (verdict.kind !== "error" || verdict.expectedSequence === undefined) return undefined;
    const refused = this.byProducer.get(producerId);
    return refused?.epoch === epoch ? refused.errors.get(verdict.expectedSequence) : undefined;
  }
}
