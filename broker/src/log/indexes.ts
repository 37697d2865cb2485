import { constants } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { isNotFound } from "./checkpoint.ts";

/**
 * An index is an append-only array of fixed-size big-endian entries, kept whole in memory (the file image) and written
 * to disk lazily: on roll and on clean shutdown. An index is never trusted after a crash unless its segment lies below
 * the recovery point, and every segment below it was fsynced together with its indexes when it was rolled, so the
 * write path never pays for index I/O.
 */
abstract class AppendOnlyIndex {
  protected buf: Buffer;
  protected count = 0;
  /** Entries already in the file. */
  private persisted = 0;
  /** The file holds entries beyond `persisted` that a truncation removed. */
  private truncatedOnDisk = false;

  protected constructor(
    readonly path: string,
    protected readonly entrySize: number,
    image?: Buffer,
  ) {
    this.buf = Buffer.alloc(Math.max(image?.length ?? 0, entrySize * 64));
    if (image !== undefined) {
      image.copy(this.buf);
      this.count = image.length / entrySize;
      this.persisted = this.count;
    }
  }

  get entries(): number {
    return this.count;
  }

  protected reserve(): number {
    const at = this.count * this.entrySize;
    if (at + this.entrySize > this.buf.length) {
      const grown = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.count++;
    return at;
  }

  /** Largest entry index whose key is <= target, or -1. Keys must be non-decreasing. */
  protected floorIndex(keyLessOrEqual: (i: number) => boolean): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (keyLessOrEqual(mid)) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Keeps the first `entries` entries. */
  truncateEntries(entries: number): void {
    if (entries >= this.count) return;
    this.count = entries;
    this.persisted = Math.min(this.persisted, entries);
    this.truncatedOnDisk = true;
  }

  clear(): void {
    this.truncateEntries(0);
  }

  /** Writes entries not yet on disk; with `sync`, also fsyncs the file. */
  async persist(sync: boolean): Promise<void> {
    if (this.persisted === this.count && !this.truncatedOnDisk && !sync) return;
    // Not "a": O_APPEND would ignore the positions given to write().
    const fh = await open(this.path, constants.O_RDWR | constants.O_CREAT);
    try {
      if (this.truncatedOnDisk) {
        await fh.truncate(this.persisted * this.entrySize);
        this.truncatedOnDisk = false;
      }
      const from = this.persisted * this.entrySize;
      const to = this.count * this.entrySize;
      let done = from;
      while (done < to) {
        const { bytesWritten } = await fh.write(this.buf, done, to - done, done);
        done += bytesWritten;
      }
      this.persisted = this.count;
      if (sync) await fh.datasync();
    } finally {
      await fh.close();
    }
  }
}

/** Reads an index file image, or undefined if it is missing or not a whole number of entries. */
async function readImage(path: string, entrySize: number): Promise<Buffer | undefined> {
  try {
    const image = await readFile(path);
    return image.length % entrySize === 0 ? image : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface OffsetPosition {
  /** Offset relative to the segment's base offset: the base offset of a batch. */
  relativeOffset: number;
  /** File position of that batch. */
  position: number;
}

/** Sparse map from a batch's relative base offset to its file position: int32 + int32 per entry. */
export class OffsetIndex extends AppendOnlyIndex {
  private constructor(path: string, image?: Buffer) {
    super(path, 8, image);
  }

  static empty(path: string): OffsetIndex {
    return new OffsetIndex(path);
  }

  /**
   * Loads the file and checks it against the segment's size. Undefined means the index must be rebuilt: missing, torn,
   * out of order, or pointing past the end of the log.
   */
  static async load(path: string, logSize: number): Promise<OffsetIndex | undefined> {
    const image = await readImage(path, 8);
    if (image === undefined) return undefined;
    const index = new OffsetIndex(path, image);
    let prev: OffsetPosition = { relativeOffset: -1, position: -1 };
    for (let i = 0; i < index.entries; i++) {
      const e = index.entry(i);
      if (e.relativeOffset <= prev.relativeOffset || e.position <= prev.position || e.position >= logSize)
        return undefined;
      prev = e;
    }
    return index;
  }

  entry(i: number): OffsetPosition {
    return { relativeOffset: this.buf.readInt32BE(i * 8), position: this.buf.readInt32BE(i * 8 + 4) };
  }

  last(): OffsetPosition | undefined {
    return this.count === 0 ? undefined : this.entry(this.count - 1);
  }

  append(relativeOffset: number, position: number): void {
    const at = this.reserve();
    this.buf.writeInt32BE(relativeOffset, at);
    this.buf.writeInt32BE(position, at + 4);
  }

  /** The indexed batch closest before `relativeOffset`; the segment start if none is. */
  lookup(relativeOffset: number): OffsetPosition {
    const i = this.floorIndex((mid) => this.buf.readInt32BE(mid * 8) <= relativeOffset);
    return i < 0 ? { relativeOffset: 0, position: 0 } : this.entry(i);
  }

  /** Drops entries for batches at or after `relativeOffset`. */
  truncateToOffset(relativeOffset: number): void {
    this.truncateEntries(this.floorIndex((mid) => this.buf.readInt32BE(mid * 8) < relativeOffset) + 1);
  }
}

export interface TimestampOffset {
  timestamp: bigint;
  relativeOffset: number;
}

/**
 * Sparse map from the largest timestamp seen so far in a segment to the relative base offset of the first batch that
 * reached it: int64 + int32 per entry, strictly increasing timestamps. Its last entry is the segment's max timestamp.
 */
export class TimeIndex extends AppendOnlyIndex {
  private constructor(path: string, image?: Buffer) {
    super(path, 12, image);
  }

  static empty(path: string): TimeIndex {
    return new TimeIndex(path);
  }

  static async load(path: string, maxRelativeOffset: number): Promise<TimeIndex | undefined> {
    const image = await readImage(path, 12);
    if (image === undefined) return undefined;
    const index = new TimeIndex(path, image);
    let prevTs = -(2n ** 63n);
    for (let i = 0; i < index.entries; i++) {
      const e = index.entry(i);
      if (e.timestamp <= prevTs || e.relativeOffset < 0 || e.relativeOffset > maxRelativeOffset) return undefined;
      prevTs = e.timestamp;
    }
    return index;
  }

  entry(i: number): TimestampOffset {
    return { timestamp: this.buf.readBigInt64BE(i * 12), relativeOffset: this.buf.readInt32BE(i * 12 + 8) };
  }

  last(): TimestampOffset | undefined {
    return this.count === 0 ? undefined : this.entry(this.count - 1);
  }

  /** Adds an entry only if it raises the maximum, keeping timestamps strictly increasing. */
  maybeAppend(timestamp: bigint, relativeOffset: number): void {
    const last = this.last();
    if (last !== undefined && timestamp <= last.timestamp) return;
    const at = this.reserve();
    this.buf.writeBigInt64BE(timestamp, at);
    this.buf.writeInt32BE(relativeOffset, at + 8);
  }

  /** The entry with the largest timestamp <= `timestamp`, or undefined if every entry is later. */
  lookup(timestamp: bigint): TimestampOffset | undefined {
    const i = this.floorIndex((mid) => this.buf.readBigInt64BE(mid * 12) <= timestamp);
    return i < 0 ? undefined : this.entry(i);
  }

  /** Drops entries that name batches at or after `relativeOffset`. */
  truncateToOffset(relativeOffset: number): void {
    let keep = this.count;
    while (keep > 0 && this.buf.readInt32BE((keep - 1) * 12 + 8) >= relativeOffset) keep--;
    this.truncateEntries(keep);
  }
}
