// Produce (key 0), advertised 0-11, served 3-11.
// v0-2 stay advertised because librdkafka before 2.11.1 enables compression only when the Produce range starts at 0;
// they are answered with UNSUPPORTED_VERSION, as Kafka 4 does. Each partition's records must be exactly one v2 batch;
// it is validated as Kafka's LogValidator does (size, CRC, offsets, sequence rules, then every record, decompressed if
// need be; keys on compacted topics), deduplicated for idempotent producers and appended as is. Records refused by a
// per-record rule are listed in RecordErrors (v8+). Internal topics are written by the broker only, as in Kafka.
// A partition whose log closes mid-request (topic deleted, broker shutting down) is answered per partition too.
// acks=0 gets no response, and on any error the connection is closed so the producer refreshes its metadata.
// Leadership comes from the metadata image: a partition this broker does not lead is NOT_LEADER_OR_FOLLOWER, with the
// current leader and its endpoint (KIP-951, v10+) so the client can go there without a metadata round trip.
// acks=-1 (all): the partition layer refuses the batch with NOT_ENOUGH_REPLICAS while the ISR is smaller than
// min.insync.replicas (capped at the replication factor, as Kafka does); otherwise the answer waits, up to the
// request's timeoutMs, until the ISR has the batch (ADR 24): REQUEST_TIMED_OUT when the time runs out,
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR fell below min.insync.replicas meanwhile, NOT_LEADER_OR_FOLLOWER
// with the new leader when leadership moved. acks=1 answers after the leader's append. Once every append of an acks=all
// request is done, the connection's next Produce may start while this one waits for the ISR (ADR 31).
// Transactions are not supported: a transactional produce is rejected per partition with a message (v8+).
import { isInternalTopic, leaderAccess, nodeEndpoints, topicByName } from "../metadata/image/index.ts";
import {
  ApiKey,
  ErrorCode,
  ProduceRequest,
  ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from "../protocol/index.ts";
import type { ReplicationOutcome } from "../replication/delayed-produce.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

const FIRST_SERVED_VERSION = 3;
/** KIP-951: the current leader in partition errors and its endpoint in the response. */
const LEADER_HINT_VERSION = 10;

/** One partition after its append: the answer, unless the wait for the ISR (acks=all) ends in an error. */
interface PartitionAppend {
  readonly answer: ProduceResponsePartitionProduceResponse;
  readonly replicated?: Promise<ReplicationOutcome>;
}

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
    pipelined: true,
    async handle(request, context) {
      const acks = request.acks;
      const rejectAll = (errorCode: number, message: string) =>
        request.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => partitionError(p.index, errorCode, message)),
        }));
      let responses;
      // Leaders named in NOT_LEADER_OR_FOLLOWER hints, for the response's node endpoints.
      const hinted = new Set<number>();
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
        const image = services.metadata.image;
        const nodeId = services.metadata.nodeId;
        // First every partition is checked and appended (or refused); an acks=all append may leave a wait for the ISR.
        const appended = await Promise.all(
          request.topicData.map(async (topicData) => {
            const topic = topicByName(image, topicData.name);
            // Looked up once per topic rather than per partition: the produce path is hot.
            const value = (name: string) => services.configs.configValue(image, topicData.name, name);
            const settings = topic && {
              acks,
              timeoutMs: request.timeoutMs,
              maxMessageBytes: Number(value("max.message.bytes")),
              logAppendTime: value("message.timestamp.type") === "LogAppendTime",
              ...timestampBounds(value),
              compacted: value("cleanup.policy")
                .split(",")
                .some((policy) => policy.trim() === "compact"),
            };
            const partitions = await Promise.all(
              topicData.partitionData.map(async (p): Promise<PartitionAppend> => {
                const access = leaderAccess(image, nodeId, topic, p.index);
                if (!topic || !settings || (!access.ok && access.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)) {
                  return {
                    answer: partitionError(
                      p.index,
                      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                      `unknown partition ${topicData.name}-${p.index}`,
                    ),
                  };
                }
                if (isInternalTopic(topic.name)) {
                  return {
                    answer: partitionError(
                      p.index,
                      ErrorCode.INVALID_TOPIC_EXCEPTION,
                      `cannot produce to internal topic ${topic.name}`,
                    ),
                  };
                }
                if (!access.ok) {
                  const answer = partitionError(p.index, access.errorCode, access.message);
                  if (access.leader && context.apiVersion >= LEADER_HINT_VERSION) {
                    answer.currentLeader = access.leader;
                    hinted.add(access.leader.leaderId);
                  }
                  return { answer };
                }
                if (p.records === null) {
                  return { answer: partitionError(p.index, ErrorCode.INVALID_RECORD, "records are null") };
                }
                const outcome = await services.partitions.produce(topic.name, p.index, p.records, settings);
                const answer: ProduceResponsePartitionProduceResponse = {
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
                return outcome.replicated ? { answer, replicated: outcome.replicated } : { answer };
              }),
            );
            return { name: topicData.name, partitions };
          }),
        );
        // Every append of this request is done. While it waits for the ISR, the connection may start its next
        // Produce (ADR 31): those appends land behind these, in the order the client sent them, as they would after
        // this response; only the replication waits overlap. The responses still go out in request order.
        if (appended.some((t) => t.partitions.some((p) => p.replicated !== undefined))) context.letNextStart();
        responses = await Promise.all(
          appended.map(async ({ name, partitions }) => ({
            name,
            partitionResponses: await Promise.all(
              partitions.map(async ({ answer, replicated }) => {
                const outcome = replicated && (await replicated);
                if (!outcome || outcome.errorCode === ErrorCode.NONE) return answer;
                const failed = partitionError(answer.index, outcome.errorCode, outcome.errorMessage ?? "");
                // KIP-951: where the partition went while the batch waited for the ISR.
                const leader = outcome.currentLeader;
                if (leader && context.apiVersion >= LEADER_HINT_VERSION) {
                  failed.currentLeader = leader;
                  hinted.add(leader.leaderId);
                }
                return failed;
              }),
            ),
          })),
        );
      }
      if (acks === 0) {
        const failed = responses.flatMap((t) => t.partitionResponses).find((p) => p.errorCode !== ErrorCode.NONE);
        if (failed) context.closeAfterResponse(`acks=0 produce failed: ${failed.errorMessage ?? failed.errorCode}`);
        return null;
      }
      return {
        ...ProduceResponse.create(),
        responses,
        throttleTimeMs: 0,
        nodeEndpoints: nodeEndpoints(services.metadata.image, hinted, context.listenerName),
      };
    },
  });
}

/**
 * KIP-937's timestamp bounds of a topic. The deprecated message.timestamp.difference.max.ms stands in for a bound
 * left at Long.MAX_VALUE, as Kafka's LogConfig does while it still exists. (The broker schema clamps Java longs above 2^53
 * to Number.MAX_SAFE_INTEGER, so "at Long.MAX_VALUE" is "at or above that".)
 */
function timestampBounds(value: (name: string) => string): {
  timestampBeforeMaxMs: number;
  timestampAfterMaxMs: number;
} {
  const difference = Number(value("message.timestamp.difference.max.ms"));
  const bound = (name: string) => {
    const ms = Number(value(name));
    return ms >= Number.MAX_SAFE_INTEGER ? difference : ms;
  };
  return {
    timestampBeforeMaxMs: bound("message.timestamp.before.max.ms"),
    timestampAfterMaxMs: bound("message.timestamp.after.max.ms"),
  };
}
