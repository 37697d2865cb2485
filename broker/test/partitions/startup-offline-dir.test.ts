import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { resolveBrokerConfig } from "../../src/config/broker-config.ts";
import { LogManager } from "../../src/log/index.ts";
import { EffectiveConfigs } from "../../src/metadata/effective-configs.ts";
import type { BrokerRegistration } from "../../src/metadata/image/index.ts";
import { PublishingChain } from "../../src/metadata/metadata-source.ts";
import { DirectoryAssignments } from "../../src/partitions/directory-assignments.ts";
import { PartitionManager } from "../../src/partitions/partition-manager.ts";
import { PartitionPublisher, type FollowerFetchers } from "../../src/partitions/partition-publisher.ts";
import { ErrorCode, PartitionRecord, TopicRecord } from "../../src/protocol/index.ts";
import type { FollowerTarget } from "../../src/replication/fetcher/fetcher-manager.ts";
import { makeBatch } from "../log/batches.ts";
import { rec, registeredBroker, replay, type RecordSpec } from "../support/metadata-records.ts";

// Broker 1 starts with log dir b offline (it failed at start-up) and a online. The replicas the image places in b, or
// in a dir this broker does not have, are neither created in a nor fetched, and answer KAFKA_STORAGE_ERROR; the
// others are served from a. Without the rule the broker would create them empty in a, fetch them from their leaders
// and rejoin their ISRs with a copy that clashes with b's once b works again.

const logger = pino({ level: "silent" });
const T = "00000000-0000-0000-0000-0000000000c1";
const DIR_A = "0000000a-0000-4000-8000-00000000000a";
const DIR_B = "0000000b-0000-4000-8000-00000000000b";
/** A dir of broker 1 whose meta.properties could not be read: its id is not known here. */
const DIR_UNKNOWN = "0000000c-0000-4000-8000-00000000000c";
const UNASSIGNED = "00000000-0000-0000-0000-000000000000";
const OTHER = "0000000d-0000-4000-8000-00000000000d";

class Fetchers implements FollowerFetchers {
  readonly following = new Set<string>();
  setBrokers(_brokers: ReadonlyMap<number, BrokerRegistration>): void {}
  follow(target: FollowerTarget): Promise<void> {
    this.following.add(`${target.topic}-${target.partition}`);
    return Promise.resolve();
  }
  remove(topic: string, partition: number): Promise<void> {
    this.following.delete(`${topic}-${partition}`);
    return Promise.resolve();
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function broker1(failed: readonly string[]) {
  const root = await mkdtemp(join(tmpdir(), "startup-offline-"));
  const a = join(root, "a");
  const b = join(root, "b");
  const logs = await LogManager.open({
    logDirs: [a, b],
    logger,
    retentionCheckIntervalMs: 0,
    failedLogDirs: new Map(failed.map((d) => [join(root, d), new Error("EIO")])),
  });
  const partitions = new PartitionManager(logs, logger);
  const { config } = resolveBrokerConfig({
    overrides: ["node.id=1", "process.roles=broker,controller", `log.dirs=${a},${b}`, "listeners=PLAINTEXT://:0"],
    cwd: root,
  });
  const fetchers = new Fetchers();
  const assignments = new DirectoryAssignments({
    brokerId: 1,
    directoryIds: new Map([
      [a, DIR_A],
      [b, DIR_B],
    ]),
    retryBackoffMs: 10,
    logger,
  });
  const chain = new PublishingChain();
  const configs = new EffectiveConfigs(config);
  chain.subscribe(new PartitionPublisher(1, partitions, configs, logger, fetchers, assignments).publish);
  cleanups.push(async () => {
    assignments.close();
    await logs.close();
    await rm(root, { recursive: true, force: true });
  });
  const publish = async (records: readonly RecordSpec[]) => {
    const { image, changes } = replay(chain.image(), records);
    await chain.publish(image, changes);
  };
  return { a, logs, partitions, fetchers, publish };
}

/** Partition `id` of topic t with replicas [1, 2], broker 1's replica in `dir`, led by `leader`. */
const partition = (id: number, dir: string, leader = 2): RecordSpec =>
  rec(PartitionRecord, {
    topicId: T,
    partitionId: id,
    replicas: [1, 2],
    isr: [2],
    leader,
    leaderEpoch: 1,
    directories: [dir, OTHER],
  });

const brokers = [registeredBroker(1, 1n), registeredBroker(2, 2n)];

describe("a replica in a log dir that failed at start-up", () => {
  it("is not created in another dir, not fetched, and answers KAFKA_STORAGE_ERROR", async () => {
    const n = await broker1(["b"]);
    await n.publish([
      ...brokers,
      rec(TopicRecord, { name: "t", topicId: T }),
      partition(0, DIR_A),
      partition(1, DIR_B),
      partition(2, DIR_UNKNOWN),
      partition(3, UNASSIGNED),
      partition(4, DIR_B, 1),
    ]);
    // Served from a: the replica the image places there, and the one it has not placed yet.
    expect([...n.fetchers.following].sort()).toEqual(["t-0", "t-3"]);
    expect((await readdir(n.a)).sort()).toEqual(["t-0", "t-3"]);
    for (const p of [1, 2, 4]) {
      expect(n.logs.get("t", p)).toBeUndefined();
      expect(n.partitions.offlineError("t", p)?.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    }
    expect(n.partitions.offlineError("t", 0)).toBeUndefined();
    // Named its leader (an image from before the controller saw the registration): it does not lead.
    expect(n.partitions.role("t", 4)?.leader).toBe(false);
    const produced = await n.partitions.produce("t", 4, makeBatch({ records: 1 }), {
      acks: 1,
      maxMessageBytes: 1_000_000,
      compacted: false,
      logAppendTime: false,
    });
    expect(produced.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
  });

  it("is created as before when no dir is offline, wherever the image placed it", async () => {
    const n = await broker1([]);
    await n.publish([
      ...brokers,
      rec(TopicRecord, { name: "t", topicId: T }),
      partition(1, DIR_B),
      partition(2, DIR_UNKNOWN),
    ]);
    expect([...n.fetchers.following].sort()).toEqual(["t-1", "t-2"]);
    expect(n.partitions.offlineError("t", 2)).toBeUndefined();
  });
});
