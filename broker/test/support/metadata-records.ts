import { MetadataDelta, type MetadataImage } from "../../src/metadata/image/index.ts";
import {
  ConfigRecord,
  decodeMetadataRecord,
  encodeMetadataRecord,
  RegisterBrokerRecord,
  type MessageCodec,
} from "../../src/protocol/index.ts";

// Metadata records for tests, as a controller commits them: a codec and the fields that differ from its defaults.

export type RecordSpec = [MessageCodec<never>, object];

/** One metadata record. */
export const rec = <T>(codec: MessageCodec<T>, fields: Partial<T>): RecordSpec => [
  codec as unknown as MessageCodec<never>,
  fields,
];

/** Broker `id` registered with epoch `epoch` and one PLAINTEXT listener, b<id>:<9000 + id>; unfenced unless `fenced`. */
export const registeredBroker = (id: number, epoch: bigint, fenced = false): RecordSpec =>
  rec(RegisterBrokerRecord, {
    brokerId: id,
    brokerEpoch: epoch,
    endPoints: [{ name: "PLAINTEXT", host: `b${id}`, port: 9000 + id, securityProtocol: 0 }],
    fenced,
  });

/** A topic's dynamic config `name` set to `value`. */
export const topicConfig = (topic: string, name: string, value: string): RecordSpec =>
  rec(ConfigRecord, { resourceType: 2, resourceName: topic, name, value });

/** Replays records as they come out of the log (framed, then decoded) onto `base`; the next image and its changes. */
export function replay(base: MetadataImage, records: readonly RecordSpec[]): ReturnType<MetadataDelta["apply"]> {
  const delta = new MetadataDelta(base);
  records.forEach(([codec, fields], i) => {
    const c = codec as unknown as MessageCodec<object>;
    const framed = encodeMetadataRecord(c, { ...c.create(), ...fields }, c.maxVersion);
    delta.replay(decodeMetadataRecord(framed), base.provenance.offset + 1 + i, 1);
  });
  return delta.apply();
}
