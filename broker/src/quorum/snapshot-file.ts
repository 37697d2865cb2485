import { open, readFile, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import {
  ControlRecordType,
  DecodeError,
  SnapshotFooterRecord,
  SnapshotHeaderRecord,
  decodeControlRecordKey,
  decodeRecordBatch,
  encodeControlRecordKey,
  encodeRecordBatch,
  splitBatches,
} from "../protocol/index.ts";
import type { OffsetAndEpoch, RaftRecord, VoterSetState } from "../raft/index.ts";
import { controlRecord, decodeControlRecord, voterSetOf } from "./wire.ts";
import { writeFileAtomic } from "../log/checkpoint.ts";

// KRaft snapshots (KIP-630) in Kafka's checkpoint format, so kafka-dump-log and kafka-metadata-shell read them: a file
// `<end offset:20>-<epoch:10>.checkpoint` in the metadata log's directory holding record batches at the snapshot's
// epoch, offsets from 0: a control batch with the SnapshotHeaderRecord (and, with KIP-853 voters, the
// KRaftVersionRecord and VotersRecord in effect at its end), the metadata records (values framed as in the
// log), and a control batch with the SnapshotFooterRecord. A snapshot is written to a temporary file, fsynced and
// renamed, so a partial one is never taken for a snapshot; one without its footer or with a bad CRC is ignored.

export const SNAPSHOT_SUFFIX = ".checkpoint";
/** Kafka's Snapshots.PARTIAL_SUFFIX: an unfinished snapshot (Kafka's own), deleted when listing. */
const PARTIAL_SUFFIX = ".checkpoint.part";
const NAME = /^(\d{20})-(\d{10})\.checkpoint$/;
/** Records per data batch; Kafka caps a batch by bytes (8 MiB), this keeps each well below that. */
const RECORDS_PER_BATCH = 1000;
const HEADER_VERSION = 0;
/** The header batch is well below this; the rest of a snapshot need not be read to know its timestamp. */
const HEADER_READ_BYTES = 4096;
const FOOTER_VERSION = 0;

export function snapshotFileName(id: OffsetAndEpoch): string {
  return `${String(id.offset).padStart(20, "0")}-${String(id.epoch).padStart(10, "0")}${SNAPSHOT_SUFFIX}`;
}

export function parseSnapshotFileName(name: string): OffsetAndEpoch | null {
  const m = NAME.exec(name);
  if (m?.[1] === undefined || m[2] === undefined) return null;
  return { offset: Number(m[1]), epoch: Number(m[2]) };
}

/** The snapshot file's bytes: header, `records` (metadata record values) in batches, footer. */
export function encodeSnapshot(
  id: OffsetAndEpoch,
  records: readonly Uint8Array[],
  options: {
    readonly timestampMs: number;
    readonly lastContainedLogTimestamp?: number;
    /** KIP-853: the kraft.version and voters in effect at the snapshot's end, written after the header. */
    readonly voters?: VoterSetState | null;
  },
): Buffer {
  const timestamp = BigInt(options.timestampMs);
  const control = (offset: number, entries: readonly { key: Buffer; value: Buffer }[]): Buffer =>
    encodeRecordBatch({
      baseOffset: BigInt(offset),
      partitionLeaderEpoch: id.epoch,
      control: true,
      records: entries.map((e) => ({ ...e, timestamp })),
    });
  // Kafka's RecordsSnapshotWriter: the header, then KRaftVersionRecord and VotersRecord, in the first control batch.
  const header = [
    {
      key: encodeControlRecordKey(ControlRecordType.SNAPSHOT_HEADER),
      value: SnapshotHeaderRecord.encode(
        { version: HEADER_VERSION, lastContainedLogTimestamp: BigInt(options.lastContainedLogTimestamp ?? 0) },
        0,
      ),
    },
  ];
  const voters = options.voters;
  if (voters !== null && voters !== undefined) {
    header.push(controlRecord({ kind: "kraftVersion", version: voters.kraftVersion }));
    if (voters.voters !== null) header.push(controlRecord({ kind: "voters", voters: voters.voters }));
  }
  const batches: Buffer[] = [control(0, header)];
  let offset = header.length;
  for (let i = 0; i < records.length; i += RECORDS_PER_BATCH) {
    const slice = records.slice(i, i + RECORDS_PER_BATCH);
    batches.push(
      encodeRecordBatch({
        baseOffset: BigInt(offset),
        partitionLeaderEpoch: id.epoch,
        records: slice.map((value) => ({ key: null, value: Buffer.from(value), timestamp })),
      }),
    );
    offset += slice.length;
  }
  batches.push(
    control(offset, [
      {
        key: encodeControlRecordKey(ControlRecordType.SNAPSHOT_FOOTER),
        value: SnapshotFooterRecord.encode({ version: FOOTER_VERSION }, 0),
      },
    ]),
  );
  return Buffer.concat(batches);
}

/**
 * The metadata record values of a snapshot file. Throws DecodeError naming the fault when it is torn (no footer, a
 * partial batch), corrupt (CRC) or not a snapshot (no header first, a control record of another kind in between).
 */
export function decodeSnapshot(bytes: Buffer): Buffer[] {
  const { batches, partial } = splitBatches(bytes);
  if (partial !== null)
    throw new DecodeError(`snapshot ends in a partial batch at byte ${partial.offset}`, partial.offset);
  const records: Buffer[] = [];
  let header = false;
  let footer = false;
  for (const raw of batches) {
    if (footer) throw new DecodeError("snapshot has batches after its footer", 0);
    const batch = decodeRecordBatch(raw);
    if (!batch.control) {
      if (!header) throw new DecodeError("snapshot does not start with a SnapshotHeaderRecord", 0);
      for (const r of batch.records) records.push(r.value ?? Buffer.alloc(0));
      continue;
    }
    for (const r of batch.records) {
      const type = r.key === null ? -1 : decodeControlRecordKey(r.key);
      if (!header) {
        if (type !== ControlRecordType.SNAPSHOT_HEADER || r.value === null) {
          throw new DecodeError(`snapshot starts with control record type ${type}, not a SnapshotHeaderRecord`, 0);
        }
        SnapshotHeaderRecord.decode(r.value, 0);
        header = true;
      } else if (type === ControlRecordType.SNAPSHOT_FOOTER) {
        footer = true;
      } else if (type !== ControlRecordType.KRAFT_VERSION && type !== ControlRecordType.KRAFT_VOTERS) {
        throw new DecodeError(`snapshot holds control record type ${type}`, 0);
      }
    }
  }
  if (!header) throw new DecodeError("snapshot has no SnapshotHeaderRecord", 0);
  if (!footer) throw new DecodeError("snapshot has no SnapshotFooterRecord (torn)", 0);
  return records;
}

/** The kraft.version and voters a (whole) snapshot states, or null when it has neither (KIP-853). */
export function snapshotVoters(bytes: Uint8Array): VoterSetState | null {
  const { batches } = splitBatches(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const found: RaftRecord[] = [];
  for (const raw of batches) {
    const batch = decodeRecordBatch(raw);
    if (!batch.control) continue;
    for (const r of batch.records) {
      const record = decodeControlRecord(r.key === null ? -1 : decodeControlRecordKey(r.key), r.value, 0);
      if (record !== null) found.push(record);
    }
  }
  return voterSetOf(found);
}

export interface LoadedSnapshot {
  readonly id: OffsetAndEpoch;
  /** The whole file, as FetchSnapshot serves it. */
  readonly bytes: Buffer;
  /** Its metadata record values, in order. */
  readonly records: readonly Buffer[];
}

/** The snapshots of one metadata log directory. */
export class SnapshotStore {
  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** Writes `bytes` as snapshot `id`: whole and durable, or not at all. */
  write(id: OffsetAndEpoch, bytes: Uint8Array): Promise<void> {
    return writeFileAtomic(join(this.dir, snapshotFileName(id)), bytes);
  }

  /** Snapshot ids on disk, oldest first; deletes leftovers of interrupted writes. */
  async list(): Promise<OffsetAndEpoch[]> {
    const ids: OffsetAndEpoch[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name.endsWith(PARTIAL_SUFFIX) || name.endsWith(`${SNAPSHOT_SUFFIX}.tmp`)) {
        await unlink(join(this.dir, name)).catch(() => undefined);
        continue;
      }
      const id = parseSnapshotFileName(name);
      if (id !== null) ids.push(id);
    }
    return ids.sort((a, b) => a.offset - b.offset || a.epoch - b.epoch);
  }

  /** The newest snapshot that reads back whole; damaged ones are reported and skipped (an older one may do). */
  async latest(): Promise<LoadedSnapshot | null> {
    for (const id of (await this.list()).reverse()) {
      const path = join(this.dir, snapshotFileName(id));
      try {
        const bytes = await readFile(path);
        return { id, bytes, records: decodeSnapshot(bytes) };
      } catch (err) {
        this.logger.warn({ err, path }, "Ignoring a metadata snapshot that does not read back whole");
      }
    }
    return null;
  }

  /**
   * A snapshot's size and its header's lastContainedLogTimestamp (what Kafka's time-based retention goes by), read
   * from the start of the file; null when it cannot be read.
   */
  async info(id: OffsetAndEpoch): Promise<{ sizeBytes: number; timestampMs: number } | null> {
    let fh;
    try {
      fh = await open(join(this.dir, snapshotFileName(id)), "r");
    } catch {
      return null;
    }
    try {
      const { size } = await fh.stat();
      const head = Buffer.alloc(Math.min(size, HEADER_READ_BYTES));
      await fh.read(head, 0, head.length, 0);
      const [first] = splitBatches(head).batches;
      const record = first === undefined ? undefined : decodeRecordBatch(first).records[0];
      if (record?.value == null) return null;
      const header = SnapshotHeaderRecord.decode(record.value, 0);
      return { sizeBytes: size, timestampMs: Number(header.lastContainedLogTimestamp) };
    } catch {
      return null;
    } finally {
      await fh.close();
    }
  }

  /** Deletes every snapshot older than `id` (the log before `id` is gone, so they could never be used again). */
  async deleteBefore(id: OffsetAndEpoch): Promise<void> {
    for (const old of await this.list()) {
      if (old.offset < id.offset) await unlink(join(this.dir, snapshotFileName(old))).catch(() => undefined);
    }
  }
}
