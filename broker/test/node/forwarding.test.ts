import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { defineHandler, type RequestContext } from "../../src/handlers/handler.ts";
import type { NetworkServer } from "../../src/network/server.ts";
import { ControllerChannel } from "../../src/node/controller-channel.ts";
import { EnvelopeForwarder } from "../../src/node/forwarding.ts";
import {
  CreateTopicsRequest,
  CreateTopicsResponse,
  encodeResponse,
  EnvelopeRequest,
  EnvelopeResponse,
  ErrorCode,
  parseRequestHeader,
} from "../../src/protocol/index.ts";
import { requestContext } from "../support/request-context.ts";
import { serveHandlers } from "../support/scripted-server.ts";

// Forwarding (KIP-590) against scripted controllers on loopback: the client's request travels whole in an Envelope,
// the controller's response comes back as the client's answer, NOT_CONTROLLER moves on to the next active
// controller, and with none the client gets REQUEST_TIMED_OUT.

const logger = pino({ level: "silent" });
const servers: NetworkServer[] = [];
const channels: ControllerChannel[] = [];
afterEach(async () => {
  for (const c of channels.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close(100);
});

interface Seen {
  clientId: string | null;
  correlationId: number;
  version: number;
  topics: string[];
  principal: Buffer | null;
  address: Buffer;
}

/** A controller whose Envelope handler answers CreateTopics, or NOT_CONTROLLER when `active` is false. */
async function controller(active: boolean): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const handler = defineHandler({
    apiKey: EnvelopeRequest.apiKey,
    minVersion: 0,
    maxVersion: 0,
    request: EnvelopeRequest,
    response: EnvelopeResponse,
    handle(envelope) {
      if (!active) return Promise.resolve({ ...EnvelopeResponse.create(), errorCode: ErrorCode.NOT_CONTROLLER });
      const { header, body } = parseRequestHeader(envelope.requestData);
      const inner = CreateTopicsRequest.read(body, header.requestApiVersion);
      seen.push({
        clientId: header.clientId ?? null,
        correlationId: header.correlationId,
        version: header.requestApiVersion,
        topics: inner.topics.map((t) => t.name),
        principal: envelope.requestPrincipal,
        address: envelope.clientHostAddress,
      });
      const answer = {
        ...CreateTopicsResponse.create(),
        topics: inner.topics.map((t) => ({
          name: t.name,
          topicId: "00000000-0000-4000-8000-000000000001",
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          numPartitions: 3,
          replicationFactor: 1,
          configs: [],
        })),
      };
      const responseData = encodeResponse(
        header.requestApiKey,
        header.requestApiVersion,
        header.correlationId,
        CreateTopicsResponse,
        answer,
      );
      return Promise.resolve({ ...EnvelopeResponse.create(), responseData });
    },
  });
  const { server, port } = await serveHandlers([handler]);
  servers.push(server);
  return { port, seen };
}

function forwarder(ports: Map<number, number>, leader: () => number | null): EnvelopeForwarder {
  const channel = new ControllerChannel({
    nodeId: 9,
    activeController: leader,
    voters: [...ports.keys()],
    address: (id) => {
      const port = ports.get(id);
      return port === undefined ? undefined : { host: "127.0.0.1", port };
    },
    connectTimeoutMs: 1_000,
    logger,
  });
  channels.push(channel);
  return new EnvelopeForwarder({ channel, logger });
}

const context: RequestContext = {
  ...requestContext(CreateTopicsRequest.apiKey, 7, logger),
  correlationId: 42,
  clientId: "client-a",
};

const createTopics = (name: string) => ({
  ...CreateTopicsRequest.create(),
  topics: [{ name, numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
});

describe("EnvelopeForwarder", () => {
  it("sends the client's request whole and answers with the controller's response", async () => {
    const one = await controller(true);
    const forward = forwarder(new Map([[1, one.port]]), () => 1);
    const outcome = await forward.forward({
      request: CreateTopicsRequest,
      response: CreateTopicsResponse,
      version: 7,
      body: createTopics("t1"),
      context,
      timeoutMs: 5_000,
    });
    expect(outcome).toMatchObject({ response: { topics: [{ name: "t1", numPartitions: 3, errorCode: 0 }] } });
    expect(one.seen).toEqual([
      {
        clientId: "client-a",
        correlationId: 42,
        version: 7,
        topics: ["t1"],
        // DefaultPrincipalData v0: User:ANONYMOUS, not token-authenticated.
        principal: Buffer.from([0, 0, 5, ...Buffer.from("User"), 10, ...Buffer.from("ANONYMOUS"), 0, 0]),
        address: Buffer.from([127, 0, 0, 1]),
      },
    ]);
  });

  it("moves on to the next active controller after NOT_CONTROLLER", async () => {
    const [stale, fresh] = [await controller(false), await controller(true)];
    let asked = 0;
    const forward = forwarder(
      new Map([
        [1, stale.port],
        [2, fresh.port],
      ]),
      // The quorum still names 1 for the first attempt, then learns of 2.
      () => (asked++ === 0 ? 1 : 2),
    );
    const outcome = await forward.forward({
      request: CreateTopicsRequest,
      response: CreateTopicsResponse,
      version: 5,
      body: createTopics("t2"),
      context,
      timeoutMs: 5_000,
    });
    expect(outcome).toMatchObject({ response: { topics: [{ name: "t2", errorCode: 0 }] } });
    expect(fresh.seen.map((s) => s.version)).toEqual([5]);
  });

  it("finds the active controller among the voters while the quorum still names the old one", async () => {
    const [stale, fresh] = [await controller(false), await controller(true)];
    const channel = new ControllerChannel({
      nodeId: 9,
      // An observer that has not heard of the election yet keeps naming 1.
      activeController: () => 1,
      voters: [1, 2],
      address: (id) => ({ host: "127.0.0.1", port: id === 1 ? stale.port : fresh.port }),
      connectTimeoutMs: 1_000,
      logger,
    });
    channels.push(channel);
    const outcome = await new EnvelopeForwarder({ channel, logger }).forward({
      request: CreateTopicsRequest,
      response: CreateTopicsResponse,
      version: 7,
      body: createTopics("t4"),
      context,
      timeoutMs: 5_000,
    });
    expect(outcome).toMatchObject({ response: { topics: [{ name: "t4", errorCode: 0 }] } });
    // Later requests go to the controller found, until the quorum names another leader.
    expect(channel.controllerId()).toBe(2);
  });

  it("answers REQUEST_TIMED_OUT when no controller is known within the timeout", async () => {
    const forward = forwarder(new Map(), () => null);
    const started = performance.now();
    const outcome = await forward.forward({
      request: CreateTopicsRequest,
      response: CreateTopicsResponse,
      version: 7,
      body: createTopics("t3"),
      context,
      timeoutMs: 300,
    });
    expect(outcome).toEqual({ errorCode: ErrorCode.REQUEST_TIMED_OUT });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });
});
