import type { Logger } from "pino";
import { BrokerConnection } from "../admin/connection.ts";
import { AdminTimeoutError, BrokerConnectionError } from "../admin/errors.ts";
import type { MessageCodec } from "../protocol/index.ts";

// A broker's requests to the active controller (Kafka's NodeToControllerChannelManager): the controller is the
// quorum's leader as this node's raft core knows it, reached at its controller-listener address from
// controller.quorum.voters over one admin-client connection, reopened when the leader moves or the connection breaks.
// Callers decide about retries: a request fails with NoControllerError while no leader is known, and with the
// connection's error when the controller cannot be reached; a controller that has lost leadership answers
// NOT_CONTROLLER, which the caller sees in the response.

/** Pause before a request is sent again to the (possibly new) active controller (Kafka's retry.backoff.ms). */
const RETRY_BACKOFF_MS = 100;

export class NoControllerError extends Error {
  constructor() {
    super("no active controller is known");
    this.name = "NoControllerError";
  }
}

export interface ControllerChannelOptions {
  readonly nodeId: number;
  /** The active controller as the quorum knows it now. */
  readonly activeController: () => number | null;
  /** The voters' ids (controller.quorum.voters, or the voter set in effect with KIP-853's dynamic voters). */
  readonly voters: readonly number[] | (() => readonly number[]);
  /** Controller-listener address of a voter. */
  readonly address: (id: number) => { host: string; port: number } | undefined;
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
}

export class ControllerChannel {
  private open: { id: number; connection: Promise<BrokerConnection> } | null = null;
  private closed = false;
  /**
   * A controller this channel found active by asking the voters itself, preferred while the quorum still names the
   * leader it named then: a broker-only node (an observer) learns a new leader only after its fetch from the old one
   * times out, and admin writes need not wait for that.
   */
  private discovered: { id: number; whileNamed: number | null } | null = null;

  constructor(private readonly options: ControllerChannelOptions) {}

  /** The controller requests go to now, if one is known. */
  controllerId(): number | null {
    const named = this.options.activeController();
    if (this.discovered !== null && this.discovered.whileNamed === named) return this.discovered.id;
    this.discovered = null;
    return named;
  }

  send<Req, Res>(
    request: MessageCodec<Req>,
    response: MessageCodec<Res>,
    version: number,
    body: Req,
    timeoutMs: number,
  ): Promise<Res> {
    const id = this.controllerId();
    if (id === null) return Promise.reject(new NoControllerError());
    return this.sendTo(id, request, response, version, body, timeoutMs);
  }

  /**
   * Sends until an active controller answers (one whose answer `notController` does not reject) or `deadlineMs` (on
   * `clock`) passes. While no controller is known, or the one named is unreachable or answers NOT_CONTROLLER, the
   * request goes, after a short pause, to the next voter not yet tried (the new leader may be elected before this
   * node hears of it), and once every voter was tried, to whichever the quorum names then. Resolves with the answer,
   * or null at the deadline.
   */
  async sendUntilAnswered<Req, Res>(
    request: MessageCodec<Req>,
    response: MessageCodec<Res>,
    version: number,
    body: Req,
    options: {
      readonly deadlineMs: number;
      readonly clock: () => number;
      readonly notController: (answer: Res) => boolean;
      readonly signal?: AbortSignal;
    },
  ): Promise<Res | null> {
    const { deadlineMs, clock } = options;
    const tried = new Set<number>();
    for (;;) {
      const left = deadlineMs - clock();
      if (left <= 0 || options.signal?.aborted === true) return null;
      const named = this.controllerId();
      const voters = typeof this.options.voters === "function" ? this.options.voters() : this.options.voters;
      let target = named !== null && !tried.has(named) ? named : voters.find((v) => !tried.has(v));
      if (target === undefined) {
        tried.clear();
        target = named ?? voters[0];
      }
      if (target !== undefined) {
        try {
          const answer = await this.sendTo(target, request, response, version, body, Math.max(1, Math.ceil(left)));
          if (!options.notController(answer)) {
            if (target !== named) this.discovered = { id: target, whileNamed: this.options.activeController() };
            return answer;
          }
        } catch (err) {
          if (!(err instanceof BrokerConnectionError || err instanceof AdminTimeoutError)) throw err;
        }
        tried.add(target);
      }
      const pause = Math.min(RETRY_BACKOFF_MS, Math.max(0, deadlineMs - clock()));
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  private async sendTo<Req, Res>(
    id: number,
    request: MessageCodec<Req>,
    response: MessageCodec<Res>,
    version: number,
    body: Req,
    timeoutMs: number,
  ): Promise<Res> {
    const connection = await this.connection(id);
    try {
      return await connection.send(request, response, version, body, timeoutMs);
    } catch (err) {
      this.drop(connection);
      throw err;
    }
  }

  private async connection(id: number): Promise<BrokerConnection> {
    if (this.closed) throw new Error("the controller channel is closed");
    if (this.open !== null && this.open.id === id) {
      const current = await this.open.connection.catch(() => null);
      if (current !== null && !current.closed) return current;
    }
    this.reset();
    const address = this.options.address(id);
    if (address === undefined) throw new Error(`controller ${id} is not in controller.quorum.voters`);
    const connection = BrokerConnection.open({
      ...address,
      clientId: `broker-${this.options.nodeId}-to-controller`,
      connectTimeoutMs: this.options.connectTimeoutMs,
    });
    this.open = { id, connection };
    try {
      return await connection;
    } catch (err) {
      if (this.open?.connection === connection) this.open = null;
      throw err;
    }
  }

  private drop(connection: BrokerConnection): void {
    connection.close();
    // The open connection may be a newer one still connecting; its failure is handled where it is awaited.
    void this.open?.connection
      .then((c) => {
        if (c === connection) this.open = null;
      })
      .catch(() => undefined);
  }

  private reset(): void {
    const previous = this.open;
    this.open = null;
    void previous?.connection.then((c) => c.close()).catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.reset();
  }
}
