import { BrokerConnection } from "../../src/admin/connection.ts";
import {
  ErrorCode,
  FetchRequest,
  FetchResponse,
  InitProducerIdRequest,
  InitProducerIdResponse,
} from "../../src/protocol/index.ts";
import { decodeRecordBatch, splitBatches } from "../../src/protocol/records/index.ts";
import type { Cluster } from "./cluster.ts";

/** A connection to a node's client listener. */
export async function connectTo(cluster: Cluster, id: number, clientId: string): Promise<BrokerConnection> {
  const node = cluster.node(id);
  return BrokerConnection.open({ host: node.host, port: node.clientPort ?? 0, clientId, connectTimeoutMs: 2_000 });
}

/** Every record value `leader` serves to a consumer of the partition, from offset 0 up to its high watermark. */
export async function consumeAll(
  cluster: Cluster,
  leader: number,
  topic: string,
  partition: number,
): Promise<string[]> {
  const connection = await connectTo(cluster, leader, "cluster-records");
  const values: string[] = [];
  try {
    let offset = 0n;
    for (;;) {
      const res = await connection.send(
        FetchRequest,
        FetchResponse,
        12,
        {
          ...FetchRequest.create(),
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
        },
        5_000,
      );
      const p = res.responses[0]?.partitions[0];
      if (p?.errorCode !== ErrorCode.NONE) throw new Error(`fetch from ${leader} at ${offset}: error ${p?.errorCode}`);
      const { batches } = splitBatches(p.records ?? Buffer.alloc(0));
      if (batches.length === 0) return values;
      for (const batch of batches) {
        for (const r of decodeRecordBatch(batch).records) {
          if (r.offset < offset) continue;
          values.push(r.value?.toString() ?? "");
          offset = r.offset + 1n;
        }
      }
    }
  } finally {
    connection.close();
  }
}

/** A new idempotent producer id and epoch, from InitProducerId sent to node `via`. */
export async function initProducerId(
  cluster: Cluster,
  via: number,
): Promise<{ producerId: bigint; producerEpoch: number }> {
  const connection = await connectTo(cluster, via, "cluster-records");
  try {
    const res = await connection.send(
      InitProducerIdRequest,
      InitProducerIdResponse,
      4,
      { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 },
      10_000,
    );
    if (res.errorCode !== ErrorCode.NONE) throw new Error(`InitProducerId via ${via}: error ${res.errorCode}`);
    return { producerId: res.producerId, producerEpoch: res.producerEpoch };
  } finally {
    connection.close();
  }
}
