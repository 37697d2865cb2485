import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { defineHandler } from "../../src/handlers/handler.ts";
import type { NetworkServer } from "../../src/network/server.ts";
import { BrokerLifecycle } from "../../src/node/broker-lifecycle.ts";
import { ControllerChannel, NoControllerError } from "../../src/node/controller-channel.ts";
import {
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponse,
  BrokerRegistrationRequest,
  BrokerRegistrationResponse,
  ErrorCode,
} from "../../src/protocol/index.ts";
import { waitFor } from "../network/helpers.ts";
import { serveHandlers } from "../support/scripted-server.ts";

// The broker's lifecycle client against scripted controllers on loopback: registration, heartbeats carrying the
// applied metadata offset, unfencing, re-registration, controlled shutdown, and following the active controller.

const logger = pino({ level: "silent" });

/** A scripted controller: records what it got and answers as `script` says. */
interface FakeController {
  readonly id: number;
  readonly server: NetworkServer;
  readonly port: number;
  registrations: BrokerRegistrationRequest[];
  heartbeats: BrokerHeartbeatRequest[];
  /** The offset a heartbeat must reach before the broker is unfenced. */
  unfenceAt: number;
  /** Answer heartbeats with this error instead. */
  heartbeatError: number;
  /** Heartbeats with wantShutDown to refuse before agreeing. */
  shutdownRefusals: number;
  /** Registrations to refuse (DUPLICATE_BROKER_REGISTRATION) before accepting one. */
  registrationRefusals: number;
}

const servers: NetworkServer[] = [];
const lifecycles: BrokerLifecycle[] = [];
const channels: ControllerChannel[] = [];
afterEach(async () => {
  for (const l of lifecycles.splice(0)) await l.stop();
  for (const c of channels.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close(100);
});

async function fakeController(id: number): Promise<FakeController> {
  const state = {
    registrations: [] as BrokerRegistrationRequest[],
    heartbeats: [] as BrokerHeartbeatRequest[],
    unfenceAt: 0,
    heartbeatError: ErrorCode.NONE,
    shutdownRefusals: 0,
    registrationRefusals: 0,
  };
  let epoch = 10n * BigInt(id);
  const handlers = [
    defineHandler({
      apiKey: BrokerRegistrationRequest.apiKey,
      minVersion: 0,
      maxVersion: 4,
      request: BrokerRegistrationRequest,
      response: BrokerRegistrationResponse,
      handle(request) {
        state.registrations.push(request);
        if (state.registrationRefusals > 0) {
          state.registrationRefusals--;
          return Promise.resolve({
            ...BrokerRegistrationResponse.create(),
            errorCode: ErrorCode.DUPLICATE_BROKER_REGISTRATION,
          });
        }
        epoch++;
        return Promise.resolve({ ...BrokerRegistrationResponse.create(), brokerEpoch: epoch });
      },
    }),
    defineHandler({
      apiKey: BrokerHeartbeatRequest.apiKey,
      minVersion: 0,
      maxVersion: 1,
      request: BrokerHeartbeatRequest,
      response: BrokerHeartbeatResponse,
      handle(request) {
        state.heartbeats.push(request);
        const base = BrokerHeartbeatResponse.create();
        if (state.heartbeatError !== ErrorCode.NONE)
          return Promise.resolve({ ...base, errorCode: state.heartbeatError });
        const caughtUp = request.currentMetadataOffset >= BigInt(state.unfenceAt);
        let shouldShutDown = false;
        if (request.wantShutDown) {
          if (state.shutdownRefusals > 0) state.shutdownRefusals--;
          else shouldShutDown = true;
        }
        // A broker asking to be fenced is fenced, as the controller's heartbeat state machine does.
        return Promise.resolve({
          ...base,
          isCaughtUp: caughtUp,
          isFenced: !caughtUp || request.wantFence,
          shouldShutDown,
        });
      },
    }),
  ];
  const { server, port } = await serveHandlers(handlers);
  servers.push(server);
  return Object.assign(state, { id, server, port });
}

const DIR_A = "6f8b4e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
const DIR_B = "0a8b4e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5c";

function lifecycleFor(
  controllers: FakeController[],
  leader: { id: number | null },
  applied: { offset: number },
  dirs: { logDirs: string[]; offline: string[] } = { logDirs: [DIR_A], offline: [] },
  onFencedOffline?: () => void,
  heartbeatIntervalMs = 50,
) {
  const channel = new ControllerChannel({
    nodeId: 4,
    activeController: () => leader.id,
    voters: controllers.map((c) => c.id),
    address: (id) => {
      const c = controllers.find((x) => x.id === id);
      return c && { host: "127.0.0.1", port: c.port };
    },
    connectTimeoutMs: 1_000,
    logger,
  });
  channels.push(channel);
  const lifecycle = new BrokerLifecycle({
    nodeId: 4,
    clusterId: "MkU3OEVBNTcwNTJENDM2Qg",
    channel,
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: "PLAINTEXT" }],
    rack: "r1",
    logDirs: dirs.logDirs,
    offlineLogDirs: () => dirs.offline,
    ...(onFencedOffline === undefined ? {} : { onFencedOffline }),
    features: [{ name: "metadata.version", minSupportedVersion: 7, maxSupportedVersion: 27 }],
    appliedOffset: () => applied.offset,
    heartbeatIntervalMs,
    requestTimeoutMs: 1_000,
    retryBackoffMs: 20,
    logger,
  });
  lifecycles.push(lifecycle);
  return { channel, lifecycle };
}

