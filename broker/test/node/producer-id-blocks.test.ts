import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { defineHandler } from "../../src/handlers/handler.ts";
import { ControllerChannel } from "../../src/node/controller-channel.ts";
import { controllerProducerIdBlocks, ProducerIdBlockError } from "../../src/node/producer-id-blocks.ts";
import { ProducerIdAllocator } from "../../src/partitions/producer-ids.ts";
import { AllocateProducerIdsRequest, AllocateProducerIdsResponse, ErrorCode } from "../../src/protocol/index.ts";
import { serveHandlers } from "../support/scripted-server.ts";

// Producer ids from blocks the active controller hands out (AllocateProducerIds): the broker names itself and its
// epoch, uses a block to its end, then asks again; a refusal reaches the caller as an error (InitProducerId then
// answers a retriable error).

const logger = pino({ level: "silent" });
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function controller(refuse: () => number): Promise<{ port: number; asked: AllocateProducerIdsRequest[] }> {
  const asked: AllocateProducerIdsRequest[] = [];
  let next = 5000n;
  const { server, port } = await serveHandlers([
    defineHandler({
      apiKey: AllocateProducerIdsRequest.apiKey,
      minVersion: 0,
      maxVersion: 0,
      request: AllocateProducerIdsRequest,
      response: AllocateProducerIdsResponse,
      handle(request) {
        asked.push(request);
        const errorCode = refuse();
        if (errorCode !== ErrorCode.NONE)
          return Promise.resolve({ ...AllocateProducerIdsResponse.create(), errorCode });
        const start = next;
        next += 2n;
        return Promise.resolve({ ...AllocateProducerIdsResponse.create(), producerIdStart: start, producerIdLen: 2 });
      },
    }),
  ]);
  closers.push(() => server.close(100));
  return { port, asked };
}

describe("producer ids from the controller", () => {
  it("uses each block to its end and names this broker and its epoch", async () => {
    let errorCode: number = ErrorCode.NONE;
    const c = await controller(() => errorCode);
    const channel = new ControllerChannel({
      nodeId: 3,
      activeController: () => 1,
      voters: [1],
      address: () => ({ host: "127.0.0.1", port: c.port }),
      connectTimeoutMs: 1_000,
      logger,
    });
    closers.push(() => channel.close());
    const allocator = new ProducerIdAllocator(
      controllerProducerIdBlocks(channel, 3, () => 7n, 1_000),
      logger,
    );
    const ids = [await allocator.allocate(), await allocator.allocate(), await allocator.allocate()];
    expect(ids).toEqual([5000n, 5001n, 5002n]);
    expect(c.asked).toHaveLength(2);
    expect(c.asked[0]).toMatchObject({ brokerId: 3, brokerEpoch: 7n });

    errorCode = ErrorCode.STALE_BROKER_EPOCH;
    expect(await allocator.allocate()).toBe(5003n);
    await expect(allocator.allocate()).rejects.toBeInstanceOf(ProducerIdBlockError);
    errorCode = ErrorCode.NONE;
    expect(await allocator.allocate()).toBe(5004n);
  });
});
