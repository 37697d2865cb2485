import type { Logger } from "pino";
import {
  LogClosedError,
  partitionDirName as partitionKey,
  StorageError,
  type LogConfig,
  type LogManager,
  type PartitionLog,
} from "../log/index.ts";
import { ErrorCode } from "../protocol/errors.ts";
import {
  readBatchHeader,
  splitBatches,
  type BatchHeader,
  TIMESTAMP_TYPE_LOG_APPEND,
  validateProduceRecords,
  type RecordError,
} from "../protocol/records/index.ts";
import type { PartitionRegistration } from "../metadata/image/index.ts";
import type { IsrChangeSender } from "../replication/alter-partition-manager.ts";
import { DelayedProduces, REPLICATED, type ReplicationOutcome } from "../replication/delayed-produce.ts";
import { LeaderState, type BrokerLookup, type IsrProposal } from "../replication/leader-state.ts";
import type { FollowerView } from "../replication/replica-selector.ts";
import type { GroupStorePartition } from "./offsets-store.ts";
import { ProducerStateTable, RetriableRefusals } from "./producer-state.ts";

// Owns the partition logs of this node and what sits around each one: this replica's role and leader epoch (set by
// the partition publisher from the metadata image), the producer state for idempotence, a lock that makes
// check-then-append atomic, the waiters of Fetch long-polls, and on partitions this node leads the leader state of
// replication (ADR 24): followers, ISR and the high watermark, which this class writes into the log.

const PRODUCER_STATE_SCAN_BYTES = 1024 * 1024;

export interface ProduceOutcome {
  errorCode: number;
  errorMessage: string | null;
  baseOffset: bigint;
  /** Records refused by a per-record rule (Produce v8+ RecordErrors). */
  recordErrors: readonly RecordError[];
  /** -1 unless the topic uses LogAppendTime. */
  logAppendTime: bigint;
  logStartOffset: bigint;
  /**
   * acks=all, appended (or a duplicate of an appended batch) but not yet replicated to the ISR: resolves when the
   * high watermark passes the batch (NONE) or with the error the client gets instead (already settled when the ISR
   * was too small right after the append). Holds no lock.
   */
  replicated?: Promise<ReplicationOutcome>;
}

/** How a batch is appended to a partition this node leads (appendAsLeader). */
export interface LeaderAppendOptions {
  /** LogAppendTime: the log stamps the batch with its clock. */
  logAppendTime: boolean;
  /** -1 (all): the ISR must have the batch; 0 and 1 answer after the leader's append. Defaults to 1. */
  acks?: number;
  /** acks=all: how long to wait for the ISR (the request's timeout). */
  timeoutMs?: number;
  /** The leader epoch the writer expects (the group coordinator's shard's): refused NOT_LEADER_OR_FOLLOWER otherwise. */
  leaderEpoch?: number;
}

export interface ProduceOptions extends LeaderAppendOptions {
  maxMessageBytes: number;
  /** cleanup.policy includes compact: every record needs a key. */
  compacted: boolean;
  /**
   * CreateTime topics: how far a record's timestamp may lie before / after the broker's clock (KIP-937's
   * message.timestamp.before.max.ms / .after.max.ms); a record outside is INVALID_TIMESTAMP. Unbounded when absent.
   */
  timestampBeforeMaxMs?: number;
  timestampAfterMaxMs?: number;
}

interface PartitionState {
  log: PartitionLog;
  producers: ProducerStateTable;
  lock: Promise<unknown>;
  /** The last append failed for lack of storage; logged once when that starts and once when it ends. */
  storageFailing: boolean;
  /** Idempotent batches refused before their sequence was checked, and the rule about their successors. */
  refusals: RetriableRefusals;
}

/** Partitions are keyed as storage names their directories, `<topic>-<partition>`. */
export { partitionDirName as partitionKey } from "../log/index.ts";

/** This node's part in a partition, from the image's latest change of it. */
export interface ReplicaRole {
  readonly leader: boolean;
  readonly leaderEpoch: number;
}

/** What replication decisions read from the latest metadata image; the partition publisher sets it. */
export interface ReplicationView {
  /** Registered brokers, for ISR eligibility (KIP-903). */
  readonly brokers: BrokerLookup;
  /** The topic's min.insync.replicas. */
  readonly minInsyncReplicas: (topic: string) => number;
  /** The topic's id, for AlterPartition. */
  readonly topicId: (topic: string) => string | undefined;
}

/** Where a leader's ISR changes go and who it is, once the broker is registered with the controller. */
export interface ReplicationWiring {
  readonly isrChanges: IsrChangeSender;
  /** This broker's epoch (its registration), carried in AlterPartition. */
  readonly brokerEpoch: () => bigint;
}

/** Told of a log dir taken offline and the partitions it holds. */
export type OfflineListener = (logDir: string, partitions: readonly { topic: string; partition: number }[]) => void;

/** A follower's fetch of one partition this node leads (Fetch with a replica id). */
export interface FollowerFetch {
  readonly replicaId: number;
  /** The fetch's broker epoch (ReplicaState, v15+), -1 when it carries none. */
  readonly brokerEpoch: bigint;
  readonly fetchOffset: bigint;
  /** The follower's log start offset; -1 when the fetch carries none. */
  readonly logStartOffset: bigint;
  /** The epoch of the follower's last fetched batch (v12+), -1 when absent. */
  readonly lastFetchedEpoch: number;
  /** The request named the current leader epoch (it passed the epoch check). */
  readonly hasLeaderEpoch: boolean;
}

