import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { resolveBrokerConfig } from "../../src/config/broker-config.ts";
import { createDispatcher, type Dispatcher } from "../../src/handlers/dispatcher.ts";
import { EMPTY_IMAGE, topicByName } from "../../src/metadata/image/index.ts";
import { MetadataLoader } from "../../src/metadata/metadata-loader.ts";
import type { NetworkServer } from "../../src/network/server.ts";
import {
  AllocateProducerIdsRequest,
  AllocateProducerIdsResponse,
  ApiKey,
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponse,
  BrokerRegistrationRequest,
  BrokerRegistrationResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  decodeResponse,
  encodeRequest,
  EnvelopeRequest,
  EnvelopeResponse,
  ErrorCode,
} from "../../src/protocol/index.ts";
import { SUPPORTED_FEATURES } from "../../src/controller/index.ts";
import type { MetadataRecordAndVersion } from "../../src/protocol/index.ts";
import { bootstrapRecords } from "../../src/quorum/bootstrap-checkpoint.ts";
import { BrokerLifecycle } from "../../src/node/broker-lifecycle.ts";
import { ControllerChannel } from "../../src/node/controller-channel.ts";
import { EnvelopeForwarder } from "../../src/node/forwarding.ts";
import { ControllerQuorum } from "../../src/quorum/controller-quorum.ts";
import { startController, type RunningController } from "../../src/quorum/controller-runtime.ts";
import { METADATA_LOG_DIR } from "../../src/quorum/metadata-log.ts";
import { NetworkTransport } from "../../src/quorum/network-transport.ts";
import { QuorumDriver } from "../../src/quorum/quorum-driver.ts";
import { SeededRng, type NodeId } from "../../src/raft/index.ts";
import { TestClient, waitFor } from "../network/helpers.ts";
import { dumpMetadataFile, requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";
import { requestContext } from "../support/request-context.ts";
import { wireCall } from "../support/wire-call.ts";
import { bindControllerListeners } from "./controller-listeners.ts";
import { REAL_CLOCK_TEST_TIMING } from "./real-clock-timing.ts";

// Three controllers in one process over loopback TCP, each with the controller layer started on its quorum driver:
// broker lifecycle, topic and producer-id commands sent as real requests (directly and inside an Envelope) to the
// active controller, their records committed into every node's image, and a new active controller serving commands
// after the old one stops.

const VOTERS = [1, 2, 3];
const CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg";
const logger = pino({ level: "silent" });

interface Node {
  metadataDir: string;
  driver: QuorumDriver;
  transport: NetworkTransport;
  server: NetworkServer;
  controller: RunningController;
  loader: MetadataLoader;
  port: number;
  stopped: boolean;
}

let root: string | undefined;
const nodes = new Map<NodeId, Node>();
const clients: TestClient[] = [];

async function stop(node: Node): Promise<void> {
  if (node.stopped) return;
  node.stopped = true;
  node.controller.close();
  node.transport.close();
  await node.driver.close();
  await node.server.close(100);
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const node of nodes.values()) await stop(node);
  nodes.clear();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** `bootstrap`: what a format step wrote (none: the latest metadata.version alone, as for a dir formatted without it). */
async function startControllers(bootstrap?: readonly MetadataRecordAndVersion[]): Promise<void> {
  root = await mkdtemp(join(tmpdir(), "controller-runtime-"));
  const dispatchers = new Map<NodeId, Dispatcher>();
  const servers = await bindControllerListeners(VOTERS, dispatchers, logger);
  const ports = new Map([...servers].map(([id, s]) => [id, s.listeners[0]?.port ?? 0]));
  const endpoints = VOTERS.map((id) => ({ id, host: "127.0.0.1", port: ports.get(id) ?? 0 }));
  for (const id of VOTERS) {
    const dir = join(root, `node-${id}`);
    const { config } = resolveBrokerConfig({
      overrides: [
        `node.id=${id}`,
        "process.roles=broker,controller",
        `log.dirs=${dir}`,
        "listeners=PLAINTEXT://127.0.0.1:0",
        "num.partitions=3",
      ],
      cwd: dir,
    });
    const transport = new NetworkTransport({
      nodeId: id,
      clusterId: CLUSTER_ID,
      logger,
      requestTimeoutMs: REAL_CLOCK_TEST_TIMING.requestTimeoutMs,
      fetchMaxWaitMs: REAL_CLOCK_TEST_TIMING.fetchMaxWaitMs,
    });
    for (const e of endpoints) transport.setPeer(e.id, e.host, e.port);
    // What every node runs: one loader over the committed log, fed by the driver, that the controller follows.
    const loader = new MetadataLoader();
    const driver = await QuorumDriver.start({
      loader,
      config: { nodeId: id, voters: VOTERS, ...REAL_CLOCK_TEST_TIMING },
      metadataDir: join(dir, "metadata"),
      transport,
      rng: new SeededRng(id * 7919),
      logger,
      tickMs: 10,
    });
    transport.attach((envelope) => driver.receive(envelope));
    const quorum = new ControllerQuorum(driver, transport, CLUSTER_ID, endpoints, "CONTROLLER");
    const controller = startController({
      driver,
      loader,
      quorum,
      config,
      logger,
      ...(bootstrap === undefined ? {} : { bootstrapRecords: bootstrap }),
    });
    dispatchers.set(id, createDispatcher({ handlers: controller.handlers, logger }));
    const server = servers.get(id);
    if (!server) throw new Error("setup");
    nodes.set(id, {
      metadataDir: join(dir, "metadata"),
      driver,
      transport,
      server,
      controller,
      loader,
      port: ports.get(id) ?? 0,
      stopped: false,
    });
  }
}

const running = () => [...nodes.values()].filter((n) => !n.stopped);
const active = () => running().find((n) => n.controller.runtime.isActive);

async function clientOf(node: Node): Promise<TestClient> {
  const client = await TestClient.connect(node.port);
  clients.push(client);
  return client;
}

/**
 * Sends a command to the active controller as a client would: on NOT_CONTROLLER (leadership moved, which a loaded
 * machine can cause) it finds the active controller again and retries. `retried` says whether it had to.
 */
async function onActive<Res>(
  send: (client: TestClient) => Promise<Res>,
  errorOf: (res: Res) => number | undefined,
): Promise<{ res: Res; retried: boolean }> {
  const deadline = Date.now() + 20_000;
  for (let retried = false; ; retried = true) {
    const node = await waitFor(active, "an active controller", 20_000);
    const res = await send(await clientOf(node));
    if (errorOf(res) !== ErrorCode.NOT_CONTROLLER || Date.now() > deadline) return { res, retried };
  }
}

function registration(brokerId: number, rack: string): Partial<BrokerRegistrationRequest> {
  return {
    brokerId,
    clusterId: CLUSTER_ID,
    incarnationId: `00000000-0000-4000-8000-0000000000${brokerId}`,
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 19000 + brokerId, securityProtocol: 0 }],
    features: [{ name: "metadata.version", minSupportedVersion: 21, maxSupportedVersion: 23 }],
    rack,
    logDirs: [`00000000-0000-4000-8000-0000000001${brokerId}`],
  };
}

