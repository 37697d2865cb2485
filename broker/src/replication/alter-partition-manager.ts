import type { Logger } from "pino";
import {
  ErrorCode,
  type AlterPartitionRequest,
  type AlterPartitionRequestTopicData,
  type AlterPartitionResponse,
} from "../protocol/index.ts";
import type { IsrProposal } from "./leader-state.ts";

// Sends partition leaders' ISR changes to the active controller as AlterPartition (key 56, v3: topic ids and each
// member's broker epoch), as Kafka's AlterPartitionManager does: at most one change per partition queued or in
// flight, one request at a time carrying every change queued meanwhile, and the whole request sent again after a
// pause when it fails or the controller answers with a top-level error (NOT_CONTROLLER, STALE_BROKER_EPOCH). Each
// partition's answer goes back to whoever submitted it, which may ask for it to be sent again.

/** AlterPartition v3: ISR members with broker epochs (KIP-903); v2 is the oldest Kafka 4 accepts. */
export const ALTER_PARTITION_VERSION = 3;

export interface IsrChange {
  readonly topicId: string;
  readonly partition: number;
  readonly proposal: IsrProposal;
}

/**
 * Told the controller's answer for one change: NONE or a partition error code (UNKNOWN_SERVER_ERROR when the
 * controller's answer left the partition out). Returns "retry" to have the same change sent again.
 */
export type IsrChangeAnswered = (errorCode: number) => "done" | "retry";

/** Where ISR changes go; the partition manager holds one once the broker can reach its controller. */
export interface IsrChangeSender {
  /** Queues `change`; false if a change of the same partition is already queued or in flight. */
  submit(change: IsrChange, answered: IsrChangeAnswered): boolean;
}

export interface AlterPartitionManagerOptions {
  readonly brokerId: number;
  /** This broker's current epoch (its registration). */
  readonly brokerEpoch: () => bigint;
  /** Sends one request to the active controller; rejects when none can be reached. */
  readonly send: (request: AlterPartitionRequest) => Promise<AlterPartitionResponse>;
  /** Pause before a failed request is sent again. */
  readonly retryBackoffMs: number;
  readonly logger: Logger;
}

interface Queued {
  readonly change: IsrChange;
  readonly answered: IsrChangeAnswered;
}

export class AlterPartitionManager implements IsrChangeSender {
  private readonly queued = new Map<string, Queued>();
  private inFlight: Map<string, Queued> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: AlterPartitionManagerOptions) {}

  submit(change: IsrChange, answered: IsrChangeAnswered): boolean {
    const key = `${change.topicId}:${change.partition}`;
    if (this.closed || this.queued.has(key) || this.inFlight?.has(key) === true) return false;
    this.queued.set(key, { change, answered });
    this.sendQueued();
    return true;
  }

  /** Changes queued or in flight (for tests and metrics). */
  get pending(): number {
    return this.queued.size + (this.inFlight?.size ?? 0);
  }

  /** Stops sending; answers that arrive later are dropped. */
  close(): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.queued.clear();
  }

  private sendQueued(): void {
    if (this.closed || this.inFlight !== null || this.retryTimer !== undefined || this.queued.size === 0) return;
    const batch = new Map(this.queued);
    this.queued.clear();
    this.inFlight = batch;
    const request = this.request(batch);
    this.options.send(request).then(
      (response) => this.answered(batch, response),
      (err: unknown) => {
        this.options.logger.debug({ err, partitions: batch.size }, "AlterPartition failed; sending it again");
        this.retryLater(batch);
      },
    );
  }

  private request(batch: ReadonlyMap<string, Queued>): AlterPartitionRequest {
    const topics = new Map<string, AlterPartitionRequestTopicData>();
    for (const { change } of batch.values()) {
      let topic = topics.get(change.topicId);
      if (topic === undefined) {
        topic = { topicId: change.topicId, partitions: [] };
        topics.set(change.topicId, topic);
      }
      const { proposal } = change;
      topic.partitions.push({
        partitionIndex: change.partition,
        leaderEpoch: proposal.leaderEpoch,
        newIsrWithEpochs: proposal.newIsr.map((m) => ({ brokerId: m.brokerId, brokerEpoch: m.brokerEpoch })),
        // RECOVERED: a leader has recovered once it leads (KIP-704; LeaderState.proposeRecovered), so every change
        // it sends says so, as Kafka's leader does.
        leaderRecoveryState: 0,
        partitionEpoch: proposal.partitionEpoch,
      });
    }
    return {
      brokerId: this.options.brokerId,
      brokerEpoch: this.options.brokerEpoch(),
      topics: [...topics.values()],
    };
  }

  private answered(batch: Map<string, Queued>, response: AlterPartitionResponse): void {
    if (this.closed) return;
    if (response.errorCode !== ErrorCode.NONE) {
      this.options.logger.debug({ errorCode: response.errorCode }, "AlterPartition refused; sending it again");
      this.retryLater(batch);
      return;
    }
    const codes = new Map<string, number>();
    for (const topic of response.topics) {
      for (const p of topic.partitions) codes.set(`${topic.topicId ?? ""}:${p.partitionIndex}`, p.errorCode);
    }
    const again = new Map<string, Queued>();
    for (const [key, queued] of batch) {
      const errorCode = codes.get(key) ?? ErrorCode.UNKNOWN_SERVER_ERROR;
      if (errorCode !== ErrorCode.NONE) {
        this.options.logger.info(
          { topicId: queued.change.topicId, partition: queued.change.partition, errorCode },
          "The controller refused an ISR change",
        );
      }
      if (queued.answered(errorCode) === "retry") again.set(key, queued);
    }
    if (again.size > 0) this.retryLater(again);
    else {
      this.inFlight = null;
      this.sendQueued();
    }
  }

  /** Queues `batch` again, with whatever was submitted meanwhile, to be sent after the backoff. */
  private retryLater(batch: Map<string, Queued>): void {
    this.inFlight = null;
    if (this.closed) return;
    for (const [key, queued] of batch) this.queued.set(key, queued);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.sendQueued();
    }, this.options.retryBackoffMs);
    this.retryTimer.unref();
  }
}
