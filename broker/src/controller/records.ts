import {
  encodeMetadataRecord,
  METADATA_RECORD_CODECS,
  type MessageCodec,
  type MetadataRecordAndVersion,
} from "../protocol/index.ts";

// Controller output: Kafka metadata records as the generated types with the record version they are written at.
// The image replays them as they are; the runtime encodes them with the metadata log's record framing.

/** A record with every field the caller leaves out at its generated default. */
export function record<T>(codec: MessageCodec<T>, fields: Partial<T>, version: number): MetadataRecordAndVersion {
  return { type: codec.apiKey, version, record: { ...codec.create(), ...fields } };
}

/** The metadata log's value bytes of a record (frame version, type, version, record). */
export function encodeRecord(r: MetadataRecordAndVersion): Buffer {
  const codec = (METADATA_RECORD_CODECS as Record<number, MessageCodec<unknown> | undefined>)[r.type];
  if (codec === undefined) throw new Error(`metadata record type ${r.type} has no codec`);
  return encodeMetadataRecord(codec, r.record, r.version);
}
