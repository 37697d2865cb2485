import type { Logger } from "pino";
import { ErrorCode, type AssignReplicasToDirsRequest, type AssignReplicasToDirsResponse } from "../protocol/index.ts";
import { ControllerBatches } from "../replication/controller-batches.ts";

// Tells the active controller which log dir holds each of this broker's replicas (AssignReplicasToDirs, API 73,
// KIP-858; Kafka's AssignmentsManager), so that when a dir goes offline the controller moves exactly the partitions in
// it. The partition publisher reports each replica's dir as it opens or creates the log; a replica whose dir the image
// already names is not sent. Reports queue until the broker is registered, then go out one request at a time, each
// carrying everything queued meanwhile (controller-batches.ts); a failed request, or one the controller refuses as a
// whole (NOT_CONTROLLER, STALE_BROKER_EPOCH), is sent again after a pause. A partition the controller refuses on its
// own (deleted, moved away) is dropped: the image says what to do with it.

/** Replicas named in the log line of one answer; the count says how many there were. */
const LOGGED_REPLICAS = 50;

export interface DirectoryAssignmentsOptions {
  readonly brokerId: number;
  /** The directory.id of each configured log dir, by path (as the log manager names them). */
  readonly directoryIds: ReadonlyMap<string, string>;
  /** Pause before a failed request is sent again. */
  readonly retryBackoffMs: number;
  readonly logger: Logger;
}

/** Sends one request to the active controller; rejects when none can be reached. */
export type AssignmentSend = (request: AssignReplicasToDirsRequest) => Promise<AssignReplicasToDirsResponse>;

interface Assignment {
  readonly topicId: string;
  readonly partition: number;
  readonly directoryId: string;
}

export class DirectoryAssignments {
  private readonly batches: ControllerBatches<Assignment>;

  constructor(private readonly options: DirectoryAssignmentsOptions) {
    const { retryBackoffMs, logger } = options;
    this.batches = new ControllerBatches({ retryBackoffMs, logger, what: "AssignReplicasToDirs" });
  }

  /**
   * This broker's replica of the partition is in `logDir`; `assigned` is the directory the image has for it. Queues
   * an assignment when they differ, and drops a queued one that the image has caught up with.
   */
  place(topicId: string, partition: number, logDir: string, assigned: string): void {
    const directoryId = this.options.directoryIds.get(logDir);
    const key = `${topicId}:${partition}`;
    if (directoryId === undefined || directoryId === assigned) this.batches.drop(key);
    else if (this.batches.inFlightItem(key)?.directoryId !== directoryId) {
      this.batches.add(key, { topicId, partition, directoryId });
    }
  }

  /** The log dir whose directory.id is `directoryId`, if it is one of this broker's. */
  logDirOf(directoryId: string): string | undefined {
    for (const [logDir, id] of this.options.directoryIds) if (id === directoryId) return logDir;
    return undefined;
  }

  /** Starts sending (the broker has registered): what was queued before goes out now. */
  start(send: AssignmentSend, brokerEpoch: () => bigint): void {
    this.batches.start(async (batch) => this.answered(batch, await send(this.request(batch, brokerEpoch()))));
  }

  /** Assignments queued or in flight (for tests). */
  get pending(): number {
    return this.batches.pending;
  }

  close(): void {
    this.batches.close();
  }

  private request(batch: ReadonlyMap<string, Assignment>, brokerEpoch: bigint): AssignReplicasToDirsRequest {
    const dirs = new Map<string, Map<string, number[]>>();
    for (const a of batch.values()) {
      let topics = dirs.get(a.directoryId);
      if (topics === undefined) dirs.set(a.directoryId, (topics = new Map<string, number[]>()));
      let partitions = topics.get(a.topicId);
      if (partitions === undefined) topics.set(a.topicId, (partitions = []));
      partitions.push(a.partition);
    }
    return {
      brokerId: this.options.brokerId,
      brokerEpoch,
      directories: [...dirs].map(([id, topics]) => ({
        id,
        topics: [...topics].map(([topicId, partitions]) => ({
          topicId,
          partitions: partitions.map((partitionIndex) => ({ partitionIndex })),
        })),
      })),
    };
  }

  /** What to send again: everything after a top-level error; a partition refused alone is dropped. */
  private answered(
    batch: ReadonlyMap<string, Assignment>,
    response: AssignReplicasToDirsResponse,
  ): ReadonlyMap<string, Assignment> {
    if (response.errorCode !== ErrorCode.NONE) {
      this.options.logger.debug({ errorCode: response.errorCode }, "AssignReplicasToDirs refused; sending it again");
      return batch;
    }
    const recorded: string[] = [];
    for (const dir of response.directories) {
      for (const topic of dir.topics) {
        for (const p of topic.partitions) {
          if (p.errorCode === ErrorCode.NONE) {
            recorded.push(`${topic.topicId}:${p.partitionIndex}@${dir.id}`);
            continue;
          }
          this.options.logger.info(
            { topicId: topic.topicId, partition: p.partitionIndex, directoryId: dir.id, errorCode: p.errorCode },
            "The controller refused a replica's directory assignment",
          );
        }
      }
    }
    if (recorded.length > 0) {
      this.options.logger.info(
        { count: recorded.length, replicas: recorded.slice(0, LOGGED_REPLICAS) },
        "The controller recorded the log dirs of replicas",
      );
    }
    return new Map();
  }
}
