import { afterAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";
import {
  connectTo,
  createFullyReplicated,
  partitionInfo,
  produce,
  replicatedCluster,
} from "../support/cluster-records.ts";

// The leader's side of ISR changes across processes (ADR 24): a follower paused with SIGSTOP falls behind, so the
// leader drops it from the ISR after replica.lag.time.max.ms (through AlterPartition to the controller) and acks=all
// goes on with the two left (min.insync.replicas=2); after SIGCONT the follower catches up and the leader adds it
// back. The broker session timeout is longer than the test, so the controller never fences the paused broker itself:
// the shrink is the leader's.

const TOPIC = "shrinking";
const LAG_MS = 2_000;
const REPLICA_FETCH_WAIT_MAX_MS = 500;

/** One record to partition 0 of the topic at `leader` with `acks`; the partition's error code. */
async function produceOne(cluster: Cluster, leader: number, acks: number): Promise<number | undefined> {
  const connection = await connectTo(cluster, leader, "isr-shrink-test");
  try {
    const records = encodeRecordBatch({ records: [{ value: Buffer.from("v"), timestamp: BigInt(Date.now()) }] });
    return (await produce(connection, TOPIC, records, { acks })).errorCode;
  } finally {
    connection.close();
  }
}

describe("ISR shrink and expansion across three processes", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("drops a paused follower after replica.lag.time.max.ms and takes it back once it catches up", async () => {
    cluster = await startCluster(
      replicatedCluster({
        "replica.lag.time.max.ms": String(LAG_MS),
        "replica.fetch.wait.max.ms": String(REPLICA_FETCH_WAIT_MAX_MS),
        "broker.session.timeout.ms": "60000",
      }),
    );
    const c = cluster;
    await c.waitForBrokers(30_000);
    const { leader } = await createFullyReplicated(c, TOPIC);
    // Pause a follower that is neither the partition's leader nor the active controller.
    const controller = (await c.describeQuorum()).leaderId;
    const follower = [1, 2, 3].find((id) => id !== leader && id !== controller);
    if (follower === undefined) throw new Error("no follower to pause");
    expect(await produceOne(c, leader, -1)).toBe(ErrorCode.NONE);

    c.pause(follower);
    const stopped = Date.now();
    // A write the paused follower cannot fetch: its end now differs from the leader's.
    expect(await produceOne(c, leader, 1)).toBe(ErrorCode.NONE);
    // The two left, exactly: on a loaded machine the other follower may fall behind for a moment too, leave the ISR
    // before the paused one and come back, so an ISR of two alone does not say which one left.
    await pollUntil(
      "the leader to drop the paused follower from the ISR and keep the other",
      async () => {
        const isr = (await partitionInfo(c, leader, TOPIC))?.isr ?? [];
        return isr.length === 2 && !isr.includes(follower);
      },
      30_000,
    );
    const shrinkMs = Date.now() - stopped;
    // The lag counts from the follower's last caught-up fetch, which reached the leader before the SIGSTOP: by up to
    // one long-poll (replica.fetch.wait.max.ms) when that fetch was parked at the leader.
    expect(shrinkMs).toBeGreaterThanOrEqual(LAG_MS - REPLICA_FETCH_WAIT_MAX_MS);
    // Two in-sync replicas meet min.insync.replicas=2.
    expect(await produceOne(c, leader, -1)).toBe(ErrorCode.NONE);

    c.resume(follower);
    const resumed = Date.now();
    await pollUntil(
      "the follower to rejoin the ISR",
      async () => (await partitionInfo(c, leader, TOPIC))?.isr.length === 3,
      30_000,
    );
    const expandMs = Date.now() - resumed;
    console.log(
      `isr-shrink: ISR shrank ${shrinkMs} ms after SIGSTOP (lag ${LAG_MS} ms), back to 3 ${expandMs} ms after SIGCONT`,
    );
    expect(await produceOne(c, leader, -1)).toBe(ErrorCode.NONE);
  });
});
