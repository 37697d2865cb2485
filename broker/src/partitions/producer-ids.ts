import type { Logger } from "pino";

/**
 * Hands out producer ids for InitProducerId. Ids come from blocks whose upper end is persisted before any id of the
 * block is used, so a restart never hands out an id twice (it skips the rest of the block instead), as Kafka's
 * controller-allocated blocks do.
 */
export class ProducerIdAllocator {
  private next: bigint;
  private blockEnd: bigint;
  private serial: Promise<unknown> = Promise.resolve();

  constructor(
    start: bigint,
    private readonly persistBlockEnd: (end: bigint) => Promise<void>,
    private readonly logger: Logger,
    private readonly blockSize = 1000n,
  ) {
    this.next = start;
    this.blockEnd = start;
  }

  allocate(): Promise<bigint> {
    const run = this.serial.then(() => this.allocateNow());
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async allocateNow(): Promise<bigint> {
    if (this.next >= this.blockEnd) {
      const end = this.next + this.blockSize;
      await this.persistBlockEnd(end);
      this.blockEnd = end;
      this.logger.debug({ from: String(this.next), to: String(end) }, "Reserved producer id block");
    }
    return this.next++;
  }
}
