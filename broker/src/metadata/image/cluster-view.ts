import { ErrorCode } from "../../protocol/errors.ts";
import {
  topicByName,
  type BrokerEndpoint,
  type BrokerRegistration,
  type MetadataImage,
  type PartitionRegistration,
  type TopicImage,
} from "./metadata-image.ts";

// Questions the request handlers ask of an image, answered the way Kafka's KRaftMetadataCache and ReplicaManager
// answer them: which brokers a client may see, where they listen, and whether this node may serve a partition.

/** Kafka's internal topics (Topic.isInternal): clients cannot produce to them. */
export function isInternalTopic(name: string): boolean {
  return name === "__consumer_offsets" || name === "__transaction_state";
}

/** Registered brokers that are not fenced: the ones Metadata lists. */
export function liveBrokers(image: MetadataImage): BrokerRegistration[] {
  return [...image.brokers.values()].filter((b) => !b.fenced).sort((a, b) => a.id - b.id);
}

export function endpointOf(broker: BrokerRegistration | undefined, listener: string): BrokerEndpoint | undefined {
  return broker?.endpoints.find((e) => e.listener === listener);
}

/** Where clients reach `ids` on `listener` (KIP-951 node endpoints); brokers without that listener are left out. */
export function nodeEndpoints(
  image: MetadataImage,
  ids: Iterable<number>,
  listener: string,
): { nodeId: number; host: string; port: number; rack: string | null }[] {
  return [...ids].flatMap((nodeId) => {
    const broker = image.brokers.get(nodeId);
    const endpoint = endpointOf(broker, listener);
    return endpoint ? [{ nodeId, host: endpoint.host, port: endpoint.port, rack: broker?.rack ?? null }] : [];
  });
}

/** Where clients reach the leader of `topic`-`partition` on `listener`; null when it has none reachable there. */
export function leaderEndpoint(
  image: MetadataImage,
  topic: string,
  partition: number,
  listener: string,
): { nodeId: number; host: string; port: number } | null {
  const leader = topicByName(image, topic)?.partitions.get(partition)?.leader ?? -1;
  const broker = image.brokers.get(leader);
  const endpoint = broker?.fenced === false ? endpointOf(broker, listener) : undefined;
  return endpoint ? { nodeId: leader, host: endpoint.host, port: endpoint.port } : null;
}

/** Replicas a client cannot reach on `listener`: unregistered, fenced, or without that listener (Kafka's rule). */
export function offlineReplicas(image: MetadataImage, p: PartitionRegistration, listener: string): number[] {
  return p.replicas.filter((id) => {
    const broker = image.brokers.get(id);
    return broker === undefined || broker.fenced || endpointOf(broker, listener) === undefined;
  });
}

/**
 * What Metadata, DescribeCluster and FindCoordinator report as the controller. Clients cannot reach KRaft
 * controllers, so Kafka's brokers name a live broker (which forwards admin requests); this node when it is live, so
 * the answer is stable, else the lowest live broker, else -1.
 */
export function reportedControllerId(image: MetadataImage, nodeId: number): number {
  const live = liveBrokers(image);
  if (live.some((b) => b.id === nodeId)) return nodeId;
  return live[0]?.id ?? -1;
}

export interface LeaderHint {
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export type PartitionAccess =
  | { readonly ok: true; readonly topic: TopicImage; readonly registration: PartitionRegistration }
  | { readonly ok: false; readonly errorCode: number; readonly message: string; readonly leader?: LeaderHint };

/**
 * Whether this node may serve a leader-only request (Produce, consumer Fetch, ListOffsets, OffsetForLeaderEpoch) for
 * a partition, as Kafka's ReplicaManager decides: an unknown partition is UNKNOWN_TOPIC_OR_PARTITION; a partition
 * this node holds no replica of is NOT_LEADER_OR_FOLLOWER; a replica first checks the client's leader epoch (older:
 * FENCED_LEADER_EPOCH, newer: UNKNOWN_LEADER_EPOCH, -1 or absent: no check), then that it leads. Errors that send the
 * client to another broker carry the current leader.
 */
export function leaderAccess(
  image: MetadataImage,
  nodeId: number,
  topic: TopicImage | string | undefined,
  partition: number,
  currentLeaderEpoch?: number,
): PartitionAccess {
  return partitionAccess(image, nodeId, topic, partition, currentLeaderEpoch, true);
}

/**
 * As leaderAccess when `requireLeader`; otherwise without its last step, for what Kafka lets any replica answer (a
 * consumer's Fetch from v11, KIP-392): a follower passes once the client's leader epoch matches its own.
 */
export function partitionAccess(
  image: MetadataImage,
  nodeId: number,
  topic: TopicImage | string | undefined,
  partition: number,
  currentLeaderEpoch: number | undefined,
  requireLeader: boolean,
): PartitionAccess {
  const t = typeof topic === "string" ? topicByName(image, topic) : topic;
  const registration = t?.partitions.get(partition);
  if (t === undefined || registration === undefined) {
    const name = typeof topic === "string" ? topic : (topic?.name ?? "");
    return {
      ok: false,
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      message: `unknown partition ${name}-${partition}`,
    };
  }
  const leader = { leaderId: registration.leader, leaderEpoch: registration.leaderEpoch };
  const notLeader = {
    ok: false,
    errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
    message: `broker ${nodeId} does not lead ${t.name}-${partition}; its leader is ${registration.leader}`,
    leader,
  } as const;
  if (!registration.replicas.includes(nodeId)) return notLeader;
  if (currentLeaderEpoch !== undefined && currentLeaderEpoch >= 0 && currentLeaderEpoch !== registration.leaderEpoch) {
    return currentLeaderEpoch < registration.leaderEpoch
      ? {
          ok: false,
          errorCode: ErrorCode.FENCED_LEADER_EPOCH,
          message: `leader epoch ${currentLeaderEpoch} of ${t.name}-${partition} is older than the current ${registration.leaderEpoch}`,
          leader,
        }
      : {
          ok: false,
          errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH,
          message: `leader epoch ${currentLeaderEpoch} of ${t.name}-${partition} is newer than the current ${registration.leaderEpoch}`,
        };
  }
  if (requireLeader && registration.leader !== nodeId) return notLeader;
  return { ok: true, topic: t, registration };
}
