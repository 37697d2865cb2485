import { open, readFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";

/** One record of `__consumer_offsets`: a key and a value, or a tombstone when the value is null. */
export interface GroupStoreRecord {
  key: Buffer;
  value: Buffer | null;
}

/**
 * Where the coordinator keeps committed offsets and group metadata; in the broker, a partition of the compacted topic
 * `__consumer_offsets`.
 *
 * - `append` resolves once the records are durable (the coordinator acknowledges commits only then) and keeps the
 *   order of calls, even while an earlier append is still being written. It may reject with a `GroupStoreError` to
 *   choose the error code clients see.
 * - `replay` yields every record appended so far in order (after compaction, at least the latest record of each key).
 * - Every append carries the records of a single group, so a store spread over several `__consumer_offsets`
 *   partitions can route it whole (Kafka picks the partition from the group id's hash) and write it as one batch.
 */
export interface GroupStore {
  append(records: readonly GroupStoreRecord[]): Promise<void>;
  replay(): AsyncIterable<GroupStoreRecord>;
}

/** Keeps the records in memory, in order; for tests and for brokers that may forget offsets. */
export class InMemoryGroupStore implements GroupStore {
  readonly records: GroupStoreRecord[] = [];

  append(records: readonly GroupStoreRecord[]): Promise<void> {
    this.records.push(...records);
    return Promise.resolve();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is async; this store happens not to wait
  async *replay(): AsyncIterable<GroupStoreRecord> {
    yield* this.records;
  }
}

/**
 * An append-only file of length-prefixed records, fsynced before an append resolves:
 * int32 key length, key, int32 value length (-1 for a tombstone), value. A torn last record (a crash mid-write) is
 * ignored on replay and overwritten by the next append. It never compacts; it exists for tests and small setups.
 */
export class FileGroupStore implements GroupStore {
  private handle: FileHandle | null = null;
  private position = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  append(records: readonly GroupStoreRecord[]): Promise<void> {
    const write = this.tail.then(() => this.write(records));
    // A failed append must not poison the ones queued behind it.
    this.tail = write.catch(() => undefined);
    return write;
  }

  private async write(records: readonly GroupStoreRecord[]): Promise<void> {
    if (this.handle === null) {
      this.position = validLength(await readOrEmpty(this.path));
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
  }

  async *replay(): AsyncIterable<GroupStoreRecord> {
    await this.tail;
    const data = await readOrEmpty(this.path);
    yield* decodeRecords(data);
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
