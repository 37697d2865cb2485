import { AllocateProducerIdsRequest, AllocateProducerIdsResponse, ErrorCode } from "../protocol/index.ts";
import type { ProducerIdBlockSource } from "../partitions/producer-ids.ts";
import type { ControllerChannel } from "./controller-channel.ts";

// Producer-id blocks from the active controller (AllocateProducerIds, KIP-730): the controller commits a
// ProducerIdsRecord before it answers, so every block is unique cluster-wide and survives any node's restart.

const VERSION = 0;

export class ProducerIdBlockError extends Error {
  constructor(readonly errorCode: number) {
    super(`the controller refused a producer id block (error ${errorCode})`);
    this.name = "ProducerIdBlockError";
  }
}

export function controllerProducerIdBlocks(
  channel: ControllerChannel,
  nodeId: number,
  /** This broker's current registration epoch. */
  brokerEpoch: () => bigint,
  requestTimeoutMs: number,
): ProducerIdBlockSource {
  return async () => {
    const response = await channel.send(
      AllocateProducerIdsRequest,
      AllocateProducerIdsResponse,
      VERSION,
      { ...AllocateProducerIdsRequest.create(), brokerId: nodeId, brokerEpoch: brokerEpoch() },
      requestTimeoutMs,
    );
    if (response.errorCode !== ErrorCode.NONE) throw new ProducerIdBlockError(response.errorCode);
    return { start: response.producerIdStart, length: response.producerIdLen };
  };
}
