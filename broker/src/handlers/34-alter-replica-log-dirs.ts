// AlterReplicaLogDirs (key 34), versions 1-2 (KIP-113; version 0 is deprecated, as in DescribeLogDirs).
// Moves this broker's replicas between its own log dirs while they keep serving (partitions/log-dir-moves.ts). Per
// partition, as Kafka answers: a path that is none of this broker's log dirs LOG_DIR_NOT_FOUND, an offline dir (or an
// offline replica) KAFKA_STORAGE_ERROR, a topic or partition the metadata does not have UNKNOWN_TOPIC_OR_PARTITION, a
// replica this broker does not hold (yet) REPLICA_NOT_AVAILABLE, and NONE when the replica is in that dir already or
// its move there has begun. A partition named under several dirs gets the last one.
import { topicByName } from "../metadata/image/index.ts";
import {
  AlterReplicaLogDirsRequest,
  AlterReplicaLogDirsResponse,
  ApiKey,
  ErrorCode,
  type AlterReplicaLogDirsResponseAlterReplicaLogDirTopicResult,
} from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function alterReplicaLogDirsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.AlterReplicaLogDirs,
    minVersion: 1,
    maxVersion: 2,
    request: AlterReplicaLogDirsRequest,
    response: AlterReplicaLogDirsResponse,
    async handle(request) {
      const answers = new Map<string, Map<number, number>>();
      for (const dir of request.dirs) {
        for (const t of dir.topics) {
          const topic = topicByName(services.metadata.image, t.name);
          let byPartition = answers.get(t.name);
          if (byPartition === undefined) answers.set(t.name, (byPartition = new Map<number, number>()));
          for (const partition of t.partitions) {
            const errorCode = !topic?.partitions.has(partition)
              ? (services.logDirMoves.dirError(dir.path) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
              : await services.logDirMoves.alter(t.name, partition, dir.path);
            byPartition.set(partition, errorCode);
          }
        }
      }
      const results: AlterReplicaLogDirsResponseAlterReplicaLogDirTopicResult[] = [...answers].map(
        ([topicName, partitions]) => ({
          topicName,
          partitions: [...partitions].map(([partitionIndex, errorCode]) => ({ partitionIndex, errorCode })),
        }),
      );
      return { ...AlterReplicaLogDirsResponse.create(), throttleTimeMs: 0, results };
    },
  });
}
