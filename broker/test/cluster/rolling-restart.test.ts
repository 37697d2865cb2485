import { afterAll, describe, expect, it } from "vitest";
import type { BrokerConnection } from "../../src/admin/connection.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { createTopic, startCluster, type Cluster } from "../support/cluster.ts";
import {
  connectTo,
  consumeAll,
  describePartitions,
  initProducerId,
  produce,
  replicatedCluster,
} from "../support/cluster-records.ts";

// A rolling restart with SIGTERM loses nothing (ADR 24, issue 12): three combined nodes, an RF-3 topic of three
// partitions with min.insync.replicas=2, and an idempotent acks=all producer writing throughout. Each node in turn
// is stopped with SIGTERM — its controlled shutdown moves its leaderships away before it exits — restarted, and
// waited for until it is back in every partition's ISR. Afterwards every acknowledged record is read back exactly
// once and in order, and the longest time any partition had no running leader in Metadata is bounded.

const TOPIC = "rolling";
const PARTITIONS = 3;
/** The longest any partition may have no leader: a controlled shutdown moves leadership before the node stops. */
const MAX_LEADERLESS_MS = 3_000;

interface Layout {
  leader: number;
  isr: number[];
}

/** Each partition's leader and ISR as `via` reports them, or undefined when it cannot answer. */
async function layout(cluster: Cluster, via: number): Promise<Map<number, Layout> | undefined> {
  // Short timeouts: the leader watch polls this, and a node that stops answering must not blur its figures.
  const partitions = await describePartitions(cluster, via, TOPIC, {
    requestTimeoutMs: 2_000,
    connectTimeoutMs: 1_000,
  });
  return partitions && new Map(partitions.map((p) => [p.partition, { leader: p.leader, isr: [...p.isr].sort() }]));
}

/** The layout from the first running node that answers. */
async function anyLayout(cluster: Cluster): Promise<Map<number, Layout> | undefined> {
  for (const n of cluster.brokers) {
    if (!cluster.isRunning(n.id)) continue;
    const l = await layout(cluster, n.id);
    if (l !== undefined) return l;
  }
  return undefined;
}

function connect(cluster: Cluster, id: number): Promise<BrokerConnection> {
  return connectTo(cluster, id, "rolling-restart-test");
}

/**
 * An idempotent producer writing batches of 2 records with acks=all to the partitions in turn, one request at a time.
 * A failed or unanswered batch is sent again, with the same sequence, to whichever broker then leads the partition,
 * as Kafka's producer does; the broker's producer state makes the retry of a batch already written a duplicate.
 */
class Producer {
  readonly acked = new Map<number, string[]>();
  private readonly sequence = new Map<number, number>();
  private stopping = false;
  private done: Promise<void> | undefined;
  retries = 0;
  /** The longest time between two acknowledgements of any partition. */
  longestGapMs = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly producerId: bigint,
    private readonly producerEpoch: number,
  ) {}

  start(): void {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
  }

  private async run(): Promise<void> {
    const leaders = new Map<number, number>();
    const connections = new Map<number, BrokerConnection>();
    const lastAck = new Map<number, number>();
    let b = 0;
    try {
      while (!this.stopping) {
        const partition = b % PARTITIONS;
        const seq = this.sequence.get(partition) ?? 0;
        const values = [0, 1].map((i) => `p${partition}-b${b}-${i}`);
        const records = encodeRecordBatch({
          records: values.map((v) => ({ value: Buffer.from(v), timestamp: BigInt(Date.now()) })),
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          baseSequence: seq,
        });
        // Until acknowledged: the batch is never given up, so the sequence never skips.
        for (;;) {
          let leader = leaders.get(partition);
          if (leader === undefined || !this.cluster.isRunning(leader)) {
            const l = (await anyLayout(this.cluster))?.get(partition)?.leader ?? -1;
            if (l < 0 || !this.cluster.isRunning(l)) {
              await new Promise((r) => setTimeout(r, 50));
              continue;
            }
            leader = l;
            leaders.set(partition, l);
          }
          let errorCode: number | undefined;
          try {
            let connection = connections.get(leader);
            if (connection === undefined) {
              connection = await connect(this.cluster, leader);
              connections.set(leader, connection);
            }
            ({ errorCode } = await produce(connection, TOPIC, records, { partition, waitMs: 12_000 }));
          } catch {
            connections.get(leader)?.close();
            connections.delete(leader);
          }
          if (errorCode === ErrorCode.NONE) break;
          this.retries++;
          if (errorCode !== undefined && !RETRIABLE.has(errorCode)) {
            throw new Error(`partition ${partition}, batch ${b} at ${seq}: error ${errorCode} from ${leader}`);
          }
          leaders.delete(partition);
          await new Promise((r) => setTimeout(r, 50));
        }
        const now = Date.now();
        const previous = lastAck.get(partition);
        if (previous !== undefined) this.longestGapMs = Math.max(this.longestGapMs, now - previous);
        lastAck.set(partition, now);
        this.sequence.set(partition, seq + values.length);
        this.acked.set(partition, [...(this.acked.get(partition) ?? []), ...values]);
        b++;
      }
    } finally {
      for (const c of connections.values()) c.close();
    }
  }
}

