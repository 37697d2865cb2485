import type { Logger } from "pino";
import { endpointOf, type BrokerRegistration } from "../../metadata/image/index.ts";
import {
  ReplicaFetcher,
  type FollowerPartitions,
  type FollowerThrottle,
  type ReplicaFetchConfig,
} from "./replica-fetcher.ts";

// Kafka's ReplicaFetcherManager with num.replica.fetchers=1: one fetcher per leader broker, fetching every partition
// this node follows there. The partition publisher tells it which partitions to follow, in which leader epoch and from
// which leader; fetchers run once the broker has started (start), and stop before the logs close (close).

export interface FollowerTarget {
  readonly topicId: string;
  readonly topic: string;
  readonly partition: number;
  /** -1 when the partition has no leader: nothing to fetch from. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export interface FetcherManagerOptions {
  readonly nodeId: number;
  /** inter.broker.listener.name: where this node reaches the leaders. */
  readonly listenerName: string;
  readonly partitions: FollowerPartitions;
  readonly config: ReplicaFetchConfig;
  readonly logger: Logger;
  /** The follower replication throttle as the image sets it now. */
  readonly throttle?: () => FollowerThrottle;
}

function targetKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export class ReplicaFetcherManager {
  private readonly targets = new Map<string, FollowerTarget>();
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private brokers: ReadonlyMap<number, BrokerRegistration> = new Map();
  private brokerEpoch: (() => bigint) | undefined;
  private closed = false;

  constructor(private readonly options: FetcherManagerOptions) {}

  /** The registered brokers of the image being applied: where the leaders listen. */
  setBrokers(brokers: ReadonlyMap<number, BrokerRegistration>): void {
    this.brokers = brokers;
  }

  /**
   * Follows the partition: from `leaderId` in `leaderEpoch`. A new leader moves the partition to that leader's
   * fetcher (after the old one has stopped applying answers for it); a partition without a leader is not fetched.
   */
  async follow(target: FollowerTarget): Promise<void> {
    const key = targetKey(target.topic, target.partition);
    const previous = this.targets.get(key);
    if (target.leaderId < 0 || target.leaderId === this.options.nodeId) {
      await this.remove(target.topic, target.partition);
      return;
    }
    if (previous !== undefined && previous.leaderId !== target.leaderId)
      await this.remove(target.topic, target.partition);
    this.targets.set(key, target);
    if (this.brokerEpoch !== undefined) this.fetcherFor(target.leaderId).add(target);
  }

  /** Stops following the partition (it is led here now, or gone); resolves once no fetcher will touch its log. */
  async remove(topic: string, partition: number): Promise<void> {
    const key = targetKey(topic, partition);
    const target = this.targets.get(key);
    if (target === undefined) return;
    this.targets.delete(key);
    const fetcher = this.fetchers.get(target.leaderId);
    if (fetcher === undefined) return;
    await fetcher.remove(topic, partition);
    if (fetcher.size === 0 && this.fetchers.get(target.leaderId) === fetcher) {
      this.fetchers.delete(target.leaderId);
      await fetcher.close();
    }
  }

  /** Starts fetching, for the partitions followed so far and from now on; `brokerEpoch` is this node's registration. */
  start(brokerEpoch: () => bigint): void {
    if (this.closed || this.brokerEpoch !== undefined) return;
    this.brokerEpoch = brokerEpoch;
    for (const target of this.targets.values()) this.fetcherFor(target.leaderId).add(target);
  }

  /** The partitions followed, by leader (for tests and metrics). */
  following(): Map<number, FollowerTarget[]> {
    const out = new Map<number, FollowerTarget[]>();
    for (const t of this.targets.values()) out.set(t.leaderId, [...(out.get(t.leaderId) ?? []), t]);
    return out;
  }

  /** Stops every fetcher; nothing is appended to any log once this resolves. */
  async close(): Promise<void> {
    this.closed = true;
    this.brokerEpoch = undefined;
    const fetchers = [...this.fetchers.values()];
    this.fetchers.clear();
    await Promise.all(fetchers.map((f) => f.close()));
  }

  private fetcherFor(leaderId: number): ReplicaFetcher {
    let fetcher = this.fetchers.get(leaderId);
    if (fetcher === undefined) {
      const { nodeId, listenerName, partitions, config, logger, throttle } = this.options;
      const epoch = this.brokerEpoch ?? (() => -1n);
      fetcher = new ReplicaFetcher({
        nodeId,
        leaderId,
        brokerEpoch: epoch,
        endpoint: (id) => {
          const endpoint = endpointOf(this.brokers.get(id), listenerName);
          return endpoint === undefined ? undefined : { host: endpoint.host, port: endpoint.port };
        },
        partitions,
        config,
        logger: logger.child({ fetcher: leaderId }),
        ...(throttle !== undefined && { throttle }),
      });
      this.fetchers.set(leaderId, fetcher);
    }
    return fetcher;
  }
}
