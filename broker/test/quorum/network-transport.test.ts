import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { createDispatcher, type Dispatcher } from "../../src/handlers/dispatcher.ts";
import { createControllerHandlers } from "../../src/handlers/controller/registry.ts";
import type { NetworkServer } from "../../src/network/server.ts";
import { ControllerQuorum } from "../../src/quorum/controller-quorum.ts";
import { NetworkTransport } from "../../src/quorum/network-transport.ts";
import { toWireRequest } from "../../src/quorum/wire.ts";
import { ApiKey, ErrorCode } from "../../src/protocol/index.ts";
import { QuorumDriver, type QuorumDriverOptions } from "../../src/quorum/quorum-driver.ts";
import { encodeRecord, record } from "../../src/controller/records.ts";
import { EMPTY_IMAGE, topicByName, type MetadataImage } from "../../src/metadata/image/index.ts";
import { MetadataLoader } from "../../src/metadata/metadata-loader.ts";
import { TopicRecord } from "../../src/protocol/index.ts";
import { SeededRng, type NodeId } from "../../src/raft/index.ts";
import { bindControllerListeners } from "./controller-listeners.ts";
import { REAL_CLOCK_TEST_TIMING } from "./real-clock-timing.ts";
import { waitFor } from "../network/helpers.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Three controllers in one process, each serving its controller listener (handlers/controller/) on a loopback port:
// the quorum over real sockets and Kafka's wire format, and Kafka's own kafka-metadata-quorum reading it.

const VOTERS = [1, 2, 3];
const CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg";
const TIMING = REAL_CLOCK_TEST_TIMING;
const logger = pino({ level: "silent" });
const LOADED_DEADLINE_MS = 30_000;

interface Node {
  driver: QuorumDriver;
  transport: NetworkTransport;
  server: NetworkServer;
  committed: string[];
  /** With snapshots on: the committed image, and how many snapshots the listener was handed. */
  image: MetadataImage;
  snapshots: number;
}

let root: string | undefined;
const nodes = new Map<NodeId, Node>();

afterEach(async () => {
  for (const node of nodes.values()) {
    node.transport.close();
    await node.driver.close();
    await node.server.close(100);
  }
  nodes.clear();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** Starts one more controller of those whose listeners `startControllers` bound. */
let startController: (id: NodeId) => Promise<void> = () => Promise.reject(new Error("no controllers bound"));

/**
 * Binds the three controllers' listeners and starts the quorum on `initially` of them (all by default); resolves
 * with the controller-listener port of each. `extra` turns snapshots on (the records must then be metadata records).
 */
async function startControllers(
  extra: Pick<QuorumDriverOptions, "snapshots" | "segmentBytes"> = {},
  initially: readonly NodeId[] = VOTERS,
): Promise<Map<NodeId, number>> {
  const dir = await mkdtemp(join(tmpdir(), "quorum-net-"));
  root = dir;
  const dispatchers = new Map<NodeId, Dispatcher>();
  const servers = await bindControllerListeners(VOTERS, dispatchers, logger);
  const ports = new Map([...servers].map(([id, s]) => [id, s.listeners[0]?.port ?? 0]));
  const endpoints = VOTERS.map((id) => ({ id, host: "127.0.0.1", port: ports.get(id) ?? 0 }));
  startController = async (id) => {
    const transport = new NetworkTransport({
      nodeId: id,
      clusterId: CLUSTER_ID,
      logger,
      requestTimeoutMs: TIMING.requestTimeoutMs,
      fetchMaxWaitMs: TIMING.fetchMaxWaitMs,
    });
    for (const e of endpoints) transport.setPeer(e.id, e.host, e.port);
    const driver = await QuorumDriver.start({
      config: { nodeId: id, voters: VOTERS, ...TIMING },
      metadataDir: join(dir, `node-${id}`),
      transport,
      rng: new SeededRng(id * 104729),
      logger,
      tickMs: 10,
      ...extra,
    });
    transport.attach((envelope) => driver.receive(envelope));
    const quorum = new ControllerQuorum(driver, transport, CLUSTER_ID, endpoints, "CONTROLLER");
    dispatchers.set(id, createDispatcher({ handlers: createControllerHandlers(quorum), logger }));
    const server = servers.get(id);
    if (!server) throw new Error("setup");
    const node: Node = { driver, transport, server, committed: [], image: EMPTY_IMAGE, snapshots: 0 };
    driver.onCommit((entries) => {
      for (const e of entries) if (e.record.kind === "data") node.committed.push(Buffer.from(e.record.data).toString());
    });
    if (extra.snapshots !== undefined) {
      const loader = new MetadataLoader((image) => (node.image = image));
      driver.onCommit((entries, highWatermark, snapshot) => {
        if (snapshot !== null) node.snapshots++;
        loader.onCommit(entries, highWatermark, snapshot);
      });
    }
    nodes.set(id, node);
  };
  for (const id of initially) await startController(id);
  return ports;
}

const leaderOf = (): NodeId | undefined =>
  [...nodes.entries()].find(([, n]) => n.driver.status().role === "leader")?.[0];

describe("NetworkTransport.answer", () => {
  it("refuses another partition (INVALID_REQUEST) and another cluster (INCONSISTENT_CLUSTER_ID) without the core", async () => {
    const transport = new NetworkTransport({
      nodeId: 1,
      clusterId: CLUSTER_ID,
      logger,
      requestTimeoutMs: TIMING.requestTimeoutMs,
      fetchMaxWaitMs: TIMING.fetchMaxWaitMs,
    });
    let reachedCore = 0;
    transport.attach(() => reachedCore++);
    const vote = {
      type: "VoteRequest",
      epoch: 1,
      candidateId: 2,
      lastEpoch: 0,
      lastOffset: 0,
      preVote: false,
    } as const;
    const wire = toWireRequest(vote, { clusterId: CLUSTER_ID, destination: 1, fetchMaxWaitMs: 100 }, 2);
    if (wire.apiKey !== ApiKey.Vote) throw new Error("unexpected api");
    const topic = wire.request.topics[0];
    const partition = topic?.partitions[0];
    if (topic === undefined || partition === undefined) throw new Error("no partition");
    const otherPartition = {
      ...wire.request,
      topics: [{ ...topic, partitions: [{ ...partition, partitionIndex: 1 }] }],
    };
    expect(await transport.answer(ApiKey.Vote, otherPartition)).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST });
    const otherCluster = { ...wire.request, clusterId: "another-cluster" };
    expect(await transport.answer(ApiKey.Vote, otherCluster)).toMatchObject({
      errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID,
    });
    expect(reachedCore).toBe(0);
    transport.close();
  });
});

