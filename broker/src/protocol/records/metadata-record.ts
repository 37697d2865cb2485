import { METADATA_RECORD_CODECS } from "../generated/metadata/index.ts";
import type { MessageCodec } from "../codec-runtime.ts";
import { DecodeError, EncodeError, Reader, Writer, sizeOfUnsignedVarint } from "../primitives/index.ts";

// How records sit in KRaft's `__cluster_metadata` log and snapshots (Kafka's MetadataRecordSerde /
// AbstractApiMessageSerde and ControlRecordType): a metadata record's value is a frame — frame version 1, record type,
// record version (unsigned varints) — then the record; its key is null. Control records (in control batches) have a
// key of int16 version 0 and int16 type, and the control message (which carries its own version field) as value.

/** The only frame version Kafka reads (0 was the 2.8 preview and is refused). */
export const METADATA_FRAME_VERSION = 1;

export interface MetadataRecordAndVersion {
  /** The record type, the JSON's apiKey (TopicRecord = 2, PartitionRecord = 3, ...). */
  readonly type: number;
  readonly version: number;
  readonly record: unknown;
}

function codecFor(type: number): MessageCodec<unknown> | undefined {
  return (METADATA_RECORD_CODECS as Record<number, MessageCodec<unknown> | undefined>)[type];
}

export function encodeMetadataRecord<T>(codec: MessageCodec<T>, record: T, version: number): Buffer {
  if (codec !== codecFor(codec.apiKey)) throw new EncodeError(`${codec.name} is not a metadata record`);
  const header =
    sizeOfUnsignedVarint(METADATA_FRAME_VERSION) + sizeOfUnsignedVarint(codec.apiKey) + sizeOfUnsignedVarint(version);
  const body = codec.encode(record, version);
  const w = Writer.alloc(header + body.length);
  w.unsignedVarint(METADATA_FRAME_VERSION);
  w.unsignedVarint(codec.apiKey);
  w.unsignedVarint(version);
  w.raw(body);
  return w.buf;
}

/** Decodes a metadata record value; anything unknown or malformed is a DecodeError naming what was wrong. */
export function decodeMetadataRecord(value: Buffer): MetadataRecordAndVersion {
  const r = new Reader(value);
  const frameVersion = r.unsignedVarint();
  if (frameVersion !== METADATA_FRAME_VERSION) {
    throw new DecodeError(`metadata record frame version ${frameVersion} (only ${METADATA_FRAME_VERSION} is read)`, 0);
  }
  const type = r.unsignedVarint();
  const version = r.unsignedVarint();
  const codec = codecFor(type);
  if (codec === undefined) throw new DecodeError(`unknown metadata record type ${type}`, 0);
  const start = r.offset;
  return { type, version, record: codec.decode(value.subarray(start), version) };
}

/** Kafka's ControlRecordType ids. */
export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

const CONTROL_KEY_VERSION = 0;

export function encodeControlRecordKey(type: ControlRecordType): Buffer {
  const w = Writer.alloc(4);
  w.int16(CONTROL_KEY_VERSION);
  w.int16(type);
  return w.buf;
}

/** The control record's type; a key of another version is refused, as Kafka does. */
export function decodeControlRecordKey(key: Buffer): number {
  const r = new Reader(key);
  const version = r.int16();
  if (version !== CONTROL_KEY_VERSION) throw new DecodeError(`control record key version ${version}`, 0);
  return r.int16();
}
