import type { Logger } from "pino";
import { BrokerConnection } from "../../admin/connection.ts";
import type { ReplicaFetchSettings } from "../../config/broker-config.ts";
import {
  ApiVersionsRequest,
  ApiVersionsResponse,
  ErrorCode,
  errorName,
  FetchRequest,
  FetchResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  ZERO_UUID,
  type FetchRequestFetchTopic,
  type FetchResponse as FetchAnswer,
} from "../../protocol/index.ts";
import {
  decide,
  followerHighWatermark,
  inSyncAfterAnswer,
  isFetchable,
  logStartToAdopt,
  nextRetryAt,
  outOfRangeAction,
  partitionFetch,
  type FollowerLogView,
  type PartitionFetch,
  type PartitionFetchState,
} from "./follower-state.ts";

// One leader broker's fetcher (Kafka's ReplicaFetcherThread): a connection to the leader on the inter-broker listener,
// and a loop that fetches every partition this node follows there, hands each answer to the pure decisions in
// follower-state.ts and carries them out on the local logs.

/** Fetch v12 brought lastFetchedEpoch and divergingEpoch (KIP-320), which the follower's truncation relies on. */
const MIN_FETCH_VERSION = 12;
/** From v15 the replica names itself in ReplicaState (with its broker epoch) instead of replicaId. */
const REPLICA_STATE_VERSION = 15;
const LATEST_TIMESTAMP = -1n;
const EARLIEST_TIMESTAMP = -2n;

/** The replica.fetch.* settings and replica.socket.timeout.ms. */
export type ReplicaFetchConfig = ReplicaFetchSettings;

/** What the fetcher does to this node's partitions; the partition manager provides it. */
export interface FollowerPartitions {
  log(topic: string, partition: number): FollowerLogView | undefined;
  appendAsFollower(topic: string, partition: number, records: Buffer): Promise<void>;
  truncateTo(topic: string, partition: number, offset: bigint): Promise<void>;
  truncateFullyAndStartAt(topic: string, partition: number, offset: bigint): Promise<void>;
  /** Sets the follower's high watermark and returns it (bounded by the log). */
  setFollowerHighWatermark(topic: string, partition: number, offset: bigint): bigint;
  moveLogStartOffset(topic: string, partition: number, offset: bigint): Promise<void>;
}

/**
 * The follower replication throttle (KIP-73; replication/throttles.ts): which partitions it holds back now, and where
 * fetched bytes of throttled partitions are counted.
 */
export interface FollowerThrottle {
  shouldThrottle(topic: string, partition: number, inSync: boolean): boolean;
  isThrottled(topic: string, partition: number): boolean;
  record(bytes: number): void;
  heldBack(partitions: number): void;
}

export interface FetcherOptions {
  readonly nodeId: number;
  readonly leaderId: number;
  /** This broker's registration epoch (sent in ReplicaState, KIP-903). */
  readonly brokerEpoch: () => bigint;
  /** The leader's address on the inter-broker listener, from the image; undefined while it has none. */
  readonly endpoint: (brokerId: number) => { host: string; port: number } | undefined;
  readonly partitions: FollowerPartitions;
  readonly config: ReplicaFetchConfig;
  readonly logger: Logger;
  readonly clock?: () => number;
  /** The follower throttle as the image sets it now; none: nothing is throttled. */
  readonly throttle?: () => FollowerThrottle;
}

