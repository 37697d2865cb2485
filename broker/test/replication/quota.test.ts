import { describe, expect, it } from "vitest";
import { configKey, ConfigResourceType, EMPTY_IMAGE, type MetadataImage } from "../../src/metadata/image/index.ts";
import { inSyncAfterAnswer } from "../../src/replication/fetcher/follower-state.ts";
import {
  DEFAULT_QUOTA_WINDOW,
  ReplicationQuota,
  throttledPartitionsFor,
  throttleRate,
  UNLIMITED,
} from "../../src/replication/quota.ts";
import { ReplicationThrottles, throttleSettings, type ThrottleSide } from "../../src/replication/throttles.ts";

describe("ReplicationQuota (Kafka's SimpleRate over sampled windows)", () => {
  it("is never exceeded without a bound", () => {
    const quota = new ReplicationQuota(DEFAULT_QUOTA_WINDOW);
    quota.record(10 ** 12, 0);
    expect(quota.bound).toBe(UNLIMITED);
    expect(quota.isExceeded(1)).toBe(false);
  });

  it("measures the first window as a whole window, and is exceeded only above the bound", () => {
    const quota = new ReplicationQuota({ samples: 11, windowMs: 1_000 });
    quota.setBound(1_000);
    quota.record(1_000, 0);
    expect(quota.rate(0)).toBe(1_000);
    expect(quota.isExceeded(0)).toBe(false);
    quota.record(1, 10);
    expect(quota.isExceeded(500)).toBe(true);
    // 1,001 bytes over 1,001 ms: back at the bound.
    expect(quota.rate(1_001)).toBeCloseTo(1_000, 6);
    expect(quota.isExceeded(1_001)).toBe(false);
  });

  it("holds a greedy sender to the bound on average", () => {
    const window = { samples: 11, windowMs: 1_000 };
    const quota = new ReplicationQuota(window);
    quota.setBound(2_000);
    let sent = 0;
    for (let t = 0; t < 30_000; t += 20) {
      if (quota.isExceeded(t)) continue;
      quota.record(200, t);
      sent += 200;
    }
    // 30 s at 2,000 B/s, plus at most one window's worth early on and one chunk of overshoot.
    expect(sent).toBeGreaterThanOrEqual(0.95 * 60_000);
    expect(sent).toBeLessThanOrEqual(60_000 + 2_000 + 200);
  });

  it("forgets windows with nothing recorded for samples × window", () => {
    const quota = new ReplicationQuota({ samples: 2, windowMs: 1_000 });
    quota.setBound(100);
    quota.record(5_000, 0);
    expect(quota.isExceeded(1_000)).toBe(true);
    expect(quota.isExceeded(1_999)).toBe(true);
    expect(quota.rate(2_000)).toBe(0);
    expect(quota.isExceeded(2_000)).toBe(false);
  });

  it("keeps what it measured when the bound changes", () => {
    const quota = new ReplicationQuota(DEFAULT_QUOTA_WINDOW);
    quota.record(5_000, 0);
    expect(quota.isExceeded(100)).toBe(false);
    quota.setBound(1_000);
    expect(quota.isExceeded(100)).toBe(true);
    quota.setBound(UNLIMITED);
    expect(quota.isExceeded(100)).toBe(false);
  });

  it("refuses a window config that measures nothing", () => {
    expect(() => new ReplicationQuota({ samples: 0, windowMs: 1_000 })).toThrow(/at least one window/);
  });
});

describe("throttled replicas and rates as configured", () => {
  it("reads the partitions a throttled-replicas list names for one broker", () => {
    expect(throttledPartitionsFor("*", 1)).toBe("all");
    expect(throttledPartitionsFor(" * ", 1)).toBe("all");
    expect(throttledPartitionsFor("", 1)).toBeUndefined();
    expect(throttledPartitionsFor("0:1,1:2,2:1", 1)).toEqual(new Set([0, 2]));
    expect(throttledPartitionsFor("0:1, 1:2 ,", 2)).toEqual(new Set([1]));
    expect(throttledPartitionsFor("0:1,1:2", 3)).toBeUndefined();
  });

  it("takes a rate as bytes/s, Long.MAX_VALUE and anything unreadable as no limit", () => {
    expect(throttleRate(undefined)).toBe(UNLIMITED);
    expect(throttleRate("9223372036854775807")).toBe(UNLIMITED);
    expect(throttleRate("2000000")).toBe(2_000_000);
    expect(throttleRate("0")).toBe(0);
    expect(throttleRate("-1")).toBe(UNLIMITED);
  });

  it("resolves each side from this broker's configs, the cluster default and the topics' lists", () => {
    const configs = new Map([
      [configKey(ConfigResourceType.BROKER, ""), new Map([["leader.replication.throttled.rate", "500"]])],
      [
        configKey(ConfigResourceType.BROKER, "1"),
        new Map([
          ["leader.replication.throttled.rate", "100"],
          ["follower.replication.throttled.rate", "200"],
        ]),
      ],
      [configKey(ConfigResourceType.TOPIC, "a"), new Map([["leader.replication.throttled.replicas", "0:1,1:2"]])],
      [configKey(ConfigResourceType.TOPIC, "b"), new Map([["follower.replication.throttled.replicas", "*"]])],
      [configKey(ConfigResourceType.TOPIC, "c"), new Map([["retention.ms", "1"]])],
    ]);
    const one = throttleSettings(configs, 1);
    expect(one.leader).toEqual({ rate: 100, throttled: new Map([["a", new Set([0])]]) });
    expect(one.follower).toEqual({ rate: 200, throttled: new Map([["b", "all"]]) });
    const two = throttleSettings(configs, 2);
    expect(two.leader).toEqual({ rate: 500, throttled: new Map([["a", new Set([1])]]) });
    expect(two.follower.rate).toBe(UNLIMITED);
  });
});

