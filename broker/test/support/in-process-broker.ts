import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import { Registry } from "prom-client";
import type { Broker } from "../../src/broker.ts";
import type { DispatchConnection } from "../../src/handlers/dispatcher.ts";
import {
  CreateTopicsRequest,
  CreateTopicsResponse,
  decodeResponse,
  encodeRequest,
  ErrorCode,
  type MessageCodec,
} from "../../src/protocol/index.ts";
import { resolveBrokerConfig } from "../../src/config/broker-config.ts";
import { planNode } from "../../src/node/node-plan.ts";
import { startNode } from "../../src/node/start-node.ts";
import { Lifecycle } from "../../src/runtime/lifecycle.ts";
import { createMetrics } from "../../src/runtime/metrics.ts";

/**
 * A single combined node in this process (its quorum of one, its controller and its broker, as main.ts starts them),
 * its log dir under `dir`, for tests that drive the broker's dispatcher directly. close() stops the whole node.
 */
export async function startInProcessBroker(
  dir: string,
  logger: Logger,
  overrides: readonly string[] = [],
): Promise<Broker> {
  const { config } = resolveBrokerConfig({
    overrides: [
      "node.id=1",
      "process.roles=broker,controller",
      `log.dirs=${join(dir, "logs")}`,
      "listeners=PLAINTEXT://127.0.0.1:0",
      ...overrides,
    ],
    cwd: dir,
  });
  const lifecycle = new Lifecycle({ logger });
  const metrics = createMetrics(new Registry());
  try {
    const node = await startNode({ config, plan: planNode(config), logger, metrics, lifecycle });
    if (node?.broker === undefined) throw new Error("the in-process node did not start its broker");
    return { ...node.broker, close: async () => void (await lifecycle.stop("test done")) };
  } catch (err) {
    await lifecycle.stop("failed to start");
    throw err;
  }
}

let correlationId = 0;

/**
 * Dispatches one request (fields not given take their defaults) straight to `broker`'s dispatcher on `connection` and
 * resolves with the decoded response body; throws if it got none or the correlation id does not match.
 */
export async function dispatchCall<Req, Res>(
  broker: Broker,
  connection: DispatchConnection,
  version: number,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  body: Partial<Req>,
): Promise<Res> {
  const id = ++correlationId;
  const header = { apiKey: request.apiKey, apiVersion: version, correlationId: id, clientId: connection.id };
  const frame = await broker.dispatcher.dispatch(
    encodeRequest(header, request, { ...request.create(), ...body }),
    connection,
  );
  if (frame === null) throw new Error(`${request.name} got no response`);
  const decoded = decodeResponse(frame, request.apiKey, version, response);
  if (decoded.correlationId !== id)
    throw new Error(`${request.name}: correlation id ${decoded.correlationId}, not ${id}`);
  return decoded.body;
}

/** A dispatch connection for tests in which the broker must never close the connection: closing throws. */
export function strictConnection(id: string, logger: Logger): DispatchConnection {
  return {
    id,
    listenerName: "PLAINTEXT",
    remoteAddress: "127.0.0.1",
    logger,
    signal: new AbortController().signal,
    closeAfterResponse: (reason) => {
      throw new Error(`the broker closed the connection: ${reason}`);
    },
  };
}

/** A broker from {@link inProcessBrokerPer}, started before each test (or before the file's first) and stopped after. */
export interface InProcessBrokerFixture {
  /** The running broker; throws before its start. */
  readonly broker: Broker;
  /** A silent logger, for the connections the test makes itself. */
  readonly logger: Logger;
  /** dispatchCall to the broker on a strictConnection named `name`: the broker must not close it. */
  readonly call: <Req, Res>(
    version: number,
    request: MessageCodec<Req>,
    response: MessageCodec<Res>,
    body: Partial<Req>,
  ) => Promise<Res>;
  /** Creates a topic through `call` (CreateTopics v7, the broker's default replication factor); expects no error. */
  readonly createTopic: (name: string, numPartitions?: number, configs?: Record<string, string>) => Promise<void>;
}

/**
 * Registers the hooks that run a fresh in-process broker (startInProcessBroker, with `overrides`) in a new temporary
 * directory for each test (`"test"`) or for all the tests of a file (`"file"`), and stop it and delete the directory
 * after. `name` names the directory and the fixture's connection. Stopping twice is harmless, so a test may stop the
 * broker itself.
 */
export function inProcessBrokerPer(
  scope: "test" | "file",
  name: string,
  overrides: readonly string[] = [],
): InProcessBrokerFixture {
  const logger = pino({ level: "silent" });
  let dir: string | undefined;
  let broker: Broker | undefined;
  const [before, after] = scope === "test" ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `tributary-${name}-`));
    broker = await startInProcessBroker(dir, logger, overrides);
  });
  after(async () => {
    await broker?.close();
    broker = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const fixture: InProcessBrokerFixture = {
    get broker() {
      if (broker === undefined) throw new Error("the in-process broker has not started");
      return broker;
    },
    logger,
    call: (version, request, response, body) =>
      dispatchCall(fixture.broker, strictConnection(name, logger), version, request, response, body),
    createTopic: async (topic, numPartitions = 1, configs = {}) => {
      const res = await fixture.call(7, CreateTopicsRequest, CreateTopicsResponse, {
        topics: [
          {
            name: topic,
            numPartitions,
            replicationFactor: -1,
            assignments: [],
            configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
          },
        ],
        timeoutMs: 5000,
      });
      expect(res.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    },
  };
  return fixture;
}