const RETRIABLE = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
]);

/**
 * Polls Metadata and keeps, per partition, the longest stretch without a serving leader: none named, or the one
 * named no longer running (a broker that exits while still leading stays named until the controller fences it).
 */
class LeaderWatch {
  readonly longestMs = new Map<number, number>();
  private readonly since = new Map<number, number>();
  private stopping = false;
  private done: Promise<void> | undefined;
  polls = 0;

  constructor(private readonly cluster: Cluster) {}

  start(): void {
    this.done = (async () => {
      while (!this.stopping) {
        const l = await anyLayout(this.cluster);
        const now = Date.now();
        if (l !== undefined) {
          this.polls++;
          for (const [p, { leader }] of l) {
            const since = this.since.get(p);
            if (leader < 0 || !this.cluster.isRunning(leader)) {
              if (since === undefined) this.since.set(p, now);
            } else if (since !== undefined) {
              this.since.delete(p);
              this.longestMs.set(p, Math.max(this.longestMs.get(p) ?? 0, now - since));
            }
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  }

  async stop(): Promise<number> {
    this.stopping = true;
    await this.done;
    const now = Date.now();
    // A partition still leaderless at the end counts up to now.
    for (const [p, since] of this.since) this.longestMs.set(p, Math.max(this.longestMs.get(p) ?? 0, now - since));
    return Math.max(0, ...this.longestMs.values());
  }
}

describe("rolling restart with SIGTERM across three processes", () => {
  let cluster: Cluster | undefined;
  let producer: Producer | undefined;
  let watch: LeaderWatch | undefined;
  afterAll(async () => {
    await producer?.stop().catch(() => undefined);
    await watch?.stop();
    await cluster?.destroy();
  });

  it("restarts each node in turn under an acks=all producer: nothing acknowledged is lost or duplicated", async () => {
    cluster = await startCluster(
      replicatedCluster({
        "broker.session.timeout.ms": "6000",
        // Leadership comes back to the preferred replicas only when asked: the test measures controlled shutdown.
        "auto.leader.rebalance.enable": "false",
      }),
    );
    const c = cluster;
    await c.waitForBrokers(30_000);
    await createTopic(c, TOPIC, 3, PARTITIONS);
    const allInSync = async (): Promise<boolean> => {
      const l = await anyLayout(c);
      return (
        l !== undefined && l.size === PARTITIONS && [...l.values()].every((p) => p.leader >= 0 && p.isr.length === 3)
      );
    };
    await pollUntil("every partition's ISR to hold all three replicas", allInSync, 60_000);

    const pid = await initProducerId(c, 1);

    watch = new LeaderWatch(c);
    watch.start();
    producer = new Producer(c, pid.producerId, pid.producerEpoch);
    producer.start();
    const ackedCount = (): number => [...producer!.acked.values()].reduce((n, v) => n + v.length, 0);
    await pollUntil("the producer to be acknowledged", () => ackedCount() >= 60, 30_000);

    const stopMs: number[] = [];
    for (const id of [1, 2, 3]) {
      const before = ackedCount();
      const started = Date.now();
      const code = await c.kill(id, "SIGTERM", 30_000);
      stopMs.push(Date.now() - started);
      expect(code, `node ${id}'s exit code`).toBe(0);
      // The controller agreed: the broker led nothing when it stopped (no timeout of the controlled shutdown).
      expect(c.output(id)).toMatch(/agreed to a controlled shutdown/);
      expect(c.output(id)).not.toMatch(/did not agree to a controlled shutdown/);
      await pollUntil(`the producer to go on while node ${id} is down`, () => ackedCount() >= before + 30, 30_000);
      await c.restart(id);
      await pollUntil(`node ${id} to be back in every ISR`, allInSync, 60_000);
      await pollUntil(`the producer to go on after node ${id} is back`, () => ackedCount() >= before + 60, 30_000);
    }

    await producer.stop();
    const longestLeaderlessMs = await watch.stop();
    const final = await anyLayout(c);
    let total = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const leader = final?.get(p)?.leader ?? -1;
      const acked = producer.acked.get(p) ?? [];
      total += acked.length;
      let served: string[] = [];
      await pollUntil(
        `partition ${p}'s leader (${leader}) to serve every acknowledged record`,
        async () => {
          served = await consumeAll(c, leader, TOPIC, p).catch(() => []);
          return served.length >= acked.length;
        },
        30_000,
      );
      // Exactly once and in order: the same sequence, no gap, no duplicate, nothing unacknowledged.
      expect(served, `partition ${p}`).toEqual(acked);
    }
    console.log(
      `rolling-restart: ${total} records acknowledged and read back once, in order; SIGTERM to exit ${stopMs.join("/")} ms; ` +
        `longest leaderless partition ${longestLeaderlessMs} ms over ${watch.polls} Metadata polls; ` +
        `longest gap between acks of a partition ${producer.longestGapMs} ms; ${producer.retries} retries`,
    );
    expect(longestLeaderlessMs).toBeLessThanOrEqual(MAX_LEADERLESS_MS);
  }, 300_000);
});
