import type { Logger } from "pino";
import { BrokerConnection } from "../admin/connection.ts";
import { BrokerConnectionError } from "../admin/errors.ts";
import {
  ApiKey,
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  DecodeError,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  VoteRequest,
  VoteResponse,
  type MessageCodec,
} from "../protocol/index.ts";
import type { Envelope, NodeId, RaftMessage, Voter } from "../raft/index.ts";
import type { Transport } from "./quorum-driver.ts";
import { fromWireRequest, fromWireResponse, toWireRequest, toWireResponse, type WireRequest } from "./wire.ts";

// The quorum's messages over TCP between controllers (ADR 22). Outbound requests go through one admin-client
// connection per peer; inbound requests arrive on the controller listener (handlers/controller/ through QuorumPort),
// are handed to the core, and are answered with the reply the core sends back. Lost connections and timeouts just drop the
// message: the core retries on its own timers. Only Tributary peers are spoken to so far, at the versions below (no
// ApiVersions negotiation yet).

interface QuorumApi {
  readonly version: number;
  readonly request: MessageCodec<unknown>;
  readonly response: MessageCodec<unknown>;
}

const APIS: Readonly<Record<number, QuorumApi>> = {
  [ApiKey.Vote]: { version: 2, request: VoteRequest, response: VoteResponse },
  [ApiKey.BeginQuorumEpoch]: { version: 1, request: BeginQuorumEpochRequest, response: BeginQuorumEpochResponse },
  [ApiKey.EndQuorumEpoch]: { version: 1, request: EndQuorumEpochRequest, response: EndQuorumEpochResponse },
  [ApiKey.Fetch]: { version: 17, request: FetchRequest, response: FetchResponse },
  [ApiKey.FetchSnapshot]: { version: 1, request: FetchSnapshotRequest, response: FetchSnapshotResponse },
};

const API_OF: Record<string, number> = {
  VoteRequest: ApiKey.Vote,
  BeginQuorumEpochRequest: ApiKey.BeginQuorumEpoch,
  EndQuorumEpochRequest: ApiKey.EndQuorumEpoch,
  FetchRequest: ApiKey.Fetch,
  FetchSnapshotRequest: ApiKey.FetchSnapshot,
};

/** Who sent a request, from its content (Kafka's request header names no node). */
function senderOf(message: RaftMessage): NodeId {
  switch (message.type) {
    case "VoteRequest":
      return message.candidateId;
    case "BeginQuorumEpochRequest":
    case "EndQuorumEpochRequest":
      return message.leaderId;
    case "FetchRequest":
    case "FetchSnapshotRequest":
      return message.replicaId;
    default:
      return -1;
  }
}

interface NodeEndpoint {
  readonly nodeId?: number;
  readonly host?: string;
  readonly port?: number;
}

export interface NetworkTransportOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly logger: Logger;
  readonly requestTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
}

export class NetworkTransport implements Transport {
  private readonly peers = new Map<NodeId, { host: string; port: number }>();
  private readonly connections = new Map<NodeId, Promise<BrokerConnection>>();
  /** Inbound requests waiting for the core's answer, by the id the core was given. */
  private readonly waiting = new Map<number, (answer: RaftMessage | null) => void>();
  private nextInboundId = 1;
  private receiver: ((envelope: Envelope) => void) | null = null;
  private connectionLost: ((peer: NodeId) => void) | null = null;
  private connectionRefused: ((peer: NodeId) => void) | null = null;
  private closed = false;
  private self: { host: string; port: number } | null = null;

  constructor(private readonly options: NetworkTransportOptions) {}

  setPeer(id: NodeId, host: string, port: number): void {
    const known = this.peers.get(id);
    if (known?.host === host && known.port === port) return;
    this.peers.set(id, { host, port });
    // A connection to the old address would keep reaching the wrong node.
    const open = this.connections.get(id);
    this.connections.delete(id);
    void open?.then((c) => c.close()).catch(() => undefined);
  }

  /** Where this node's own controller listener is: named in answers when this node leads (NodeEndpoints). */
  setSelf(host: string, port: number): void {
    this.self = { host, port };
  }

  /** KIP-853: the voters' addresses come from the VotersRecord in effect, on the controller listener's name. */
  setVoters(voters: readonly Voter[], listenerName: string): void {
    for (const v of voters) {
      const endpoint = v.endpoints.find((e) => e.name === listenerName);
      if (endpoint !== undefined && v.id !== this.options.nodeId) this.setPeer(v.id, endpoint.host, endpoint.port);
    }
  }

  /** The address known for a node (a peer, or this node itself). */
  address(id: NodeId): { host: string; port: number } | undefined {
    return id === this.options.nodeId ? (this.self ?? undefined) : this.peers.get(id);
  }

  /**
   * Where received messages go (the driver's `receive`), who hears that a peer closed or reset a connection this node
   * opened to it (the driver's `connectionLost`), and who hears that a peer's host refused a new connection (the
   * driver's `connectionRefused`).
   */
  attach(
    receiver: (envelope: Envelope) => void,
    connectionLost?: (peer: NodeId) => void,
    connectionRefused?: (peer: NodeId) => void,
  ): void {
    this.receiver = receiver;
    this.connectionLost = connectionLost ?? null;
    this.connectionRefused = connectionRefused ?? null;
  }

