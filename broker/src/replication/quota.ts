// Replication throttles (KIP-73), as Kafka's ReplicationQuotaManager measures them: the bytes of throttled replicas
// are recorded into a rate over a few sample windows, and the quota is exceeded while that rate is above the bound.
// Pure: the caller passes the time of every call, so tests drive the windows without waiting.
//
// The rate is Kafka's SimpleRate over a SampledStat: up to `samples` + 1 windows of `windowMs` each, a window kept
// until nothing was recorded in it for `samples` windows; the rate is their sum over the time since the oldest kept
// window started, but never over less than one window (so the first burst may reach one window's worth of bytes).

/** replication.quota.window.num and replication.quota.window.size.seconds (in ms). */
export interface QuotaWindowConfig {
  readonly samples: number;
  readonly windowMs: number;
}

export const DEFAULT_QUOTA_WINDOW: QuotaWindowConfig = { samples: 11, windowMs: 1_000 };

/** Kafka's default throttle, Long.MAX_VALUE bytes/s: no limit. */
export const UNLIMITED = Number.MAX_SAFE_INTEGER;

interface Sample {
  startMs: number;
  lastEventMs: number;
  bytes: number;
}

export class ReplicationQuota {
  private readonly samples: Sample[] = [];
  private current = 0;
  private boundBytesPerSecond = UNLIMITED;

  constructor(private readonly window: QuotaWindowConfig) {
    if (!(window.samples >= 1 && window.windowMs >= 1)) throw new Error("a quota needs at least one window of 1 ms");
  }

  /** The throttle in bytes/s; a change keeps what was measured so far, as Kafka's updateQuota does. */
  setBound(bytesPerSecond: number): void {
    this.boundBytesPerSecond = bytesPerSecond;
  }

  get bound(): number {
    return this.boundBytesPerSecond;
  }

  /** Counts bytes sent (leader) or fetched (follower) for throttled replicas, whether or not over the quota. */
  record(bytes: number, nowMs: number): void {
    let sample = this.currentSample(nowMs);
    if (nowMs - sample.startMs >= this.window.windowMs) sample = this.advance(nowMs);
    sample.bytes += bytes;
    sample.lastEventMs = nowMs;
  }

  /** Bytes per second over the kept windows. */
  rate(nowMs: number): number {
    this.purge(nowMs);
    const oldest = this.samples.reduce<Sample | undefined>(
      (o, s) => (o === undefined || s.startMs < o.startMs ? s : o),
      undefined,
    );
    if (oldest === undefined) return 0;
    const total = this.samples.reduce((sum, s) => sum + s.bytes, 0);
    const elapsedMs = Math.max(nowMs - oldest.startMs, this.window.windowMs);
    return (total * 1000) / elapsedMs;
  }

  /** Whether throttled replicas must wait: the measured rate is above the bound (equal is still within it). */
  isExceeded(nowMs: number): boolean {
    if (this.boundBytesPerSecond >= UNLIMITED) return false;
    return this.rate(nowMs) > this.boundBytesPerSecond;
  }

  private currentSample(nowMs: number): Sample {
    if (this.samples.length === 0) this.samples.push({ startMs: nowMs, lastEventMs: nowMs, bytes: 0 });
    const sample = this.samples[this.current];
    if (sample === undefined) throw new Error("quota sample index out of range");
    return sample;
  }

  private advance(nowMs: number): Sample {
    this.current = (this.current + 1) % (this.window.samples + 1);
    const fresh = { startMs: nowMs, lastEventMs: nowMs, bytes: 0 };
    if (this.current >= this.samples.length) this.samples.push(fresh);
    else this.samples[this.current] = fresh;
    return fresh;
  }

  /** A window with nothing recorded for `samples` windows no longer counts; it restarts empty, now. */
  private purge(nowMs: number): void {
    const expireMs = this.window.samples * this.window.windowMs;
    for (const sample of this.samples) {
      if (nowMs - sample.lastEventMs >= expireMs) {
        sample.startMs = nowMs;
        sample.lastEventMs = nowMs;
        sample.bytes = 0;
      }
    }
  }
}

/**
 * The partitions of one topic a throttled-replicas config names for broker `brokerId`: "all" for `*`, else the
 * partitions of the `partition:broker` pairs naming that broker (Kafka's parseThrottledPartitions). Undefined when none.
 */
export function throttledPartitionsFor(value: string, brokerId: number): "all" | ReadonlySet<number> | undefined {
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  const entries = trimmed.split(",").map((e) => e.trim());
  if (entries.join("") === "*") return "all";
  const partitions = new Set<number>();
  for (const entry of entries) {
    const match = /^(\d+):(\d+)$/.exec(entry);
    if (match !== null && Number(match[2]) === brokerId) partitions.add(Number(match[1]));
  }
  return partitions.size === 0 ? undefined : partitions;
}

/** A throttled rate config's value as bytes/s for the quota: Kafka's rates are longs, clamped to a safe integer. */
export function throttleRate(value: string | undefined): number {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return UNLIMITED;
  const n = Number(value.trim());
  return n >= UNLIMITED ? UNLIMITED : n;
}
