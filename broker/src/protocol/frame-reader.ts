/**
 * Reassembles size-prefixed frames from socket reads. Reads arrive in pieces of up to 64 KiB, so a frame may span many
 * reads, and one read may hold many small pipelined frames. A frame inside one read is returned as a view (no copy);
 * only a frame that spans reads is copied, once, into a buffer of exactly its size.
 */
export type FrameEvent =
  | { readonly kind: "frame"; readonly frame: Buffer }
  /** The size prefix is negative, zero or above the limit; nothing was allocated for the frame. */
  | { readonly kind: "invalid-size"; readonly size: number };

export class FrameReader {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Size of the frame whose prefix has been read, or -1 while waiting for a prefix. */
  private expected = -1;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes of an incomplete frame (prefix included) held back, waiting for more reads. */
  get pendingBytes(): number {
    return this.bufferedBytes + (this.expected >= 0 ? 4 : 0);
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** The next complete frame, an invalid size, or null when more bytes are needed. */
  next(): FrameEvent | null {
    if (this.expected < 0) {
      if (this.bufferedBytes < 4) return null;
      const size = this.take(4).readInt32BE(0);
      if (size <= 0 || size > this.maxFrameBytes) return { kind: "invalid-size", size };
      this.expected = size;
    }
    if (this.bufferedBytes < this.expected) return null;
    const frame = this.take(this.expected);
    this.expected = -1;
    return { kind: "frame", frame };
  }

  private take(n: number): Buffer {
    const head = this.chunks[0];
    if (head === undefined) throw new Error("take() beyond buffered bytes");
    this.bufferedBytes -= n;
    if (head.length > n) {
      this.chunks[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    if (head.length === n) {
      this.chunks.shift();
      return head;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      if (c === undefined) throw new Error("take() beyond buffered bytes");
      const use = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, use);
      filled += use;
      if (use === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(use);
    }
    return out;
  }
}
