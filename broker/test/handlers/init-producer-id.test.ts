import pino from "pino";
import { describe, expect, it } from "vitest";
import { initProducerIdHandler } from "../../src/handlers/22-init-producer-id.ts";
import type { BrokerServices } from "../../src/handlers/services.ts";
import { persistedBlocks, ProducerIdAllocator } from "../../src/partitions/producer-ids.ts";
import { ErrorCode, InitProducerIdRequest, type InitProducerIdResponse } from "../../src/protocol/index.ts";
import { requestContext } from "../support/request-context.ts";

// InitProducerId when the next producer id block cannot be reserved on disk (a full disk): a retriable answer, as
// Kafka gives while it waits for a block, and ids again once the write succeeds.

const logger = pino({ level: "silent" });

const context = requestContext(22, 4, logger);

describe("InitProducerId on a full disk", () => {
  it("answers COORDINATOR_LOAD_IN_PROGRESS while the id block cannot be persisted, then ids", async () => {
    let diskFull = true;
    const persisted: bigint[] = [];
    const producerIds = new ProducerIdAllocator(
      persistedBlocks(0n, (end) => {
        if (diskFull)
          return Promise.reject(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" }));
        persisted.push(end);
        return Promise.resolve();
      }),
      logger,
    );
    const handler = initProducerIdHandler({ producerIds } as unknown as BrokerServices);
    const request = { ...InitProducerIdRequest.create(), transactionalId: null, transactionTimeoutMs: 60_000 };
    const call = async () => (await handler.handle(request, context)) as InitProducerIdResponse;

    expect(await call()).toMatchObject({
      errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
      producerId: -1n,
      producerEpoch: -1,
    });
    diskFull = false;
    expect(await call()).toMatchObject({ errorCode: ErrorCode.NONE, producerId: 0n, producerEpoch: 0 });
    expect(await call()).toMatchObject({ errorCode: ErrorCode.NONE, producerId: 1n });
    expect(persisted).toEqual([1000n]);
  });
});
