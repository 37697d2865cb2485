import { describe, expect, it } from "vitest";
import { BufferPool } from "../../src/log/index.ts";

describe("BufferPool", () => {
  it("hands a released buffer out again for a request of the same size class", () => {
    const pool = new BufferPool(1 << 20, 2);
    const a = pool.acquire(5000);
    expect(a.length).toBe(8192);
    pool.release(a);
    expect(pool.acquire(6000)).toBe(a);
    expect(pool.acquire(6000)).not.toBe(a);
  });

  it("ignores double and foreign releases and does not pool oversized buffers", () => {
    const pool = new BufferPool(16384, 4);
    const a = pool.acquire(100);
    pool.release(a);
    pool.release(a);
    pool.release(Buffer.alloc(4096));
    const first = pool.acquire(100);
    const second = pool.acquire(100);
    expect(first).toBe(a);
    expect(second).not.toBe(a);
    const big = pool.acquire(100_000);
    expect(big.length).toBe(100_000);
    pool.release(big);
    expect(pool.acquire(100_000)).not.toBe(big);
  });
});
