import { ConfigResourceType, configKey, type MetadataImage } from "../metadata/image/index.ts";
import type { ReplicationSide, ReplicationThrottleMetrics } from "../runtime/metrics.ts";
import { ReplicationQuota, throttledPartitionsFor, throttleRate, type QuotaWindowConfig } from "./quota.ts";

// This broker's two replication throttles (KIP-73), set from the metadata image as Kafka's config handlers set them:
// the rates are dynamic broker configs (this broker's own, else the cluster default, else no limit), and a topic's
// leader/follower.replication.throttled.replicas name the partitions throttled here ("*", or `partition:broker` pairs
// whose broker is this one). The leader side bounds what this broker's leaders send to followers outside the ISR
// (handlers/01-fetch.ts); the follower side bounds what its fetchers ask for while not caught up (fetcher/).

/** Where throttled bytes are counted: the broker's metrics (a type only, so nothing of runtime/ loads here). */
export type ThrottleMetrics = ReplicationThrottleMetrics;
export type ThrottleSide = ReplicationSide;

const SETTINGS = {
  leader: { rate: "leader.replication.throttled.rate", replicas: "leader.replication.throttled.replicas" },
  follower: { rate: "follower.replication.throttled.rate", replicas: "follower.replication.throttled.replicas" },
} as const;

const TOPIC_PREFIX = configKey(ConfigResourceType.TOPIC, "");

type Throttled = ReadonlyMap<string, "all" | ReadonlySet<number>>;

/** One side's quota and the partitions it applies to on this broker. */
export class ThrottleSideView {
  readonly quota: ReplicationQuota;
  private throttled: Throttled = new Map();

  constructor(
    readonly side: ThrottleSide,
    window: QuotaWindowConfig,
    private readonly clock: () => number,
    private readonly metrics: ThrottleMetrics | undefined,
  ) {
    this.quota = new ReplicationQuota(window);
  }

  /** Whether the topic's throttled-replicas config names this partition on this broker. */
  isThrottled(topic: string, partition: number): boolean {
    const partitions = this.throttled.get(topic);
    return partitions === "all" || partitions?.has(partition) === true;
  }

  isExceeded(): boolean {
    return this.quota.isExceeded(this.clock());
  }

  /** Kafka's shouldLeaderThrottle / shouldFollowerThrottle: in-sync replicas are never held back. */
  shouldThrottle(topic: string, partition: number, inSync: boolean): boolean {
    return !inSync && this.isThrottled(topic, partition) && this.isExceeded();
  }

  record(bytes: number): void {
    if (bytes <= 0) return;
    this.quota.record(bytes, this.clock());
    this.metrics?.recordThrottledBytes(this.side, bytes);
  }

  heldBack(partitions: number): void {
    if (partitions > 0) this.metrics?.recordHeldBack(this.side, partitions);
  }

  /** @internal set by ReplicationThrottles from the image. */
  apply(rate: number, throttled: Throttled): void {
    this.quota.setBound(rate);
    this.throttled = throttled;
  }
}

export interface ReplicationThrottlesOptions {
  readonly nodeId: number;
  /** The current metadata image: the throttles follow its configs. */
  readonly image: () => MetadataImage;
  readonly window: QuotaWindowConfig;
  readonly clock?: () => number;
  readonly metrics?: ThrottleMetrics;
}

export class ReplicationThrottles {
  private readonly sides: Record<ThrottleSide, ThrottleSideView>;
  private appliedConfigs: MetadataImage["configs"] | undefined;

  constructor(private readonly options: ReplicationThrottlesOptions) {
    const clock = options.clock ?? Date.now;
    this.sides = {
      leader: new ThrottleSideView("leader", options.window, clock, options.metrics),
      follower: new ThrottleSideView("follower", options.window, clock, options.metrics),
    };
  }

  get leader(): ThrottleSideView {
    return this.refresh().leader;
  }

  get follower(): ThrottleSideView {
    return this.refresh().follower;
  }

  /** Re-reads the settings when the image's configs changed (they are replaced, never mutated, on a change). */
  private refresh(): Record<ThrottleSide, ThrottleSideView> {
    const configs = this.options.image().configs;
    if (configs !== this.appliedConfigs) {
      this.appliedConfigs = configs;
      const settings = throttleSettings(configs, this.options.nodeId);
      for (const side of ["leader", "follower"] as const)
        this.sides[side].apply(settings[side].rate, settings[side].throttled);
    }
    return this.sides;
  }
}

/** Both sides' rates and throttled partitions on broker `nodeId`, from an image's configs. */
export function throttleSettings(
  configs: MetadataImage["configs"],
  nodeId: number,
): Record<ThrottleSide, { rate: number; throttled: Throttled }> {
  const own = configs.get(configKey(ConfigResourceType.BROKER, String(nodeId)));
  const cluster = configs.get(configKey(ConfigResourceType.BROKER, ""));
  const result = {
    leader: { rate: 0, throttled: new Map<string, "all" | ReadonlySet<number>>() },
    follower: { rate: 0, throttled: new Map<string, "all" | ReadonlySet<number>>() },
  };
  for (const side of ["leader", "follower"] as const) {
    const name = SETTINGS[side].rate;
    result[side].rate = throttleRate(own?.get(name) ?? cluster?.get(name));
  }
  for (const [key, values] of configs) {
    if (!key.startsWith(TOPIC_PREFIX)) continue;
    const topic = key.slice(TOPIC_PREFIX.length);
    for (const side of ["leader", "follower"] as const) {
      const value = values.get(SETTINGS[side].replicas);
      const partitions = value === undefined ? undefined : throttledPartitionsFor(value, nodeId);
      if (partitions !== undefined) result[side].throttled.set(topic, partitions);
    }
  }
  return result;
}