interface Session {
  readonly connection: BrokerConnection;
  readonly fetchVersion: number;
  readonly listOffsetsVersion: number | undefined;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export class ReplicaFetcher {
  private readonly states = new Map<string, PartitionFetchState>();
  /** Partitions whose log reached the leader's high watermark at the last answer with records (never throttled). */
  private readonly inSync = new Map<string, boolean>();
  private session: Session | undefined;
  private wake: (() => void) | undefined;
  private closed = false;
  /** The handling of the latest answer; removing a partition waits for it so no append lands after. */
  private handling: Promise<void> = Promise.resolve();
  private readonly clock: () => number;
  /** The last connection problem logged, so a leader that stays away is reported once rather than every backoff. */
  private lastProblem = "";

  constructor(private readonly options: FetcherOptions) {
    this.clock = options.clock ?? Date.now;
    // Never rejects: every round's failure is caught and logged.
    void this.run();
  }

  get leaderId(): number {
    return this.options.leaderId;
  }

  get size(): number {
    return this.states.size;
  }

  /** Follows the partition in `leaderEpoch`; a new epoch (or a fenced partition) starts fetching again at once. */
  add(target: { topicId: string; topic: string; partition: number; leaderEpoch: number }): void {
    const key = partitionKey(target.topic, target.partition);
    const existing = this.states.get(key);
    if (existing !== undefined && existing.leaderEpoch === target.leaderEpoch && existing.topicId === target.topicId)
      return;
    this.states.set(key, { ...target, status: { kind: "fetching" } });
    this.inSync.delete(key);
    this.wake?.();
  }

  /** Stops fetching the partition; resolves once no answer for it is being applied any more. */
  async remove(topic: string, partition: number): Promise<void> {
    this.states.delete(partitionKey(topic, partition));
    this.inSync.delete(partitionKey(topic, partition));
    await this.handling;
  }

  /**
   * Stops fetching; resolves once no answer is being applied any more. A connection attempt still under way (up to
   * replica.socket.timeout.ms to an unreachable leader) is not waited for: it is closed when it completes.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.session?.connection.close();
    this.wake?.();
    await this.handling;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.step();
      } catch (err) {
        // A bug rather than a leader's answer (those are handled per partition): log it, and go on after the backoff.
        this.options.logger.error({ err, leader: this.leaderId }, "The replica fetcher failed; retrying");
        await this.idle(this.options.config.backoffMs, false);
      }
    }
    this.session?.connection.close();
  }

  /** One round: wait for partitions to fetch, connect if need be, fetch, and apply the answer. */
  private async step(): Promise<void> {
    const { config, logger } = this.options;
    const now = this.clock();
    const fetchable = [...this.states.values()].filter((s) => isFetchable(s, now));
    // Kafka's ReplicaFetcherThread leaves partitions out of the request while the follower throttle holds them back.
    const throttle = this.options.throttle?.();
    const ready = throttle === undefined ? fetchable : fetchable.filter((s) => !this.heldBack(throttle, s));
    throttle?.heldBack(fetchable.length - ready.length);
    if (ready.length === 0) {
      // The earliest partition still backing off (one whose backoff is over is fetchable, and held back).
      const retry = nextRetryAt([...this.states.values()].filter((s) => !isFetchable(s, now)));
      const untilRetry = retry === undefined ? undefined : retry - now;
      // Held back by the throttle: look again after the backoff, as Kafka's fetcher does with nothing to send (or
      // sooner, when a backed-off partition is due).
      const wait = fetchable.length > 0 ? Math.min(config.backoffMs, untilRetry ?? Infinity) : untilRetry;
      await this.idle(wait);
      return;
    }
    let session: Session;
    try {
      session = await this.connect();
    } catch (err) {
      this.problem(err instanceof Error ? err.message : String(err));
      await this.idle(config.backoffMs, false);
      return;
    }
    if (this.closed) return;
    const sent = new Map<string, PartitionFetch>();
    const request = this.request(ready, session.fetchVersion, sent);
    let answer: FetchAnswer;
    try {
      answer = await session.connection.send(
        FetchRequest,
        FetchResponse,
        session.fetchVersion,
        request,
        config.socketTimeoutMs,
      );
    } catch (err) {
      session.connection.close();
      this.session = undefined;
      if (!this.closed) this.problem(`fetch from broker ${this.leaderId} failed: ${String(err)}`);
      await this.idle(config.backoffMs, false);
      return;
    }
    if (this.closed) return;
    if (answer.errorCode !== undefined && answer.errorCode !== ErrorCode.NONE) {
      logger.warn({ leader: this.leaderId, error: errorName(answer.errorCode) }, "Fetch from the leader failed");
      this.delay(sent.keys(), answer.errorCode);
      return;
    }
    this.lastProblem = "";
    this.handling = this.handle(session, sent, answer);
    await this.handling;
  }

  private heldBack(throttle: FollowerThrottle, state: PartitionFetchState): boolean {
    const inSync = this.inSync.get(partitionKey(state.topic, state.partition)) === true;
    return throttle.shouldThrottle(state.topic, state.partition, inSync);
  }

  private request(
    ready: readonly PartitionFetchState[],
    version: number,
    sent: Map<string, PartitionFetch>,
  ): FetchRequest {
    const { config, nodeId } = this.options;
    const topics: FetchRequestFetchTopic[] = [];
    const byTopic = new Map<string, FetchRequestFetchTopic>();
    for (const state of ready) {
      const log = this.options.partitions.log(state.topic, state.partition);
      if (log === undefined) continue;
      const fetch = partitionFetch(state, log, config.maxBytes);
      sent.set(partitionKey(state.topic, state.partition), fetch);
      let topic = byTopic.get(state.topic);
      if (topic === undefined) {
        topic = { topic: state.topic, topicId: state.topicId, partitions: [] };
        byTopic.set(state.topic, topic);
        topics.push(topic);
      }
      topic.partitions.push({ ...fetch });
    }
    const replicaState = version >= REPLICA_STATE_VERSION;
    return {
      ...FetchRequest.create(),
      clusterId: null,
      replicaId: replicaState ? -1 : nodeId,
      replicaState: { replicaId: replicaState ? nodeId : -1, replicaEpoch: this.options.brokerEpoch() },
      maxWaitMs: config.waitMaxMs,
      minBytes: config.minBytes,
      maxBytes: config.responseMaxBytes,
      isolationLevel: 0,
      // Sessionless: every request is a full fetch (FINAL_EPOCH with no session).
      sessionId: 0,
      sessionEpoch: -1,
      topics,
      forgottenTopicsData: [],
      rackId: "",
    };
  }

  private async handle(session: Session, sent: Map<string, PartitionFetch>, answer: FetchAnswer): Promise<void> {
    const byId = session.fetchVersion >= 13;
    const names = new Map([...this.states.values()].map((s) => [s.topicId, s.topic]));
    for (const topicAnswer of answer.responses) {
      const topic = byId ? names.get(topicAnswer.topicId ?? ZERO_UUID) : topicAnswer.topic;
      if (topic === undefined) continue;
      for (const partitionAnswer of topicAnswer.partitions) {
        const key = partitionKey(topic, partitionAnswer.partitionIndex);
        const fetch = sent.get(key);
        if (fetch === undefined) continue;
        try {
          await this.apply(session, topic, fetch, partitionAnswer);
        } catch (err) {
          // Corrupt data from the leader, a full disk, a log closed under us: back off, as Kafka's fetcher does.
          this.options.logger.error(
            { err, topic, partition: fetch.partition, leader: this.leaderId },
            "Could not apply the leader's answer; retrying after the backoff",
          );
          this.delay([key], ErrorCode.UNKNOWN_SERVER_ERROR);
        }
      }
    }
  }

  private async apply(
    session: Session,
    topic: string,
    fetch: PartitionFetch,
    answer: Parameters<typeof decide>[3],
  ): Promise<void> {
    const { partitions, config, logger } = this.options;
    const partition = fetch.partition;
    const key = partitionKey(topic, partition);
    const log = partitions.log(topic, partition);
    if (log === undefined) return;
    const action = decide(fetch, this.states.get(key), log, answer, this.clock(), config.backoffMs);
    const context = { topic, partition, leader: this.leaderId, leaderEpoch: fetch.currentLeaderEpoch };
    const state = this.states.get(key);
    if (state?.status.kind === "delayed" && action.kind !== "delay" && action.kind !== "ignore")
      this.states.set(key, { ...state, status: { kind: "fetching" } });
    switch (action.kind) {
      case "ignore":
        return;
      case "append": {
        if (action.records.length > 0) await partitions.appendAsFollower(topic, partition, action.records);
        // In-sync and out-of-sync replicas' bytes alike count against the throttle, as in Kafka.
        const throttle = this.options.throttle?.();
        if (throttle?.isThrottled(topic, partition) === true) throttle.record(action.records.length);
        this.inSync.set(
          key,
          inSyncAfterAnswer(this.inSync.get(key), action.records.length, action.leaderHighWatermark, log.logEndOffset),
        );
        const hw = partitions.setFollowerHighWatermark(
          topic,
          partition,
          followerHighWatermark(action.leaderHighWatermark, log.logEndOffset),
        );
        const start = logStartToAdopt(action.leaderLogStartOffset, log, hw);
        if (start !== undefined) await partitions.moveLogStartOffset(topic, partition, start);
        return;
      }
      case "truncate":
        logger.info({ ...context, offset: String(action.offset) }, "Truncating to where the leader's log diverges");
        await partitions.truncateTo(topic, partition, action.offset);
        return;
      case "out-of-range": {
        const leader = await this.leaderOffsets(session, topic, fetch);
        if (leader === undefined) {
          this.delay([key], ErrorCode.OFFSET_OUT_OF_RANGE);
          return;
        }
        const next = outOfRangeAction(log.logEndOffset, leader.end, leader.start);
        logger.info(
          { ...context, fetchOffset: String(fetch.fetchOffset), leaderStart: String(leader.start) },
          `Fetch offset out of the leader's range (end ${leader.end}): ${next.kind}`,
        );
        if (next.kind === "truncate") await partitions.truncateTo(topic, partition, next.offset);
        if (next.kind === "start-at") await partitions.truncateFullyAndStartAt(topic, partition, next.offset);
        return;
      }
      case "fence": {
        if (state !== undefined) this.states.set(key, { ...state, status: { kind: "fenced" } });
        logger.info(context, "The leader is in a newer epoch; waiting for the metadata to name it");
        return;
      }
      case "delay": {
        if (state === undefined) return;
        if (state.status.kind === "fetching")
          logger.info({ ...context, error: errorName(action.errorCode) }, "The leader refused the fetch; backing off");
        this.states.set(key, { ...state, status: { kind: "delayed", until: action.until } });
        return;
      }
    }
  }

  /** The leader's log end and start offsets, as a replica sees them (ListOffsets with this node's replica id). */
  private async leaderOffsets(
    session: Session,
    topic: string,
    fetch: PartitionFetch,
  ): Promise<{ end: bigint; start: bigint } | undefined> {
    const version = session.listOffsetsVersion;
    if (version === undefined) return undefined;
    const ask = async (timestamp: bigint): Promise<bigint | undefined> => {
      const res = await session.connection.send(
        ListOffsetsRequest,
        ListOffsetsResponse,
        version,
        {
          ...ListOffsetsRequest.create(),
          replicaId: this.options.nodeId,
          isolationLevel: 0,
          topics: [
            {
              name: topic,
              partitions: [
                { partitionIndex: fetch.partition, currentLeaderEpoch: fetch.currentLeaderEpoch, timestamp },
              ],
            },
          ],
        },
        this.options.config.socketTimeoutMs,
      );
      const p = res.topics[0]?.partitions[0];
      return p?.errorCode === ErrorCode.NONE && p.offset !== undefined && p.offset >= 0n ? p.offset : undefined;
    };
    const end = await ask(LATEST_TIMESTAMP);
    const start = end === undefined ? undefined : await ask(EARLIEST_TIMESTAMP);
    return end === undefined || start === undefined ? undefined : { end, start };
  }

  private delay(keys: Iterable<string>, errorCode: number): void {
    const until = this.clock() + this.options.config.backoffMs;
    for (const key of keys) {
      const state = this.states.get(key);
      if (state !== undefined && state.status.kind !== "fenced")
        this.states.set(key, { ...state, status: { kind: "delayed", until } });
    }
    this.options.logger.debug({ leader: this.leaderId, error: errorName(errorCode) }, "Backing off partitions");
  }

  /** The open session with the leader, or a new one: connect on its inter-broker endpoint and agree on versions. */
  private async connect(): Promise<Session> {
    if (this.session !== undefined && !this.session.connection.closed) return this.session;
    this.session = undefined;
    const { config, nodeId } = this.options;
    const endpoint = this.options.endpoint(this.leaderId);
    if (endpoint === undefined)
      throw new Error(`broker ${this.leaderId} has no registered endpoint on the inter-broker listener`);
    const connection = await BrokerConnection.open({
      host: endpoint.host,
      port: endpoint.port,
      clientId: `broker-${nodeId}-fetcher-${this.leaderId}`,
      connectTimeoutMs: config.socketTimeoutMs,
    });
    try {
      const versions = await connection.send(
        ApiVersionsRequest,
        ApiVersionsResponse,
        0,
        ApiVersionsRequest.create(),
        config.socketTimeoutMs,
      );
      const range = (apiKey: number) => versions.apiKeys.find((k) => k.apiKey === apiKey);
      const fetch = range(FetchRequest.apiKey);
      const fetchVersion = Math.min(fetch?.maxVersion ?? -1, FetchRequest.maxVersion);
      if (fetch === undefined || fetchVersion < Math.max(MIN_FETCH_VERSION, fetch.minVersion))
        throw new Error(`broker ${this.leaderId} does not serve Fetch v${MIN_FETCH_VERSION} or later`);
      const list = range(ListOffsetsRequest.apiKey);
      const listVersion = Math.min(list?.maxVersion ?? -1, ListOffsetsRequest.maxVersion);
      const session: Session = {
        connection,
        fetchVersion,
        listOffsetsVersion: list !== undefined && listVersion >= Math.max(1, list.minVersion) ? listVersion : undefined,
      };
      this.options.logger.info(
        { leader: this.leaderId, address: connection.address, fetchVersion },
        "Fetching from the leader",
      );
      this.session = session;
      return session;
    } catch (err) {
      connection.close();
      throw err;
    }
  }

  private problem(message: string): void {
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.options.logger.warn({ leader: this.leaderId }, `Cannot fetch from the leader: ${message}`);
  }

  /** Waits `ms` (or until woken, when `wakeable`): for partitions to fetch, a backoff, or close(). */
  private idle(ms: number | undefined, wakeable = true): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, Math.max(0, ms));
      const wake = wakeable ? done : () => (this.closed ? done() : undefined);
      this.wake = wake;
      function done(): void {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      }
    });
  }
}