describe("BrokerLifecycle", () => {
  it("registers, heartbeats its applied offset, and runs once the controller unfences it", async () => {
    const controller = await fakeController(1);
    controller.unfenceAt = 5;
    const applied = { offset: 2 };
    const { lifecycle } = lifecycleFor([controller], { id: 1 }, applied);
    lifecycle.start();
    await waitFor(() => controller.heartbeats.length >= 2, "heartbeats while fenced");
    const [registration] = controller.registrations;
    expect(registration).toMatchObject({
      brokerId: 4,
      clusterId: "MkU3OEVBNTcwNTJENDM2Qg",
      incarnationId: lifecycle.incarnationId,
      listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: 0 }],
      features: [{ name: "metadata.version", minSupportedVersion: 7, maxSupportedVersion: 27 }],
      rack: "r1",
    });
    expect(controller.heartbeats[0]).toMatchObject({ brokerId: 4, brokerEpoch: 11n, currentMetadataOffset: 2n });
    expect(lifecycle.state).toBe("fenced");
    applied.offset = 5;
    await lifecycle.running;
    expect(lifecycle.state).toBe("running");
    expect(controller.heartbeats.at(-1)?.currentMetadataOffset).toBe(5n);
  });

  it("reports offline log dirs in its heartbeats, asks to be fenced once every log dir is offline, and says so once fenced", async () => {
    const controller = await fakeController(1);
    const dirs = { logDirs: [DIR_A, DIR_B], offline: [] as string[] };
    const fencedOffline: number[] = [];
    const { lifecycle } = lifecycleFor([controller], { id: 1 }, { offset: 0 }, dirs, () =>
      fencedOffline.push(controller.heartbeats.length),
    );
    lifecycle.start();
    await lifecycle.running;
    expect(controller.heartbeats.at(-1)?.wantFence).toBe(false);
    // An empty tagged array is left out on the wire.
    expect(controller.heartbeats.at(-1)?.offlineLogDirs ?? []).toEqual([]);
    dirs.offline = [DIR_B];
    await waitFor(() => controller.heartbeats.at(-1)?.offlineLogDirs?.length === 1, "DIR_B reported offline");
    expect(controller.heartbeats.at(-1)).toMatchObject({ wantFence: false, offlineLogDirs: [DIR_B] });
    // One dir of two offline: the broker goes on serving from the other.
    expect(fencedOffline).toEqual([]);
    dirs.offline = [DIR_B, DIR_A];
    await waitFor(() => fencedOffline.length > 0, "the callback once the controller fenced it");
    const asked = controller.heartbeats.findIndex((h) => h.wantFence);
    expect(controller.heartbeats[asked]?.offlineLogDirs).toEqual([DIR_B, DIR_A]);
    // Called after the answer to the first heartbeat asking to be fenced, and only once though it keeps asking.
    expect(fencedOffline[0]).toBe(asked + 1);
    const seen = controller.heartbeats.length;
    await waitFor(() => controller.heartbeats.length >= seen + 3, "more heartbeats while fenced");
    expect(fencedOffline).toHaveLength(1);
    expect(lifecycle.state).toBe("fenced");
  });

  it("registers again when the controller no longer knows its epoch", async () => {
    const controller = await fakeController(1);
    const { lifecycle } = lifecycleFor([controller], { id: 1 }, { offset: 0 });
    lifecycle.start();
    await lifecycle.running;
    controller.heartbeatError = ErrorCode.STALE_BROKER_EPOCH;
    await waitFor(() => controller.registrations.length === 2, "a second registration");
    expect(controller.registrations[1]?.previousBrokerEpoch).toBe(11n);
    expect(controller.registrations[1]?.incarnationId).toBe(lifecycle.incarnationId);
  });

  it("backs off, doubling the pause, while the controller refuses its registration", async () => {
    // As after kill -9 and a restart: the controller refuses the new incarnation until the old one's session expires.
    const controller = await fakeController(1);
    controller.registrationRefusals = Number.MAX_SAFE_INTEGER;
    const { lifecycle } = lifecycleFor([controller], { id: 1 }, { offset: 0 });
    const started = performance.now();
    lifecycle.start();
    await waitFor(() => controller.registrations.length >= 6, "six registration attempts");
    // Pauses of 20, 40, 80, 160 and 320 ms (retryBackoffMs 20): 620 ms at least. A fixed 20 ms pause took 100 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(600);
    controller.registrationRefusals = 0;
    await lifecycle.running;
    expect(controller.heartbeats.length).toBeGreaterThan(0);
  });

  it("asks for a controlled shutdown and waits until the controller agrees", async () => {
    const controller = await fakeController(1);
    const { lifecycle } = lifecycleFor([controller], { id: 1 }, { offset: 0 });
    lifecycle.start();
    await lifecycle.running;
    controller.shutdownRefusals = 2;
    await lifecycle.controlledShutdown(10_000);
    expect(lifecycle.state).toBe("shut-down");
    expect(controller.heartbeats.filter((h) => h.wantShutDown)).toHaveLength(3);
  });

  it("gives up waiting for a controlled shutdown after its bound", async () => {
    const controller = await fakeController(1);
    const { lifecycle } = lifecycleFor([controller], { id: 1 }, { offset: 0 });
    lifecycle.start();
    await lifecycle.running;
    controller.shutdownRefusals = Number.MAX_SAFE_INTEGER;
    const started = performance.now();
    await lifecycle.controlledShutdown(300);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(lifecycle.state).toBe("pending-shutdown");
  });

  it("follows the active controller, and waits while none is known", async () => {
    const [one, two] = [await fakeController(1), await fakeController(2)];
    const leader: { id: number | null } = { id: null };
    const { lifecycle, channel } = lifecycleFor([one, two], leader, { offset: 0 });
    await expect(
      channel.send(BrokerHeartbeatRequest, BrokerHeartbeatResponse, 1, BrokerHeartbeatRequest.create(), 500),
    ).rejects.toBeInstanceOf(NoControllerError);
    lifecycle.start();
    leader.id = 2;
    await lifecycle.running;
    expect(two.registrations).toHaveLength(1);
    leader.id = 1;
    await waitFor(() => one.heartbeats.length > 0, "heartbeats to the new controller");
    expect(one.registrations).toHaveLength(0);
  });

  it("heartbeats a new active controller at once rather than after its interval (ADR 29)", async () => {
    const [one, two] = [await fakeController(1), await fakeController(2)];
    const leader: { id: number | null } = { id: 1 };
    // An interval far beyond the wait below: only controllerChanged can bring the next heartbeat in time.
    const { lifecycle } = lifecycleFor([one, two], leader, { offset: 0 }, undefined, undefined, 600_000);
    lifecycle.start();
    await lifecycle.running;
    leader.id = 2;
    lifecycle.controllerChanged();
    await waitFor(() => two.heartbeats.length > 0, "a heartbeat to the new controller");
    expect(two.registrations).toHaveLength(0);
  });
});
