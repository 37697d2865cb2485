import pino from "pino";
import { describe, expect, it } from "vitest";
import { initProducerIdHandler } from "../../src/handlers/22-init-producer-id.ts";
import type { BrokerServices } from "../../src/handlers/services.ts";
import { ProducerIdAllocator } from "../../src/partitions/producer-ids.ts";
import { ErrorCode, InitProducerIdRequest, type InitProducerIdResponse } from "../../src/protocol/index.ts";
import { requestContext } from "../support/request-context.ts";

// InitProducerId when the next producer id block cannot be had (the controller unreachable or refusing): a retriable
// answer, as Kafka gives while it waits for a block, and ids again once a block comes.

const logger = pino({ level: "silent" });

const context = requestContext(22, 4, logger);

describe("InitProducerId without a producer id block", () => {
  it("answers COORDINATOR_LOAD_IN_PROGRESS while no id block can be had, then ids", async () => {
    let unavailable = true;
    const blocks: bigint[] = [];
    const producerIds = new ProducerIdAllocator(() => {
      if (unavailable) return Promise.reject(new Error("no active controller is known"));
      blocks.push(0n);
      return Promise.resolve({ start: 0n, length: 1000 });
    }, logger);
    const handler = initProducerIdHandler({ producerIds } as unknown as BrokerServices);
    const request = { ...InitProducerIdRequest.create(), transactionalId: null, transactionTimeoutMs: 60_000 };
    const call = async () => (await handler.handle(request, context)) as InitProducerIdResponse;

    expect(await call()).toMatchObject({
      errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
      producerId: -1n,
      producerEpoch: -1,
    });
    unavailable = false;
    expect(await call()).toMatchObject({ errorCode: ErrorCode.NONE, producerId: 0n, producerEpoch: 0 });
    expect(await call()).toMatchObject({ errorCode: ErrorCode.NONE, producerId: 1n });
    expect(blocks).toEqual([0n]);
  });
});