/** A broker's channel to whichever controller the quorum (as the first running node sees it) names active. */
function controllerChannel(nodeId: number): ControllerChannel {
  return new ControllerChannel({
    nodeId,
    activeController: () => {
      const leader = running()[0]?.driver.status().leaderId ?? null;
      // The raft leader only answers once it is the active controller; until then NOT_CONTROLLER makes callers retry.
      return leader !== null && nodes.get(leader)?.stopped !== true ? leader : null;
    },
    address: (id) => {
      const n = nodes.get(id);
      return n ? { host: "127.0.0.1", port: n.port } : undefined;
    },
    voters: VOTERS,
    connectTimeoutMs: 2000,
    logger,
  });
}

/** Registers a broker with the active controller and unfences it with a caught-up heartbeat; its epoch. */
async function liveBroker(brokerId: number, rack: string): Promise<bigint> {
  const { res: reg } = await onActive(
    (c) => wireCall(c, 4, BrokerRegistrationRequest, BrokerRegistrationResponse, registration(brokerId, rack)),
    (r) => r.errorCode,
  );
  expect(reg.errorCode).toBe(ErrorCode.NONE);
  const { res: beat } = await onActive(
    (c) =>
      wireCall(c, 1, BrokerHeartbeatRequest, BrokerHeartbeatResponse, {
        brokerId,
        brokerEpoch: reg.brokerEpoch,
        currentMetadataOffset: reg.brokerEpoch,
      }),
    (r) => r.errorCode,
  );
  expect(beat).toMatchObject({ errorCode: ErrorCode.NONE, isCaughtUp: true, isFenced: false });
  return reg.brokerEpoch;
}

const createTopic = (name: string, replicationFactor = 2) => ({
  timeoutMs: 5000,
  validateOnly: false,
  topics: [{ name, numPartitions: 4, replicationFactor, assignments: [], configs: [] }],
});