describe("ReplicationThrottles", () => {
  function setup() {
    let now = 0;
    let image: MetadataImage = EMPTY_IMAGE;
    const counted: { side: ThrottleSide; bytes: number }[] = [];
    const held: { side: ThrottleSide; partitions: number }[] = [];
    const throttles = new ReplicationThrottles({
      nodeId: 1,
      image: () => image,
      window: { samples: 2, windowMs: 1_000 },
      clock: () => now,
      metrics: {
        recordThrottledBytes: (side, bytes) => counted.push({ side, bytes }),
        recordHeldBack: (side, partitions) => held.push({ side, partitions }),
      },
    });
    const configure = (entries: [string, Map<string, string>][]) => {
      image = { ...image, configs: new Map(entries) };
    };
    return { throttles, configure, counted, held, advance: (ms: number) => (now += ms) };
  }

  it("holds back only listed replicas outside the ISR, and only while over the rate", () => {
    const { throttles, configure, counted } = setup();
    configure([
      [configKey(ConfigResourceType.BROKER, "1"), new Map([["leader.replication.throttled.rate", "1000"]])],
      [configKey(ConfigResourceType.TOPIC, "t"), new Map([["leader.replication.throttled.replicas", "0:1"]])],
    ]);
    const leader = throttles.leader;
    expect(leader.shouldThrottle("t", 0, false)).toBe(false);
    leader.record(5_000);
    expect(counted).toEqual([{ side: "leader", bytes: 5_000 }]);
    expect(leader.shouldThrottle("t", 0, false)).toBe(true);
    expect(leader.shouldThrottle("t", 0, true)).toBe(false);
    expect(leader.shouldThrottle("t", 1, false)).toBe(false);
    expect(leader.shouldThrottle("u", 0, false)).toBe(false);
    // The follower side has no rate: nothing is held back there.
    throttles.follower.record(5_000);
    expect(throttles.follower.shouldThrottle("t", 0, false)).toBe(false);
  });

  it("follows the image: a removed throttle releases at once", () => {
    const { throttles, configure, advance } = setup();
    configure([
      [configKey(ConfigResourceType.BROKER, ""), new Map([["follower.replication.throttled.rate", "10"]])],
      [configKey(ConfigResourceType.TOPIC, "t"), new Map([["follower.replication.throttled.replicas", "*"]])],
    ]);
    throttles.follower.record(100);
    advance(10);
    expect(throttles.follower.shouldThrottle("t", 7, false)).toBe(true);
    configure([[configKey(ConfigResourceType.TOPIC, "t"), new Map<string, string>()]]);
    expect(throttles.follower.shouldThrottle("t", 7, false)).toBe(false);
  });

  it("reports held-back partitions and ignores empty records", () => {
    const { throttles, counted, held } = setup();
    throttles.leader.heldBack(0);
    throttles.leader.heldBack(3);
    throttles.follower.record(0);
    expect(held).toEqual([{ side: "leader", partitions: 3 }]);
    expect(counted).toEqual([]);
  });
});

describe("inSyncAfterAnswer (the follower's view for its throttle)", () => {
  it("is in sync once its log reaches the leader's high watermark", () => {
    expect(inSyncAfterAnswer(undefined, 0, 10n, 10n)).toBe(true);
    expect(inSyncAfterAnswer(undefined, 0, 10n, 5n)).toBe(false);
    expect(inSyncAfterAnswer(false, 100, 10n, 12n)).toBe(true);
    expect(inSyncAfterAnswer(true, 100, 20n, 12n)).toBe(false);
  });

  it("keeps what it knew on an answer without records", () => {
    expect(inSyncAfterAnswer(false, 0, 10n, 10n)).toBe(false);
    expect(inSyncAfterAnswer(true, 0, 20n, 10n)).toBe(true);
  });
});
