import { open, readFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";

/** One record of `__consumer_offsets`: a key and a value, or a tombstone when the value is null. */
export interface GroupStoreRecord {
  key: Buffer;
  value: Buffer | null;
}

/** A record read back from the store, with the offset just past its batch: it is committed once the HW reaches that. */
export interface ReplayedRecord extends GroupStoreRecord {
  nextOffset: bigint;
}

/**
 * Where the coordinator keeps committed offsets and group metadata; in the broker, a partition of the compacted topic
 * `__consumer_offsets`, replicated like any other (ADR 24). Offsets are positions in that log; the high watermark (HW)
 * is where its committed part ends. The coordinator serves only state read from below the HW (ADR 24, "the group
 * coordinator serves only committed state").
 *
 * - `write` appends one batch to the local log, in call order, and resolves with the offset just past it. A rejection
 *   means nothing was written; a `GroupStoreError` chooses the error code clients see.
 * - `replicated` resolves once the HW reached an offset (acks=all: the ISR has the records), within the store's write
 *   timeout. A rejection means the records are written but not committed (yet): they may still commit when the HW
 *   moves on, or be truncated away if the partition's leadership moves.
 * - `highWatermark` and `untilCommitted` tell the coordinator when the HW passes records it wrote or replayed.
 * - `replay` yields every record in the log in order (after compaction, at least the latest of each key), the
 *   uncommitted tail included, each with its `nextOffset`.
 * - Every write carries the records of a single group, so a store spread over several `__consumer_offsets`
 *   partitions can route it whole (Kafka picks the partition from the group id's hash) and write it as one batch.
 */
export interface GroupStore {
  write(records: readonly GroupStoreRecord[]): Promise<bigint>;
  replicated(offset: bigint): Promise<void>;
  highWatermark(): bigint;
  /**
   * Resolves true once the HW reached `offset` while this store still writes as the partition's leader; false once
   * that ended (a later leader decides what stays in the log) or `signal` aborted. Never rejects.
   */
  untilCommitted(offset: bigint, signal: AbortSignal): Promise<boolean>;
  replay(): AsyncIterable<ReplayedRecord>;
}

/** Writes `records` and waits until they are committed: what a client-facing acks=all write is. */
export async function appendCommitted(store: GroupStore, records: readonly GroupStoreRecord[]): Promise<bigint> {
  const next = await store.write(records);
  await store.replicated(next);
  return next;
}

/**
 * Keeps the records in memory, in order; for tests and for brokers that may forget offsets. Each record is its own
 * batch (offset i ends at i + 1). Writes commit at once unless `holdCommits` is set: then the HW stays until
 * `commitUpTo`, and `failReplication` fails the writes waiting for it, as a replica set that stopped fetching would.
 */
export class InMemoryGroupStore implements GroupStore {
  readonly records: GroupStoreRecord[] = [];
  holdCommits = false;
  private hw = 0n;
  private readonly waiting = new Set<{ offset: bigint; resolve: () => void; reject: (err: unknown) => void }>();
  private readonly watchers = new Set<{ offset: bigint; done: (reached: boolean) => void }>();
  private leading = true;

  write(records: readonly GroupStoreRecord[]): Promise<bigint> {
    this.records.push(...records);
    const next = BigInt(this.records.length);
    if (!this.holdCommits) this.commitUpTo(next);
    return Promise.resolve(next);
  }

  replicated(offset: bigint): Promise<void> {
    if (this.hw >= offset) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiting.add({ offset, resolve, reject }));
  }

  highWatermark(): bigint {
    return this.hw;
  }

  untilCommitted(offset: bigint, signal: AbortSignal): Promise<boolean> {
    if (!this.leading || signal.aborted) return Promise.resolve(false);
    if (this.hw >= offset) return Promise.resolve(true);
    return new Promise((resolve) => {
      const watcher = {
        offset,
        done: (reached: boolean) => {
          this.watchers.delete(watcher);
          signal.removeEventListener("abort", abort);
          resolve(reached);
        },
      };
      const abort = () => watcher.done(false);
      signal.addEventListener("abort", abort, { once: true });
      this.watchers.add(watcher);
    });
  }

  /** Moves the HW to `offset` (never back), as followers catching up would. */
  commitUpTo(offset: bigint): void {
    if (offset > BigInt(this.records.length)) throw new Error(`cannot commit past the log end ${this.records.length}`);
    if (offset > this.hw) this.hw = offset;
    for (const w of [...this.waiting]) {
      if (w.offset > this.hw) continue;
      this.waiting.delete(w);
      w.resolve();
    }
    for (const w of [...this.watchers]) if (w.offset <= this.hw) w.done(true);
  }

  /** Fails every write waiting for the HW; the records stay in the log. */
  failReplication(err: unknown): void {
    for (const w of [...this.waiting]) {
      this.waiting.delete(w);
      w.reject(err);
    }
  }

  /** This store's leadership ended and the next leader's log ends at `offset` (its uncommitted tail is gone). */
  loseLeadership(offset = this.hw): void {
    this.leading = false;
    this.records.length = Number(offset);
    if (this.hw > offset) this.hw = offset;
    for (const w of [...this.watchers]) w.done(false);
  }

  /** A new leader over the same log (tests reload a partition from it). */
  lead(): void {
    this.leading = true;
  }

  /** `write` then `replicated`. */
  append(records: readonly GroupStoreRecord[]): Promise<bigint> {
    return appendCommitted(this, records);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is async; this store happens not to wait
  async *replay(): AsyncIterable<ReplayedRecord> {
    for (const [i, r] of this.records.entries()) yield { ...r, nextOffset: BigInt(i + 1) };
  }
}

/**
 * An append-only file of length-prefixed records, fsynced before a write resolves:
 * int32 key length, key, int32 value length (-1 for a tombstone), value. A torn last record (a crash mid-write) is
 * ignored on replay and overwritten by the next write. It has no replicas, so a record is committed once written:
 * its offsets count records. It never compacts; it exists for tests and small setups.
 */
export class FileGroupStore implements GroupStore {
  private handle: FileHandle | null = null;
  private position = 0;
  private count = 0n;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  write(records: readonly GroupStoreRecord[]): Promise<bigint> {
    const write = this.tail.then(() => this.writeNow(records));
    // A failed write must not poison the ones queued behind it.
    this.tail = write.catch(() => undefined);
    return write;
  }

  replicated(offset: bigint): Promise<void> {
    return offset <= this.count ? Promise.resolve() : Promise.reject(new Error(`offset ${offset} was never written`));
  }

  highWatermark(): bigint {
    return this.count;
  }

  untilCommitted(offset: bigint, signal: AbortSignal): Promise<boolean> {
    return Promise.resolve(!signal.aborted && offset <= this.count);
  }

  /** `write` then `replicated`. */
  append(records: readonly GroupStoreRecord[]): Promise<bigint> {
    return appendCommitted(this, records);
  }

  private async writeNow(records: readonly GroupStoreRecord[]): Promise<bigint> {
    if (this.handle === null) {
      const data = await readOrEmpty(this.path);
      this.position = validLength(data);
      this.count = BigInt([...decodeRecords(data)].length);
      // "a" creates the file; "r+" then honours write positions, which append mode ignores on Linux.
      await (await open(this.path, "a")).close();
      this.handle = await open(this.path, "r+");
      // Drop a torn tail so new records follow the last whole one.
      await this.handle.truncate(this.position);
    }
    const buf = encodeRecords(records);
    await this.handle.write(buf, 0, buf.length, this.position);
    await this.handle.sync();
    this.position += buf.length;
    this.count += BigInt(records.length);
    return this.count;
  }

  async *replay(): AsyncIterable<ReplayedRecord> {
    await this.tail;
    const data = await readOrEmpty(this.path);
    let next = 0n;
    for (const record of decodeRecords(data)) {
      next += 1n;
      yield { ...record, nextOffset: next };
    }
    if (this.handle === null) this.count = next;
  }

  async close(): Promise<void> {
    await this.tail;
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

async function readOrEmpty(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return Buffer.alloc(0);
    throw err;
  }
}

function encodeRecords(records: readonly GroupStoreRecord[]): Buffer {
  let size = 0;
  for (const r of records) size += 8 + r.key.length + (r.value?.length ?? 0);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const r of records) {
    pos = buf.writeInt32BE(r.key.length, pos);
    pos += r.key.copy(buf, pos);
    pos = buf.writeInt32BE(r.value === null ? -1 : r.value.length, pos);
    if (r.value !== null) pos += r.value.copy(buf, pos);
  }
  return buf;
}

function* decodeRecords(data: Buffer): Generator<GroupStoreRecord> {
  let pos = 0;
  for (;;) {
    const record = recordAt(data, pos);
    if (record === null) return;
    yield record.record;
    pos = record.end;
  }
}

function recordAt(data: Buffer, pos: number): { record: GroupStoreRecord; end: number } | null {
  if (pos + 4 > data.length) return null;
  const keyLength = data.readInt32BE(pos);
  const valueAt = pos + 4 + keyLength;
  if (keyLength < 0 || valueAt + 4 > data.length) return null;
  const valueLength = data.readInt32BE(valueAt);
  const end = valueAt + 4 + Math.max(0, valueLength);
  if (valueLength < -1 || end > data.length) return null;
  const key = Buffer.from(data.subarray(pos + 4, valueAt));
  const value = valueLength < 0 ? null : Buffer.from(data.subarray(valueAt + 4, end));
  return { record: { key, value }, end };
}

function validLength(data: Buffer): number {
  let pos = 0;
  for (;;) {
    const record = recordAt(data, pos);
    if (record === null) return pos;
    pos = record.end;
  }
}
