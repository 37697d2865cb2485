import { afterAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { BrokerConnection } from "../../src/admin/connection.ts";
import { ErrorCode, ProduceRequest, ProduceResponse } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { createTopic, startCluster, type Cluster } from "../support/cluster.ts";

// The leader's side of ISR changes across processes (ADR 24): a follower paused with SIGSTOP falls behind, so the
// leader drops it from the ISR after replica.lag.time.max.ms (through AlterPartition to the controller) and acks=all
// goes on with the two left (min.insync.replicas=2); after SIGCONT the follower catches up and the leader adds it
// back. The broker session timeout is longer than the test, so the controller never fences the paused broker itself:
// the shrink is the leader's.

const TOPIC = "shrinking";
const LAG_MS = 2_000;
const REPLICA_FETCH_WAIT_MAX_MS = 500;

async function isrOf(cluster: Cluster, via: number): Promise<{ leader: number; isr: number[] } | undefined> {
  const node = cluster.node(via);
  const admin = new AdminClient({ bootstrap: `${node.host}:${node.clientPort}`, retries: 0, requestTimeoutMs: 3_000 });
  try {
    const p = (await admin.describeTopics([TOPIC])).get(TOPIC)?.topic?.partitions[0];
    return p && { leader: p.leader, isr: [...p.isr].sort() };
  } catch {
    return undefined;
  } finally {
    admin.close();
  }
}

async function produce(cluster: Cluster, leader: number, acks: number): Promise<number | undefined> {
  const node = cluster.node(leader);
  const connection = await BrokerConnection.open({
    host: node.host,
    port: node.clientPort ?? 0,
    clientId: "isr-shrink-test",
    connectTimeoutMs: 2_000,
  });
  try {
    const records = encodeRecordBatch({ records: [{ value: Buffer.from("v"), timestamp: BigInt(Date.now()) }] });
    const res = await connection.send(
      ProduceRequest,
      ProduceResponse,
      9,
      {
        transactionalId: null,
        acks,
        timeoutMs: 10_000,
        topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }],
      },
      15_000,
    );
    return res.responses[0]?.partitionResponses[0]?.errorCode;
  } finally {
    connection.close();
  }
}

describe("ISR shrink and expansion across three processes", () => {
  let cluster: Cluster | undefined;
  let paused: number | undefined;
  afterAll(async () => {
    if (paused !== undefined) process.kill(paused, "SIGCONT");
    await cluster?.destroy();
  });

  it("drops a paused follower after replica.lag.time.max.ms and takes it back once it catches up", async () => {
    cluster = await startCluster({
      system: "tributary",
      topology: { combined: 3 },
      config: {
        "min.insync.replicas": "2",
        "replica.lag.time.max.ms": String(LAG_MS),
        "replica.fetch.wait.max.ms": String(REPLICA_FETCH_WAIT_MAX_MS),
        "broker.session.timeout.ms": "60000",
        "broker.heartbeat.interval.ms": "1000",
      },
    });
    const c = cluster;
    await c.waitForBrokers(30_000);
    await createTopic(c, TOPIC, 3);
    let state: Awaited<ReturnType<typeof isrOf>>;
    await pollUntil(
      "the ISR to hold all three replicas",
      async () => (state = await isrOf(c, 1))?.isr.length === 3,
      60_000,
    );
    const leader = state!.leader;
    // Pause a follower that is neither the partition's leader nor the active controller.
    const controller = (await c.describeQuorum()).leaderId;
    const follower = [1, 2, 3].find((id) => id !== leader && id !== controller);
    if (follower === undefined) throw new Error("no follower to pause");
    expect(await produce(c, leader, -1)).toBe(ErrorCode.NONE);

    const pid = c.pid(follower);
    if (pid === undefined) throw new Error(`node ${follower} is not running`);
    process.kill(pid, "SIGSTOP");
    paused = pid;
    const stopped = Date.now();
    // A write the paused follower cannot fetch: its end now differs from the leader's.
    expect(await produce(c, leader, 1)).toBe(ErrorCode.NONE);
    await pollUntil(
      "the leader to drop the paused follower from the ISR",
      async () => (await isrOf(c, leader))?.isr.length === 2,
      30_000,
    );
    const shrinkMs = Date.now() - stopped;
    expect((await isrOf(c, leader))?.isr).not.toContain(follower);
    // The lag counts from the follower's last caught-up fetch, which reached the leader before the SIGSTOP: by up to
    // one long-poll (replica.fetch.wait.max.ms) when that fetch was parked at the leader.
    expect(shrinkMs).toBeGreaterThanOrEqual(LAG_MS - REPLICA_FETCH_WAIT_MAX_MS);
    // Two in-sync replicas meet min.insync.replicas=2.
    expect(await produce(c, leader, -1)).toBe(ErrorCode.NONE);

    process.kill(pid, "SIGCONT");
    paused = undefined;
    const resumed = Date.now();
    await pollUntil("the follower to rejoin the ISR", async () => (await isrOf(c, leader))?.isr.length === 3, 30_000);
    const expandMs = Date.now() - resumed;
    console.log(
      `isr-shrink: ISR shrank ${shrinkMs} ms after SIGSTOP (lag ${LAG_MS} ms), back to 3 ${expandMs} ms after SIGCONT`,
    );
    expect(await produce(c, leader, -1)).toBe(ErrorCode.NONE);
  });
});
