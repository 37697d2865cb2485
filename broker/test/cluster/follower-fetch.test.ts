import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import {
  connectTo,
  createFullyReplicated,
  metricsPort,
  partitionInfo,
  produce,
  replicatedCluster,
} from "../support/cluster-records.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";

// Fetch from follower (KIP-392) across three processes in racks r0, r1, r2 (nodes 1, 2, 3) with
// RackAwareReplicaSelector, read by the unmodified Java client (kafka-clients of the reference Kafka). A consumer with
// client.rack set to a follower's rack gets its records from that follower (the follower's
// tributary_consumer_fetch_bytes_total{served_as="follower"} grows, the leader only redirects); one without
// client.rack reads from the leader; when the rack's follower is paused (SIGSTOP) and leaves the ISR, the consumer
// goes back to the leader, which no longer names it, once its preferred replica expires (metadata.max.age.ms).
// librdkafka (kcat) gets the first two checks on a cluster of its own.

const TOPIC = "racked";
const RECORDS = 40;
const LAG_MS = 2_000;
const METADATA_MAX_AGE_MS = 2_000;
/** Three JVM starts and a cluster on a shared 2-core machine: 37 s when quiet, 106 s at load average 34. */
const TEST_TIMEOUT_MS = 240_000;
const repo = fileURLToPath(new URL("../../../", import.meta.url));

const rackOf = (id: number) => `r${id - 1}`;