describe("the quorum over the controller listeners", () => {
  it("elects a leader and commits on every node", async () => {
    await startControllers();
    // Generous deadlines: three quorums in one process share its event loop, which a loaded 2-core machine starves
    // (this timed out at 10 s with load averages of 17-44); an idle run elects and commits within about a second.
    const leader = await waitFor(leaderOf, "a leader elected over the network", LOADED_DEADLINE_MS);
    const records = [Buffer.from("x"), Buffer.from("y")];
    let proposedIn = nodes.get(leader)?.driver.status().epoch ?? -1;
    const proposals = [`${leader} in epoch ${proposedIn}`];
    expect(nodes.get(leader)?.driver.propose(records)).not.toBeNull();
    // A leader deposed before its records commit may lose them: the next leader drops what it does not have (Raft),
    // and on a loaded machine the three quorums of this process can miss their fetch timeouts right after the
    // election. So each later leader gets the records again while none has committed them; every node must then
    // commit the same records, x and y (more than once when a deposed leader's copy survived as well).
    await waitFor(
      () => {
        const lists = VOTERS.map((id) => nodes.get(id)?.committed.join() ?? "");
        if (lists.every((l) => l === lists[0] && /^x,y(,x,y)*$/.test(l))) return true;
        const now = leaderOf();
        const epoch = now === undefined ? -1 : (nodes.get(now)?.driver.status().epoch ?? -1);
        if (now !== undefined && epoch > proposedIn && lists.every((l) => l === "")) {
          if (nodes.get(now)?.driver.propose(records) !== null) {
            proposedIn = epoch;
            proposals.push(`${now} in epoch ${epoch}`);
          }
        }
        return false;
      },
      "x, y committed everywhere",
      LOADED_DEADLINE_MS,
    ).catch((err: unknown) => {
      const seen = VOTERS.map((id) => {
        const n = nodes.get(id);
        const st = n?.driver.status();
        return `node ${id}: ${st?.role} epoch ${st?.epoch} leader ${st?.leaderId} hw ${st?.highWatermark} end ${st?.logEndOffset} committed [${n?.committed.join()}]`;
      });
      throw new Error(`${String(err)}; proposed on ${proposals.join(", ")}; ${seen.join("; ")}`, { cause: err });
    });
    // Every node names the same leader (it may have changed meanwhile on a loaded machine; they must agree).
    await waitFor(() => new Set(VOTERS.map((id) => nodes.get(id)?.driver.status().leaderId)).size === 1, "one leader");
    for (const node of nodes.values()) expect(node.driver.error).toBeNull();
  });

  it("the admin client's describeQuorum finds the leader among the controllers (followers say NOT_LEADER_OR_FOLLOWER)", async () => {
    const ports = await startControllers();
    const leader = await waitFor(leaderOf, "a leader elected over the network");
    const address = (id: NodeId): string => `127.0.0.1:${ports.get(id) ?? 0}`;
    const followers = VOTERS.filter((id) => id !== leader);
    const one = new AdminClient({ bootstrap: address(followers[0] ?? 0), retries: 0 });
    await expect(one.describeQuorum()).rejects.toMatchObject({ code: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    one.close();
    // The leader listed last: the followers are asked first and passed over.
    const all = new AdminClient({ bootstrap: [...followers, leader].map(address), retries: 0 });
    try {
      const quorum = await all.describeQuorum();
      expect([leader, leaderOf()]).toContain(quorum.leaderId);
      expect(quorum.voters.map((v) => v.replicaId).sort()).toEqual(VOTERS);
    } finally {
      all.close();
    }
  });
});

describe("snapshots over the controller listeners", () => {
  it("a controller that joins after the leader trimmed its log catches up by FetchSnapshot", async () => {
    // Two of three voters are a majority: they commit and snapshot after every commit while the third is down.
    await startControllers({ snapshots: { maxBytesBetween: 1, intervalMs: 0 } }, [1, 2]);
    const topic = (i: number) => [
      encodeRecord(
        record(TopicRecord, { name: `t${i}`, topicId: `0f1e2d3c-4b5a-6978-8796-${String(i).padStart(12, "0")}` }, 0),
      ),
    ];
    const has = (id: NodeId, i: number) => topicByName(nodes.get(id)?.image ?? EMPTY_IMAGE, `t${i}`) !== undefined;
    for (let i = 0; i < 10; i++) {
      const leader = await waitFor(leaderOf, "a leader");
      nodes.get(leader)?.driver.propose(topic(i));
      await waitFor(() => [1, 2].every((id) => has(id, i)), `t${i} on both running controllers`);
    }
    const leader = await waitFor(leaderOf, "a leader");
    expect(nodes.get(leader)?.driver.status().logStartOffset).toBeGreaterThan(0);

    await startController(3);
    await waitFor(() => has(3, 9), "the third controller caught up");
    expect(nodes.get(3)?.snapshots).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) expect(has(3, i)).toBe(true);
    for (const node of nodes.values()) expect(node.driver.error).toBeNull();
  });
});

describe("Kafka's kafka-metadata-quorum against our controllers", () => {
  beforeAll(requireReferenceKafka);
  it("describe --status and --replication name the leader, the voters and their offsets", async () => {
    const ports = await startControllers();
    const leader = await waitFor(leaderOf, "a leader");
    nodes.get(leader)?.driver.propose([Buffer.from("z")]);
    await waitFor(() => VOTERS.every((id) => nodes.get(id)?.committed.join() === "z"), "z committed everywhere");

    const run = (...args: string[]) =>
      runKafkaClass("org.apache.kafka.tools.MetadataQuorumCommand", [
        "--bootstrap-controller",
        `127.0.0.1:${ports.get(1)}`,
        "describe",
        ...args,
      ]);
    const status = (await run("--status")).stdout;
    const current = leaderOf();
    expect(status).toContain(`ClusterId:              ${CLUSTER_ID}`);
    expect(status).toMatch(new RegExp(`LeaderId:\\s+${current}\\b`));
    expect(status).toMatch(/HighWatermark:\s+[1-9]/);
    for (const id of VOTERS) expect(status).toMatch(new RegExp(`"id": ${id}\\b`));

    const replication = (await run("--replication")).stdout;
    expect(replication).toMatch(
      /NodeId\s+DirectoryId\s+LogEndOffset\s+Lag\s+LastFetchTimestamp\s+LastCaughtUpTimestamp\s+Status/,
    );
    expect(replication).toMatch(new RegExp(`^${current}\\s+\\S+\\s+\\d+\\s+0\\s+\\d+\\s+\\d+\\s+Leader`, "m"));
    expect(replication.match(/Follower/g)).toHaveLength(2);
  });
});
