import { mkdtemp, readFile, readdir, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { encodeRecord, record } from "../../src/controller/records.ts";
import { METADATA_LOG_DIR, MetadataLog } from "../../src/quorum/metadata-log.ts";
import { QuorumDriver, type QuorumDriverOptions, type Transport } from "../../src/quorum/quorum-driver.ts";
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

/** A single voter on `metadataDir` that snapshots after every commit. */
function startSingleVoter(metadataDir: string, extra: Partial<QuorumDriverOptions> = {}): Promise<QuorumDriver> {
  return QuorumDriver.start({
    config: { nodeId: 1, voters: [1], ...TIMING },
    metadataDir,
    transport: { send: () => undefined },
    rng: new SeededRng(1),
    logger: pino({ level: "silent" }),
    tickMs: 10,
    snapshots: { maxBytesBetween: 1, intervalMs: 0 },
    ...extra,
  });
}

class Cluster implements Transport {
  readonly drivers = new Map<NodeId, QuorumDriver>();
  readonly committed = new Map<NodeId, string[]>();
  readonly dirs = new Map<NodeId, string>();
  /** With snapshots on (metadata records only): each node's image, and the snapshots its listener was handed. */
  readonly images = new Map<NodeId, MetadataImage>();
  readonly snapshotsHanded = new Map<NodeId, number[]>();

  constructor(private readonly extra: Pick<QuorumDriverOptions, "snapshots" | "segmentBytes"> = {}) {}

  send(envelope: Envelope): void {
    setImmediate(() => this.drivers.get(envelope.to)?.receive(envelope));
  }

  async start(id: NodeId, root: string): Promise<void> {
    const metadataDir = this.dirs.get(id) ?? join(root, `node-${id}`);
    this.dirs.set(id, metadataDir);
    // With snapshots the records are metadata: the driver feeds a loader, as on a node, and writes snapshots from it.
    const loader =
      this.extra.snapshots === undefined ? undefined : new MetadataLoader((image) => this.images.set(id, image));
    const driver = await QuorumDriver.start({
      config: { nodeId: id, voters: VOTERS, ...TIMING },
      metadataDir,
      transport: this,
      rng: new SeededRng(id * 7919),
      logger: pino({ level: "silent" }),
      tickMs: 10,
      ...this.extra,
      ...(loader !== undefined ? { loader } : {}),
    });
    this.committed.set(id, []);
    if (loader !== undefined) {
      driver.onCommit((_entries, _highWatermark, snapshot) => {
        if (snapshot !== null)
          this.snapshotsHanded.set(id, [...(this.snapshotsHanded.get(id) ?? []), snapshot.id.offset]);
      });
    }
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

  it("a node restarted after the leader trimmed its log catches up by FetchSnapshot, and restarts from its snapshot", async () => {
    root = await mkdtemp(join(tmpdir(), "quorum-snapshot-"));
    // A snapshot after every commit, and small segments, so the leader's log start moves and whole segments go.
    const c = new Cluster({ snapshots: { maxBytesBetween: 1, intervalMs: 0 }, segmentBytes: 512 });
    cluster = c;
    for (const id of VOTERS) await c.start(id, root);
    const topic = (i: number) => {
      const topicId = `0f1e2d3c-4b5a-6978-8796-${String(i).padStart(12, "0")}`;
      return [
        encodeRecord(record(TopicRecord, { name: `t${i}`, topicId }, 0)),
        encodeRecord(
          record(PartitionRecord, { topicId, partitionId: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }, 1),
        ),
      ];
    };
    const has = (id: NodeId, name: string) => topicByName(c.images.get(id) ?? EMPTY_IMAGE, name) !== undefined;
    const commitOn = async (ids: readonly NodeId[], i: number) => {
      const leader = await waitFor(() => c.leader(), "a leader");
      c.drivers.get(leader)?.propose(topic(i));
      await waitFor(() => ids.every((id) => has(id, `t${i}`)), `t${i} in every live node's image`);
    };
    await commitOn(VOTERS, 0);

    const leader = await waitFor(() => c.leader(), "a leader");
    const lagging = VOTERS.find((id) => id !== leader) ?? 0;
    const laggingEnd = c.drivers.get(lagging)?.status().logEndOffset ?? 0;
    await c.crash(lagging);
    const live = VOTERS.filter((id) => id !== lagging);
    for (let i = 1; i <= 20; i++) await commitOn(live, i);

    const now = await waitFor(() => c.leader(), "a leader");
    const status = c.drivers.get(now)?.status();
    expect(status?.logStartOffset).toBeGreaterThan(laggingEnd);
    const leaderLog = join(c.dirs.get(now) ?? "", METADATA_LOG_DIR);
    const files = await readdir(leaderLog);
    // Only the newest snapshot is kept, and the segments wholly below it are gone.
    expect(files.filter((f) => f.endsWith(".checkpoint"))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith(".log")).sort()[0]).not.toBe("00000000000000000000.log");

    // (It may have installed the leader's first snapshot already while it was up: only what it gets now counts.)
    c.snapshotsHanded.delete(lagging);
    await c.start(lagging, root);
    await waitFor(() => has(lagging, "t20"), "the restarted node caught up");
    expect(c.snapshotsHanded.get(lagging)?.[0]).toBeGreaterThan(laggingEnd);
    const image = c.images.get(lagging) ?? EMPTY_IMAGE;
    for (let i = 0; i <= 20; i++) expect(topicByName(image, `t${i}`)?.partitions.get(0)?.leader).toBe(1);
    const laggingFiles = await readdir(join(c.dirs.get(lagging) ?? "", METADATA_LOG_DIR));
    expect(laggingFiles.some((f) => f.endsWith(".checkpoint"))).toBe(true);

    // Restarted again, it starts from its own newest snapshot and the log after it.
    await c.crash(lagging);
    c.images.delete(lagging);
    await c.start(lagging, root);
    await waitFor(() => has(lagging, "t20"), "the node restarted from its snapshot");
    await commitOn(VOTERS, 21);
    for (const driver of c.drivers.values()) expect(driver.error).toBeNull();
  });

  it("keeps snapshots and log segments under metadata.max.retention.bytes and .ms, the newest snapshot always", async () => {
    root = await mkdtemp(join(tmpdir(), "quorum-retention-"));
    const base = root;
    const opened: QuorumDriver[] = [];
    const until = async (check: () => Promise<boolean>, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const single = async (name: string, retention: { maxBytes: number; ms: number }) => {
      const metadataDir = join(base, name);
      const start = () => startSingleVoter(metadataDir, { segmentBytes: 512, retention, loader: new MetadataLoader() });
      const started = async () => {
        const d = await start();
        opened.push(d);
        await waitFor(() => d.status().role === "leader", "the single voter leads");
        return d;
      };
      let driver = await started();
      const dir = join(metadataDir, METADATA_LOG_DIR);
      // Read again when cleaning deleted a file between the listing and its stat.
      const files = async (): Promise<{ logs: string[]; snapshots: string[]; bytes: number }> => {
        const names = await readdir(dir);
        const logs = names.filter((f) => f.endsWith(".log")).sort();
        const snapshots = names.filter((f) => f.endsWith(".checkpoint")).sort();
        let bytes = 0;
        try {
          for (const f of [...logs, ...snapshots]) bytes += (await stat(join(dir, f))).size;
        } catch {
          return files();
        }
        return { logs, snapshots, bytes };
      };
      let next = 0;
      const propose = async () => {
        const i = next++;
        const topicId = `0f1e2d3c-4b5a-6978-8796-${String(i).padStart(12, "0")}`;
        driver.propose([encodeRecord(record(TopicRecord, { name: `t${i}`, topicId }, 0))]);
        // The snapshot of this commit is on disk once a checkpoint ends past it.
        const end = driver.status().logEndOffset;
        await until(
          async () => (await files()).snapshots.some((f) => Number(f.slice(0, 20)) >= end),
          `a snapshot of t${i}`,
        );
      };
      const restart = async () => {
        opened.splice(opened.indexOf(driver), 1);
        await driver.close();
        driver = await started();
      };
      return { files, propose, restart };
    };

    // Both rules off: every snapshot and every segment stays, and a restart still starts from the newest snapshot.
    const all = await single("all", { maxBytes: -1, ms: -1 });
    for (let i = 0; i < 12; i++) await all.propose();
    const kept = await all.files();
    expect(kept.snapshots.length).toBeGreaterThanOrEqual(12);
    expect(kept.logs[0]).toBe("00000000000000000000.log");
    await all.restart();
    await all.propose();

    // By size: the oldest snapshots go while the log and the snapshots exceed the bound, the log with them.
    const bySize = await single("size", { maxBytes: 3000, ms: -1 });
    for (let i = 0; i < 30; i++) {
      await bySize.propose();
      // Cleaning runs behind the snapshot; wait for it to have brought the total under the bound.
      await until(async () => {
        const f = await bySize.files();
        return f.bytes <= 3000 || f.snapshots.length === 1;
      }, "the retention bound kept");
    }
    const sized = await bySize.files();
    expect(sized.snapshots.length).toBeGreaterThan(1);
    expect(sized.logs[0]).not.toBe("00000000000000000000.log");

    // By time: snapshots older than 300 ms go once a newer one is written.
    const byTime = await single("time", { maxBytes: -1, ms: 300 });
    for (let i = 0; i < 3; i++) await byTime.propose();
    expect((await byTime.files()).snapshots.length).toBeGreaterThanOrEqual(3);
    const since = Date.now();
    await waitFor(() => Date.now() - since > 400, "the older snapshots to pass their retention");
    await byTime.propose();
    await until(async () => (await byTime.files()).snapshots.length === 1, "only the newest snapshot kept");
    for (const d of opened) await d.close();
  });

  it("refuses to start on a trimmed log whose snapshot is damaged, naming the directory", async () => {
    root = await mkdtemp(join(tmpdir(), "quorum-damaged-"));
    const metadataDir = join(root, "node-1");
    const start = () => startSingleVoter(metadataDir);
    const driver = await start();
    await waitFor(() => driver.status().role === "leader", "the single voter leads");
    driver.propose([
      encodeRecord(record(TopicRecord, { name: "t", topicId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" }, 0)),
    ]);
    await waitFor(() => driver.status().logStartOffset > 0, "a snapshot trimmed the log");
    await driver.close();
    const dir = join(metadataDir, METADATA_LOG_DIR);
    const [snapshot] = (await readdir(dir)).filter((f) => f.endsWith(".checkpoint"));
    await truncate(join(dir, snapshot ?? ""), 10);
    await expect(start()).rejects.toThrow(/__cluster_metadata-0 starts at \d+ but has no snapshot/);
  });
});

describe("QuorumDriver action order", () => {
  // A commit listener that proposes (the controller runtime activating on a commit, a registration decided as the
  // image changes) must join the drain that runs the commit: a second drain started from inside the first ran the
  // queue twice at once, so an append was checked against the file while the one before it was still being written
  // ("batch for offset 2, but the log ends at 1") and a message could leave before what preceded it was fsynced.
  it("runs a proposal made by a commit listener behind the actions already queued, one at a time", async () => {
    root = await mkdtemp(join(tmpdir(), "quorum-reentrant-"));
    const sent: Envelope[] = [];
    let driver: QuorumDriver | undefined;
    // Node 2 is played by the test: it grants every vote and fetches only when told to.
    const peer: Transport = {
      send(envelope) {
        sent.push(envelope);
        const m = envelope.message;
        if (m.type !== "VoteRequest") return;
        setImmediate(() =>
          driver?.receive({
            from: 2,
            to: 1,
            correlationId: envelope.correlationId,
            message: {
              type: "VoteResponse",
              // A pre-vote is answered in the voter's own epoch, the one below the candidate's.
              epoch: m.preVote ? m.epoch - 1 : m.epoch,
              leaderId: null,
              granted: true,
              preVote: m.preVote,
              error: "NONE",
            },
          }),
        );
      },
    };
    const metadataDir = join(root, "node-1");
    const d = await QuorumDriver.start({
      config: { nodeId: 1, voters: [1, 2], ...TIMING },
      metadataDir,
      transport: peer,
      rng: new SeededRng(1),
      logger: pino({ level: "silent" }),
      tickMs: 10,
    });
    driver = d;
    let proposed = false;
    d.onCommit(() => {
      if (proposed) return;
      proposed = true;
      expect(d.propose([Buffer.from("a")])).toEqual([1]);
      expect(d.propose([Buffer.from("b")])).toEqual([2]);
    });
    // Leading once BeginQuorumEpoch went out: that send follows the leader-change entry's append and fsync.
    const epoch = await waitFor(
      () => sent.find((e) => e.message.type === "BeginQuorumEpochRequest")?.message.epoch,
      "node 1 leads",
    );
    // Node 2 has the leader-change entry: the high watermark moves to 1 as this fetch arrives, so the commit runs
    // first in a fresh drain, with its listener proposing from inside it.
    await new Promise((resolve) => setImmediate(resolve));
    d.receive({
      from: 2,
      to: 1,
      correlationId: 1000,
      message: { type: "FetchRequest", epoch, replicaId: 2, fetchOffset: 1, lastFetchedEpoch: epoch },
    });
    expect(proposed).toBe(true);
    await waitFor(() => sent.some((e) => e.message.type === "FetchResponse"), "the fetch answered");
    await d.close();
    driver = undefined;
    expect(d.error).toBeNull();
    const log = await MetadataLog.open({ metadataDir, logger: pino({ level: "silent" }) });
    const entries = await log.readAll();
    await log.close();
    expect(entries.map((e) => (e.record.kind === "data" ? Buffer.from(e.record.data).toString() : "leader"))).toEqual([
      "leader",
      "a",
      "b",
    ]);
  });
});
