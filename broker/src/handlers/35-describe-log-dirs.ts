// DescribeLogDirs (key 35), versions 1-4.
// One result per configured log dir, listing the partitions stored there with their size on disk (all segments);
// offsetLag is 0 and isFutureKey false because nothing is ever moved between dirs. topics = null asks for every
// partition; otherwise only the partitions named that exist. v4 adds the file system's total and usable bytes
// (-1 when they cannot be read). Log dirs are reported as absolute paths, as Kafka does. A dir taken offline after a
// storage error (ADR 24) is reported with KAFKA_STORAGE_ERROR and nothing else, as Kafka reports it.
import { statfs } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { topicByName } from "../metadata/image/index.ts";
import {
  ApiKey,
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
  ErrorCode,
  type DescribeLogDirsResponseDescribeLogDirsResult,
  type DescribeLogDirsResponseDescribeLogDirsTopic,
} from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

async function space(dir: string): Promise<{ totalBytes: bigint; usableBytes: bigint }> {
  try {
    const s = await statfs(dir, { bigint: true });
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize };
  } catch {
    return { totalBytes: -1n, usableBytes: -1n };
  }
}

export function describeLogDirsHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DescribeLogDirs,
    minVersion: 1,
    maxVersion: 4,
    request: DescribeLogDirsRequest,
    response: DescribeLogDirsResponse,
    async handle(request, context) {
      const wanted: { topic: string; partitions: readonly number[] }[] =
        request.topics ??
        [...services.metadata.image.topicsById.values()].map((t) => ({
          topic: t.name,
          partitions: [...t.partitions.keys()],
        }));
      const dirs = [...new Set(services.config.logDirs.map((d) => resolve(d)))];
      const byDir = new Map<string, Map<string, DescribeLogDirsResponseDescribeLogDirsTopic>>(
        dirs.map((d) => [d, new Map()]),
      );
      const listed = new Set<string>();
      for (const { topic, partitions } of wanted) {
        if (!topicByName(services.metadata.image, topic)) continue;
        for (const partitionIndex of partitions) {
          const log = services.partitions.log(topic, partitionIndex);
          // A partition named twice (or a topic listed twice) is reported once.
          if (!log || listed.has(log.dir)) continue;
          listed.add(log.dir);
          const topics = byDir.get(resolve(dirname(log.dir)));
          if (!topics) continue;
          let entry = topics.get(topic);
          if (!entry) {
            entry = { name: topic, partitions: [] };
            topics.set(topic, entry);
          }
          entry.partitions.push({
            partitionIndex,
            partitionSize: BigInt(log.sizeBytes()),
            offsetLag: 0n,
            isFutureKey: false,
          });
        }
      }
      const results: DescribeLogDirsResponseDescribeLogDirsResult[] = [];
      const offline = new Set(services.partitions.offlineLogDirs().map((d) => resolve(d)));
      for (const [logDir, topics] of byDir) {
        if (offline.has(logDir)) {
          // As Kafka reports a failed dir: the error alone, no partitions, no sizes.
          results.push({
            errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
            logDir,
            topics: [],
            totalBytes: -1n,
            usableBytes: -1n,
          });
          continue;
        }
        const sizes = context.apiVersion >= 4 ? await space(logDir) : { totalBytes: -1n, usableBytes: -1n };
        results.push({ errorCode: ErrorCode.NONE, logDir, topics: [...topics.values()], ...sizes });
      }
      return { ...DescribeLogDirsResponse.create(), throttleTimeMs: 0, errorCode: ErrorCode.NONE, results };
    },
  });
}
