import {
  ErrorCode,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from "../../src/protocol/index.ts";
import type { Cluster } from "./cluster.ts";
import { connectTo } from "./cluster-records.ts";

// The group calls the multi-process coordinator tests make as a standalone (simple) consumer of partition 0 of one
// topic: each on its own connection to one node, so a test says exactly which broker it asks.

/** The committed offset of partition 0, or the error code (top level or partition) OffsetFetch answered. */
export type OffsetAnswer = { offset: bigint } | { errorCode: number | undefined };

async function onConnection<T>(
  cluster: Cluster,
  node: number,
  fn: (c: Awaited<ReturnType<typeof connectTo>>) => Promise<T>,
): Promise<T> {
  const connection = await connectTo(cluster, node, "group-calls-test");
  try {
    return await fn(connection);
  } finally {
    connection.close();
  }
}

/** The group's coordinator as `via` names it; undefined on an error answer or a failed connection. */
export async function findCoordinator(cluster: Cluster, via: number, group: string): Promise<number | undefined> {
  try {
    const res = await onConnection(cluster, via, (c) =>
      c.send(
        FindCoordinatorRequest,
        FindCoordinatorResponse,
        4,
        { ...FindCoordinatorRequest.create(), keyType: 0, coordinatorKeys: [group] },
        5_000,
      ),
    );
    const found = res.coordinators?.[0];
    return found?.errorCode === ErrorCode.NONE ? found.nodeId : undefined;
  } catch {
    return undefined;
  }
}

/** Commits `offset` for partition 0 of `topic`; the partition's error code. Throws when the node cannot be reached. */
export async function commitOffset(
  cluster: Cluster,
  node: number,
  target: { group: string; topic: string },
  offset: bigint,
  timeoutMs: number,
): Promise<number | undefined> {
  const res = await onConnection(cluster, node, (c) =>
    c.send(
      OffsetCommitRequest,
      OffsetCommitResponse,
      8,
      {
        ...OffsetCommitRequest.create(),
        groupId: target.group,
        topics: [
          {
            name: target.topic,
            partitions: [
              { partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: "" },
            ],
          },
        ],
      },
      timeoutMs,
    ),
  );
  return res.topics[0]?.partitions[0]?.errorCode;
}

/** OffsetFetch v7 of partition 0 of `topic`. Throws when the node cannot be reached. */
export async function fetchCommittedOffset(
  cluster: Cluster,
  node: number,
  target: { group: string; topic: string },
  timeoutMs: number,
): Promise<OffsetAnswer> {
  const res = await onConnection(cluster, node, (c) =>
    c.send(
      OffsetFetchRequest,
      OffsetFetchResponse,
      7,
      {
        ...OffsetFetchRequest.create(),
        groupId: target.group,
        topics: [{ name: target.topic, partitionIndexes: [0] }],
      },
      timeoutMs,
    ),
  );
  const p = res.topics?.[0]?.partitions?.[0];
  if (res.errorCode !== ErrorCode.NONE) return { errorCode: res.errorCode };
  if (p?.errorCode !== ErrorCode.NONE) return { errorCode: p?.errorCode };
  return { offset: p.committedOffset ?? -1n };
}
