import { randomUUID } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { writeFileAtomic } from "../log/checkpoint.ts";
import { randomKafkaUuid } from "../storage/kafka-uuid.ts";

// The single node's cluster metadata: topics, their ids, partition counts and config overrides, plus dynamic broker
// configs. It is small and changes rarely, so it lives in one JSON file replaced atomically (write, fsync, rename,
// fsync the directory): a crash leaves either the old or the new file, never a torn one.

export const METADATA_FILE = "__tributary_metadata.json";

export interface TopicMetadata {
  readonly name: string;
  /** Canonical UUID string; Kafka clients see it as the topic id in Metadata v10+ and Fetch v13+. */
  readonly id: string;
  readonly partitions: number;
  readonly configs: Readonly<Record<string, string>>;
  readonly internal: boolean;
}

interface MetadataFile {
  version: 1;
  clusterId: string;
  topics: TopicMetadata[];
  brokerConfigs: Record<string, string>;
  /** Producer ids below this may have been handed out; a restart continues from here. */
  producerIdBlockEnd?: string;
}

// The name rules live with the other topic rules; re-exported for the callers that know them from here.
export { topicNameProblem } from "./topic-rules.ts";

export class TopicRegistry {
  private readonly byName = new Map<string, TopicMetadata>();
  private readonly byId = new Map<string, TopicMetadata>();
  private brokerConfigs: Record<string, string> = {};
  private producerIdEnd = 0n;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    readonly clusterId: string,
    private readonly logger: Logger,
  ) {}

  static async open(options: { dir: string; clusterId: string | null; logger: Logger }): Promise<TopicRegistry> {
    const path = join(options.dir, METADATA_FILE);
    await mkdir(options.dir, { recursive: true });
    let data: MetadataFile | undefined;
    try {
      data = JSON.parse(await readFile(path, "utf8")) as MetadataFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new Error(`cannot read cluster metadata ${path}: ${String(error)}`, { cause: error });
      }
    }
    if (data && options.clusterId !== null && data.clusterId !== options.clusterId) {
      throw new Error(
        `cluster id mismatch: ${path} belongs to cluster ${data.clusterId}, but the configuration says ${options.clusterId}`,
      );
    }
    // A file written before cluster ids took Kafka's form keeps its 36-character id (ADR 0022).
    const clusterId = data?.clusterId ?? options.clusterId ?? randomKafkaUuid();
    const registry = new TopicRegistry(path, clusterId, options.logger);
    for (const topic of data?.topics ?? []) registry.index(topic);
    registry.brokerConfigs = data?.brokerConfigs ?? {};
    registry.producerIdEnd = BigInt(data?.producerIdBlockEnd ?? "0");
    if (!data) await registry.persist();
    return registry;
  }

  private index(topic: TopicMetadata): void {
    this.byName.set(topic.name, topic);
    this.byId.set(topic.id, topic);
  }

  get(name: string): TopicMetadata | undefined {
    return this.byName.get(name);
  }

  getById(id: string): TopicMetadata | undefined {
    return this.byId.get(id);
  }

  list(): TopicMetadata[] {
    return [...this.byName.values()];
  }

  dynamicBrokerConfigs(): Readonly<Record<string, string>> {
    return this.brokerConfigs;
  }

  async create(topic: Omit<TopicMetadata, "id"> & { id?: string }): Promise<TopicMetadata> {
    if (this.byName.has(topic.name)) throw new Error(`topic ${topic.name} already exists`);
    const created: TopicMetadata = { ...topic, id: topic.id ?? randomUUID() };
    this.index(created);
    await this.persist(() => {
      if (this.byName.get(created.name) !== created) return;
      this.byName.delete(created.name);
      this.byId.delete(created.id);
    });
    this.logger.info({ topic: created.name, topicId: created.id, partitions: created.partitions }, "Created topic");
    return created;
  }

  async update(name: string, change: Partial<Pick<TopicMetadata, "partitions" | "configs">>): Promise<TopicMetadata> {
    const current = this.byName.get(name);
    if (!current) throw new Error(`unknown topic ${name}`);
    const updated: TopicMetadata = { ...current, ...change };
    this.index(updated);
    await this.persist(() => {
      if (this.byName.get(name) === updated) this.index(current);
    });
    return updated;
  }

  async delete(name: string): Promise<TopicMetadata | undefined> {
    const current = this.byName.get(name);
    if (!current) return undefined;
    this.byName.delete(name);
    this.byId.delete(current.id);
    await this.persist(() => {
      if (!this.byName.has(name)) this.index(current);
    });
    this.logger.info({ topic: name, topicId: current.id }, "Deleted topic");
    return current;
  }

  async setBrokerConfigs(configs: Record<string, string>): Promise<void> {
    const previous = this.brokerConfigs;
    const next = { ...configs };
    this.brokerConfigs = next;
    await this.persist(() => {
      if (this.brokerConfigs === next) this.brokerConfigs = previous;
    });
  }

  /**
   * Writes are serialised so that the file on disk always reflects the latest state once the promise resolves. When
   * the write fails (a full disk), `undo` takes the change back out of memory, so that what the broker answers from
   * keeps matching the file; it checks that no later change replaced it meanwhile.
   */
  private persist(undo?: () => void): Promise<void> {
    const snapshot: MetadataFile = {
      version: 1,
      clusterId: this.clusterId,
      topics: this.list(),
      brokerConfigs: this.brokerConfigs,
      producerIdBlockEnd: String(this.producerIdEnd),
    };
    const next = this.writing.then(() => writeFileAtomic(this.path, JSON.stringify(snapshot, null, 2)));
    this.writing = next.catch(() => undefined);
    return next.catch((err: unknown) => {
      undo?.();
      throw err;
    });
  }
}
