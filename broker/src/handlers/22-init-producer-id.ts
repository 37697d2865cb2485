// InitProducerId (key 22), versions 0-5.
// Without a transactional id, every request gets a fresh producer id at epoch 0, whatever producer id and epoch it
// carries, as in Kafka's TransactionCoordinator.handleInitProducerId: the KIP-360 epoch bump (v3+) is for transactional
// producers only (idempotent Java producers bump their epoch client-side). Honouring the fields here would be wrong:
// @platformatic/kafka sends producerId 0 / epoch 0 on its first request, so every such producer got id 0 and its
// sequence-0 batch was answered as a duplicate of the previous producer's and dropped. Transactional ids are refused:
// this broker has no transaction coordinator yet.
import { ApiKey, ErrorCode, InitProducerIdRequest, InitProducerIdResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

export function initProducerIdHandler(services: BrokerServices): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.InitProducerId,
    minVersion: 0,
    maxVersion: 5,
    request: InitProducerIdRequest,
    response: InitProducerIdResponse,
    async handle(request, context) {
      const base = { ...InitProducerIdResponse.create(), throttleTimeMs: 0 };
      if (request.transactionalId !== null) {
        context.logger.info({ transactionalId: request.transactionalId }, "Refused a transactional producer");
        return {
          ...base,
          errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
          producerId: -1n,
          producerEpoch: -1,
        };
      }
      let producerId;
      try {
        producerId = await services.producerIds.allocate();
      } catch (err) {
        // The active controller gave no id block (none known, unreachable, or refusing). Kafka answers a missing block
        // with this retriable error, so producers wait and retry instead of failing.
        context.logger.error({ err }, "Could not reserve producer ids");
        return { ...base, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, producerId: -1n, producerEpoch: -1 };
      }
      return { ...base, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
    },
  });
}
