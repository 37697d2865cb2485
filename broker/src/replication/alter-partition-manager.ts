import type { Logger } from "pino";
import {
  ErrorCode,
  type AlterPartitionRequest,
  type AlterPartitionRequestTopicData,
  type AlterPartitionResponse,
} from "../protocol/index.ts";
import { ControllerBatches } from "./controller-batches.ts";
import type { IsrProposal } from "./leader-state.ts";

// Sends partition leaders' ISR changes to the active controller as AlterPartition (key 56, v3: topic ids and each
// member's broker epoch), as Kafka's AlterPartitionManager does: at most one change per partition queued or in
// flight, one request at a time carrying every change queued meanwhile (controller-batches.ts), and the whole request
// sent again after a pause when it fails or the controller answers with a top-level error (NOT_CONTROLLER,
// STALE_BROKER_EPOCH). Each partition's answer goes back to whoever submitted it, which may ask for it to be sent again.

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
  private readonly batches: ControllerBatches<Queued>;
  private closed = false;

  constructor(private readonly options: AlterPartitionManagerOptions) {
    const { retryBackoffMs, logger } = options;
    this.batches = new ControllerBatches({ retryBackoffMs, logger, what: "AlterPartition" });
    this.batches.start(async (batch) => {
      const response = await options.send(this.request(batch));
      // Answers that arrive after close() are dropped.
      return this.closed ? new Map() : this.answered(batch, response);
    });
  }

  submit(change: IsrChange, answered: IsrChangeAnswered): boolean {
    const key = `${change.topicId}:${change.partition}`;
    if (this.closed || this.batches.queuedItem(key) !== undefined || this.batches.inFlightItem(key) !== undefined)
      return false;
    this.batches.add(key, { change, answered });
    return true;
  }

  /** Changes queued or in flight (for tests and metrics). */
  get pending(): number {
    return this.batches.pending;
  }

  /** Stops sending; answers that arrive later are dropped. */
  close(): void {
    this.closed = true;
    this.batches.close();
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

  /** The changes to send again: all of them after a top-level error, else those whose submitter asks for it. */
  private answered(batch: ReadonlyMap<string, Queued>, response: AlterPartitionResponse): ReadonlyMap<string, Queued> {
    if (response.errorCode !== ErrorCode.NONE) {
      this.options.logger.debug({ errorCode: response.errorCode }, "AlterPartition refused; sending it again");
      return batch;
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
    return again;
  }
}