/** How a follower's fetch is answered before reading: read to the log end, a divergence, or an error. */
export type FollowerFetchOutcome =
  | { readonly kind: "read" }
  | { readonly kind: "diverging"; readonly epoch: number; readonly endOffset: bigint }
  | { readonly kind: "error"; readonly errorCode: number };

export interface PartitionManagerOptions {
  /** Wall clock for follower lag and produce timestamp bounds; tests inject one. */
  readonly clock?: () => number;
  /** replica.lag.time.max.ms */
  readonly replicaLagTimeMaxMs?: number;
}

/** Kafka's default replica.lag.time.max.ms. */
export const DEFAULT_REPLICA_LAG_TIME_MAX_MS = 30_000;

const NO_IMAGE_YET: ReplicationView = {
  brokers: () => undefined,
  minInsyncReplicas: () => 1,
  topicId: () => undefined,
};

interface LedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly state: LeaderState;
}

export class PartitionManager {
  private readonly state = new Map<string, PartitionState>();
  private readonly roles = new Map<string, ReplicaRole>();
  private readonly waiters = new Set<{ keys: ReadonlySet<string>; wake: () => void }>();
  private readonly led = new Map<string, LedPartition>();
  private view: ReplicationView = NO_IMAGE_YET;
  private readonly clock: () => number;
  private readonly replicaLagTimeMaxMs: number;
  private wiring: ReplicationWiring | undefined;
  private readonly delayed = new DelayedProduces();
  private shrinkTimer: NodeJS.Timeout | undefined;
  private readonly offlineListeners: OfflineListener[] = [];

  constructor(
    private readonly logs: LogManager,
    private readonly logger: Logger,
    options: PartitionManagerOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.replicaLagTimeMaxMs = options.replicaLagTimeMaxMs ?? DEFAULT_REPLICA_LAG_TIME_MAX_MS;
  }

  /** The image's brokers and topic configs as replication decisions see them from now on. */
  setReplicationView(view: ReplicationView): void {
    this.view = view;
  }

  /**
   * Leaders start proposing ISR changes through `wiring`: expansions when a follower catches up, and shrinks from a
   * check every replica.lag.time.max.ms / 2 (Kafka's isr-expiration task).
   */
  startReplication(wiring: ReplicationWiring): void {
    this.wiring = wiring;
    // Partitions that became leaders RECOVERING before ISR changes could be sent.
    for (const [key, led] of this.led) this.proposeRecovered(key, led);
    if (this.shrinkTimer !== undefined) clearInterval(this.shrinkTimer);
    this.shrinkTimer = setInterval(() => this.shrinkIsrs(), Math.max(1, Math.floor(this.replicaLagTimeMaxMs / 2)));
    this.shrinkTimer.unref();
  }

  stopReplication(): void {
    if (this.shrinkTimer !== undefined) clearInterval(this.shrinkTimer);
    this.shrinkTimer = undefined;
    this.wiring = undefined;
  }

  /** Proposes dropping the out-of-sync followers from the ISR of every partition this node leads. */
  shrinkIsrs(): void {
    const wiring = this.wiring;
    if (wiring === undefined) return;
    for (const [key, led] of this.led) {
      const log = this.logs.get(led.topic, led.partition);
      if (!log || log.isClosed) continue;
      // A RECOVERED proposal the controller did not take (its answer settled nothing) is made again here.
      this.proposeRecovered(key, led);
      const proposal = led.state.proposeShrink(log.logEndOffset, this.clock(), wiring.brokerEpoch());
      if (proposal === undefined) continue;
      this.logger.info(
        { topic: led.topic, partition: led.partition, isr: led.state.committedIsr, newIsr: led.state.minimalIsr() },
        "Shrinking the ISR: followers fell behind for longer than replica.lag.time.max.ms",
      );
      this.sendIsrChange(key, led, proposal);
    }
  }

  /** KIP-704: tells the controller that a partition led here after an unclean election has recovered. */
  private proposeRecovered(key: string, led: LedPartition): void {
    const wiring = this.wiring;
    if (wiring === undefined) return;
    const proposal = led.state.proposeRecovered(wiring.brokerEpoch());
    if (proposal === undefined) return;
    this.logger.info(
      { topic: led.topic, partition: led.partition, leaderEpoch: led.state.leaderEpoch },
      "Leading a partition elected uncleanly (RECOVERING): its log is loaded, reporting it RECOVERED",
    );
    this.sendIsrChange(key, led, proposal);
  }

  /**
   * Sends an ISR change the leader state made pending. If it cannot be sent (no topic id, or a change of the partition
   * is still in flight) it is dropped again, to be proposed anew later.
   */
  private sendIsrChange(key: string, led: LedPartition, proposal: IsrProposal): void {
    const topicId = this.view.topicId(led.topic);
    const submitted =
      topicId !== undefined &&
      this.wiring?.isrChanges.submit({ topicId, partition: led.partition, proposal }, (errorCode) => {
        // Leadership moved on meanwhile: the new leader state knows nothing of this change.
        if (this.led.get(key) !== led) return "done";
        const verdict = led.state.proposalAnswered(proposal, errorCode);
        if (verdict === "done") this.advanceHighWatermark(key);
        return verdict;
      }) === true;
    if (!submitted) led.state.proposalAnswered(proposal, ErrorCode.OPERATION_NOT_ATTEMPTED);
  }

