import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { SECURITY_PROTOCOL_ID, type SecurityProtocol } from "../config/schema.ts";
import { ControllerRegistrationRequest, ControllerRegistrationResponse, ErrorCode } from "../protocol/index.ts";
import type { ControllerChannel } from "./controller-channel.ts";

// A controller's registration (KIP-919, Kafka's ControllerRegistrationManager): each controller process, voter or
// observer, sends ControllerRegistration with a new incarnation id and its controller listener to the active
// controller once per start, and sends it again until the answer says it committed. DescribeCluster on the
// controller listener lists the registered controllers, so an admin client bootstrapped from the controllers knows
// every one of them, the just-removed leader included.

export interface ControllerRegistrationOptions {
  readonly nodeId: number;
  readonly channel: ControllerChannel;
  readonly listener: {
    readonly name: string;
    readonly host: string;
    readonly port: number;
    readonly securityProtocol: SecurityProtocol;
  };
  readonly features: readonly { name: string; minSupportedVersion: number; maxSupportedVersion: number }[];
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly logger: Logger;
}

export class ControllerRegistration {
  readonly incarnationId = randomUUID();
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private registered = false;

  constructor(private readonly options: ControllerRegistrationOptions) {}

  get isRegistered(): boolean {
    return this.registered;
  }

  start(): void {
    this.running ??= this.run();
  }

  private async run(): Promise<void> {
    const { channel, listener, logger } = this.options;
    const body = {
      ...ControllerRegistrationRequest.create(),
      controllerId: this.options.nodeId,
      incarnationId: this.incarnationId,
      listeners: [{ ...listener, securityProtocol: SECURITY_PROTOCOL_ID[listener.securityProtocol] }],
      features: this.options.features.map((f) => ({ ...f })),
    };
    while (!this.abort.signal.aborted) {
      const answer = await channel
        .sendUntilAnswered(ControllerRegistrationRequest, ControllerRegistrationResponse, 0, body, {
          deadlineMs: Date.now() + this.options.requestTimeoutMs,
          clock: Date.now,
          notController: (r) => r.errorCode === ErrorCode.NOT_CONTROLLER,
          signal: this.abort.signal,
        })
        .catch((err: unknown) => {
          logger.warn({ err }, "Controller registration failed; trying again");
          return null;
        });
      if (answer?.errorCode === ErrorCode.NONE) {
        this.registered = true;
        logger.info({ incarnationId: this.incarnationId }, "Registered this controller with the active controller");
        return;
      }
      if (answer !== null) {
        logger.warn(
          { errorCode: answer.errorCode, errorMessage: answer.errorMessage },
          "The active controller refused this controller's registration; trying again",
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.retryBackoffMs);
        this.abort.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}