describe("the controller layer on a 3-controller quorum over TCP", () => {
  it("serves broker lifecycle, topics, producer ids and Envelope; a new active controller takes over", async () => {
    await startControllers();
    await waitFor(active, "an active controller", 20_000);

    const epochs = new Map<number, bigint>();
    epochs.set(11, await liveBroker(11, "a"));
    epochs.set(12, await liveBroker(12, "b"));

    const created = await onActive(
      (c) => wireCall(c, 7, CreateTopicsRequest, CreateTopicsResponse, createTopic("direct")),
      (r) => r.topics[0]?.errorCode,
    );
    // A retry after a leadership change may find the topic created by the first attempt.
    if (created.retried)
      expect(created.res.topics[0]?.errorCode).toBeOneOf([ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS]);
    else
      expect(created.res.topics[0]).toMatchObject({
        errorCode: ErrorCode.NONE,
        numPartitions: 4,
        replicationFactor: 2,
      });

    const blocks: bigint[] = [];
    for (const id of [11, 12]) {
      const { res } = await onActive(
        (c) =>
          wireCall(c, 0, AllocateProducerIdsRequest, AllocateProducerIdsResponse, {
            brokerId: id,
            brokerEpoch: epochs.get(id) ?? 0n,
          }),
        (r) => r.errorCode,
      );
      expect(res).toMatchObject({ errorCode: ErrorCode.NONE, producerIdLen: 1000 });
      blocks.push(res.producerIdStart);
    }
    // Distinct blocks in order (a retried allocation may have skipped one that committed unanswered).
    expect(blocks[0]).toBe(0n);
    expect((blocks[1] ?? 0n) % 1000n).toBe(0n);
    expect(blocks[1]).toBeGreaterThan(blocks[0] ?? 0n);

    // A client's CreateTopics as a broker forwards it.
    const inner = encodeRequest(
      { apiKey: ApiKey.CreateTopics, apiVersion: 7, correlationId: 4242, clientId: "forwarded-client" },
      CreateTopicsRequest,
      { ...CreateTopicsRequest.create(), ...createTopic("enveloped") },
    );
    const { res: envelope } = await onActive(
      (c) =>
        wireCall(c, 0, EnvelopeRequest, EnvelopeResponse, {
          requestData: inner,
          requestPrincipal: null,
          clientHostAddress: Buffer.from([127, 0, 0, 1]),
        }),
      (r) => r.errorCode,
    );
    expect(envelope.errorCode).toBe(ErrorCode.NONE);
    if (envelope.responseData === null) throw new Error("no inner response");
    const innerResponse = decodeResponse(envelope.responseData, ApiKey.CreateTopics, 7, CreateTopicsResponse);
    expect(innerResponse.correlationId).toBe(4242);
    expect(innerResponse.body.topics[0]?.name).toBe("enveloped");
    expect(innerResponse.body.topics[0]?.errorCode).toBeOneOf([ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS]);

    // Every node's image holds what was committed.
    await waitFor(
      () =>
        running().every((n) => {
          const image = n.loader.image;
          return (
            topicByName(image, "direct")?.partitions.size === 4 &&
            topicByName(image, "enveloped") !== undefined &&
            image.brokers.get(11)?.fenced === false &&
            image.brokers.get(12)?.fenced === false &&
            image.nextProducerId === (blocks[1] ?? 0n) + 1000n
          );
        }),
      "the records in all three images",
    );
    for (const n of running()) {
      for (const p of topicByName(n.loader.image, "direct")?.partitions.values() ?? []) {
        expect(new Set(p.replicas)).toEqual(new Set([11, 12]));
        expect(p.isr).toEqual(p.replicas);
        expect(p.leader).toBe(p.replicas[0]);
      }
    }

    // A controller that is not active says so.
    const leader = await waitFor(active, "the active controller", 20_000);
    const follower = running().find((n) => n !== leader);
    if (!follower) throw new Error("no follower");
    const notActive = await wireCall(
      await clientOf(follower),
      7,
      CreateTopicsRequest,
      CreateTopicsResponse,
      createTopic("x"),
    );
    expect(notActive.topics[0]?.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const followerClient = await clientOf(follower);
    const envelopeTo = (c: TestClient, requestData: Buffer) =>
      wireCall(c, 0, EnvelopeRequest, EnvelopeResponse, {
        requestData,
        requestPrincipal: null,
        clientHostAddress: Buffer.from([127, 0, 0, 1]),
      });
    expect(await envelopeTo(followerClient, inner)).toMatchObject({
      errorCode: ErrorCode.NOT_CONTROLLER,
      responseData: null,
    });
    // Only admin writes may be forwarded: a broker-lifecycle request inside an Envelope is refused.
    const heartbeatInside = encodeRequest(
      { apiKey: ApiKey.BrokerHeartbeat, apiVersion: 1, correlationId: 1, clientId: "x" },
      BrokerHeartbeatRequest,
      { ...BrokerHeartbeatRequest.create(), brokerId: 11, brokerEpoch: epochs.get(11) ?? 0n },
    );
    const refused = await onActive(
      (c) => envelopeTo(c, heartbeatInside),
      (r) => r.errorCode,
    );
    expect(refused.res).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, responseData: null });

    // The active controller stops; another takes over and serves commands, with the brokers' sessions started afresh.
    await stop(leader);
    const { res: beat } = await onActive(
      (c) =>
        wireCall(c, 1, BrokerHeartbeatRequest, BrokerHeartbeatResponse, {
          brokerId: 11,
          brokerEpoch: epochs.get(11) ?? 0n,
          currentMetadataOffset: epochs.get(11) ?? 0n,
        }),
      (r) => r.errorCode,
    );
    expect(beat).toMatchObject({ errorCode: ErrorCode.NONE, isFenced: false });
    const again = await onActive(
      (c) => wireCall(c, 7, CreateTopicsRequest, CreateTopicsResponse, createTopic("after")),
      (r) => r.topics[0]?.errorCode,
    );
    expect(again.res.topics[0]?.errorCode).toBeOneOf(
      again.retried ? [ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS] : [ErrorCode.NONE],
    );
    const dup = await onActive(
      (c) => wireCall(c, 7, CreateTopicsRequest, CreateTopicsResponse, createTopic("direct")),
      (r) => r.topics[0]?.errorCode,
    );
    expect(dup.res.topics[0]?.errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    await waitFor(
      () => running().every((n) => topicByName(n.loader.image, "after") !== undefined),
      "the new topic on both remaining nodes",
    );
  }, 60_000);
});

