import pino from "pino";
import { describe, expect, it } from "vitest";
import { GroupCoordinatorManager, InMemoryGroupStore, offsetsPartitionFor } from "../../src/coordinator/index.ts";
import { findCoordinatorHandler } from "../../src/handlers/10-find-coordinator.ts";
import type { BrokerEndpoint, BrokerServices } from "../../src/handlers/services.ts";
import { ErrorCode, FindCoordinatorRequest, type FindCoordinatorResponse } from "../../src/protocol/index.ts";
import { requestContext } from "../support/request-context.ts";

// FindCoordinator answers a group with the leader of the group's __consumer_offsets partition, whoever that is; the
// handler only asks services.offsetsPartitionLeader.

const logger = pino({ level: "silent" });
const PARTITIONS = 3;

/** Partition p is led by node 100 + p at host-p:9000 + p, except the last, which has no leader. */
function handler() {
  const asked: { partition: number; listenerName: string }[] = [];
  const groups = new GroupCoordinatorManager({
    partitionCount: PARTITIONS,
    openStore: () => new InMemoryGroupStore(),
    logger,
  });
  const offsetsPartitionLeader = (partition: number, listenerName: string): BrokerEndpoint | null => {
    asked.push({ partition, listenerName });
    if (partition === PARTITIONS - 1) return null;
    return { nodeId: 100 + partition, host: `host-${partition}`, port: 9000 + partition };
  };
  const services = { groups, offsetsPartitionLeader } as unknown as BrokerServices;
  return { handle: findCoordinatorHandler(services), asked };
}

function groupOn(partition: number): string {
  for (let i = 0; ; i++) if (offsetsPartitionFor(`g${i}`, PARTITIONS) === partition) return `g${i}`;
}

async function call(apiVersion: number, request: Partial<FindCoordinatorRequest>) {
  const { handle, asked } = handler();
  const response = (await handle.handle(
    { ...FindCoordinatorRequest.create(), ...request },
    requestContext(10, apiVersion, logger, "CLIENTS"),
  )) as FindCoordinatorResponse;
  return { response, asked };
}

describe("FindCoordinator for groups", () => {
  it("starts creating __consumer_offsets while it does not exist and answers COORDINATOR_NOT_AVAILABLE", async () => {
    const groups = new GroupCoordinatorManager({
      partitionCount: null,
      openStore: () => new InMemoryGroupStore(),
      logger,
    });
    let ensured = 0;
    const services = {
      groups,
      ensureOffsetsTopic: () => void ensured++,
      offsetsPartitionLeader: () => {
        throw new Error("no partition to ask about");
      },
    } as unknown as BrokerServices;
    const handle = findCoordinatorHandler(services);
    const batched = (await handle.handle(
      { ...FindCoordinatorRequest.create(), keyType: 0, coordinatorKeys: ["a", "b"] },
      requestContext(10, 4, logger, "CLIENTS"),
    )) as FindCoordinatorResponse;
    expect((batched.coordinators ?? []).map((c) => [c.key, c.errorCode, c.nodeId])).toEqual([
      ["a", ErrorCode.COORDINATOR_NOT_AVAILABLE, -1],
      ["b", ErrorCode.COORDINATOR_NOT_AVAILABLE, -1],
    ]);
    const single = (await handle.handle(
      { ...FindCoordinatorRequest.create(), key: "a" },
      requestContext(10, 0, logger, "CLIENTS"),
    )) as FindCoordinatorResponse;
    expect(single).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1 });
    // The port dedups concurrent needs itself; the handler asks once per key.
    expect(ensured).toBe(3);
  });

  it("answers each batched key with its own partition's leader (v4+)", async () => {
    const [a, b, c] = [groupOn(0), groupOn(1), groupOn(2)];
    const { response, asked } = await call(4, { keyType: 0, coordinatorKeys: [b, a, c] });
    expect(response.coordinators).toEqual([
      { key: b, nodeId: 101, host: "host-1", port: 9001, errorCode: ErrorCode.NONE, errorMessage: null },
      { key: a, nodeId: 100, host: "host-0", port: 9000, errorCode: ErrorCode.NONE, errorMessage: null },
      { key: c, nodeId: -1, host: "", port: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null },
    ]);
    expect(asked).toEqual([1, 0, 2].map((partition) => ({ partition, listenerName: "CLIENTS" })));
  });

  it("answers the single key of v0-3 in the top-level fields", async () => {
    const g = groupOn(1);
    for (const v of [0, 1, 2, 3]) {
      const { response } = await call(v, { key: g, keyType: 0 });
      expect(response).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 101, host: "host-1", port: 9001 });
    }
    const { response } = await call(3, { key: groupOn(2), keyType: 0 });
    expect(response).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1, host: "", port: -1 });
  });

  it("still refuses transactional ids without asking for a leader", async () => {
    const { response, asked } = await call(4, { keyType: 1, coordinatorKeys: ["tx"] });
    expect(response.coordinators).toEqual([
      expect.objectContaining({ key: "tx", errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, nodeId: -1 }),
    ]);
    expect(asked).toEqual([]);
  });
});
