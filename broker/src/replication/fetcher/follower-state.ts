import type { EpochEndOffset } from "../../log/index.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { BATCH_HEADER_SIZE, BATCH_OFFSET } from "../../protocol/records/batch-header.ts";
import { splitBatches } from "../../protocol/records/split.ts";

// The follower's decisions (Kafka's AbstractFetcherThread and ReplicaFetcherThread, KIP-320 truncation), pure: what to
// fetch next, and what a partition's answer from the leader asks of the local log. The fetcher (replica-fetcher.ts)
// carries the decisions out; time comes in as a value.

/** What the decisions read of a follower's log; PartitionLog has it. */
export interface FollowerLogView {
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  latestEpoch(): number | undefined;
  endOffsetForEpoch(epoch: number): EpochEndOffset;
}

/**
 * Where a partition's fetching stands. Fetching partitions go into every request; a delayed one waits out a backoff
 * after an error; a fenced one (the leader has a newer epoch than this replica knows) waits for the image to name a
 * newer leader epoch.
 */
export type FetchStatus =
  { readonly kind: "fetching" } | { readonly kind: "delayed"; readonly until: number } | { readonly kind: "fenced" };

export interface PartitionFetchState {
  readonly topicId: string;
  readonly topic: string;
  readonly partition: number;
  /** The leader epoch this replica follows in, from the image; sent as currentLeaderEpoch. */
  readonly leaderEpoch: number;
  readonly status: FetchStatus;
}

export function isFetchable(state: PartitionFetchState, now: number): boolean {
  return state.status.kind === "fetching" || (state.status.kind === "delayed" && state.status.until <= now);
}

/** When the earliest delayed partition becomes fetchable again; undefined if none is delayed. */
export function nextRetryAt(states: Iterable<PartitionFetchState>): number | undefined {
  let earliest: number | undefined;
  for (const s of states) {
    if (s.status.kind === "delayed" && (earliest === undefined || s.status.until < earliest)) earliest = s.status.until;
  }
  return earliest;
}

/** The Fetch request entry for a partition: from the log end, naming the log's latest epoch (KIP-320). */
export interface PartitionFetch {
  readonly partition: number;
  readonly currentLeaderEpoch: number;
  readonly fetchOffset: bigint;
  readonly lastFetchedEpoch: number;
  readonly logStartOffset: bigint;
  readonly partitionMaxBytes: number;
}

export function partitionFetch(state: PartitionFetchState, log: FollowerLogView, maxBytes: number): PartitionFetch {
  return {
    partition: state.partition,
    currentLeaderEpoch: state.leaderEpoch,
    fetchOffset: log.logEndOffset,
    lastFetchedEpoch: log.latestEpoch() ?? -1,
    logStartOffset: log.logStartOffset,
    partitionMaxBytes: maxBytes,
  };
}

/** The parts of a Fetch response partition the decisions read. */
export interface PartitionAnswer {
  readonly errorCode: number;
  readonly highWatermark: bigint;
  readonly logStartOffset?: bigint;
  readonly divergingEpoch?: { readonly epoch?: number; readonly endOffset?: bigint };
  readonly records: Buffer | null;
}

/** What to do with one partition's answer. */
export type FollowerAction =
  /** Append `records` (whole batches from the fetch offset, maybe none), then take the leader's HW and log start. */
  | {
      readonly kind: "append";
      readonly records: Buffer;
      readonly leaderHighWatermark: bigint;
      readonly leaderLogStartOffset: bigint;
    }
  /** The logs diverge (KIP-320): cut the local log at `offset`; the next fetch goes on from there. */
  | { readonly kind: "truncate"; readonly offset: bigint }
  /** The fetch offset is outside the leader's log: ask the leader for its log start and end (outOfRangeAction). */
  | { readonly kind: "out-of-range" }
  /** The leader is in a newer epoch than this replica knows: stop until the image names it. */
  | { readonly kind: "fence" }
  /** Retry after the backoff: the leader is not (yet) leading in this epoch, or the answer was an error. */
  | { readonly kind: "delay"; readonly until: number; readonly errorCode: number }
  /** The partition's state changed while the request was out: the answer is stale and ignored. */
  | { readonly kind: "ignore" };

/** A diverging epoch is present when the leader set either field (Kafka's defaults are -1 for both). */
function divergence(answer: PartitionAnswer): { epoch: number; endOffset: bigint } | undefined {
  const d = answer.divergingEpoch;
  const epoch = d?.epoch ?? -1;
  const endOffset = d?.endOffset ?? -1n;
  return epoch < 0 && endOffset < 0n ? undefined : { epoch, endOffset };
}

/**
 * Decides what a partition's answer asks for. `sent` is what the request carried, `state` where the partition stands
 * now: an answer to a request made for another leader epoch or from another offset than the log's end is stale.
 */