  send(envelope: Envelope): void {
    if (this.closed) return;
    if (envelope.message.type.endsWith("Response")) {
      const resolve = this.waiting.get(envelope.correlationId);
      this.waiting.delete(envelope.correlationId);
      resolve?.(envelope.message);
      return;
    }
    void this.request(envelope);
  }

  private async request(envelope: Envelope): Promise<void> {
    const apiKey = API_OF[envelope.message.type];
    const api = apiKey === undefined ? undefined : APIS[apiKey];
    if (api === undefined || apiKey === undefined) return;
    const ctx = {
      clusterId: this.options.clusterId,
      destination: envelope.to,
      fetchMaxWaitMs: this.options.fetchMaxWaitMs,
    };
    try {
      const connection = await this.connection(envelope.to);
      const wire = toWireRequest(envelope.message, ctx, api.version);
      const timeout = this.options.requestTimeoutMs + (apiKey === ApiKey.Fetch ? this.options.fetchMaxWaitMs : 0);
      const body = await connection.send(api.request, api.response, api.version, wire.request, timeout);
      // Kafka's answers name the leader's address (NodeEndpoints): how a node that bootstrapped from
      // controller.quorum.bootstrap.servers reaches a leader it has no VotersRecord for yet.
      for (const e of (body as { nodeEndpoints?: NodeEndpoint[] }).nodeEndpoints ?? []) {
        const { nodeId, host, port } = e;
        if (nodeId !== undefined && nodeId >= 0 && nodeId !== this.options.nodeId && host && port) {
          this.setPeer(nodeId, host, port);
        }
      }
      const message = fromWireResponse({ apiKey, response: body } as never, envelope.message);
      if (!this.closed) {
        this.receiver?.({ from: envelope.to, to: this.options.nodeId, correlationId: envelope.correlationId, message });
      }
    } catch (err) {
      // The core will ask again; a broken connection is reopened then.
      this.connections.delete(envelope.to);
      // ECONNREFUSED: nothing listens at the peer's address (a killed process's port), not a slow or cut-off peer
      // (those time out). The core may run for election at once if it followed that peer (ADR 32).
      if (err instanceof BrokerConnectionError && err.refused && !this.closed) this.connectionRefused?.(envelope.to);
      this.options.logger.debug({ peer: envelope.to, err }, "Quorum request to a peer failed");
    }
  }

  private connection(peer: NodeId): Promise<BrokerConnection> {
    const open = this.connections.get(peer);
    if (open !== undefined) {
      return open.then((c) => {
        if (!c.closed) return c;
        this.connections.delete(peer);
        return this.connection(peer);
      });
    }
    const address = this.peers.get(peer);
    if (address === undefined) return Promise.reject(new Error(`no address for quorum peer ${peer}`));
    const opening = BrokerConnection.open({
      ...address,
      clientId: `raft-client-${this.options.nodeId}`,
      connectTimeoutMs: this.options.requestTimeoutMs,
    });
    this.connections.set(peer, opening);
    opening.then(
      (c) =>
        c.onPeerClose(() => {
          if (!this.closed) this.connectionLost?.(peer);
        }),
      () => this.connections.delete(peer),
    );
    return opening;
  }

  /**
   * A quorum request that arrived on the controller listener (handlers/controller/), handed to the core: resolves to
   * the wire answer the core sends back, or null when none comes in time. A request naming another cluster id is
   * refused with INCONSISTENT_CLUSTER_ID, one addressing anything but the metadata partition with INVALID_REQUEST,
   * without reaching the core.
   */
  async answer(apiKey: number, request: unknown): Promise<unknown> {
    const api = APIS[apiKey];
    if (api === undefined) throw new Error(`API ${apiKey} is not a quorum request`);
    const refusal = (errorCode: number): unknown => ({ ...(api.response.create() as object), errorCode });
    let received: ReturnType<typeof fromWireRequest>;
    try {
      received = fromWireRequest({ apiKey, request } as WireRequest);
    } catch (err) {
      // Addressed to another topic or partition: answered INVALID_REQUEST as Kafka does, not a dropped connection.
      if (!(err instanceof DecodeError)) throw err;
      this.options.logger.warn({ apiKey, reason: err.message }, "Quorum request refused");
      return refusal(ErrorCode.INVALID_REQUEST);
    }
    const { clusterId, message } = received;
    if (clusterId !== null && clusterId !== this.options.clusterId) {
      this.options.logger.warn({ clusterId }, "Quorum request from another cluster refused");
      return refusal(ErrorCode.INCONSISTENT_CLUSTER_ID);
    }
    const id = this.nextInboundId++;
    const answer = new Promise<RaftMessage | null>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(null);
      }, this.options.requestTimeoutMs + this.options.fetchMaxWaitMs);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    this.receiver?.({ from: senderOf(message), to: this.options.nodeId, correlationId: id, message });
    const reply = await answer;
    if (reply === null) return null;
    const response = toWireResponse(reply).response;
    const leaderId = "leaderId" in reply ? reply.leaderId : null;
    const at = leaderId === null ? undefined : this.address(leaderId);
    return at === undefined || leaderId === null
      ? response
      : { ...response, nodeEndpoints: [{ nodeId: leaderId, host: at.host, port: at.port, rack: null }] };
  }

  close(): void {
    this.closed = true;
    for (const resolve of this.waiting.values()) resolve(null);
    this.waiting.clear();
    for (const open of this.connections.values()) void open.then((c) => c.close()).catch(() => undefined);
    this.connections.clear();
  }
}
