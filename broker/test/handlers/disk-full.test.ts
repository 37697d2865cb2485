import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ErrorCode,
  FetchRequest,
  FetchResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
} from "../../src/protocol/index.ts";
import { makeBatch, splitBatches } from "../log/batches.ts";
import { TestClient } from "../network/helpers.ts";
import { startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";
import { mountSmallDisk, type SmallDisk } from "../support/small-disk.ts";
import { createTopicWire, groupCoordinatorReadyWire, produceBatch, wireCall } from "../support/wire-call.ts";

// The real broker process with its log dir on a small tmpfs that the test fills up: writes are answered with
// KAFKA_STORAGE_ERROR (or the error Kafka maps it to), the connection stays open, reads go on, nothing half-written
// is kept, and everything works again, with contiguous offsets, once space returns, also after a kill -9.

const TOPIC = "disk-full";

const mounted = mountSmallDisk(24 * 1024 * 1024);
const disk: SmallDisk | undefined = "dir" in mounted ? mounted : undefined;
const skipReason = "unavailable" in mounted ? ` (skipped: ${mounted.unavailable})` : "";

let broker: BrokerProcess | undefined;
let client: TestClient;

beforeAll(async () => {
  if (!disk) return;
  broker = await startBrokerProcess({ dataDir: disk.dir });
  client = await TestClient.connect(broker.port);
  await groupCoordinatorReadyWire(client);
});

afterAll(async () => {
  client?.destroy();
  await broker?.stop("SIGKILL");
  disk?.unmount();
});

function produce(batch: Buffer) {
  return produceBatch(client, TOPIC, 0, batch);
}

async function fetchAll() {
  const res = await wireCall(client, 12, FetchRequest, FetchResponse, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 16 * 1024 * 1024,
    topics: [
      {
        topic: TOPIC,
        partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 16 * 1024 * 1024, logStartOffset: -1n }],
      },
    ],
  });
  const partition = res.responses[0]?.partitions[0];
  expect(partition?.errorCode).toBe(ErrorCode.NONE);
  const batches = splitBatches(partition?.records ?? Buffer.alloc(0));
  return { highWatermark: partition?.highWatermark, offsets: batches.map((b) => [b.baseOffset, b.lastOffset]) };
}

function commit(offset: bigint, metadata: string | null = null) {
  return wireCall(client, 8, OffsetCommitRequest, OffsetCommitResponse, {
    groupId: "disk-full-group",
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    topics: [
      { name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: offset, committedMetadata: metadata }] },
    ],
  }).then((res) => res.topics[0]?.partitions[0]?.errorCode);
}

function createTopic(name: string) {
  return createTopicWire(client, name);
}

async function topicNames(): Promise<(string | null)[]> {
  const res = await wireCall(client, 12, MetadataRequest, MetadataResponse, { topics: null });
  return res.topics.map((t) => t.name);
}

describe("a full log dir", () => {
  it.skipIf(!disk)(`answers writes with errors and keeps the connection and reads${skipReason}`, async () => {
    if (!disk || !broker) return;
    expect((await createTopic(TOPIC))?.errorCode).toBe(ErrorCode.NONE);
    expect(await produce(makeBatch({ records: 3, valueSize: 100, seed: 1 }))).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 0n,
    });
    expect(await commit(1n)).toBe(ErrorCode.NONE);

    await disk.fill();
    const refused = await produce(makeBatch({ records: 20, valueSize: 4000, seed: 2 }));
    expect(refused?.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(refused?.errorMessage).toContain("ENOSPC");
    expect(client.closed).toBe(false);
    expect(await fetchAll()).toEqual({ highWatermark: 3n, offsets: [[0n, 2n]] });
    // As in Kafka, a storage error on the offsets topic reaches the client as NOT_COORDINATOR (retriable). The
    // metadata makes the record larger than the page its file ends in, which a full tmpfs could still fill.
    expect(await commit(2n, "m".repeat(4000))).toBe(ErrorCode.NOT_COORDINATOR);
    // Creating a topic is a metadata write, which the controller commits to its metadata log (the tail of its last
    // page still had room here), as Kafka's does; the new partition's empty log needs no data blocks.
    const created = await createTopic("born-on-a-full-disk");
    expect(created?.errorCode).toBe(ErrorCode.NONE);
    expect(await topicNames()).toContain("born-on-a-full-disk");
    expect(broker.output()).toContain("Appends fail: the log dir cannot be written");
    expect(broker.output()).not.toContain("closing the connection");

    await disk.free();
    expect(await produce(makeBatch({ records: 2, valueSize: 100, seed: 4 }))).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 3n,
    });
    expect(await commit(4n)).toBe(ErrorCode.NONE);
    expect(await fetchAll()).toEqual({
      highWatermark: 5n,
      offsets: [
        [0n, 2n],
        [3n, 4n],
      ],
    });

    // Whatever the failed writes left on disk, recovery after a crash finds exactly the acknowledged batches.
    client.destroy();
    await broker.stop("SIGKILL");
    await broker.restart();
    client = await TestClient.connect(broker.port);
    expect(await fetchAll()).toEqual({
      highWatermark: 5n,
      offsets: [
        [0n, 2n],
        [3n, 4n],
      ],
    });
    expect(await produce(makeBatch({ records: 1, valueSize: 10, seed: 5 }))).toMatchObject({ baseOffset: 5n });
  });
});