/** Nodes 1-3 in racks r0-r2 with the rack-aware replica selector and metrics on free ports, every broker listed. */
async function startRackedCluster(config: Readonly<Record<string, string>> = {}): Promise<Cluster> {
  const cluster = await startCluster({
    ...replicatedCluster({
      "replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector",
      "metrics.port": "0",
      "metrics.host": "127.0.0.1",
      ...config,
    }),
    nodeConfig: (id) => ({ "broker.rack": rackOf(id) }),
  });
  try {
    await cluster.waitForBrokers(30_000);
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}

async function counters(
  cluster: Cluster,
  id: number,
): Promise<{ leader: number; follower: number; preferred: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort(cluster, id)}/metrics`)).text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? "0");
  return {
    leader: value(/^tributary_consumer_fetch_bytes_total\{served_as="leader"\} (\d+)/m),
    follower: value(/^tributary_consumer_fetch_bytes_total\{served_as="follower"\} (\d+)/m),
    preferred: value(/^tributary_fetch_preferred_read_replica_total (\d+)/m),
  };
}

/** The Java consumer (clients/RackConsumer.java): every offset it has read so far. */
class JavaConsumer {
  readonly offsets = new Set<number>();
  private readonly child: ChildProcess;
  private stderr = "";

  constructor(libs: string, bootstrap: string, rack: string | undefined) {
    this.child = spawn(
      "java",
      [
        "-Xmx128m",
        `-Dlog4j2.configurationFile=${join(repo, "e2e", "reference-kafka", "tools-log4j2.properties")}`,
        "-cp",
        `${libs}/*`,
        fileURLToPath(new URL("./clients/RackConsumer.java", import.meta.url)),
        bootstrap,
        TOPIC,
        rack ?? "-",
        String(METADATA_MAX_AGE_MS),
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let partial = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (/^\d+$/.test(line)) this.offsets.add(Number(line));
    });
    this.child.stderr?.on("data", (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4_000)));
  }

  async readAll(count: number, timeoutMs: number): Promise<void> {
    await pollUntil(`the Java consumer to read ${count} records`, () => this.offsets.size >= count, timeoutMs).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}; read ${this.offsets.size}; stderr: ${this.stderr}`, { cause: err });
      },
    );
  }

  stop(): void {
    this.child.stdin?.end();
    this.child.kill("SIGKILL");
  }
}

async function write(cluster: Cluster, leader: number, from: number, count: number, acks: number): Promise<void> {
  const connection = await connectTo(cluster, leader, "follower-fetch-test");
  try {
    const records = Array.from({ length: count }, (_, i) => ({
      value: Buffer.from(`v${from + i}`),
      timestamp: BigInt(Date.now()),
    }));
    expect((await produce(connection, TOPIC, encodeRecordBatch({ records }), { acks })).errorCode).toBe(ErrorCode.NONE);
  } finally {
    connection.close();
  }
}

describe("fetch from follower with the Java client (KIP-392)", () => {
  let cluster: Cluster | undefined;
  const consumers: JavaConsumer[] = [];
  afterAll(async () => {
    for (const c of consumers) c.stop();
    await cluster?.destroy();
  });

  it(
    "reads from the follower in client.rack, from the leader without it, and from the leader once that follower leaves the ISR",
    async () => {
      const libs = execFileSync(join(repo, "e2e", "reference-kafka", "install.sh"), { encoding: "utf8" }).trim();
      cluster = await startRackedCluster({
        "replica.lag.time.max.ms": String(LAG_MS),
        "min.insync.replicas": "1",
        // The paused follower leaves the ISR through its leader, not by being fenced.
        "broker.session.timeout.ms": "60000",
      });
      const c = cluster;
      // Each broker's registration carries its broker.rack, which Metadata reports.
      const admin = new AdminClient({ bootstrap: c.bootstrap(), requestTimeoutMs: 5_000 });
      try {
        const brokers = (await admin.cluster()).brokers.map((b) => [b.nodeId, b.rack]);
        expect(brokers.sort()).toEqual([1, 2, 3].map((id) => [id, rackOf(id)]));
      } finally {
        admin.close();
      }
      const { leader } = await createFullyReplicated(c, TOPIC);
      const controller = (await c.describeQuorum()).leaderId;
      // The follower to read from, and pause later: neither the leader nor the active controller.
      const follower =
        [1, 2, 3].find((id) => id !== leader && id !== controller) ?? [1, 2, 3].find((id) => id !== leader);
      if (follower === undefined) throw new Error("no follower");
      const other = [1, 2, 3].find((id) => id !== leader && id !== follower) ?? -1;
      await write(c, leader, 0, RECORDS, -1);

      // 1. client.rack = the follower's rack: the leader points the consumer there and serves no records itself.
      const racked = new JavaConsumer(libs, c.bootstrap(), rackOf(follower));
      consumers.push(racked);
      await racked.readAll(RECORDS, 60_000);
      racked.stop();
      const afterRacked = { leader: await counters(c, leader), follower: await counters(c, follower) };
      expect(afterRacked.follower.follower).toBeGreaterThan(0);
      expect(afterRacked.leader.preferred).toBeGreaterThan(0);
      expect(afterRacked.leader.leader).toBe(0);
      expect((await counters(c, other)).follower).toBe(0);

      // 2. No client.rack: the leader serves it.
      const plain = new JavaConsumer(libs, c.bootstrap(), undefined);
      consumers.push(plain);
      await plain.readAll(RECORDS, 60_000);
      plain.stop();
      const afterPlain = { leader: await counters(c, leader), follower: await counters(c, follower) };
      expect(afterPlain.leader.leader).toBeGreaterThan(0);
      expect(afterPlain.follower.follower).toBe(afterRacked.follower.follower);

      // 3. The rack's follower is paused and leaves the ISR: the consumer reads the new records from the leader.
      const moving = new JavaConsumer(libs, c.bootstrap(), rackOf(follower));
      consumers.push(moving);
      await moving.readAll(RECORDS, 60_000);
      expect((await counters(c, follower)).follower).toBeGreaterThan(afterPlain.follower.follower);
      c.pause(follower);
      const stopped = Date.now();
      const leaderBytes = (await counters(c, leader)).leader;
      await write(c, leader, RECORDS, RECORDS, 1);
      await pollUntil(
        "the leader to drop the paused follower from the ISR",
        async () => (await partitionInfo(c, leader, TOPIC))?.isr.includes(follower) === false,
        30_000,
      );
      const shrunkMs = Date.now() - stopped;
      await moving.readAll(2 * RECORDS, 60_000);
      const movedMs = Date.now() - stopped;
      expect((await counters(c, leader)).leader).toBeGreaterThan(leaderBytes);
      console.log(
        `follower-fetch: follower ${follower} (rack ${rackOf(follower)}) paused; out of the ISR after ${shrunkMs} ms, ` +
          `the consumer had every new record from leader ${leader} after ${movedMs} ms`,
      );
      moving.stop();
      c.resume(follower);
    },
    TEST_TIMEOUT_MS,
  );
});

/** kcat's consumer (librdkafka, the Debian package `make test` installs): the offsets it printed, one per record. */
async function kcatRead(bootstrap: string, rack: string | undefined, count: number): Promise<number[]> {
  const args = ["-C", "-b", bootstrap, "-t", TOPIC, "-p", "0", "-o", "beginning", "-c", String(count), "-q"];
  args.push("-f", "%o\\n", ...(rack === undefined ? [] : ["-X", `client.rack=${rack}`]));
  const { stdout } = await promisify(execFile)("kcat", args, { timeout: 60_000 }).catch((err: unknown) => {
    const missing = (err as { code?: string }).code === "ENOENT";
    throw new Error(missing ? "kcat is not installed: run e2e/compat/kcat/setup.sh (make kcat)" : String(err), {
      cause: err,
    });
  });
  return stdout
    .split("\n")
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

describe("fetch from follower with librdkafka (kcat, KIP-392)", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("reads from the follower in client.rack, and from the leader without it", async () => {
    cluster = await startRackedCluster();
    const c = cluster;
    const { leader } = await createFullyReplicated(c, TOPIC);
    const [follower, other] = [1, 2, 3].filter((id) => id !== leader);
    if (follower === undefined || other === undefined) throw new Error("no followers");
    await write(c, leader, 0, RECORDS, -1);
    const everyOffset = Array.from({ length: RECORDS }, (_, i) => i);

    // client.rack = the follower's rack: librdkafka takes the leader's PreferredReadReplica and reads there.
    expect(await kcatRead(c.bootstrap(), rackOf(follower), RECORDS)).toEqual(everyOffset);
    const racked = { leader: await counters(c, leader), follower: await counters(c, follower) };
    expect(racked.follower.follower).toBeGreaterThan(0);
    expect(racked.leader.preferred).toBeGreaterThan(0);
    expect(racked.leader.leader).toBe(0);
    expect((await counters(c, other)).follower).toBe(0);

    // No client.rack: the leader serves it, and the follower serves no more.
    expect(await kcatRead(c.bootstrap(), undefined, RECORDS)).toEqual(everyOffset);
    expect((await counters(c, leader)).leader).toBeGreaterThan(0);
    expect((await counters(c, follower)).follower).toBe(racked.follower.follower);
  }, 120_000);
});
