// InitProducerId (key 22), versions 0-5.
// Idempotent producers get a fresh producer id at epoch 0. From v3 a producer that already has an id may ask for an
// epoch bump (KIP-360) and keeps its id with epoch+1; at the epoch limit it gets a new id. Transactional ids are
// refused: this broker has no transaction coordinator yet.
import { ApiKey, ErrorCode, InitProducerIdRequest, InitProducerIdResponse } from "../protocol/index.ts";
import { defineHandler, type AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

const MAX_EPOCH = 32767;

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
      const existingId = request.producerId ?? -1n;
      const existingEpoch = request.producerEpoch ?? -1;
      if (existingId >= 0n && existingEpoch >= 0 && existingEpoch < MAX_EPOCH - 1) {
        return { ...base, errorCode: ErrorCode.NONE, producerId: existingId, producerEpoch: existingEpoch + 1 };
      }
      const producerId = await services.producerIds.allocate();
      return { ...base, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
    },
  });
}
