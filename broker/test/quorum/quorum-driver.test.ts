import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { QuorumDriver, type Transport } from "../../src/quorum/quorum-driver.ts";
import { SeededRng, type Envelope, type NodeId } from "../../src/raft/index.ts";
import { REAL_CLOCK_TEST_TIMING } from "./real-clock-timing.ts";
import { waitFor } from "../network/helpers.ts";
import { MetadataLoader } from "../../src/metadata/metadata-loader.ts";
import { EMPTY_IMAGE, topicByName, type MetadataImage } from "../../src/metadata/image/index.ts";
import { PartitionRecord, TopicRecord, encodeMetadataRecord } from "../../src/protocol/index.ts";

// Three drivers in one process over real files (quorum-state, __cluster_metadata-0) and an in-process transport:
// the I/O shell end to end, without sockets yet.

const VOTERS = [1, 2, 3];
const TIMING = REAL_CLOCK_TEST_TIMING;

class Cluster implements Transport {
  readonly drivers = new Map<NodeId, QuorumDriver>();
  readonly committed = new Map<NodeId, string[]>();
  readonly dirs = new Map<NodeId, string>();

  send(envelope: Envelope): void {
    setImmediate(() => this.drivers.get(envelope.to)?.receive(envelope));
  }

  async start(id: NodeId, root: string): Promise<void> {
    const metadataDir = this.dirs.get(id) ?? join(root, `node-${id}`);
    this.dirs.set(id, metadataDir);
    const driver = await QuorumDriver.start({
      config: { nodeId: id, voters: VOTERS, ...TIMING },
      metadataDir,
      transport: this,
      rng: new SeededRng(id * 7919),
      logger: pino({ level: "silent" }),
      tickMs: 10,
    });
    this.committed.set(id, []);
    driver.onCommit((entries) => {
      for (const e of entries) {
        if (e.record.kind === "data") this.committed.get(id)?.push(Buffer.from(e.record.data).toString());
      }
    });
    this.drivers.set(id, driver);
  }

  async crash(id: NodeId): Promise<void> {
    const driver = this.drivers.get(id);
    this.drivers.delete(id);
    await driver?.close(false);
  }

  leader(): NodeId | undefined {
    return [...this.drivers.entries()].find(([, d]) => d.status().role === "leader")?.[0];
  }
}

let root: string | undefined;
let cluster: Cluster | undefined;
afterEach(async () => {
  for (const id of [...(cluster?.drivers.keys() ?? [])]) await cluster?.crash(id);
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe("QuorumDriver", () => {
  it("elects a leader, commits proposals on every node, and survives a leader crash and its restart", async () => {
    root = await mkdtemp(join(tmpdir(), "quorum-driver-"));
    const c = new Cluster();
    cluster = c;
    for (const id of VOTERS) await c.start(id, root);

    const first = await waitFor(() => c.leader(), "a leader");
    expect(c.drivers.get(first)?.propose([Buffer.from("a")])).not.toBeNull();
    expect(c.drivers.get(first)?.propose([Buffer.from("b"), Buffer.from("c")])).not.toBeNull();
    await waitFor(() => VOTERS.every((id) => c.committed.get(id)?.join() === "a,b,c"), "a, b, c committed everywhere");

    const epoch = c.drivers.get(first)?.status().epoch ?? 0;
    await c.crash(first);
    const second = await waitFor(() => c.leader(), "a new leader");
    expect(second).not.toBe(first);
    expect(c.drivers.get(second)?.status().epoch).toBeGreaterThan(epoch);
    c.drivers.get(second)?.propose([Buffer.from("d")]);
    const survivors = VOTERS.filter((id) => id !== first);
    await waitFor(
      () => survivors.every((id) => c.committed.get(id)?.join() === "a,b,c,d"),
      "d committed on the survivors",
    );

    // The crashed node comes back from its files and catches up; its quorum-state names the new leader.
    await c.start(first, root);
    await waitFor(() => c.committed.get(first)?.join() === "a,b,c,d", "the restarted node caught up");
    const state = JSON.parse(await readFile(join(c.dirs.get(first) ?? "", "quorum-state"), "utf8")) as {
      leaderId: number;
      leaderEpoch: number;
    };
    expect(state.leaderId).toBe(second);
    expect(state.leaderEpoch).toBe(c.drivers.get(second)?.status().epoch);
    for (const driver of c.drivers.values()) expect(driver.error).toBeNull();
  });

  it("every node builds the same metadata image from the committed records", async () => {
    root = await mkdtemp(join(tmpdir(), "quorum-image-"));
    const c = new Cluster();
    cluster = c;
    const images = new Map<NodeId, MetadataImage>();
    for (const id of VOTERS) {
      await c.start(id, root);
      const loader = new MetadataLoader((image) => images.set(id, image));
      c.drivers.get(id)?.onCommit(loader.onCommit);
    }
    const leader = await waitFor(() => c.leader(), "a leader");
    const topicId = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    // One command, one batch: the topic and its partition become visible together.
    const offsets = c.drivers
      .get(leader)
      ?.propose([
        encodeMetadataRecord(TopicRecord, { name: "foo", topicId }, 0),
        encodeMetadataRecord(
          PartitionRecord,
          { ...PartitionRecord.create(), topicId, partitionId: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 2 },
          0,
        ),
      ]);
    expect(offsets).toHaveLength(2);
    await waitFor(
      () => VOTERS.every((id) => topicByName(images.get(id) ?? EMPTY_IMAGE, "foo") !== undefined),
      "foo in every node's image",
    );
    for (const id of VOTERS) {
      const foo = topicByName(images.get(id) ?? EMPTY_IMAGE, "foo");
      expect(foo?.partitions.get(0)).toMatchObject({ leader: 2, replicas: [1, 2, 3] });
    }
  });
});
