// Work-queue semantics the reconcile loop relies on: de-duplication, no concurrent processing of a key, a second turn
// for a key added while in progress, per-key exponential backoff and delayed requeue.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WorkQueue } from "../../src/kube/workqueue.ts";

describe("WorkQueue", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds a key once however often it is added", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    q.add("ns/a");
    q.add("ns/b");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("ns/a");
    expect(await q.get()).toBe("ns/b");
    expect(q.length).toBe(0);
  });

  it("never hands out a key in progress, and processes it again if re-added meanwhile", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    const key = await q.get();
    q.add("ns/a");
    q.add("ns/a");
    expect(q.length).toBe(0);
    q.done(key ?? "");
    expect(q.length).toBe(1);
    expect(await q.get()).toBe("ns/a");
    q.done("ns/a");
    expect(q.length).toBe(0);
  });

  it("wakes a waiting worker when a key arrives", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add("ns/x");
    expect(await waiting).toBe("ns/x");
  });

  it("backs off exponentially per key and resets on forget", () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1_000 });
    expect([1, 2, 3, 4, 5, 6].map(() => q.addRateLimited("ns/a"))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(q.addRateLimited("ns/b")).toBe(100);
    q.forget("ns/a");
    expect(q.addRateLimited("ns/a")).toBe(100);
  });

  it("adds delayed keys when due, keeping the earliest of several delays", () => {
    const q = new WorkQueue();
    q.addAfter("ns/a", 1_000);
    q.addAfter("ns/a", 5_000);
    q.addAfter("ns/b", 3_000);
    vi.advanceTimersByTime(999);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
    vi.advanceTimersByTime(2_000);
    expect(q.length).toBe(2);
    vi.advanceTimersByTime(10_000);
    expect(q.length).toBe(2);
  });

  it("releases waiting workers on shutdown and ignores later adds", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add("ns/a");
    expect(q.length).toBe(0);
    expect(await q.get()).toBeUndefined();
  });
});
