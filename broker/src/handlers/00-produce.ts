// Produce (key 0), advertised 0-11, served 3-11.
// v0-2 stay advertised because librdkafka before 2.11.1 enables compression only when the Produce range starts at 0;
// they are answered with UNSUPPORTED_VERSION, as Kafka 4 does. Each partition's records must be exactly one v2 batch;
// it is validated as Kafka's LogValidator does (size, CRC, offsets, sequence rules, then every record, decompressed if
// need be; keys on compacted topics), deduplicated for idempotent producers and appended as is. Records refused by a
// per-record rule are listed in RecordErrors (v8+). Internal topics are written by the broker only, as in Kafka.
// A partition whose log closes mid-request (topic deleted, broker shutting down) is answered per partition too.
// acks=0 gets no response, and on any error the connection is closed so the producer refreshes its metadata.
// acks=-1 on a single node is satisfied by the leader alone unless min.insync.replicas asks for more replicas.
// Transactions are not supported: a transactional produce is rejected per partition with a message (v8+).
import {
  ApiKey,
  ErrorCode,
  ProduceRequest,
  ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

const FIRST_SERVED_VERSION = 3;

function partitionError(
  index: number,
  errorCode: number,
  errorMessage: string,
): ProduceResponsePartitionProduceResponse {
  return {
    index,
    errorCode,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors: [],
    errorMessage,
  };
}

export function produceHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.Produce,
    minVersion: 0,
    maxVersion: 11,
    request: ProduceRequest,
    response: ProduceResponse,
    async handle(request, context) {
      const acks = request.acks;
      const rejectAll = (errorCode: number, message: string) =>
        request.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => partitionError(p.index, errorCode, message)),
        }));
      let responses;
      if (context.apiVersion < FIRST_SERVED_VERSION) {
        responses = rejectAll(
          ErrorCode.UNSUPPORTED_VERSION,
          `Produce v${context.apiVersion} is not supported; use v3 or newer`,
        );
      } else if (acks !== 0 && acks !== 1 && acks !== -1) {
        responses = rejectAll(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, got ${acks}`);
      } else if (request.transactionalId !== undefined && request.transactionalId !== null) {
        responses = rejectAll(ErrorCode.INVALID_TXN_STATE, "transactions are not supported by this broker");
      } else {
        responses = await Promise.all(
          request.topicData.map(async (topicData) => {
            const topic = services.topics.get(topicData.name);
            // Looked up once per topic rather than per partition: the produce path is hot.
            const settings = topic && {
              minInsyncReplicas: Number(services.admin.configValue(topic.name, "min.insync.replicas")),
              maxMessageBytes: Number(services.admin.configValue(topic.name, "max.message.bytes")),
              logAppendTime: services.admin.configValue(topic.name, "message.timestamp.type") === "LogAppendTime",
              compacted: services.admin
                .configValue(topic.name, "cleanup.policy")
                .split(",")
                .some((policy) => policy.trim() === "compact"),
            };
            const partitionResponses = await Promise.all(
              topicData.partitionData.map(async (p): Promise<ProduceResponsePartitionProduceResponse> => {
                if (!topic || !settings || p.index < 0 || p.index >= topic.partitions) {
                  return partitionError(
                    p.index,
                    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                    `unknown partition ${topicData.name}-${p.index}`,
                  );
                }
                if (topic.internal) {
                  return partitionError(
                    p.index,
                    ErrorCode.INVALID_TOPIC_EXCEPTION,
                    `cannot produce to internal topic ${topic.name}`,
                  );
                }
                if (p.records === null) return partitionError(p.index, ErrorCode.INVALID_RECORD, "records are null");
                if (acks === -1 && settings.minInsyncReplicas > 1) {
                  return partitionError(
                    p.index,
                    ErrorCode.NOT_ENOUGH_REPLICAS,
                    "min.insync.replicas is larger than the 1 in-sync replica of this single-node cluster",
                  );
                }
                const outcome = await services.partitions.produce(topic.name, p.index, p.records, settings);
                return {
                  index: p.index,
                  errorCode: outcome.errorCode,
                  baseOffset: outcome.baseOffset,
                  logAppendTimeMs: outcome.logAppendTime,
                  logStartOffset: outcome.logStartOffset,
                  recordErrors: outcome.recordErrors.map((e) => ({
                    batchIndex: e.batchIndex,
                    batchIndexErrorMessage: e.message,
                  })),
                  errorMessage: outcome.errorMessage,
                };
              }),
            );
            return { name: topicData.name, partitionResponses };
          }),
        );
      }
      if (acks === 0) {
        const failed = responses.flatMap((t) => t.partitionResponses).find((p) => p.errorCode !== ErrorCode.NONE);
        if (failed) context.closeAfterResponse(`acks=0 produce failed: ${failed.errorMessage ?? failed.errorCode}`);
        return null;
      }
      return { ...ProduceResponse.create(), responses, throttleTimeMs: 0 };
    },
  });
}