  /**
   * A follower's fetch of a partition this node leads, taken at request arrival (Kafka's Partition.fetchRecords for
   * a follower): it must be an assigned replica; with a last fetched epoch, the leader's epoch cache decides whether
   * the follower's log diverged (KIP-320: the largest epoch not above it ends before the fetch offset, or is an older
   * epoch); otherwise the follower's position is recorded, which may move the HW and let it join the ISR.
   */
  followerFetch(topic: string, partition: number, fetch: FollowerFetch): FollowerFetchOutcome {
    const key = partitionKey(topic, partition);
    const led = this.led.get(key);
    const log = led && this.logs.get(topic, partition);
    if (!led || !log) return { kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (led.state.follower(fetch.replicaId) === undefined) {
      // Kafka: a replica not (yet) in the assignment retries; UNKNOWN_LEADER_EPOCH when the epoch matched.
      const errorCode = fetch.hasLeaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.NOT_LEADER_OR_FOLLOWER;
      return { kind: "error", errorCode };
    }
    if (fetch.lastFetchedEpoch >= 0) {
      const end = log.endOffsetForEpoch(fetch.lastFetchedEpoch);
      if (end.epoch < 0 || end.endOffset < 0n || fetch.fetchOffset < log.logStartOffset)
        return { kind: "error", errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
      if (end.epoch < fetch.lastFetchedEpoch || end.endOffset < fetch.fetchOffset)
        return { kind: "diverging", epoch: end.epoch, endOffset: end.endOffset };
    }
    // Out of range: answered by the read, and the follower's position is not taken (as in Kafka).
    if (fetch.fetchOffset < log.logStartOffset || fetch.fetchOffset > log.logEndOffset) return { kind: "read" };
    const verdict = led.state.recordFetch(fetch.replicaId, {
      fetchOffset: fetch.fetchOffset,
      ...(fetch.logStartOffset >= 0n && { logStartOffset: fetch.logStartOffset }),
      leaderEndOffset: log.logEndOffset,
      nowMs: this.clock(),
      brokerEpoch: fetch.brokerEpoch,
      registeredEpoch: this.view.brokers(fetch.replicaId)?.epoch,
    });
    if (!verdict.ok) return { kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (verdict.endChanged) this.advanceHighWatermark(key);
    const wiring = this.wiring;
    if (wiring !== undefined) {
      const proposal = led.state.proposeExpansion(fetch.replicaId, this.view.brokers, wiring.brokerEpoch());
      if (proposal !== undefined) {
        this.logger.info(
          { topic, partition, isr: led.state.committedIsr, follower: fetch.replicaId },
          "Expanding the ISR: a follower caught up",
        );
        this.sendIsrChange(key, led, proposal);
      }
    }
    return { kind: "read" };
  }

  /**
   * The followers of a partition this node leads, as the leader knows them from their fetches, for choosing a
   * consumer's preferred read replica (KIP-392); undefined when this node does not lead it.
   */
  followerViews(topic: string, partition: number): Omit<FollowerView, "rack">[] | undefined {
    const led = this.led.get(partitionKey(topic, partition));
    if (led === undefined) return undefined;
    const isr = led.state.committedIsr;
    return led.state.replicas.flatMap((id) => {
      const f = led.state.follower(id);
      return f === undefined
        ? []
        : [
            {
              id,
              inSync: isr.includes(id),
              logStartOffset: f.logStartOffset,
              logEndOffset: f.logEndOffset,
              lastCaughtUpTimeMs: f.lastCaughtUpTimeMs,
            },
          ];
    });
  }

  /** Called with each log dir this node takes offline after a storage failure of a replicated partition. */
  onLogDirOffline(listener: OfflineListener): void {
    this.offlineListeners.push(listener);
  }

  /** The log dir holding the partition's log, if it has one. */
  logDirOf(topic: string, partition: number): string | undefined {
    return this.logs.logDirOf(topic, partition);
  }

  /** The log dirs taken offline since the process started. */
  offlineLogDirs(): string[] {
    return this.logs.offlineLogDirs();
  }

  /**
   * This node's replica of the partition lives in an offline log dir and has no log open here (its dir failed at
   * start-up): it is neither created elsewhere nor served, and answers KAFKA_STORAGE_ERROR.
   */
  markReplicaOffline(topic: string, partition: number): void {
    this.logs.markReplicaOffline(topic, partition);
  }

  /** KAFKA_STORAGE_ERROR for a partition whose log dir is offline; undefined while it is served. */
  offlineError(topic: string, partition: number): { errorCode: number; message: string } | undefined {
    if (!this.logs.isOffline(topic, partition)) return undefined;
    return {
      errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
      message: `the log dir of ${topic}-${partition} on this broker is offline`,
    };
  }

  /**
   * A write to the partition's log dir failed: the dir goes offline, as Kafka's LogDirFailureChannel takes it. Its
   * partitions answer KAFKA_STORAGE_ERROR from now on, acks=all waits on them end, and the listeners (the broker's
   * heartbeat, its replica fetchers) learn of it.
   */
  private takeLogDirOffline(topic: string, partition: number, err: StorageError): void {
    const logDir = this.logs.logDirOf(topic, partition);
    if (logDir === undefined || !this.logs.markLogDirOffline(logDir)) return;
    this.logger.error({ err, topic, partition, logDir }, "A write failed: the log dir goes offline");
    const refs = this.logs.partitionsIn(logDir).map((r) => ({ topic: r.topic, partition: r.partition }));
    for (const ref of refs) {
      const key = partitionKey(ref.topic, ref.partition);
      this.delayed.fail(key, {
        errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
        errorMessage: `the log dir of ${ref.topic}-${ref.partition} on this broker is offline`,
      });
      this.notify(key);
    }
    for (const listener of this.offlineListeners) listener(logDir, refs);
  }

  /** Deletes partitions found on disk that the cluster metadata does not know (left by a crash mid-delete). */
  async removeUnknown(isKnown: (topic: string, partition: number) => boolean): Promise<void> {
    for (const { topic, partition } of this.logs.partitions()) {
      if (isKnown(topic, partition)) continue;
      this.logger.warn({ topic, partition }, "Removed the log of a partition that no longer exists");
      await this.logs.deletePartition(topic, partition);
    }
  }

  /** Opens the partition's log, creating it if need be, with `config` (also applied to a log already open). */
  async createPartition(topic: string, partition: number, config: Partial<LogConfig>): Promise<void> {
    const log = await this.logs.getOrCreate(topic, partition, config);
    log.setConfig(config);
  }

  /**
   * This node leads the partition in the registration's leader epoch. A new epoch starts at the log end offset in the
   * log's leader epoch cache (Kafka's assignEpochStartOffset), so OffsetForLeaderEpoch answers for it before anything
   * is appended. The leader state starts afresh: the ISR's followers count as caught up now, the others as never.
   */
  async becomeLeader(topic: string, partition: number, registration: PartitionRegistration): Promise<void> {
    const log = this.logs.get(topic, partition);
    if (!log) throw new Error(`no log for ${topic}-${partition}`);
    const key = partitionKey(topic, partition);
    const { leaderEpoch } = registration;
    await log.assignEpochStartOffset(leaderEpoch);
    const state = new LeaderState({
      localId: registration.leader,
      assignment: registration,
      leaderEpochStartOffset: log.logEndOffset,
      highWatermark: log.highWatermark,
      nowMs: this.clock(),
      replicaLagTimeMaxMs: this.replicaLagTimeMaxMs,
    });
    const led = { topic, partition, state };
    this.led.set(key, led);
    this.roles.set(key, { leader: true, leaderEpoch });
    this.advanceHighWatermark(key);
    this.proposeRecovered(key, led);
    // acks=all produces appended in an earlier leader epoch are answered NOT_LEADER_OR_FOLLOWER.
    this.delayed.recheck(key);
  }

  /**
   * A newer image's registration of a partition this node leads in the same leader epoch: the committed ISR and
   * partition epoch it carries settle a pending ISR change, and a larger ISR may let the HW move.
   */
  updateLeadership(topic: string, partition: number, registration: PartitionRegistration): void {
    const key = partitionKey(topic, partition);
    const led = this.led.get(key);
    if (led === undefined || !led.state.applyAssignment(registration)) return;
    this.advanceHighWatermark(key);
    this.proposeRecovered(key, led);
    // The ISR may have fallen below min.insync.replicas without the HW moving.
    this.delayed.recheck(key);
  }

  /**
   * The image's brokers changed (one fenced, in controlled shutdown, or registered anew). The HW also waits for a
   * caught-up follower outside the ISR while it may join (Kafka's shouldWaitForReplicaToJoinIsr); once that follower's
   * broker is fenced it may not, and nothing else need happen on the partition (no append, no follower progress) for
   * the HW to be looked at again. Looks again now, so acks=all produces waiting on such a follower are answered when it
   * is fenced, not when their timeout ends.
   */
  brokersChanged(): void {
    for (const key of this.led.keys()) this.advanceHighWatermark(key);
  }

  /** The partitions this node leads, with the partition epoch its leader state has seen. */
  ledPartitions(): { topic: string; partition: number; partitionEpoch: number }[] {
    return [...this.led.values()].map((l) => ({
      topic: l.topic,
      partition: l.partition,
      partitionEpoch: l.state.partitionEpoch,
    }));
  }

  /** Whether a partition this node leads is short of in-sync replicas; undefined where it does not lead. */
  replicationHealth(topic: string, partition: number): { underReplicated: boolean; underMinIsr: boolean } | undefined {
    const state = this.led.get(partitionKey(topic, partition))?.state;
    if (state === undefined) return undefined;
    return {
      underReplicated: state.committedIsr.length < state.replicas.length,
      underMinIsr: state.isUnderMinIsr(this.view.minInsyncReplicas(topic)),
    };
  }

  /** The leader state of a partition this node leads. */
  leaderState(topic: string, partition: number): LeaderState | undefined {
    return this.led.get(partitionKey(topic, partition))?.state;
  }

  /**
   * Recomputes the HW of a partition this node leads and writes it into the log; if it moved, long-polls waiting for
   * the partition wake up (consumers read up to the HW).
   */
  advanceHighWatermark(key: string): void {
    const led = this.led.get(key);
    const log = led && this.logs.get(led.topic, led.partition);
    if (!led || !log || log.isClosed) return;
    const hw = led.state.maybeAdvanceHighWatermark(
      log.durableEnd,
      this.clock(),
      this.view.minInsyncReplicas(led.topic),
      this.view.brokers,
    );
    if (hw === undefined) return;
    log.updateHighWatermark(hw);
    this.notify(key);
    this.delayed.recheck(key);
  }

  /**
   * The group coordinator's writes to a partition this node leads, from a shard loaded in `leaderEpoch`: acks=all
   * appends through appendAsLeader (as a client's), waiting at most `timeoutMs` for the ISR, and the HW's progress.
   */
  leaderWrites(topic: string, partition: number, leaderEpoch: number, timeoutMs: number): GroupStorePartition {
    const key = partitionKey(topic, partition);
    return {
      append: (batch) =>
        this.appendAsLeader(topic, partition, batch, { acks: -1, timeoutMs, logAppendTime: false, leaderEpoch }),
      untilHighWatermark: async (offset, signal) => {
        // Woken by every append and HW move of the partition (notify); the timeout only bounds a missed wake-up.
        const keys = new Set([key]);
        for (;;) {
          const log = this.logs.get(topic, partition);
          const role = this.roles.get(key);
          if (signal.aborted || role?.leader !== true || role.leaderEpoch !== leaderEpoch || !log) return false;
          if (log.highWatermark >= offset) return true;
          await this.waitForData(keys, 30_000, signal);
        }
      },
    };
  }

  /**
   * This node follows the partition's leader in `leaderEpoch`; appends from clients are refused, and long-polls on
   * the partition answer now rather than at their max wait. The replica fetcher brings the leader's data
   * (appendAsFollower and the truncations below).
   */
  becomeFollower(topic: string, partition: number, leaderEpoch: number, leaderId = -1): void {
    const key = partitionKey(topic, partition);
    this.roles.set(key, { leader: false, leaderEpoch });
    this.led.delete(key);
    this.delayed.fail(key, {
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      errorMessage: `this broker no longer leads ${topic}-${partition}`,
      ...(leaderId >= 0 && { currentLeader: { leaderId, leaderEpoch } }),
    });
    this.notify(key);
  }

  role(topic: string, partition: number): ReplicaRole | undefined {
    return this.roles.get(partitionKey(topic, partition));
  }

  async deletePartition(topic: string, partition: number): Promise<void> {
    const key = partitionKey(topic, partition);
    this.state.delete(key);
    this.roles.delete(key);
    this.led.delete(key);
    this.delayed.fail(key, {
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      errorMessage: `partition ${topic}-${partition} was deleted`,
    });
    await this.logs.deletePartition(topic, partition);
    // Long-polls on the partition answer now that it is gone, rather than at their max wait.
    this.notify(key);
  }

  log(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(topic, partition);
  }

  setConfig(topic: string, partition: number, config: Partial<LogConfig>): void {
    this.logs.get(topic, partition)?.setConfig(config);
  }

  /** The per-partition state, with producer state rebuilt from the log the first time the partition is written. */
  private stateFor(topic: string, partition: number): PartitionState | undefined {
    const key = partitionKey(topic, partition);
    const existing = this.state.get(key);
    if (existing) return existing;
    const log = this.logs.get(topic, partition);
    if (!log) return undefined;
    const created: PartitionState = {
      log,
      producers: new ProducerStateTable(),
      lock: Promise.resolve(),
      storageFailing: false,
      refusals: new RetriableRefusals(),
    };
    this.state.set(key, created);
    created.lock = rebuildProducerState(log, created.producers).catch((err: unknown) =>
      this.logger.error({ err, topic, partition }, "Could not rebuild producer state; idempotence restarts fresh"),
    );
    return created;
  }

  private unknownPartition(topic: string, partition: number): ProduceOutcome {
    const offline = this.offlineError(topic, partition);
    if (offline !== undefined) return failure(offline.errorCode, offline.message);
    if (!this.logs.isClosed) {
      return failure(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${topic}-${partition}`);
    }
    const closed = this.closedLogError(topic, partition);
    return failure(closed.errorCode, closed.message);
  }

  /** Validates one Produce partition's records, then appends them (appendAsLeader). Never throws for bad client data. */
  async produce(topic: string, partition: number, records: Buffer, options: ProduceOptions): Promise<ProduceOutcome> {
    const state = this.stateFor(topic, partition);
    if (!state) return this.unknownPartition(topic, partition);
    // Validation, decompression included, runs before taking the partition lock: it needs no partition state.
    const now = this.clock();
    const verdict = await validateProduceRecords(records, {
      maxMessageBytes: options.maxMessageBytes,
      requireKeys: options.compacted,
      timestamps: options.logAppendTime
        ? undefined
        : {
            min: now - (options.timestampBeforeMaxMs ?? Infinity),
            max: now + (options.timestampAfterMaxMs ?? Infinity),
          },
    });
    if (!verdict.ok) return failure(verdict.errorCode, verdict.message, state.log.logStartOffset, verdict.recordErrors);
    // The batch is a view into the request frame; the network layer reuses that memory only after this request is
    // answered, and we append before answering, so no copy is needed.
    return this.appendAsLeader(topic, partition, verdict.batch, options, verdict.header);
  }

  /**
   * Appends one batch to a partition this node leads: the only way anything is written as leader, for clients'
   * Produce (after `produce` validated the batch) and for the group coordinator's writes to `__consumer_offsets`
   * (batches it built itself). Under the partition lock it checks leadership (and `options.leaderEpoch`), the log
   * dir and min.insync.replicas for acks=all, deduplicates idempotent batches, appends, and then moves the HW and
   * wakes the fetches parked on the partition (followers' included). A storage error takes a replicated
   * partition's log dir offline. acks=all outcomes carry the wait for the ISR in `replicated`.
   */
  async appendAsLeader(
    topic: string,
    partition: number,
    batch: Buffer,
    options: LeaderAppendOptions,
    header: BatchHeader = readBatchHeader(batch),
  ): Promise<ProduceOutcome> {
    const state = this.stateFor(topic, partition);
    if (!state) return this.unknownPartition(topic, partition);
    const key = partitionKey(topic, partition);
    const acksAll = options.acks === -1;
    const timeoutMs = options.timeoutMs ?? 0;
    const idempotent = header.producerId >= 0n;
    /** A refusal that leaves the batch unwritten and asks for a retry; remembered for idempotent producers. */
    const refuse = (errorCode: number, message: string, logStartOffset?: bigint): ProduceOutcome => {
      if (idempotent) state.refusals.refused(header.producerId, header.producerEpoch, header.baseSequence, errorCode);
      return failure(errorCode, message, logStartOffset);
    };
    return this.exclusive(state, async () => {
      // Checked under the partition lock: leadership may have moved while the request waited for it.
      const role = this.roles.get(key);
      if (!role) {
        // Deleted meanwhile (or the broker is stopping).
        const closed = this.closedLogError(topic, partition);
        return failure(closed.errorCode, closed.message);
      }
      const led = this.led.get(key);
      if (!role.leader || !led) {
        return refuse(ErrorCode.NOT_LEADER_OR_FOLLOWER, `this broker no longer leads ${topic}-${partition}`);
      }
      if (options.leaderEpoch !== undefined && options.leaderEpoch !== role.leaderEpoch) {
        // The writer (a coordinator shard) was loaded in an earlier leader epoch; the shard of this one writes.
        return refuse(
          ErrorCode.NOT_LEADER_OR_FOLLOWER,
          `${topic}-${partition} is led in epoch ${role.leaderEpoch} now, not ${options.leaderEpoch}`,
        );
      }
      const offline = this.offlineError(topic, partition);
      if (offline !== undefined) return refuse(offline.errorCode, offline.message, state.log.logStartOffset);
      if (acksAll) {
        // Kafka's rule: with too small an ISR, an acks=all batch is not written at all.
        const isr = led.state.minimalIsr();
        const minIsr = led.state.effectiveMinIsr(this.view.minInsyncReplicas(topic));
        if (isr.length < minIsr) {
          return refuse(
            ErrorCode.NOT_ENOUGH_REPLICAS,
            `the ISR of ${topic}-${partition} is [${isr.join(", ")}], fewer than min.insync.replicas=${minIsr}`,
            state.log.logStartOffset,
          );
        }
      }
      if (idempotent) {
        const seq = state.producers.check(
          header.producerId,
          header.producerEpoch,
          header.baseSequence,
          header.recordsCount,
        );
        if (seq.kind === "duplicate") {
          const duplicate: ProduceOutcome = {
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            baseOffset: seq.batch.baseOffset,
            recordErrors: [],
            logAppendTime: seq.batch.logAppendTime,
            logStartOffset: state.log.logStartOffset,
          };
          // The first copy may still be on its way to the ISR: a retry of acks=all waits for it as well.
          return acksAll
            ? this.replicatedOutcome(key, led, seq.batch.lastOffset + 1n, timeoutMs, duplicate)
            : duplicate;
        }
        if (seq.kind === "error") {
          // Out of order only because its predecessor was refused unwritten: refused the same way (RetriableRefusals).
          const refusedError = state.refusals.explain(header.producerId, header.producerEpoch, seq);
          if (refusedError !== undefined) {
            this.logger.info(
              { topic, partition, producerId: header.producerId, epoch: header.producerEpoch, errorCode: refusedError },
              `Refused an idempotent batch as its unwritten predecessor was: ${seq.message}`,
            );
            return failure(
              refusedError,
              `the batch of producer ${header.producerId} at sequence ${seq.expectedSequence} was refused and not written; resend it first (${seq.message})`,
              state.log.logStartOffset,
            );
          }
          // Rare, and what a duplicate or a stalled producer is traced back to.
          this.logger.info(
            { topic, partition, producerId: header.producerId, epoch: header.producerEpoch, errorCode: seq.errorCode },
            `Refused an idempotent batch: ${seq.message}`,
          );
          return failure(seq.errorCode, seq.message, state.log.logStartOffset);
        }
      }
      let result;
      try {
        result = await state.log.append(batch, { leaderEpoch: role.leaderEpoch, logAppendTime: options.logAppendTime });
      } catch (err) {
        if (err instanceof LogClosedError) {
          const closed = this.closedLogError(topic, partition);
          return failure(closed.errorCode, closed.message);
        }
        if (!(err instanceof StorageError)) throw err;
        // The log kept nothing of the batch. A replicated partition's log dir goes offline (Kafka's log dir failure):
        // other replicas hold everything acknowledged and take over. A partition with one replica has nowhere to go,
        // so it keeps serving reads and the producer may retry once space returns.
        if (led.state.replicas.length > 1) this.takeLogDirOffline(topic, partition, err);
        else if (!state.storageFailing)
          this.logger.error({ err, topic, partition }, "Appends fail: the log dir cannot be written");
        state.storageFailing = true;
        return refuse(ErrorCode.KAFKA_STORAGE_ERROR, err.message, state.log.logStartOffset);
      }
      if (state.storageFailing) this.logger.info({ topic, partition }, "Appends succeed again");
      state.storageFailing = false;
      const logAppendTime = result.logAppendTime ?? -1n;
      if (idempotent) {
        state.refusals.appended(header.producerId);
        const knownEpoch = state.producers.epochOf(header.producerId);
        if (knownEpoch !== header.producerEpoch) {
          // A producer id or epoch new to this partition: its sequence starts afresh here, so anything it had written
          // before under another id or epoch is no longer recognised as a duplicate.
          this.logger.info(
            {
              topic,
              partition,
              producerId: header.producerId,
              epoch: header.producerEpoch,
              previousEpoch: knownEpoch ?? null,
              baseSequence: header.baseSequence,
              baseOffset: result.baseOffset,
            },
            "Appended the first batch of a producer epoch",
          );
        }
        state.producers.record(header.producerId, header.producerEpoch, header.baseSequence, header.recordsCount, {
          baseOffset: result.baseOffset,
          lastOffset: result.lastOffset,
          logAppendTime,
        });
      }
      this.advanceHighWatermark(key);
      this.notify(key);
      const appended: ProduceOutcome = {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        baseOffset: result.baseOffset,
        recordErrors: [],
        logAppendTime,
        logStartOffset: state.log.logStartOffset,
      };
      return acksAll ? this.replicatedOutcome(key, led, result.lastOffset + 1n, timeoutMs, appended) : appended;
    });
  }

  /**
   * An acks=all append's outcome: settled now if the HW already passed `requiredOffset` (always so with the leader
   * alone in the ISR), else carrying the wait for it (Kafka's DelayedProduce) or the error that ended it already.
   */
  private replicatedOutcome(
    key: string,
    led: LedPartition,
    requiredOffset: bigint,
    timeoutMs: number,
    appended: ProduceOutcome,
  ): ProduceOutcome {
    const check = (required: bigint): ReplicationOutcome | undefined => this.replicationStatus(key, led, required);
    const now = check(requiredOffset);
    if (now === undefined) return { ...appended, replicated: this.delayed.wait(key, requiredOffset, timeoutMs, check) };
    if (now.errorCode === ErrorCode.NONE) return appended;
    // Written, so the outcome says where (the group coordinator applies the write if the HW passes it later).
    return { ...appended, replicated: Promise.resolve(now) };
  }

  /**
   * Kafka's checkEnoughReplicasReachOffset: replicated once the HW reached `requiredOffset`, unless the maximal ISR
   * is below min.insync.replicas by then (NOT_ENOUGH_REPLICAS_AFTER_APPEND, which it also is as soon as the ISR falls
   * that low while waiting: the HW is frozen then). Leadership lost: NOT_LEADER_OR_FOLLOWER.
   */
  private replicationStatus(key: string, led: LedPartition, requiredOffset: bigint): ReplicationOutcome | undefined {
    const log = this.logs.get(led.topic, led.partition);
    if (!this.roles.has(key)) {
      // Deleted meanwhile, or the broker is stopping.
      const closed = this.closedLogError(led.topic, led.partition);
      return { errorCode: closed.errorCode, errorMessage: closed.message };
    }
    if (this.led.get(key) !== led || !log) {
      return {
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        errorMessage: `this broker no longer leads ${led.topic}-${led.partition}`,
      };
    }
    const isr = led.state.maximalIsr();
    const minIsr = led.state.effectiveMinIsr(this.view.minInsyncReplicas(led.topic));
    if (isr.length < minIsr) {
      return {
        errorCode: ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        errorMessage: `written, but the ISR of ${led.topic}-${led.partition} shrank to [${isr.join(", ")}], fewer than min.insync.replicas=${minIsr}`,
      };
    }
    return log.highWatermark >= requiredOffset ? REPLICATED : undefined;
  }

  /**
   * The answer for a request whose partition log closed under it. Either the topic was deleted meanwhile, which Kafka
   * answers UNKNOWN_TOPIC_OR_PARTITION, or the broker is shutting down, where Kafka's leaders move away first and
   * clients are told NOT_LEADER_OR_FOLLOWER. Both are retriable: clients refresh their metadata and go on.
   */
  closedLogError(topic: string, partition: number): { errorCode: number; message: string } {
    return this.logs.isClosed
      ? {
          errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
          message: `this broker is shutting down and no longer serves ${topic}-${partition}`,
        }
      : {
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          message: `partition ${topic}-${partition} was deleted`,
        };
  }

  private exclusive<T>(state: PartitionState, fn: () => Promise<T>): Promise<T> {
    const run = state.lock.then(fn, fn);
    state.lock = run.catch(() => undefined);
    return run;
  }

  /** Resolves when any of `keys` gets new data, after `timeoutMs`, or when `signal` aborts, whichever comes first. */
  waitForData(keys: ReadonlySet<string>, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || timeoutMs <= 0) {
        resolve();
        return;
      }
      const waiter = {
        keys,
        wake: () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", waiter.wake);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      signal.addEventListener("abort", waiter.wake, { once: true });
      this.waiters.add(waiter);
    });
  }

  private notify(key: string): void {
    for (const waiter of [...this.waiters]) if (waiter.keys.has(key)) waiter.wake();
  }

  // The follower side (ADR 24): the replica fetchers write the leader's data through these (FollowerPartitions).

  /**
   * Appends batches fetched from the leader, under the partition lock, and records their idempotent producers so a
   * follower that becomes leader answers retries as duplicates. Refused once this node leads the partition.
   */
  async appendAsFollower(topic: string, partition: number, records: Buffer): Promise<void> {
    await this.asFollower(topic, partition, async (state) => {
      await state.log.appendAsFollower(records);
      recordProducerBatches(state.producers, records);
    });
    this.notify(partitionKey(topic, partition));
  }

  /** Cuts the log where the leader's diverges; producer state is rebuilt from what is left. */
  truncateTo(topic: string, partition: number, offset: bigint): Promise<void> {
    return this.asFollower(topic, partition, async (state) => {
      await state.log.truncateTo(offset);
      await this.resetProducerState(state);
    });
  }

  /** Empties the log to start at the leader's log start (the follower fell behind it). */
  truncateFullyAndStartAt(topic: string, partition: number, offset: bigint): Promise<void> {
    return this.asFollower(topic, partition, async (state) => {
      await state.log.truncateFullyAndStartAt(offset);
      await this.resetProducerState(state);
    });
  }

  /**
   * The follower's high watermark, from its leader; returns the value the log took. Consumers reading from this
   * follower (KIP-392) read below it, so their long-polls wake when it moves.
   */
  setFollowerHighWatermark(topic: string, partition: number, offset: bigint): bigint {
    const log = this.logs.get(topic, partition);
    if (log === undefined) return -1n;
    const before = log.highWatermark;
    const hw = log.updateHighWatermark(offset);
    if (hw !== before) this.notify(partitionKey(topic, partition));
    return hw;
  }

  /** Follows the leader's log start offset (DeleteRecords, retention) once the follower's high watermark passed it. */
  async moveLogStartOffset(topic: string, partition: number, offset: bigint): Promise<void> {
    await this.logs.get(topic, partition)?.deleteRecordsBefore(offset);
  }

  private async asFollower(
    topic: string,
    partition: number,
    fn: (state: PartitionState) => Promise<void>,
  ): Promise<void> {
    const state = this.stateFor(topic, partition);
    if (!state) throw new LogClosedError(partitionKey(topic, partition));
    await this.exclusive(state, async () => {
      if (this.roles.get(partitionKey(topic, partition))?.leader !== false)
        throw new Error(`${topic}-${partition} is not followed by this node`);
      const offline = this.offlineError(topic, partition);
      if (offline !== undefined) throw new Error(offline.message);
      try {
        await fn(state);
      } catch (err) {
        // A follower's partition is replicated by definition: its log dir goes offline.
        if (err instanceof StorageError) this.takeLogDirOffline(topic, partition, err);
        throw err;
      }
    });
  }

  private async resetProducerState(state: PartitionState): Promise<void> {
    state.producers = new ProducerStateTable();
    await rebuildProducerState(state.log, state.producers);
  }

  /** Wakes every long-poll so in-flight Fetches answer, and ends acks=all waits, before the logs close. */
  wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter.wake();
    this.delayed.failAll({
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      errorMessage: "this broker is shutting down",
    });
  }
}

function failure(
  errorCode: number,
  message: string,
  logStartOffset = -1n,
  recordErrors: readonly RecordError[] = [],
): ProduceOutcome {
  return { errorCode, errorMessage: message, baseOffset: -1n, recordErrors, logAppendTime: -1n, logStartOffset };
}

/** Records the idempotent producers' batches among `records` (whole batches as stored) in `table`. */
function recordProducerBatches(table: ProducerStateTable, records: Buffer): bigint | undefined {
  let next: bigint | undefined;
  for (const batch of splitBatches(records).batches) {
    const h = readBatchHeader(batch);
    const lastOffset = h.baseOffset + BigInt(h.lastOffsetDelta);
    if (h.producerId >= 0n && h.baseSequence >= 0) {
      const logAppendTime = (h.attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0 ? h.maxTimestamp : -1n;
      table.record(h.producerId, h.producerEpoch, h.baseSequence, h.recordsCount, {
        baseOffset: h.baseOffset,
        lastOffset,
        logAppendTime,
      });
    }
    next = lastOffset + 1n;
  }
  return next;
}

/**
 * Rebuilds idempotence state from the tail of the log after a restart. Producers whose last batches lie further back
 * are treated as unknown, which Kafka also does once their state expires: their next batch is accepted as is.
 */
async function rebuildProducerState(log: PartitionLog, table: ProducerStateTable): Promise<void> {
  const segments = log.segments();
  const tail = segments.slice(-2)[0];
  let offset = tail
    ? tail.baseOffset > log.logStartOffset
      ? tail.baseOffset
      : log.logStartOffset
    : log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, PRODUCER_STATE_SCAN_BYTES);
    try {
      const next = recordProducerBatches(table, read.records);
      if (next === undefined) break;
      offset = next;
    } finally {
      read.release();
    }
  }
}