describe("Kafka's kafka-dump-log reads what the controller wrote", () => {
  beforeAll(requireReferenceKafka);
  it("decodes the registration, fencing change, topic and partition records", async () => {
    await startControllers();
    await liveBroker(21, "rack-x");
    const created = await onActive(
      (c) =>
        wireCall(c, 7, CreateTopicsRequest, CreateTopicsResponse, {
          timeoutMs: 5000,
          topics: [{ name: "dumped", numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
        }),
      (r) => r.topics[0]?.errorCode,
    );
    expect(created.res.topics[0]?.errorCode).toBeOneOf([ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS]);
    const node = await waitFor(
      () => running().find((n) => topicByName(n.loader.image, "dumped")?.partitions.size === 2),
      "the topic committed",
    );
    const stdout = await dumpMetadataFile(join(node.metadataDir, METADATA_LOG_DIR, "00000000000000000000.log"));
    for (const type of [
      "FEATURE_LEVEL_RECORD",
      "REGISTER_BROKER_RECORD",
      "BROKER_REGISTRATION_CHANGE_RECORD",
      "TOPIC_RECORD",
      "PARTITION_RECORD",
    ]) {
      expect(stdout).toContain(`"type":"${type}"`);
    }
    expect(stdout).toMatch(/"name":"dumped","topicId":"[A-Za-z0-9_-]{22}"/);
    expect(stdout).toContain('"rack":"rack-x"');
    expect(stdout).toContain('"featureLevel":23');
    expect(stdout).not.toMatch(/error|exception/i);
  }, 60_000);
});

describe("Kafka's kafka-features against the controllers", () => {
  beforeAll(requireReferenceKafka);
  it("describes metadata.version and downgrades and upgrades it through UpdateFeatures", async () => {
    // Formatted with --release-version 4.0-IV0: 23 (the default) changed the metadata, so nothing goes below it.
    await startControllers(bootstrapRecords(22));
    const node = await waitFor(active, "an active controller", 20_000);
    await waitFor(() => running().every((n) => n.loader.image.features.get("metadata.version") === 22), "bootstrap");
    const features = (...args: string[]) =>
      runKafkaClass("org.apache.kafka.tools.FeatureCommand", [
        "--bootstrap-controller",
        `127.0.0.1:${node.port}`,
        ...args,
      ]);
    const described = (await features("describe")).stdout;
    expect(described).toMatch(
      /Feature: metadata\.version\s+SupportedMinVersion: 3\.9-IV0\s+SupportedMaxVersion: 4\.0-IV1\s+FinalizedVersionLevel: 4\.0-IV0/,
    );
    await features("downgrade", "--metadata", "3.9");
    await waitFor(() => running().every((n) => n.loader.image.features.get("metadata.version") === 21), "downgraded");
    // The tool's "4.0" means that release's last level (4.0-IV3, 25), above what this controller supports.
    await expect(features("upgrade", "--metadata", "4.0")).rejects.toThrow(/1 out of 1 operation\(s\) failed/);
    await features("upgrade", "--feature", "metadata.version=22");
    await waitFor(() => running().every((n) => n.loader.image.features.get("metadata.version") === 22), "upgraded");
  }, 90_000);
});

describe("a broker's Envelope forwarder (node/) against the controllers", () => {
  it("forwards CreateTopics to the active controller, and to the next one after it stops", async () => {
    await startControllers();
    await liveBroker(31, "a");
    const channel = controllerChannel(100);
    const forwarder = new EnvelopeForwarder({ channel, logger });
    const forward = (name: string) =>
      forwarder.forward({
        request: CreateTopicsRequest,
        response: CreateTopicsResponse,
        version: 7,
        body: { ...CreateTopicsRequest.create(), ...createTopic(name, 1) },
        context: requestContext(ApiKey.CreateTopics, 7, logger),
        timeoutMs: 20_000,
      });
    const first = await forward("forwarded");
    if (!("response" in first)) throw new Error(`forwarding failed: ${first.errorCode}`);
    expect(first.response.topics[0]).toMatchObject({ name: "forwarded", errorCode: ErrorCode.NONE });
    const leader = await waitFor(active, "the active controller", 20_000);
    await stop(leader);
    const second = await forward("forwarded-after");
    if (!("response" in second)) throw new Error(`forwarding failed: ${second.errorCode}`);
    expect(second.response.topics[0]?.errorCode).toBeOneOf([ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS]);
    await waitFor(
      () => running().every((n) => topicByName(n.loader.image, "forwarded-after") !== undefined),
      "the forwarded topic on both remaining nodes",
    );
    channel.close();
  }, 60_000);
});

describe("node/'s broker lifecycle against the controllers", () => {
  it("registers, is unfenced once caught up, and shuts down in a controlled way", async () => {
    await startControllers();
    const applied = () => running()[0]?.loader.image.provenance.offset ?? -1;
    const lifecycles = [41, 42].map(
      (id) =>
        new BrokerLifecycle({
          nodeId: id,
          clusterId: CLUSTER_ID,
          channel: controllerChannel(id),
          listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 20000 + id, securityProtocol: "PLAINTEXT" }],
          rack: null,
          logDirs: [`00000000-0000-4000-8000-0000000002${id}`],
          features: [...SUPPORTED_FEATURES].map(([name, r]) => ({
            name,
            minSupportedVersion: r.min,
            maxSupportedVersion: r.max,
          })),
          appliedOffset: applied,
          heartbeatIntervalMs: 100,
          requestTimeoutMs: 2000,
          retryBackoffMs: 50,
          logger,
        }),
    );
    try {
      for (const l of lifecycles) l.start();
      await Promise.all(lifecycles.map((l) => l.running));
      const created = await onActive(
        (c) => wireCall(c, 7, CreateTopicsRequest, CreateTopicsResponse, createTopic("led", 1)),
        (r) => r.topics[0]?.errorCode,
      );
      expect(created.res.topics[0]?.errorCode).toBeOneOf([ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS]);
      await waitFor(() => topicByName(running()[0]?.loader.image ?? EMPTY_IMAGE, "led"), "the topic");
      const [first] = lifecycles;
      if (!first) throw new Error("setup");
      await first.controlledShutdown(20_000);
      const image = await waitFor(() => {
        const i = running()[0]?.loader.image;
        return i?.brokers.get(41)?.fenced === true ? i : undefined;
      }, "broker 41 fenced after its controlled shutdown");
      const partitions = [...(topicByName(image, "led")?.partitions.values() ?? [])];
      expect(partitions).toHaveLength(4);
      expect(partitions.filter((p) => p.leader === 41)).toEqual([]);
      expect(image.brokers.get(42)?.fenced).toBe(false);
    } finally {
      for (const l of lifecycles) await l.stop();
    }
  }, 60_000);
});
