import {
  ConfigRecord,
  FeatureLevelRecord,
  PartitionRecord,
  ProducerIdsRecord,
  RegisterBrokerRecord,
  RegisterControllerRecord,
  TopicRecord,
  type MessageCodec,
  type MetadataRecordAndVersion,
} from "../../protocol/index.ts";
import { UNASSIGNED_DIRECTORY, type MetadataImage } from "./metadata-image.ts";

// An image as the metadata records that rebuild it (the inverse of MetadataDelta), for snapshots (KIP-630): replayed
// on an empty image they give back an equal image. The record versions are the ones the controller writes at the
// supported metadata.version levels, so Kafka's tools read a snapshot as they read the log.

const METADATA_VERSION = "metadata.version";
const REGISTER_BROKER_VERSION = 3;
/** PartitionRecord v2 adds the ELR fields; v1 is what the controller writes while ELR is off. */
const PARTITION_VERSION = 1;
const PARTITION_ELR_VERSION = 2;

function rec<T>(codec: MessageCodec<T>, fields: T, version: number): MetadataRecordAndVersion {
  return { type: codec.apiKey, version, record: fields };
}

/**
 * Every element of the image as records, in an order that replays cleanly: features (metadata.version first),
 * brokers, controllers, topics each followed by its partitions, config overrides, and the producer-id high-water mark.
 * A broker's log dirs are its online ones; replicas' directories not known are written as Kafka's UNASSIGNED.
 */
export function imageRecords(image: MetadataImage): MetadataRecordAndVersion[] {
  const out: MetadataRecordAndVersion[] = [];
  const features = [...image.features].sort(([a], [b]) =>
    a === METADATA_VERSION ? -1 : b === METADATA_VERSION ? 1 : a < b ? -1 : a > b ? 1 : 0,
  );
  for (const [name, featureLevel] of features) out.push(rec(FeatureLevelRecord, { name, featureLevel }, 0));

  for (const b of [...image.brokers.values()].sort((x, y) => x.id - y.id)) {
    out.push(
      rec(
        RegisterBrokerRecord,
        {
          brokerId: b.id,
          isMigratingZkBroker: false,
          incarnationId: b.incarnationId,
          brokerEpoch: b.epoch,
          endPoints: b.endpoints.map((e) => ({
            name: e.listener,
            host: e.host,
            port: e.port,
            securityProtocol: e.securityProtocol,
          })),
          features: [...(b.supportedFeatures ?? [])].map(([name, range]) => ({
            name,
            minSupportedVersion: range.min,
            maxSupportedVersion: range.max,
          })),
          rack: b.rack,
          fenced: b.fenced,
          inControlledShutdown: b.inControlledShutdown,
          logDirs: [...(b.logDirs ?? [])],
        },
        REGISTER_BROKER_VERSION,
      ),
    );
  }

  for (const c of [...image.controllers.values()].sort((x, y) => x.id - y.id)) {
    const endPoints = c.endpoints.map((e) => ({
      name: e.listener,
      host: e.host,
      port: e.port,
      securityProtocol: e.securityProtocol,
    }));
    // The image keeps no controller's supported features: they are checked when it registers, not read afterwards.
    const fields = { controllerId: c.id, incarnationId: c.incarnationId, zkMigrationReady: false, endPoints };
    out.push(rec(RegisterControllerRecord, { ...fields, features: [] }, 0));
  }

  const topics = [...image.topicsById.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  for (const t of topics) {
    out.push(rec(TopicRecord, { name: t.name, topicId: t.id }, 0));
    for (const [partitionId, p] of [...t.partitions].sort(([a], [b]) => a - b)) {
      const elr = p.eligibleLeaderReplicas.length > 0 || p.lastKnownElr.length > 0;
      out.push(
        rec(
          PartitionRecord,
          {
            partitionId,
            topicId: t.id,
            replicas: [...p.replicas],
            isr: [...p.isr],
            removingReplicas: [...p.removingReplicas],
            addingReplicas: [...p.addingReplicas],
            leader: p.leader,
            leaderRecoveryState: p.leaderRecoveryState,
            leaderEpoch: p.leaderEpoch,
            partitionEpoch: p.partitionEpoch,
            directories: p.replicas.map((_, i) => p.directories?.[i] ?? UNASSIGNED_DIRECTORY),
            ...(elr
              ? { eligibleLeaderReplicas: [...p.eligibleLeaderReplicas], lastKnownElr: [...p.lastKnownElr] }
              : {}),
          },
          elr ? PARTITION_ELR_VERSION : PARTITION_VERSION,
        ),
      );
    }
  }

  for (const [key, values] of [...image.configs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const slash = key.indexOf("/");
    const resourceType = Number(key.slice(0, slash));
    const resourceName = key.slice(slash + 1);
    for (const [name, value] of values) out.push(rec(ConfigRecord, { resourceType, resourceName, name, value }, 0));
  }

  // Kafka's snapshot keeps the last block's record; the image keeps only where the next block starts.
  if (image.nextProducerId > 0n) {
    out.push(rec(ProducerIdsRecord, { brokerId: -1, brokerEpoch: -1n, nextProducerId: image.nextProducerId }, 0));
  }
  return out;
}
