import { randomUUID } from "node:crypto";
import type { BrokerConfig } from "../config/broker-config.ts";
import { SECURITY_PROTOCOL_ID } from "../config/schema.ts";
import {
  MetadataRecordType,
  type ConfigRecord,
  type MetadataRecordAndVersion,
  type PartitionRecord,
  type RegisterBrokerRecord,
  type RemoveTopicRecord,
  type TopicRecord,
} from "../protocol/index.ts";
import { ConfigResourceType, configKey, MetadataDelta, type MetadataImage } from "./image/index.ts";
import { PublishingChain, type MetadataPublisher, type MetadataSource } from "./metadata-source.ts";
import type { TopicRegistry } from "./topic-registry.ts";

// INTERIM: the broker's metadata source until it takes its images from the metadata quorum (node/metadata-quorum.ts,
// whose MetadataLoader publishes behind the same MetadataSource interface). It turns what TopicRegistry holds (the JSON
// file TopicAdmin writes) into the records a controller would have committed — TopicRecord, PartitionRecord with this
// node as the only replica, leader and ISR at leader epoch 0, ConfigRecord, and a RegisterBrokerRecord for this node
// with its advertised endpoints and broker.rack — and replays them through MetadataDelta, so everything downstream sees
// images exactly as the quorum path will publish them.

const record = (type: number, r: object): MetadataRecordAndVersion => ({ type, version: 0, record: r });

export class SingleNodeMetadataSource implements MetadataSource {
  private readonly chain = new PublishingChain();
  private syncing: Promise<void> = Promise.resolve();
  private readonly incarnationId = randomUUID();

  constructor(
    private readonly registry: TopicRegistry,
    private readonly config: BrokerConfig,
  ) {}

  image(): MetadataImage {
    return this.chain.image();
  }

  subscribe(publisher: MetadataPublisher): void {
    this.chain.subscribe(publisher);
  }

  /**
   * Publishes what the registry holds now as the next image (the first call: everything), resolving once every
   * subscriber has handled it; rejects when a subscriber failed. Calls are serialised.
   */
  sync(): Promise<void> {
    const run = this.syncing.then(() => {
      const base = this.chain.image();
      const records = this.recordsSince(base);
      if (records.length === 0) return;
      const delta = new MetadataDelta(base);
      let offset = base.provenance.offset;
      for (const r of records) delta.replay(r, ++offset, 0);
      const { image, changes } = delta.apply();
      return this.chain.publish(image, changes);
    });
    this.syncing = run.catch(() => undefined);
    return run;
  }

  /** The records that take `base` to the registry's contents. */
  private recordsSince(base: MetadataImage): MetadataRecordAndVersion[] {
    const nodeId = this.config.nodeId;
    const out: MetadataRecordAndVersion[] = [];
    if (!base.brokers.has(nodeId)) {
      const protocols = this.config.listenerSecurityProtocolMap;
      const registration: RegisterBrokerRecord = {
        brokerId: nodeId,
        incarnationId: this.incarnationId,
        brokerEpoch: BigInt(base.provenance.offset + 1),
        endPoints: this.config.advertisedListeners.map((l) => ({
          name: l.name,
          host: l.host,
          port: l.port,
          securityProtocol: SECURITY_PROTOCOL_ID[protocols[l.name] ?? "PLAINTEXT"],
        })),
        features: [],
        rack: this.config.brokerRack,
        fenced: false,
      };
      out.push(record(MetadataRecordType.RegisterBrokerRecord, registration));
    }
    // Removals first: a name deleted and created again since the last image must be free for its new topic id.
    const wanted = new Set(this.registry.list().map((t) => t.id));
    for (const topic of base.topicsById.values()) {
      if (!wanted.has(topic.id)) {
        const remove: RemoveTopicRecord = { topicId: topic.id };
        out.push(record(MetadataRecordType.RemoveTopicRecord, remove));
      }
    }
    for (const topic of this.registry.list()) {
      const existing = base.topicsById.get(topic.id);
      if (existing === undefined) {
        const created: TopicRecord = { name: topic.name, topicId: topic.id };
        out.push(record(MetadataRecordType.TopicRecord, created));
      }
      for (let p = existing?.partitions.size ?? 0; p < topic.partitions; p++) {
        const partition: PartitionRecord = {
          partitionId: p,
          topicId: topic.id,
          replicas: [nodeId],
          isr: [nodeId],
          removingReplicas: [],
          addingReplicas: [],
          leader: nodeId,
          leaderEpoch: 0,
          partitionEpoch: 0,
        };
        out.push(record(MetadataRecordType.PartitionRecord, partition));
      }
      const before =
        existing === undefined ? undefined : base.configs.get(configKey(ConfigResourceType.TOPIC, topic.name));
      out.push(...configRecords(ConfigResourceType.TOPIC, topic.name, before, topic.configs));
    }
    out.push(
      ...configRecords(
        ConfigResourceType.BROKER,
        "",
        base.configs.get(configKey(ConfigResourceType.BROKER, "")),
        this.registry.dynamicBrokerConfigs(),
      ),
    );
    return out;
  }
}

function configRecords(
  resourceType: number,
  resourceName: string,
  before: ReadonlyMap<string, string> | undefined,
  after: Readonly<Record<string, string>>,
): MetadataRecordAndVersion[] {
  const out: MetadataRecordAndVersion[] = [];
  const set = (name: string, value: string | null) => {
    const config: ConfigRecord = { resourceType, resourceName, name, value };
    out.push(record(MetadataRecordType.ConfigRecord, config));
  };
  for (const name of before?.keys() ?? []) if (after[name] === undefined) set(name, null);
  for (const [name, value] of Object.entries(after)) if (before?.get(name) !== value) set(name, value);
  return out;
}
