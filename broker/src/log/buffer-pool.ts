/**
 * Reuses read buffers so a steady stream of fetches does not allocate (and zero, and garbage-collect) a fresh buffer
 * per request. Buffers come in power-of-two size classes; a class keeps at most `perClass` idle buffers, and requests
 * above `maxPooledSize` get a plain unpooled allocation.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private readonly leased = new WeakSet<Buffer>();

  constructor(
    private readonly maxPooledSize = 8 * 1024 * 1024,
    private readonly perClass = 8,
  ) {}

  /** A buffer of at least `size` bytes, with arbitrary content. Give it back with release() once nothing reads it. */
  acquire(size: number): Buffer {
    const cls = sizeClass(size);
    if (cls > this.maxPooledSize) return Buffer.allocUnsafeSlow(size);
    const buf = this.free.get(cls)?.pop() ?? Buffer.allocUnsafeSlow(cls);
    this.leased.add(buf);
    return buf;
  }

  /** Returns a buffer from acquire(). Releasing twice, or releasing a foreign buffer, is ignored. */
  release(buf: Buffer): void {
    if (!this.leased.delete(buf)) return;
    const list = this.free.get(buf.length);
    if (list === undefined) this.free.set(buf.length, [buf]);
    else if (list.length < this.perClass) list.push(buf);
  }
}

function sizeClass(size: number): number {
  let cls = 4096;
  while (cls < size) cls *= 2;
  return cls;
}

/** The broker-wide pool used when a log is not given its own. */
export const sharedBufferPool = new BufferPool();
