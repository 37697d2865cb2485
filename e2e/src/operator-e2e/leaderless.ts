// How long each partition had no leader, from samples of Kafka's metadata (the upgrade e2e polls it during a roll):
// a partition is leaderless from the first sample that reports leader -1 to the first that reports one again. The
// figure is therefore exact to within one sampling interval, which the tracker reports too (the longest time between
// two samples that answered).
import type { TopicLookup } from "@tributary/broker/admin";

export interface LeaderlessReport {
  /** Per partition ("topic-N"): the longest leaderless stretch in ms (0: never seen leaderless). */
  longestMs: Map<string, number>;
  /** Leaderless stretches seen, over all partitions. */
  stretches: number;
  /** Samples that answered, and the longest time between two of them (the figures' resolution). */
  samples: number;
  longestSampleGapMs: number;
}

export class LeaderlessTracker {
  readonly #since = new Map<string, number>();
  readonly #longest = new Map<string, number>();
  #stretches = 0;
  #samples = 0;
  #lastSampleAt: number | undefined;
  #longestGap = 0;

  /** One answered metadata sample at `now` (ms) of the topics described. */
  sample(now: number, topics: ReadonlyMap<string, TopicLookup>): void {
    this.#samples++;
    if (this.#lastSampleAt !== undefined) this.#longestGap = Math.max(this.#longestGap, now - this.#lastSampleAt);
    this.#lastSampleAt = now;
    for (const [name, lookup] of topics) {
      for (const p of lookup.topic?.partitions ?? []) {
        const key = `${name}-${p.partition}`;
        if (!this.#longest.has(key)) this.#longest.set(key, 0);
        const since = this.#since.get(key);
        if (p.leader < 0) {
          if (since === undefined) {
            this.#since.set(key, now);
            this.#stretches++;
          }
        } else if (since !== undefined) {
          this.#close(key, now - since);
        }
      }
    }
  }

  /** The report at `now`; partitions still leaderless count up to `now`. */
  report(now: number): LeaderlessReport {
    const longestMs = new Map(this.#longest);
    for (const [key, since] of this.#since) longestMs.set(key, Math.max(longestMs.get(key) ?? 0, now - since));
    return {
      longestMs,
      stretches: this.#stretches,
      samples: this.#samples,
      longestSampleGapMs: this.#longestGap,
    };
  }

  #close(key: string, ms: number): void {
    this.#since.delete(key);
    this.#longest.set(key, Math.max(this.#longest.get(key) ?? 0, ms));
  }
}
