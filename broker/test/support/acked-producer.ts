import type { BrokerConnection } from "../../src/admin/connection.ts";
import { ErrorCode } from "../../src/protocol/index.ts";
import { encodeRecordBatch } from "../../src/protocol/records/index.ts";
import type { Cluster } from "./cluster.ts";
import { connectTo, describePartitions, produce } from "./cluster-records.ts";

// An idempotent acks=all producer for one partition, as the failure tests run it: it sends each batch until some
// leader acknowledges it, asking the nodes who leads whenever a send fails (as a client refreshes its metadata), and
// keeps every acknowledged value in order, to compare with what the partition serves afterwards.

export class AckedProducer {
  readonly acked: string[] = [];
  /** Failed sends by error code (-1: no answer). */
  readonly errors = new Map<number, number>();
  leader: number;
  private stopped = false;
  private sequence = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly cluster: Cluster,
    private readonly topic: string,
    private readonly partition: number,
    private readonly id: { producerId: bigint; producerEpoch: number },
    leader: number,
  ) {
    this.leader = leader;
    this.done = this.run();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  private async run(): Promise<void> {
    for (let b = 0; !this.stopped; b++) {
      // 32 KiB batches, so that a small disk fills in a few seconds.
      const values = Array.from({ length: 8 }, (_, i) => `record-${this.partition}-${b}-${i}-${"x".repeat(4000)}`);
      const records = encodeRecordBatch({
        records: values.map((v) => ({ value: Buffer.from(v), timestamp: BigInt(Date.now()) })),
        producerId: this.id.producerId,
        producerEpoch: this.id.producerEpoch,
        baseSequence: this.sequence,
      });
      for (let attempt = 0; ; attempt++) {
        if (attempt > 200) throw new Error(`batch ${b} of partition ${this.partition} was never acknowledged`);
        const errorCode = await this.send(records);
        if (errorCode === ErrorCode.NONE) break;
        this.errors.set(errorCode, (this.errors.get(errorCode) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (const node of this.cluster.brokers) {
          if (!this.cluster.isRunning(node.id)) continue;
          const info = (await describePartitions(this.cluster, node.id, this.topic))?.find(
            (p) => p.partition === this.partition,
          );
          if (info !== undefined && info.leader >= 0) {
            this.leader = info.leader;
            break;
          }
        }
      }
      this.sequence += values.length;
      this.acked.push(...values);
    }
  }

  private async send(records: Buffer): Promise<number> {
    let connection: BrokerConnection | undefined;
    try {
      connection = await connectTo(this.cluster, this.leader, "acked-producer");
      return (await produce(connection, this.topic, records, { partition: this.partition })).errorCode ?? -1;
    } catch {
      return -1;
    } finally {
      connection?.close();
    }
  }
}