export function decide(
  sent: PartitionFetch,
  state: PartitionFetchState | undefined,
  log: FollowerLogView,
  answer: PartitionAnswer,
  now: number,
  backoffMs: number,
): FollowerAction {
  if (state === undefined || state.leaderEpoch !== sent.currentLeaderEpoch || log.logEndOffset !== sent.fetchOffset)
    return { kind: "ignore" };
  switch (answer.errorCode) {
    case ErrorCode.NONE: {
      const diverging = divergence(answer);
      if (diverging !== undefined) return { kind: "truncate", offset: truncationOffset(diverging, log) };
      return {
        kind: "append",
        records: wholeBatchesFrom(answer.records, sent.fetchOffset),
        leaderHighWatermark: answer.highWatermark,
        leaderLogStartOffset: answer.logStartOffset ?? -1n,
      };
    }
    case ErrorCode.OFFSET_OUT_OF_RANGE:
      return { kind: "out-of-range" };
    case ErrorCode.FENCED_LEADER_EPOCH:
      return { kind: "fence" };
    default:
      // NOT_LEADER_OR_FOLLOWER and UNKNOWN_LEADER_EPOCH (the leader has not applied the image that makes it leader in
      // this epoch yet), UNKNOWN_TOPIC_*, KAFKA_STORAGE_ERROR, ...: Kafka's fetcher backs the partition off and retries.
      return { kind: "delay", until: now + backoffMs, errorCode: answer.errorCode };
  }
}

/**
 * Where to cut the log given the leader's diverging epoch (Kafka's getOffsetTruncationState): the end of that epoch
 * on both sides, whichever is lower. If this replica does not know the leader's epoch, it cuts at the end of its
 * largest epoch below it and the next fetch, naming an older lastFetchedEpoch, gets a new answer (KIP-279's
 * iteration). Never beyond the log end, and never to the replica's own high watermark (KIP-101).
 */
export function truncationOffset(diverging: { epoch: number; endOffset: bigint }, log: FollowerLogView): bigint {
  const end = log.logEndOffset;
  const min = (a: bigint, b: bigint) => (a < b ? a : b);
  // A leader that names no offset gives nothing to cut at.
  if (diverging.endOffset < 0n) return end;
  // The leader knows no epoch at or below the one asked about: its log ends (for us) at endOffset.
  if (diverging.epoch < 0) return min(diverging.endOffset, end);
  const own = log.endOffsetForEpoch(diverging.epoch);
  if (own.endOffset < 0n) return min(diverging.endOffset, end);
  if (own.epoch !== diverging.epoch) return min(own.endOffset, end);
  return min(min(own.endOffset, diverging.endOffset), end);
}

/** What to do after OFFSET_OUT_OF_RANGE, given the leader's log end and start (Kafka's fetchOffsetAndTruncate). */
export type OutOfRangeAction =
  /** This replica is ahead of the leader: cut back to the leader's end. */
  | { readonly kind: "truncate"; readonly offset: bigint }
  /** This replica is behind the leader's log start: empty the log and start where the leader's starts. */
  | { readonly kind: "start-at"; readonly offset: bigint }
  /** Nothing to change (the leader's log moved meanwhile): fetch again from the log end. */
  | { readonly kind: "none" };

export function outOfRangeAction(replicaEnd: bigint, leaderEnd: bigint, leaderStart: bigint): OutOfRangeAction {
  if (leaderEnd < replicaEnd) return { kind: "truncate", offset: leaderEnd };
  if (leaderStart > replicaEnd) return { kind: "start-at", offset: leaderStart };
  return { kind: "none" };
}

/** A follower's high watermark: the leader's, but never beyond what it holds itself. */
export function followerHighWatermark(leaderHighWatermark: bigint, logEndOffset: bigint): bigint {
  return leaderHighWatermark < logEndOffset ? leaderHighWatermark : logEndOffset;
}

/**
 * The log start offset a follower should move to, if any: the leader's (after DeleteRecords or retention there), once
 * the follower's high watermark has passed it, as Kafka's follower does.
 */
export function logStartToAdopt(
  leaderLogStartOffset: bigint,
  log: FollowerLogView,
  highWatermark: bigint,
): bigint | undefined {
  return leaderLogStartOffset > log.logStartOffset && leaderLogStartOffset <= highWatermark
    ? leaderLogStartOffset
    : undefined;
}

/**
 * The whole batches of a fetched `records` field from `fetchOffset` on: a batch cut short at the response's byte
 * limit is left for the next fetch, and batches wholly below the fetch offset are skipped.
 */
export function wholeBatchesFrom(records: Buffer | null, fetchOffset: bigint): Buffer {
  if (records === null || records.length === 0) return Buffer.alloc(0);
  const { batches } = splitBatches(records);
  let from = 0;
  let to = 0;
  for (const batch of batches) {
    // A batch too short for its header is corrupt: it stays in, and the append refuses it.
    const delta = batch.length >= BATCH_HEADER_SIZE ? batch.readInt32BE(BATCH_OFFSET.lastOffsetDelta) : 0;
    const lastOffset = batch.readBigInt64BE(BATCH_OFFSET.baseOffset) + BigInt(delta);
    if (lastOffset < fetchOffset) from += batch.length;
    to += batch.length;
  }
  return records.subarray(from, to);
}

/**
 * Whether a follower counts itself in sync for the replication throttle (Kafka's PartitionFetchState.isReplicaInSync):
 * its log reached the leader's high watermark at the last answer that brought records, or at the first answer. Until
 * the first answer it is not in sync; an empty answer later keeps what was known.
 */
export function inSyncAfterAnswer(
  previous: boolean | undefined,
  appendedBytes: number,
  leaderHighWatermark: bigint,
  logEndOffset: bigint,
): boolean {
  if (previous !== undefined && appendedBytes === 0) return previous;
  return leaderHighWatermark <= logEndOffset;
}
