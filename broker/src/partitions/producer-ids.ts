import type { Logger } from "pino";

/** A range of producer ids this broker may hand out: [start, start + length). */
export interface ProducerIdBlock {
  readonly start: bigint;
  readonly length: number;
}

/** Reserves the next block; rejects when none can be had now (the caller answers a retriable error). */
export type ProducerIdBlockSource = () => Promise<ProducerIdBlock>;

/**
 * Hands out producer ids for InitProducerId from blocks reserved one at a time (Kafka's ProducerIdManager): an id is
 * handed out only from a block its source has reserved durably, so no id is handed out twice, across restarts too
 * (a restart skips the rest of its block instead).
 */
export class ProducerIdAllocator {
  private next = 0n;
  private blockEnd = 0n;
  private serial: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly nextBlock: ProducerIdBlockSource,
    private readonly logger: Logger,
  ) {}

  allocate(): Promise<bigint> {
    const run = this.serial.then(() => this.allocateNow());
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async allocateNow(): Promise<bigint> {
    if (this.next >= this.blockEnd) {
      const block = await this.nextBlock();
      this.next = block.start;
      this.blockEnd = block.start + BigInt(block.length);
      this.logger.debug({ from: String(this.next), to: String(this.blockEnd) }, "Reserved producer id block");
    }
    return this.next++;
  }
}
